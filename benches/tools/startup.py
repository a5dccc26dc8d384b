#!/usr/bin/env python3
"""Start-up to listening: the time from the exec of a server to the first
accepted TCP connection on its port; loopback only, bounded in time.

    startup.py --port P [-n 10] [--pin CPU] [--log FILE] -- CMD ARG...

CMD is run -n times, each start on its own port (P, P+1, ...): `{port}`
in any argument is replaced by it. Each start reads CLOCK_MONOTONIC just
before posix_spawnp (vfork + exec: the server's exec follows at once, in
a session and process group of its own, on CPU --pin if given), then
tries connect() to 127.0.0.1:port every --interval seconds (0.5 ms; a
refused connect on loopback returns at once) and records the time it
succeeds. listen = that minus the time before the spawn. On that
connection it then sends `GET /` and times the first byte of the answer
(first = from the spawn to that). Then the process group gets SIGTERM
(SIGKILL after 5 s) and the next start follows after --pause. The same
method for every server; the resolution is the poll interval.

Prints one line of key=value pairs: listen_ms (median), listen_min,
listen_max, first_ms (median), n (starts that listened), failed, and
samples (every listen time, comma-separated).
"""
import argparse
import os
import signal
import socket
import statistics
import sys
import time


def port_free(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return False
    except OSError:
        return True


def spawn(argv, pin, log):
    """posix_spawn (vfork + exec in glibc: no copy of this process to undo
    in exec) in a new session; returns (pid, time in ns just before it).
    The child is placed on CPU pin by moving this process there for the
    spawn (the child inherits the affinity) and back."""
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    mine = os.sched_getaffinity(0)
    try:
        if pin is not None:
            os.sched_setaffinity(0, {pin})
        t0 = time.monotonic_ns()
        pid = os.posix_spawnp(
            argv[0], argv, os.environ, setsid=True,
            file_actions=[(os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, fd, 1),
                          (os.POSIX_SPAWN_DUP2, fd, 2)],
        )
    finally:
        if pin is not None:
            os.sched_setaffinity(0, mine)
        os.close(fd)
        os.close(null)
    return pid, t0


def stop(pid):
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.01)
    else:
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    # the rest of the group (children of the server), if any
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def one_start(argv, port, args):
    """(listen_ms, first_ms) or None."""
    try:
        pid, t0 = spawn(argv, args.pin, args.log)
    except OSError as e:
        print(f"startup.py: {argv[0]}: {e}", file=sys.stderr)
        return None
    deadline = time.monotonic() + args.timeout
    sock = None
    t1 = None
    try:
        while time.monotonic() < deadline:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(1.0)
            try:
                s.connect(("127.0.0.1", port))
                t1 = time.monotonic_ns()
                sock = s
                break
            except OSError:
                s.close()
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return None
            time.sleep(args.interval)
        if t1 is None:
            return None
        first = None
        try:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            if sock.recv(1):
                first = (time.monotonic_ns() - t0) / 1e6
        except OSError:
            pass
        return (t1 - t0) / 1e6, first
    finally:
        if sock is not None:
            sock.close()
        stop(pid)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, required=True, help="first port")
    ap.add_argument("-n", type=int, default=10, help="starts (10)")
    ap.add_argument("--pin", type=int, help="CPU for the server")
    ap.add_argument("--interval", type=float, default=0.0005, help="connect() poll interval, s (0.0005)")
    ap.add_argument("--timeout", type=float, default=30.0, help="cap per start, s (30)")
    ap.add_argument("--pause", type=float, default=0.3, help="between starts, s (0.3)")
    ap.add_argument("--log", default=os.devnull, help="the servers' output")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    argv = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
    if not argv:
        raise SystemExit("startup.py: no command")

    listens, firsts, failed = [], [], 0
    for i in range(args.n):
        port = args.port + i
        if not port_free(port):
            failed += 1
            print(f"startup.py: port {port} already answers; skipped", file=sys.stderr)
            continue
        res = one_start([a.replace("{port}", str(port)) for a in argv], port, args)
        if res is None:
            failed += 1
        else:
            listens.append(res[0])
            if res[1] is not None:
                firsts.append(res[1])
        time.sleep(args.pause)

    def fmt(xs, f):
        return f"{f(xs):.2f}" if xs else "NA"

    print(
        f"listen_ms={fmt(listens, statistics.median)} listen_min={fmt(listens, min)} "
        f"listen_max={fmt(listens, max)} first_ms={fmt(firsts, statistics.median)} "
        f"n={len(listens)} failed={failed} samples={','.join(f'{x:.2f}' for x in listens) or 'NA'}"
    )


if __name__ == "__main__":
    main()
