#!/usr/bin/env python3
"""A small closed-loop client for instruction counting: N sequential GET /
requests on one keep-alive connection (or, with --close, one connection per
request). Loopback only; stops after N requests or --max-seconds.

    reqloop.py --port P -n 5000 [--close]

Prints requests done, failures and the wall time. tools/allocs.py uses
its run() function.
"""
import argparse
import socket
import time


def run(port, n, close=False, path="/", max_seconds=120.0, host="127.0.0.1"):
    """n sequential GET requests; returns (done, failed, seconds)."""
    conn_hdr = "Connection: close\r\n" if close else ""
    req = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{conn_hdr}\r\n".encode()
    start = time.monotonic()
    stop = start + max_seconds
    done = failed = 0
    sock = None
    buf = b""
    while done + failed < n and time.monotonic() < stop:
        try:
            if sock is None:
                sock = socket.create_connection((host, port), timeout=5)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                buf = b""
            sock.sendall(req)
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                buf += chunk
            head, _, rest = buf.partition(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            while len(rest) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                rest += chunk
            buf = rest[length:]
            done += 1
            if close:
                sock.close()
                sock = None
        except (OSError, ConnectionError, ValueError):
            failed += 1
            if sock is not None:
                sock.close()
            sock = None
    if sock is not None:
        sock.close()
    return done, failed, time.monotonic() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("--close", action="store_true", help="a new connection per request")
    ap.add_argument("--path", default="/")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    args = ap.parse_args()
    done, failed, seconds = run(args.port, args.n, args.close, args.path, args.max_seconds)
    print(f"requests={done} failed={failed} seconds={seconds:.2f}")


if __name__ == "__main__":
    main()
