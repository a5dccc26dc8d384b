#!/usr/bin/env python3
"""Heap allocations per request of werk-alloc (benches/peers: werk's hello
app under a counting global allocator); loopback only, bounded in time.

    allocs.py --port P [-n 10000] [--rounds 3]

The server answers GET /__allocs with its counters (allocs, reallocs,
frees, bytes) as they were when the app was called for that request. Each
counter read is a request of its own on a new connection (Connection:
close, read to the server's close), so part of its work lands in the
interval before the snapshot and part after. Per round:

  baseline   read, read: the cost of one counter read, B
  keep-alive read, N requests on one connection (then closed), read:
             (delta - B) / N
  new conn.  read, N/4 requests each on a new connection, read:
             (delta - B) / (N/4)

after a warm-up (1000 keep-alive requests, 200 on new connections, so the
pool's threads and buffers exist). Each read waits --settle seconds first
(the same in the baseline), so a connection's teardown is done. The
keep-alive figure includes 1/N of one connection's setup and teardown.
Prints the medians over the rounds as one line of key=value pairs:
ka_allocs ka_reallocs ka_frees ka_bytes (per keep-alive request),
new_allocs ... (per request on a new connection), base_* (one counter
read), n, m, failed.
"""
import argparse
import os
import socket
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reqloop  # noqa: E402

KEYS = ("allocs", "reallocs", "frees", "bytes")


def read_counters(port, timeout=5.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET /__allocs HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise SystemExit(f"allocs.py: /__allocs answered {head[:40]!r}")
    values = dict(kv.split("=", 1) for kv in body.decode().split())
    return {k: int(values[k]) for k in KEYS}


def delta(a, b):
    return {k: b[k] - a[k] for k in KEYS}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, default=10000, help="keep-alive requests per round (10000)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--settle", type=float, default=0.05, help="pause before each counter read, s")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="cap on each request loop, s")
    args = ap.parse_args()
    n, m = args.n, max(1, args.n // 4)

    failed = 0
    _, f, _ = reqloop.run(args.port, 1000, max_seconds=args.max_seconds)
    failed += f
    _, f, _ = reqloop.run(args.port, 200, close=True, max_seconds=args.max_seconds)
    failed += f

    def interval(load):
        time.sleep(args.settle)
        a = read_counters(args.port)
        nonlocal failed
        if load:
            _, f, _ = load()
            failed += f
        time.sleep(args.settle)
        b = read_counters(args.port)
        return delta(a, b)

    results = {"base": [], "ka": [], "new": []}
    for _ in range(args.rounds):
        base = interval(None)
        ka = interval(lambda: reqloop.run(args.port, n, max_seconds=args.max_seconds))
        new = interval(lambda: reqloop.run(args.port, m, close=True, max_seconds=args.max_seconds))
        results["base"].append(base)
        results["ka"].append({k: (ka[k] - base[k]) / n for k in KEYS})
        results["new"].append({k: (new[k] - base[k]) / m for k in KEYS})

    out = []
    for kind in ("ka", "new", "base"):
        for k in KEYS:
            v = statistics.median(r[k] for r in results[kind])
            out.append(f"{kind}_{k}={v:.2f}" if kind != "base" else f"{kind}_{k}={v:.0f}")
    out += [f"n={n}", f"m={m}", f"rounds={args.rounds}", f"failed={failed}"]
    print(" ".join(out))


if __name__ == "__main__":
    main()
