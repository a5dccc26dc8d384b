#!/usr/bin/env python3
"""HTTPS start-up and new-handshake rate of servers, side by side; loopback
only, every wait bounded.

    tls_bench.py [--starts 10] [--secs 5] [--rounds 2] [--port 18443]
                 [--pin CPU] [--rate-skip NAME]... [--out DIR] -- 'NAME|CMD' ...

Each CMD (split like a shell would, no shell run) serves `GET /` over
HTTPS on 127.0.0.1:{port}; `{fresh}` in it becomes a new empty directory
for each start. Per round, for each server in turn:

- start-up, --starts times: CLOCK_MONOTONIC just before posix_spawn (as
  startup.py), then every 0.5 ms a connect() and, once it connects, a TLS
  handshake (Python's ssl, no certificate check, no session reuse), until
  one completes: `handshake` is that time; `first` adds `GET /` on it to
  the answer's first byte. The process group is stopped after each start.
- the rate, for --secs seconds on one more start: sequential new
  connections, each a full TLS handshake, `GET /` with `Connection:
  close` and the whole answer read (Python's ssl); then `openssl s_time
  -new` for as long, which does the same in C (its count divided by our
  own wall time). Servers in --rate-skip are not measured for rate.

One untimed start of each server comes first (page cache, and whatever a
server makes on its first start). Prints a markdown table of medians over
every sample, and writes samples.tsv in --out.
"""
import argparse
import os
import shlex
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from startup import port_free, spawn, stop  # noqa: E402

REQUEST = b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def client_context():
    """A client context that checks nothing (and so loads no CA file)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def handshake(ctx, port, timeout):
    """A TLS socket after a completed handshake, or None (refused, reset)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
        return ctx.wrap_socket(s, server_hostname="localhost")
    except (OSError, ssl.SSLError):
        s.close()
        return None


def one_start(argv, port, args, log):
    """(handshake_ms, first_ms) or None."""
    ctx = client_context()
    pid, t0 = spawn(argv, args.pin, log)
    deadline = time.monotonic() + args.timeout
    tls = None
    try:
        while time.monotonic() < deadline:
            tls = handshake(ctx, port, 5.0)
            if tls is not None:
                break
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return None
            time.sleep(0.0005)
        if tls is None:
            return None
        t1 = time.monotonic_ns()
        first = None
        try:
            tls.sendall(REQUEST)
            if tls.recv(1):
                first = (time.monotonic_ns() - t0) / 1e6
        except OSError:
            pass
        tls.close()
        return (t1 - t0) / 1e6, first
    finally:
        stop(pid)


def python_rate(port, secs):
    ctx = client_context()
    n = failed = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < secs:
        tls = handshake(ctx, port, 5.0)
        if tls is None:
            failed += 1
            continue
        try:
            tls.sendall(REQUEST)
            while tls.recv(65536):
                pass
            n += 1
        except OSError:
            failed += 1
        finally:
            tls.close()
    return n / (time.monotonic() - t0), failed


def s_time_rate(port, secs):
    t0 = time.monotonic()
    try:
        out = subprocess.run(
            ["openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new",
             "-time", str(max(1, round(secs))), "-www", "/"],
            capture_output=True, text=True, timeout=secs + 30,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    wall = time.monotonic() - t0
    for line in out.splitlines():
        if "connections in" in line and "real seconds" in line:
            return int(line.split()[0]) / wall
    return None


def wait_tls(port, timeout):
    ctx = client_context()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tls = handshake(ctx, port, 5.0)
        if tls is not None:
            tls.close()
            return True
        time.sleep(0.01)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--starts", type=int, default=10)
    ap.add_argument("--secs", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--port", type=int, default=18443)
    ap.add_argument("--pin", type=int, help="CPU for the servers (the client runs elsewhere)")
    ap.add_argument("--rate-skip", action="append", default=[], metavar="NAME",
                    help="a server measured for start-up only (repeatable)")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--out", default=tempfile.mkdtemp(prefix="werk-tls-bench-"))
    ap.add_argument("servers", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    specs = args.servers[1:] if args.servers[:1] == ["--"] else args.servers
    servers = []
    for spec in specs:
        name, _, cmd = spec.partition("|")
        servers.append((name, shlex.split(cmd)))
    skip = set(args.rate_skip)
    os.makedirs(args.out, exist_ok=True)
    fresh_root = tempfile.mkdtemp(prefix="fresh-", dir=args.out)
    if args.pin is not None:
        others = os.sched_getaffinity(0) - {args.pin}
        if others:
            os.sched_setaffinity(0, others)
    port = [args.port]

    def next_port():
        while True:
            port[0] += 1
            if port_free(port[0]):
                return port[0]

    def argv_for(cmd, p):
        out = []
        for a in cmd:
            if "{fresh}" in a:
                a = a.replace("{fresh}", tempfile.mkdtemp(dir=fresh_root))
            out.append(a.replace("{port}", str(p)))
        return out

    samples = {name: {"handshake": [], "first": [], "python": [], "s_time": [], "failed": 0}
               for name, _ in servers}
    for name, cmd in servers:
        p = next_port()
        one_start(argv_for(cmd, p), p, args, os.path.join(args.out, f"{name}.log"))
    for rnd in range(args.rounds):
        for name, cmd in servers:
            log = os.path.join(args.out, f"{name}.log")
            s = samples[name]
            for _ in range(args.starts):
                p = next_port()
                res = one_start(argv_for(cmd, p), p, args, log)
                if res is None:
                    s["failed"] += 1
                    continue
                s["handshake"].append(res[0])
                if res[1] is not None:
                    s["first"].append(res[1])
                time.sleep(0.2)
            if name in skip:
                continue
            p = next_port()
            pid, _ = spawn(argv_for(cmd, p), args.pin, log)
            try:
                if not wait_tls(p, args.timeout):
                    s["failed"] += 1
                    continue
                rate, failed = python_rate(p, args.secs)
                s["python"].append(rate)
                s["failed"] += failed
                st = s_time_rate(p, args.secs)
                if st is not None:
                    s["s_time"].append(st)
            finally:
                stop(pid)
            print(f"round {rnd + 1}: {name} done", file=sys.stderr)

    def med(xs, fmt):
        return fmt.format(statistics.median(xs)) if xs else "–"

    def spread(xs, fmt):
        return f" ({fmt.format(min(xs))}–{fmt.format(max(xs))})" if len(xs) > 1 else ""

    shutil.rmtree(fresh_root, ignore_errors=True)
    with open(os.path.join(args.out, "samples.tsv"), "w") as f:
        for name, s in samples.items():
            for key in ("handshake", "first", "python", "s_time"):
                for x in s[key]:
                    f.write(f"{name}\t{key}\t{x:.3f}\n")
    print("| server | start → first handshake | → first answer | new handshakes + GET/s (Python ssl) | (openssl s_time -new) | starts | failed |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, s in samples.items():
        print(
            f"| {name} | {med(s['handshake'], '{:.1f}')} ms{spread(s['handshake'], '{:.1f}')} "
            f"| {med(s['first'], '{:.1f}')} ms "
            f"| {med(s['python'], '{:.0f}')}{spread(s['python'], '{:.0f}')} "
            f"| {med(s['s_time'], '{:.0f}')}{spread(s['s_time'], '{:.0f}')} "
            f"| {len(s['handshake'])} | {s['failed']} |"
        )


if __name__ == "__main__":
    main()
