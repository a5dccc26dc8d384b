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

    idleconns.py rss --port P --pid PID [-n 1024] [--seconds 1]
        The server's memory with n idle keep-alive connections: reads
        VmRSS of PID (and its descendants) first, then n connections each
        make one GET / and stay open, idle; after S seconds VmRSS and
        VmHWM are read again and the connections the server still holds
        open are counted (a recv that would block: still open).

Prints one line of key=value pairs. Only loopback addresses are accepted.
"""
import argparse
import os
import selectors
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


def proc_tree(pid):
    """pid and its descendants."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def memory_kb(pid):
    """(VmRSS, VmHWM) in KiB, summed over pid and its descendants."""
    rss = hwm = 0
    for p in proc_tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
                    elif line.startswith("VmHWM:"):
                        hwm += int(line.split()[1])
        except OSError:
            pass
    return rss, hwm


def still_open(sock):
    try:
        sock.setblocking(False)
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def open_idle_patiently(host, port, n, budget):
    """As open_idle, but a connect that times out (a SYN the kernel dropped
    while the server's accept queue was full) is tried again, 3 s each,
    until n are open or the budget is spent."""
    socks = []
    stop = time.monotonic() + budget
    while len(socks) < n and time.monotonic() < stop:
        try:
            s = connect(host, port, max(0.05, min(3.0, stop - time.monotonic())))
            s.sendall(request_bytes(host))
            socks.append(s)
        except OSError:
            time.sleep(0.01)
    return socks, read_all_ok(socks, time.monotonic() + budget)


def response_status(data):
    """The status of a whole response with a Content-Length in data, else None."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.split(b"\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return int(lines[0].split()[1]) if len(rest) >= length else None


def read_all_ok(socks, deadline):
    """Reads one response on every socket at once (one slow or silent
    connection does not hold up the others); how many were 200."""
    sel = selectors.DefaultSelector()
    bufs = {}
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        bufs[s] = b""
    ok = 0
    while bufs and time.monotonic() < deadline:
        for key, _ in sel.select(max(0.0, deadline - time.monotonic())):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            status = None
            if data:
                bufs[s] += data
                try:
                    status = response_status(bufs[s])
                except (ValueError, IndexError):
                    status = 0
            if not data or status is not None:
                ok += status == 200
                sel.unregister(s)
                del bufs[s]
    sel.close()
    for s in socks:
        s.setblocking(True)
    return ok


def rss(args):
    before, _ = memory_kb(args.pid)
    socks, answered = open_idle_patiently(args.host, args.port, args.n, args.setup)
    opened = time.monotonic()
    time.sleep(args.seconds)
    held_rss, hwm = memory_kb(args.pid)
    held = sum(1 for s in socks if still_open(s))
    close_all(socks)
    print(
        f"open={len(socks)} answered={answered} still_open={held} "
        f"rss_before_kb={before} rss_kb={held_rss} hwm_kb={hwm} "
        f"idle_s={time.monotonic() - opened:.1f}"
    )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=("check", "hold", "rss"))
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("-n", type=int, default=64, help="connections (64)")
    ap.add_argument("--timeout", type=float, default=5.0, help="cap on each timed request, s (5)")
    ap.add_argument("--setup", type=float, default=5.0, help="cap on opening the n connections, s (5)")
    ap.add_argument("--seconds", type=float, default=10.0, help="hold, rss: how long to stay idle, s (10)")
    ap.add_argument("--pid", type=int, help="rss: the server's process id")
    args = ap.parse_args()
    if args.host not in LOOPBACK:
        raise SystemExit("idleconns.py: loopback addresses only")
    if args.mode == "rss" and not args.pid:
        raise SystemExit("idleconns.py rss: --pid is required")
    {"check": check, "hold": hold, "rss": rss}[args.mode](args)


if __name__ == "__main__":
    main()
