#!/usr/bin/env python3
"""A small closed-loop client for instruction counting: N sequential GET /
requests on one keep-alive connection (or, with --close, one connection per
request). Loopback only; stops after N requests or --max-seconds.

    reqloop.py --port P -n 5000 [--close]

Prints requests done, failures and the wall time.
"""
import argparse
import socket
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, default=5000)
    ap.add_argument("--close", action="store_true", help="a new connection per request")
    ap.add_argument("--path", default="/")
    ap.add_argument("--max-seconds", type=float, default=120.0)
    args = ap.parse_args()
    conn_hdr = "Connection: close\r\n" if args.close else ""
    req = f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{conn_hdr}\r\n".encode()
    start = time.monotonic()
    stop = start + args.max_seconds
    done = failed = 0
    sock = None
    buf = b""
    while done + failed < args.n and time.monotonic() < stop:
        try:
            if sock is None:
                sock = socket.create_connection(("127.0.0.1", args.port), timeout=5)
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
            if args.close:
                sock.close()
                sock = None
        except (OSError, ConnectionError, ValueError):
            failed += 1
            if sock is not None:
                sock.close()
            sock = None
    if sock is not None:
        sock.close()
    print(f"requests={done} failed={failed} seconds={time.monotonic() - start:.2f}")


if __name__ == "__main__":
    main()
