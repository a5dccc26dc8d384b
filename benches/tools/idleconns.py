#!/usr/bin/env python3
"""Idle and silent connections against a server on loopback; bounded in time.

    idleconns.py check --port P [-n 64] [--timeout 5]
        1. n keep-alive connections each make one GET / and then stay open,
           idle; then one GET / on a fresh connection is timed.
        2. n connections that connect and never send a byte; then one GET /
           on a fresh connection is timed.
        A server whose fixed set of workers the waiting connections can
        occupy answers the fresh request late (or not before --timeout).

    idleconns.py hold --port P [-n 64] --seconds S
        n keep-alive connections each make one GET / and then stay idle for
        S seconds (run a load next to it meanwhile); then each sends a
        second GET /. Tells how many were still served, how many the server
        had closed (a keep-alive timeout is allowed to), and how many hung.

Prints one line of key=value pairs. Only loopback addresses are accepted.
"""
import argparse
import socket
import time

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def request_bytes(host):
    return f"GET / HTTP/1.1\r\nHost: {host}\r\nUser-Agent: werk-bench-idleconns\r\n\r\n".encode()


class Closed(Exception):
    """The server closed the connection before a whole response."""


def recv_some(sock, deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout("deadline")
    sock.settimeout(left)
    data = sock.recv(65536)
    if not data:
        raise Closed()
    return data


def read_status(sock, deadline):
    """Reads one response with a Content-Length; returns its status code."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += recv_some(sock, deadline)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        rest += recv_some(sock, deadline)
    return status


def connect(host, port, timeout):
    return socket.create_connection((host, port), timeout=timeout)


def open_idle(host, port, n, budget):
    """n connections that made one request each; returns (sockets, answered)."""
    socks = []
    stop = time.monotonic() + budget
    for _ in range(n):
        if time.monotonic() >= stop:
            break
        try:
            s = connect(host, port, max(0.05, min(1.0, stop - time.monotonic())))
            s.sendall(request_bytes(host))
            socks.append(s)
        except OSError:
            pass
    answered = 0
    stop = time.monotonic() + budget
    for s in socks:
        try:
            if read_status(s, stop) == 200:
                answered += 1
        except (OSError, Closed, ValueError, IndexError):
            pass
    return socks, answered


def open_silent(host, port, n, budget):
    socks = []
    stop = time.monotonic() + budget
    for _ in range(n):
        if time.monotonic() >= stop:
            break
        try:
            socks.append(connect(host, port, max(0.05, min(1.0, stop - time.monotonic()))))
        except OSError:
            pass
    return socks


def timed_fresh_request(host, port, timeout):
    """(milliseconds, ok) for one GET / on a new connection."""
    start = time.monotonic()
    try:
        with connect(host, port, timeout) as s:
            s.sendall(request_bytes(host))
            ok = read_status(s, start + timeout) == 200
    except (OSError, Closed, ValueError, IndexError):
        ok = False
    return (time.monotonic() - start) * 1000.0, ok


def close_all(socks):
    for s in socks:
        try:
            s.close()
        except OSError:
            pass


def check(args):
    idle, answered = open_idle(args.host, args.port, args.n, args.setup)
    time.sleep(0.2)
    idle_ms, idle_ok = timed_fresh_request(args.host, args.port, args.timeout)
    close_all(idle)
    time.sleep(0.5)
    silent = open_silent(args.host, args.port, args.n, args.setup)
    time.sleep(0.2)
    silent_ms, silent_ok = timed_fresh_request(args.host, args.port, args.timeout)
    close_all(silent)
    print(
        f"idle_open={len(idle)} idle_answered={answered} idle_fresh_ok={int(idle_ok)} "
        f"idle_fresh_ms={idle_ms:.1f} silent_open={len(silent)} "
        f"silent_fresh_ok={int(silent_ok)} silent_fresh_ms={silent_ms:.1f}"
    )


def hold(args):
    socks, answered = open_idle(args.host, args.port, args.n, args.setup)
    time.sleep(args.seconds)
    served = closed = hung = 0
    worst = 0.0
    for s in socks:
        start = time.monotonic()
        try:
            s.sendall(request_bytes(args.host))
            if read_status(s, start + args.timeout) == 200:
                served += 1
                worst = max(worst, (time.monotonic() - start) * 1000.0)
        except (Closed, ConnectionResetError, BrokenPipeError):
            closed += 1
        except (socket.timeout, TimeoutError):
            hung += 1
        except (OSError, ValueError, IndexError):
            closed += 1
    close_all(socks)
    print(
        f"held={len(socks)} held_answered={answered} after_served={served} "
        f"after_closed={closed} after_hung={hung} after_worst_ms={worst:.1f}"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("check", "hold"))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, default=64, help="connections (64)")
    ap.add_argument("--timeout", type=float, default=5.0, help="cap on each timed request, s (5)")
    ap.add_argument("--setup", type=float, default=5.0, help="cap on opening the n connections, s (5)")
    ap.add_argument("--seconds", type=float, default=10.0, help="hold: how long to stay idle, s (10)")
    args = ap.parse_args()
    if args.host not in LOOPBACK:
        raise SystemExit("idleconns.py: loopback addresses only")
    check(args) if args.mode == "check" else hold(args)


if __name__ == "__main__":
    main()
