#!/usr/bin/env python3
"""The edit, build, reload loop of a cargo project, seen from its clients;
loopback only, bounded in time. Used by benches/run_loop.sh.

    run_loop.py program TEXT                  prints src/main.rs serving TEXT
    run_loop.py measure --port P --main FILE --out DIR --name NAME [...]
    run_loop.py report DIR NAME...            prints the markdown table

The program answers `GET /` with `TEXT pid=PID` (text/plain); it binds
127.0.0.1 and the port in RUN_LOOP_PORT with `werk::run_simple`, or the
sockets it is given (LISTEN_FDS).

measure: waits until `GET /` serves the text in FILE (--start-timeout),
then runs two clients in threads for the whole time: `new` sends `GET /`
on a new connection every --interval seconds (5 ms); `keep` sends it every
--interval on one kept-alive connection, connects again when the server
has closed it (checked before each request), and sends a request once
more on a new connection when a reused one gave no byte back, as browsers
do (counted as `retried`). Each request is one of: ok (200), refused
(connect() refused), failed (no or broken response, a timeout of
--request-timeout, or a status other than 200); one that took more than
--stall seconds (100 ms), from connect() to the last byte, is also
stalled. A third thread sleeps 1 ms at a time and notes each time it woke
20 ms late or more: then the clients had no CPU either. Then --edits
times: write FILE in place with a new TEXT (`edit I`), wait until a client
is served the new text (--edit-timeout), pause a random
--pause-min..--pause-max seconds. Writes DIR/NAME.requests.tsv (every
request), DIR/NAME.edits.tsv (save to new text served, per edit),
DIR/NAME.pauses.tsv (the late wake-ups) and DIR/NAME.summary.json.

report: the table from those files and the loop's log, DIR/NAME.log:
werk run's reload lines (seen in, built in, werk's part) and cargo's
`Finished` lines; and DIR/NAME.kernel, if there, the change of the
kernel's TcpExt counters over the loop (TCPAbortOnClose: a socket closed
with data unread, here a request that reached the server; TCPAbortOnData:
data that came after the close).
"""
import argparse
import json
import os
import random
import re
import select
import socket
import statistics
import sys
import threading
import time

PROGRAM = r'''use werk::{Body, Environ, Options, StartResponse};

const TEXT: &str = @TEXT@;

fn app(_: &Environ, start_response: StartResponse) -> Body {
    start_response
        .start("200 OK", [("Content-Type", "text/plain")])
        .expect("first call");
    Body::from(format!("{TEXT} pid={}\n", std::process::id()))
}

fn main() {
    let port = std::env::var("RUN_LOOP_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(5000);
    werk::run_simple("127.0.0.1", port, app, Options::default().log_requests(false));
}
'''

TEXT_LINE = re.compile(r'^const TEXT: &str = (".*");$', re.M)


def program(text):
    return PROGRAM.replace("@TEXT@", json.dumps(text))


def text_in(path):
    with open(path) as f:
        return json.loads(TEXT_LINE.search(f.read()).group(1))


def set_text(path, text):
    """Writes FILE in place with TEXT changed."""
    with open(path) as f:
        source = f.read()
    source = TEXT_LINE.sub(lambda _: "const TEXT: &str = %s;" % json.dumps(text), source)
    with open(path, "w") as f:
        f.write(source)


# --- HTTP/1.1 on a socket ----------------------------------------------------

class NoResponse(Exception):
    """The connection ended before the first byte of a response."""


class Broken(Exception):
    """The response started but did not end well."""


def read_response(sock, deadline):
    """Reads one response; returns (status, body, keep_alive)."""
    buf = b""
    got_any = False

    def more():
        nonlocal buf, got_any
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("request timeout")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError) as e:
            if not got_any:
                raise NoResponse(type(e).__name__)
            raise Broken(type(e).__name__)
        if not chunk:
            if not got_any:
                raise NoResponse("EOF")
            return False
        got_any = True
        buf += chunk
        return True

    while b"\r\n\r\n" not in buf:
        if not more():
            raise Broken("EOF in head")
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise Broken("bad status line %r" % lines[0][:40])
    status = int(parts[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    keep_alive = parts[0] == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            while b"\r\n" not in buf:
                if not more():
                    raise Broken("EOF in chunk size")
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(buf) < size + 2:
                if not more():
                    raise Broken("EOF in chunk")
            body += buf[:size]
            buf = buf[size + 2:]
            if size == 0:
                break
    elif "content-length" in headers:
        size = int(headers["content-length"])
        while len(buf) < size:
            if not more():
                raise Broken("EOF in body")
        body = buf[:size]
    else:
        while more():
            pass
        body, keep_alive = buf, False
    return status, body, keep_alive


REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: run_loop.py\r\n\r\n"
REQUEST_CLOSE = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: run_loop.py\r\nConnection: close\r\n\r\n"


def served_text(body):
    return body.decode("utf-8", "replace").strip().rsplit(" pid=", 1)[0]


class Loop:
    def __init__(self, args):
        self.args = args
        self.t0 = time.monotonic()
        self.stop = threading.Event()
        self.lock = threading.Condition()
        self.first_seen = {}       # text -> monotonic time its first 200 ended
        self.requests = []         # (client, start, ms, outcome, detail, text)
        self.retried = 0
        self.closed_idle = 0       # kept-alive connections the server closed between requests
        self.connections = 0       # connections the keep-alive client opened

    def record(self, client, start, outcome, detail="", text=""):
        end = time.monotonic()
        with self.lock:
            self.requests.append((client, start - self.t0, (end - start) * 1000, outcome, detail, text))
            if outcome == "ok" and text not in self.first_seen:
                self.first_seen[text] = end
                self.lock.notify_all()

    def connect(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.settimeout(self.args.request_timeout)
        try:
            s.connect(("127.0.0.1", self.args.port))
        except BaseException:
            s.close()
            raise
        return s

    def ticks(self):
        """Yields every --interval seconds until stopped; never in bursts."""
        next_at = time.monotonic()
        while not self.stop.is_set():
            now = time.monotonic()
            if next_at > now:
                time.sleep(next_at - now)
            yield
            next_at = max(next_at + self.args.interval, time.monotonic())

    def new_connections(self):
        for _ in self.ticks():
            start = time.monotonic()
            deadline = start + self.args.request_timeout
            try:
                s = self.connect()
            except ConnectionRefusedError:
                self.record("new", start, "refused")
                continue
            except OSError as e:
                self.record("new", start, "failed", "connect " + type(e).__name__)
                continue
            try:
                s.sendall(REQUEST_CLOSE)
                status, body, _ = read_response(s, deadline)
                if status == 200:
                    self.record("new", start, "ok", "", served_text(body))
                else:
                    self.record("new", start, "failed", "status %d: %s" % (status, first_line(body)))
            except (NoResponse, Broken) as e:
                self.record("new", start, "failed", "%s %s" % (type(e).__name__, e))
            except OSError as e:
                self.record("new", start, "failed", type(e).__name__)
            finally:
                s.close()

    def kept_alive(self):
        conn = None
        for _ in self.ticks():
            start = time.monotonic()
            deadline = start + self.args.request_timeout
            if conn is not None and select.select([conn], [], [], 0)[0]:
                # Closed by the server since the last response (or bytes
                # nobody asked for): a browser sees that and connects again.
                try:
                    extra = conn.recv(1, socket.MSG_PEEK)
                except OSError:
                    extra = b""
                if not extra:
                    self.closed_idle += 1
                else:
                    self.record("keep", start, "failed", "unasked bytes %r" % extra)
                conn.close()
                conn = None
            note = ""
            for attempt in (0, 1):
                reused = conn is not None
                if conn is None:
                    try:
                        conn = self.connect()
                        self.connections += 1
                    except ConnectionRefusedError:
                        self.record("keep", start, "refused", note)
                        break
                    except OSError as e:
                        self.record("keep", start, "failed", ("connect %s %s" % (type(e).__name__, note)).strip())
                        break
                sent = None
                try:
                    conn.sendall(REQUEST)
                    sent = time.monotonic()
                    status, body, keep = read_response(conn, deadline)
                except (NoResponse, BrokenPipeError, ConnectionResetError) as e:
                    conn.close()
                    conn = None
                    what = "%s %s" % (type(e).__name__, e) if isinstance(e, NoResponse) else type(e).__name__
                    if reused and attempt == 0:
                        # Closed as it was sent, or after: again, on a new connection.
                        after = "%.2f ms after the send" % ((time.monotonic() - sent) * 1000) if sent else "at the send"
                        note = "retried: %s %s" % (what, after)
                        self.retried += 1
                        continue
                    self.record("keep", start, "failed", ("%s %s" % (what, note)).strip())
                    break
                except Broken as e:
                    conn.close()
                    conn = None
                    self.record("keep", start, "failed", ("Broken %s %s" % (e, note)).strip())
                    break
                except OSError as e:
                    conn.close()
                    conn = None
                    self.record("keep", start, "failed", ("%s %s" % (type(e).__name__, note)).strip())
                    break
                if not keep:
                    conn.close()
                    conn = None
                if status == 200:
                    self.record("keep", start, "ok", note, served_text(body))
                else:
                    self.record("keep", start, "failed", ("status %d: %s %s" % (status, first_line(body), note)).strip())
                break
        if conn is not None:
            conn.close()

    def probe(self):
        """Sleeps 1 ms at a time and notes when it woke 20 ms late or more:
        then this process (the clients) had no CPU, not only the server."""
        self.pauses = []
        while not self.stop.is_set():
            before = time.monotonic()
            time.sleep(0.001)
            late = time.monotonic() - before - 0.001
            if late >= 0.02:
                self.pauses.append((before - self.t0, late * 1000))

    def wait_seen(self, text, since, limit):
        """The time TEXT was first served after SINCE, or None after LIMIT."""
        deadline = time.monotonic() + limit
        with self.lock:
            while True:
                seen = self.first_seen.get(text)
                if seen is not None and seen >= since:
                    return seen
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.lock.wait(min(left, 0.05))


def first_line(body):
    return body.decode("utf-8", "replace").strip().split("\n", 1)[0][:80]


def get_text(port, timeout=2.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(REQUEST_CLOSE)
            status, body, _ = read_response(s, time.monotonic() + timeout)
            return served_text(body) if status == 200 else None
    except (OSError, NoResponse, Broken):
        return None


def measure(args):
    start_text = text_in(args.main)
    deadline = time.monotonic() + args.start_timeout
    while get_text(args.port) != start_text:
        if time.monotonic() > deadline:
            sys.exit("run_loop.py: %r was not served within %.0f s" % (start_text, args.start_timeout))
        time.sleep(0.05)
    print("%s: serving %r" % (args.name, start_text), file=sys.stderr, flush=True)

    loop = Loop(args)
    clients = [threading.Thread(target=loop.probe, daemon=True),
               threading.Thread(target=loop.new_connections, daemon=True)]
    if args.keepalive:
        clients.append(threading.Thread(target=loop.kept_alive, daemon=True))
    for c in clients:
        c.start()
    time.sleep(1.0)

    edits = []
    for i in range(1, args.edits + 1):
        text = "edit %d" % i
        saved_wall = time.time()
        saved = time.monotonic()
        set_text(args.main, text)
        seen = loop.wait_seen(text, saved, args.edit_timeout)
        if seen is None:
            edits.append((i, saved_wall, saved - loop.t0, None))
            print("%s: edit %d not served within %.0f s" % (args.name, i, args.edit_timeout),
                  file=sys.stderr, flush=True)
        else:
            edits.append((i, saved_wall, saved - loop.t0, (seen - saved) * 1000))
            print("%s: edit %d served after %.0f ms" % (args.name, i, (seen - saved) * 1000),
                  file=sys.stderr, flush=True)
        time.sleep(random.uniform(args.pause_min, args.pause_max))

    loop.stop.set()
    for c in clients:
        c.join(args.request_timeout + 1)
    with loop.lock:
        requests = list(loop.requests)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, args.name + ".requests.tsv"), "w") as f:
        f.write("client\tstart_s\tms\toutcome\tdetail\ttext\n")
        for r in requests:
            f.write("%s\t%.4f\t%.2f\t%s\t%s\t%s\n" % r)
    with open(os.path.join(args.out, args.name + ".edits.tsv"), "w") as f:
        f.write("edit\tsaved_unix\tsaved_s\tserved_ms\n")
        for i, wall, rel, ms in edits:
            f.write("%d\t%.6f\t%.4f\t%s\n" % (i, wall, rel, "timeout" if ms is None else "%.1f" % ms))
    with open(os.path.join(args.out, args.name + ".pauses.tsv"), "w") as f:
        f.write("start_s\tlate_ms\n")
        for start, ms in loop.pauses:
            f.write("%.4f\t%.1f\n" % (start, ms))
    summary = {"retried": loop.retried, "keep_connections": loop.connections,
               "client_pauses": len(loop.pauses),
               "client_pause_max_ms": max((ms for _, ms in loop.pauses), default=0),
               "closed_idle": loop.closed_idle,
               "duration_s": time.monotonic() - loop.t0, "stall_ms": args.stall * 1000,
               "interval_ms": args.interval * 1000, "keepalive": args.keepalive}
    with open(os.path.join(args.out, args.name + ".summary.json"), "w") as f:
        json.dump(summary, f)


# --- report ------------------------------------------------------------------

RELOADED = re.compile(r"\* Reloaded after a change to '(?P<path>.*)': seen in (?P<seen>\d+) ms, "
                      r"built in (?P<built>[\d.]+) (?P<unit>ms|s)")
FIELD = {
    "ready": re.compile(r"new process ready in (\d+) ms"),
    "accepting": re.compile(r"accepting in (\d+) ms"),
    "gone": re.compile(r"old process gone in (\d+) ms"),
    "part": re.compile(r"\(werk's part (\d+) ms\)"),
}
FINISHED = re.compile(r"Finished `[^`]*` profile .* in (?:(\d+)m )?([\d.]+)s")


def median(xs):
    return statistics.median(xs) if xs else None


def p90(xs):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[max(0, -(-len(xs) * 9 // 10) - 1)]


def fmt(x, unit=" ms"):
    if x is None:
        return "-"
    if unit == " ms" and x >= 1000:
        return "%.2f s" % (x / 1000)
    return "%.0f%s" % (x, unit)


def reload_lines(log):
    """werk run's reload lines: dicts of ms values (None where missing)."""
    out = []
    for line in log.splitlines():
        m = RELOADED.search(line)
        if not m:
            continue
        r = {"line": line.strip(), "path": m.group("path"), "seen": int(m.group("seen")),
             "built": float(m.group("built")) * (1000 if m.group("unit") == "s" else 1)}
        for k, rx in FIELD.items():
            f = rx.search(line)
            r[k] = int(f.group(1)) if f else None
        out.append(r)
    return out


def cargo_builds(log):
    """cargo's build times (ms) from its `Finished` lines, the first (the
    loop's start) left out."""
    times = [((int(m.group(1)) if m.group(1) else 0) * 60 + float(m.group(2))) * 1000
             for m in FINISHED.finditer(log)]
    return times[1:]


def loop_figures(out, name):
    fig = {"name": name, "served": [], "timeouts": 0, "reloads": [], "builds": [], "clients": {},
           "summary": {"stall_ms": 100, "keepalive": 0}}
    try:
        return measured_figures(out, name)
    except OSError:
        return fig


def measured_figures(out, name):
    requests = []
    with open(os.path.join(out, name + ".requests.tsv")) as f:
        next(f)
        for line in f:
            client, start, ms, outcome, detail, text = line.rstrip("\n").split("\t")
            requests.append((client, float(start), float(ms), outcome, detail, text))
    served, timeouts = [], 0
    with open(os.path.join(out, name + ".edits.tsv")) as f:
        next(f)
        for line in f:
            ms = line.split()[3]
            if ms == "timeout":
                timeouts += 1
            else:
                served.append(float(ms))
    with open(os.path.join(out, name + ".summary.json")) as f:
        summary = json.load(f)
    try:
        with open(os.path.join(out, name + ".log"), errors="replace") as f:
            log = f.read()
    except OSError:
        log = ""
    stall = summary["stall_ms"]
    pauses = []
    try:
        with open(os.path.join(out, name + ".pauses.tsv")) as f:
            next(f)
            for line in f:
                start, late = map(float, line.split())
                pauses.append((start, start + (late + 1) / 1000))
    except OSError:
        pass

    def held_up(r):
        """The clients' own process lost the CPU during this request."""
        begin, end = r[1], r[1] + r[2] / 1000
        return any(a < end and b > begin for a, b in pauses)

    kernel = {}
    try:
        with open(os.path.join(out, name + ".kernel")) as f:
            for line in f:
                key, _, value = line.partition("=")
                kernel[key.strip()] = value.strip()
    except OSError:
        pass
    fig = {"name": name, "served": served, "timeouts": timeouts, "summary": summary, "kernel": kernel,
           "reloads": reload_lines(log), "builds": cargo_builds(log), "clients": {}}
    for client in ("new", "keep"):
        rs = [r for r in requests if r[0] == client]
        if not rs:
            continue
        kinds, retries = {}, []
        for r in rs:
            if r[3] == "failed":
                kind = r[4].split(" retried:")[0].split(":")[0]
                kinds[kind] = kinds.get(kind, 0) + 1
            m = re.search(r"retried: (?:NoResponse )?(\S+).*?(?:([\d.]+) ms after the send|at the send)", r[4])
            if m:
                retries.append((m.group(1), float(m.group(2)) if m.group(2) else 0.0))
        fig["clients"][client] = {
            "requests": len(rs),
            "refused": sum(r[3] == "refused" for r in rs),
            "failed": sum(r[3] == "failed" for r in rs),
            "stalled": sum(r[2] > stall for r in rs if r[3] != "refused"),
            "stalled_held_up": sum(r[2] > stall and held_up(r) for r in rs if r[3] != "refused"),
            "slowest": max((r[2] for r in rs if r[3] != "refused"), default=None),
            "kinds": kinds,
            "retries": retries,
        }
    return fig


def pair(fig, key, form="%d"):
    vals = []
    for client in ("new", "keep"):
        c = fig["clients"].get(client)
        if c is not None:
            vals.append(form % c[key] if c[key] is not None else "-")
    return " / ".join(vals)


def report(args):
    figs = [loop_figures(args.dir, name) for name in args.names]
    keep = any("keep" in f["clients"] for f in figs)
    counts = "new connections / kept-alive" if keep else "new connections"
    print("| loop | edits served | save → new text: median | p90 | cargo's build: median "
          "| requests | refused | failed | stalled > 100 ms | slowest | kept-alive: sent again |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for f in figs:
        n = len(f["served"]) + f["timeouts"]
        builds = f["builds"]
        again = f["summary"].get("retried", "-") if f["summary"].get("keepalive") else "-"
        print("| %s | %d of %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            f["name"], len(f["served"]), n, fmt(median(f["served"])), fmt(p90(f["served"])),
            fmt(median(builds)), pair(f, "requests"), pair(f, "refused"), pair(f, "failed"),
            pair(f, "stalled"), pair(f, "slowest", "%.0f ms"), again))
    print()
    print("Request counts are %s; a request is stalled when it took more than %.0f ms "
          "from connect() to its last byte. cargo's build: the time in its `Finished` lines." % (
              counts, figs[0]["summary"]["stall_ms"]))
    for f in figs:
        notes = []
        for client, c in f["clients"].items():
            if c["kinds"]:
                notes.append("%s: %s" % (client, ", ".join("%s × %d" % kv for kv in sorted(c["kinds"].items()))))
        if f["summary"].get("keepalive"):
            note = "kept-alive client: %d connections, %d closed by the server between requests" % (
                f["summary"]["keep_connections"], f["summary"].get("closed_idle", 0))
            retries = f["clients"].get("keep", {}).get("retries")
            if retries:
                after = [ms for _, ms in retries]
                note += "; %d %s no response (%s, %.2f–%.2f ms after the send) " \
                        "and went again on a new connection" % (
                            len(retries), "request got" if len(retries) == 1 else "requests got",
                            " or ".join(sorted({k for k, _ in retries})), min(after), max(after))
            notes.append(note)
        if f["summary"].get("client_pauses"):
            held = sum(c["stalled_held_up"] for c in f["clients"].values())
            n = f["summary"]["client_pauses"]
            notes.append("the clients' own process went without CPU for 20 ms or more %d %s "
                         "(longest %.0f ms), during %d of the stalled requests" % (
                             n, "time" if n == 1 else "times", f["summary"]["client_pause_max_ms"], held))
        if f.get("kernel"):
            notes.append("kernel, machine-wide: %s" % ", ".join("%s +%s" % kv for kv in f["kernel"].items()))
        if notes:
            print("- %s: %s" % (f["name"], "; ".join(notes)))
    for f in figs:
        rl = f["reloads"]
        if not rl:
            continue
        print()
        print("%s: %d reload lines for %d edits; medians (max): seen in %s (%s), built in %s (%s), "
              "new process accepting in %s (%s), old process gone in %s (%s), werk's part %s (%s)." % (
                  f["name"], len(rl), len(f["served"]) + f["timeouts"],
                  fmt(median([r["seen"] for r in rl])), fmt(max(r["seen"] for r in rl)),
                  fmt(median([r["built"] for r in rl])), fmt(max(r["built"] for r in rl)),
                  fmt(median([r["accepting"] for r in rl if r["accepting"] is not None])),
                  fmt(max((r["accepting"] for r in rl if r["accepting"] is not None), default=None)),
                  fmt(median([r["gone"] for r in rl if r["gone"] is not None])),
                  fmt(max((r["gone"] for r in rl if r["gone"] is not None), default=None)),
                  fmt(median([r["part"] for r in rl if r["part"] is not None])),
                  fmt(max((r["part"] for r in rl if r["part"] is not None), default=None))))
        if len(rl) == len(f["served"]) and not f["timeouts"]:
            # What the line accounts for against what the clients saw.
            rest = [ms - (r["seen"] + r["built"] + (r["accepting"] or 0)) for ms, r in zip(f["served"], rl)]
            print("Save → new text served, less seen in + built in + accepting in: median %s, "
                  "from %s to %s." % (fmt(median(rest)), fmt(min(rest)), fmt(max(rest))))
        odd = [r["line"] for r in rl if None in (r["part"], r["gone"], r["accepting"], r["ready"])
               or not r["path"].endswith("src/main.rs")]
        for line in odd:
            print("  unexpected: %s" % line)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("program")
    g.add_argument("text")
    m = sub.add_parser("measure")
    m.add_argument("--port", type=int, required=True)
    m.add_argument("--main", required=True)
    m.add_argument("--out", required=True)
    m.add_argument("--name", required=True)
    m.add_argument("--edits", type=int, default=20)
    m.add_argument("--interval", type=float, default=0.005)
    m.add_argument("--keepalive", type=int, default=1)
    m.add_argument("--stall", type=float, default=0.1)
    m.add_argument("--request-timeout", type=float, default=10.0)
    m.add_argument("--edit-timeout", type=float, default=60.0)
    m.add_argument("--start-timeout", type=float, default=600.0)
    m.add_argument("--pause-min", type=float, default=0.5)
    m.add_argument("--pause-max", type=float, default=1.0)
    r = sub.add_parser("report")
    r.add_argument("dir")
    r.add_argument("names", nargs="+")
    args = p.parse_args()
    if args.cmd == "program":
        sys.stdout.write(program(args.text))
    elif args.cmd == "measure":
        measure(args)
    else:
        report(args)


if __name__ == "__main__":
    main()
