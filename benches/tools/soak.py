#!/usr/bin/env python3
"""The soak's load and its checks (benches/soak.sh starts the server).

    soak.py --port P --supervisor PID --watched FILE --out DIR [options]

Phases, all against `werk serve echo --reload` on 127.0.0.1:P:

  warmup   the load mix for WARMUP seconds, no reload
  settle   no load for SETTLE seconds; then the *start* sample
  soak     the load mix for DURATION seconds, a reload (a line appended to
           FILE) every RELOAD_MIN..RELOAD_MAX seconds
  settle   no load for SETTLE seconds; then the *end* sample
  fresh    one reload without load, the warm-up load again, SETTLE seconds
           of rest; then the *fresh* sample: a new child after the same
           warm-up as the start, to compare the last child with

Every request is checked and counted per class as ok, an allowed refusal
(what that class may get instead: see ALLOWED) or a failure (anything
else, recorded with its details). /proc of the supervisor and its child is
sampled every second. Files in DIR: samples.csv, reloads.csv, events.csv
(every outcome that is not ok), failures.json, summary.json, table.md.
Python 3.11, standard library only.
"""

import argparse
import collections
import csv
import json
import os
import random
import re
import socket
import statistics
import struct
import sys
import threading
import time

ALPHA = b"abcdefghijklmnopqrstuvwxyz"
PATTERN = ALPHA * ((256 * 1024) // 26 + 2)
KEEP_ALIVE_TIMEOUT = 15.0  # werk's idle timeout
HEAD_TIMEOUT = 10.0  # werk's head_timeout
IO_TIMEOUT = 30.0  # werk's io_timeout
GRACE = 10.0  # werk's shutdown_grace
RELOAD_WINDOW = GRACE + 2.0  # after a change: the old child may close what it holds
READ_TIMEOUT = 25.0  # the client's limit for any wait on the server

# What each class may get instead of a complete, expected response.
ALLOWED = {
    "keepalive": {"503-refused", "closed-at-reload", "closed-idle-after-timeout"},
    "pipeline": {"503-refused", "closed-after-announce", "closed-at-reload"},
    "newconn": {"503-refused"},
    "upload": {"503-refused", "closed-at-reload"},
    "slowsend": {"503-refused", "408-timeout", "408-grace-over", "client-abandoned"},
    "slowread": {"503-refused", "client-abandoned", "cut-after-stall"},
    "reset": {"503-refused", "client-reset"},
    "panic": {"503-refused", "panic-cut", "closed-at-reload"},
    "probe": {"503-refused"},
}
CLASSES = list(ALLOWED)


def now():
    return time.monotonic()


# ----------------------------------------------------------------- state

class Run:
    """Shared state: counters, events, reload times, the phase."""

    def __init__(self, port, out):
        self.port = port
        self.out = out
        self.t0 = now()
        self.lock = threading.Lock()
        self.phase = "start"
        self.counts = collections.defaultdict(collections.Counter)  # (phase, class) -> outcome -> n
        self.latency = collections.defaultdict(list)  # class -> seconds (ok, soak phase)
        self.events = []  # non-ok outcomes
        self.failures = []
        self.touches = []  # monotonic times of the changes
        self.stop = threading.Event()

    def rel(self, t=None):
        return round((t if t is not None else now()) - self.t0, 3)

    def at_reload(self, t):
        """True if t falls within RELOAD_WINDOW after a change."""
        with self.lock:
            return any(tt - 0.05 <= t <= tt + RELOAD_WINDOW for tt in self.touches)

    def outlived_a_grace(self, started, t):
        """True if a request in flight at a change was still going when the
        old child's shutdown grace ran out (it answers 408 then)."""
        with self.lock:
            return any(started <= tt + 1.0 and t >= tt + GRACE - 1.0 for tt in self.touches)

    def record(self, cls, outcome, started, detail=None):
        t = now()
        with self.lock:
            phase = self.phase
            self.counts[(phase, cls)][outcome] += 1
            if outcome == "ok":
                if phase == "soak":
                    self.latency[cls].append(t - started)
                return
            kind = "allowed" if outcome in ALLOWED[cls] else "failure"
            row = {
                "t": self.rel(t), "started": self.rel(started), "phase": phase, "class": cls,
                "outcome": outcome, "kind": kind,
                "at_reload": any(tt - 0.05 <= t <= tt + RELOAD_WINDOW for tt in self.touches),
                "detail": detail or "",
            }
            self.events.append(row)
            if kind == "failure":
                self.failures.append(row)
                print("!! failure: %s" % json.dumps(row), file=sys.stderr, flush=True)


# ------------------------------------------------------------ HTTP client

class Response:
    __slots__ = ("status", "reason", "headers", "body", "stage", "err", "received",
                 "body_len", "t_head")

    def __init__(self):
        self.status = None
        self.reason = ""
        self.headers = {}
        self.body = bytearray()
        self.stage = "none"  # none | head | body | done
        self.err = ""  # eof | reset | timeout | malformed: ... | stopped
        self.received = 0  # response bytes received
        self.body_len = 0
        self.t_head = None

    def header(self, name):
        return self.headers.get(name.lower())

    @property
    def closes(self):
        return "close" in (self.header("connection") or "").lower()

    def describe(self):
        return "status=%s stage=%s err=%s received=%d body_len=%d" % (
            self.status, self.stage, self.err, self.received, self.body_len)


class Conn:
    """A client connection with a read buffer."""

    def __init__(self, port, rcvbuf=None, timeout=READ_TIMEOUT):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.served = 0  # responses read on this connection
        self.last_used = now()
        self.recv_size = 65536

    def send(self, data):
        self.sock.sendall(data)

    def fill(self):
        data = self.sock.recv(self.recv_size)
        self.buf += data
        return len(data)

    def reset(self):
        """Closes with SO_LINGER 0: the server gets a RST."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.sock.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def read_response(self, method="GET", sink=None, store=True):
        """Reads one response (1xx skipped). `sink(data)` gets the body as
        it arrives and may return True to stop reading. Never raises for
        what the server does: the result says how far it got."""
        r = Response()
        try:
            while True:
                self._read_head(r)
                if r.status >= 200:
                    break
                r = Response()  # a 100 Continue: the real one follows
            self.served += 1
            r.stage = "body"
            te = (r.header("transfer-encoding") or "").lower()
            cl = r.header("content-length")
            if method == "HEAD" or r.status in (204, 304):
                pass
            elif "chunked" in te:
                self._read_chunked(r, sink, store)
            elif cl is not None:
                if not cl.isdigit():
                    raise ValueError("malformed: Content-Length %r" % cl)
                self._read_exactly(r, int(cl), sink, store)
            else:
                self._read_to_eof(r, sink, store)
                return r
            r.stage = "done"
        except _Stopped:
            r.err = "stopped"
        except (socket.timeout, TimeoutError):
            r.err = "timeout"
        except (ConnectionResetError, BrokenPipeError) as e:
            r.err = "reset" if isinstance(e, ConnectionResetError) else "epipe"
        except _Eof:
            r.err = "eof"
        except (ValueError, UnicodeDecodeError) as e:
            r.err = "malformed: %s" % e
        except OSError as e:
            r.err = "oserror: %s" % e
        self.last_used = now()
        return r

    def _need(self, r):
        n = self.fill()
        if n == 0:
            raise _Eof()
        r.received += n

    def _read_head(self, r):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            if len(self.buf) > 65536:
                raise ValueError("malformed: head over 64 KiB")
            if self.buf:
                r.stage = "head"
            self._need(r)
            r.stage = "head"
        head = bytes(self.buf[:end]).decode("latin-1")
        del self.buf[:end + 4]
        lines = head.split("\r\n")
        m = re.fullmatch(r"HTTP/1\.[01] (\d{3})(?: (.*))?", lines[0])
        if not m:
            raise ValueError("malformed: status line %r" % lines[0][:80])
        r.status, r.reason = int(m.group(1)), m.group(2) or ""
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name != name.strip():
                raise ValueError("malformed: header line %r" % line[:80])
            key = name.lower()
            value = value.strip()
            if key in r.headers:
                if key == "content-length" and r.headers[key] != value:
                    raise ValueError("malformed: two Content-Length")
                r.headers[key] += ", " + value
            else:
                r.headers[key] = value
        r.t_head = now()

    def _give(self, r, data, sink, store):
        r.body_len += len(data)
        if store:
            r.body += data
        if sink is not None and sink(data):
            raise _Stopped()

    def _read_exactly(self, r, n, sink, store):
        left = n
        while left > 0:
            if not self.buf:
                self._need(r)
            take = bytes(self.buf[:left])
            del self.buf[:len(take)]
            left -= len(take)
            self._give(r, take, sink, store)

    def _read_to_eof(self, r, sink, store):
        while True:
            if self.buf:
                data = bytes(self.buf)
                self.buf.clear()
                self._give(r, data, sink, store)
            try:
                self._need(r)
            except _Eof:
                r.stage = "done"
                r.err = "eof-delimited"
                return

    def _line(self, r):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[:i + 2]
                return line
            if len(self.buf) > 8192:
                raise ValueError("malformed: chunk line over 8 KiB")
            self._need(r)

    def _read_chunked(self, r, sink, store):
        while True:
            line = self._line(r).split(b";")[0].strip()
            if not re.fullmatch(rb"[0-9a-fA-F]+", line):
                raise ValueError("malformed: chunk size %r" % line[:40])
            size = int(line, 16)
            if size == 0:
                while self._line(r):  # trailers
                    pass
                return
            self._read_exactly(r, size, sink, store)
            if self._line(r) != b"":
                raise ValueError("malformed: no CRLF after a chunk")


class _Eof(Exception):
    pass


class _Stopped(Exception):
    pass


def connect(run, cls, started, **kw):
    """A new connection, or None after recording why it failed."""
    try:
        return Conn(run.port, **kw)
    except ConnectionRefusedError as e:
        run.record(cls, "refused", started, "connect: %s" % e)
    except (socket.timeout, TimeoutError):
        run.record(cls, "connect-timeout", started, "connect timed out")
    except OSError as e:
        run.record(cls, "connect-error", started, "connect: %s" % e)
    return None


def request(port, method, path, body=b"", headers=(), chunks=None, close=False):
    """The bytes of one request; `chunks` (a list of bytes) sends the body
    chunked."""
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % port]
    lines += ["%s: %s" % h for h in headers]
    if close:
        lines.append("Connection: close")
    if chunks is not None:
        lines.append("Transfer-Encoding: chunked")
        data = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks if c) + b"0\r\n\r\n"
    else:
        data = body
        if body or method in ("POST", "PUT"):
            lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


def chunked(body):
    """`body` cut at random places, for a chunked request."""
    out, at = [], 0
    while at < len(body):
        n = random.choice((1, 7, 100, 1000, 4096, 16384, 65536))
        out.append(body[at:at + n])
        at += n
    return out


# ---------------------------------------------------------------- checks

class Expect:
    """What a request's response must be."""

    def __init__(self, method, path, status=200, kind="json", n=0, sent=b""):
        self.method, self.path, self.status = method, path, status
        self.kind, self.n, self.sent = kind, n, sent
        self.pos = 0  # /bytes: bytes verified so far
        self.bad = None

    def sink(self):
        """For /bytes: check the pattern as it arrives, keep nothing."""
        if self.kind != "bytes":
            return None

        def check(data):
            step = len(PATTERN) - 26
            for at in range(0, len(data), step):
                piece = data[at:at + step]
                off = (self.pos + at) % 26
                if self.bad is None and PATTERN[off:off + len(piece)] != piece:
                    self.bad = "pattern differs in bytes %d..%d" % (self.pos + at, self.pos + at + len(piece))
            self.pos += len(data)
        return check

    def check(self, r):
        """None if `r` is the complete, expected response; else why not."""
        if r.status != self.status:
            return "status %s, expected %d" % (r.status, self.status)
        if self.method == "HEAD" or self.kind == "empty":
            return "body on a %s" % self.method if r.body_len else None
        body = bytes(r.body)
        if self.kind == "json":
            try:
                doc = json.loads(body)
            except ValueError:
                return "not JSON: %r" % body[:80]
            path = self.path.split("?")[0]
            if doc.get("PATH_INFO") != path or doc.get("REQUEST_METHOD") != self.method:
                return "JSON for %s %s" % (doc.get("REQUEST_METHOD"), doc.get("PATH_INFO"))
            if doc.get("body_length") != len(self.sent):
                return "body_length %s, sent %d" % (doc.get("body_length"), len(self.sent))
        elif self.kind == "bytes":
            if r.body_len != self.n:
                return "%d bytes, expected %d" % (r.body_len, self.n)
            if self.bad:
                return self.bad
        elif self.kind == "stream":
            want = b"".join(b'{"chunk": %d}\n' % i for i in range(self.n))
            if body != want:
                return "stream body %d bytes, expected %d" % (len(body), len(want))
        elif self.kind == "discard":
            if body != str(len(self.sent)).encode():
                return "discard answered %r, sent %d" % (body[:40], len(self.sent))
        elif self.kind == "echo":
            if body != self.sent:
                return "echo of %d bytes differs (sent %d)" % (len(body), len(self.sent))
        elif self.kind == "text":
            if not body:
                return "empty body"
        return None


def judge(run, cls, exp, r, started, conn_reused, idle=0.0):
    """Counts one response; returns the outcome."""
    if r.stage == "done":
        if r.status == 503 and exp.status != 503:
            outcome = "503-refused" if r.body_len > 0 else "503-without-reason"
            run.record(cls, outcome, started, "%s %s: %s" % (exp.method, exp.path, r.reason))
            return outcome
        why = exp.check(r)
        if why is None:
            run.record(cls, "ok", started)
            return "ok"
        run.record(cls, "wrong-response", started, "%s %s: %s" % (exp.method, exp.path, why))
        return "wrong-response"
    closed = r.err in ("eof", "reset", "epipe") or r.err.startswith("send")
    if r.stage == "none" and closed and conn_reused:
        # Closed between requests: allowed when the server had reason to.
        if idle >= KEEP_ALIVE_TIMEOUT - 0.5:
            outcome = "closed-idle-after-timeout"
        elif run.at_reload(now()):
            outcome = "closed-at-reload"
        else:
            outcome = "closed-unannounced"
        run.record(cls, outcome, started, "%s %s on a reused connection (idle %.2f s): %s"
                   % (exp.method, exp.path, idle, r.describe()))
        return outcome
    outcome = {"none": "no-response", "head": "partial-head", "body": "truncated"}[r.stage]
    if r.err == "timeout":
        outcome += "-timeout"
    run.record(cls, outcome, started, "%s %s: %s (reused=%s)" % (exp.method, exp.path,
                                                                r.describe(), conn_reused))
    return outcome


RETRY = {"closed-at-reload", "closed-idle-after-timeout", "closed-after-announce"}


def one(run, cls, conn, exp, raw, store=True):
    """Sends `raw` on `conn` (a new one if None), reads and judges the
    response. Returns (outcome, conn or None if it must not be reused)."""
    started = now()
    reused = conn is not None
    if conn is None:
        conn = connect(run, cls, started)
        if conn is None:
            return "refused", None
    idle = started - conn.last_used if reused else 0.0
    try:
        conn.send(raw)
    except OSError as e:
        if reused:
            r = Response()
            r.err = "send: %s" % e
            outcome = judge(run, cls, exp, r, started, True, idle)
        else:
            run.record(cls, "send-failed", started, "%s %s: %s" % (exp.method, exp.path, e))
            outcome = "send-failed"
        conn.close()
        return outcome, None
    r = conn.read_response(exp.method, sink=exp.sink(), store=store and exp.kind != "bytes")
    outcome = judge(run, cls, exp, r, started, reused, idle)
    if outcome != "ok" or r.closes or r.err:
        conn.close()
        return outcome, None
    return outcome, conn


def with_retry(run, cls, conn, make):
    """`one`, retried once on a new connection when the server closed a
    reused one between requests for a reason the class allows."""
    exp, raw = make()
    outcome, conn = one(run, cls, conn, exp, raw)
    if outcome in RETRY:
        exp, raw = make()
        outcome, conn = one(run, cls, None, exp, raw)
    return conn


# --------------------------------------------------------------- classes

def simple_get(port, close=False):
    """A random quick request and its expectation."""
    pick = random.random()
    if pick < 0.25:
        return Expect("GET", "/"), request(port, "GET", "/", close=close)
    if pick < 0.40:
        n = random.choice((0, 1, 100, 4096, 65536, 65537, 200000))
        return Expect("GET", "/bytes/%d" % n, kind="bytes", n=n), \
            request(port, "GET", "/bytes/%d" % n, close=close)
    if pick < 0.50:
        code = random.choice((200, 201, 404, 418, 500))
        return Expect("GET", "/status/%d" % code, status=code), \
            request(port, "GET", "/status/%d" % code, close=close)
    if pick < 0.55:
        return Expect("GET", "/status/204", status=204, kind="empty"), \
            request(port, "GET", "/status/204", close=close)
    if pick < 0.65:
        n = random.randint(1, 30)
        return Expect("GET", "/stream/%d" % n, kind="stream", n=n), \
            request(port, "GET", "/stream/%d" % n, close=close)
    if pick < 0.72:
        ms = random.choice((0, 1, 5, 20, 100))
        return Expect("GET", "/sleep/%d" % ms), request(port, "GET", "/sleep/%d" % ms, close=close)
    if pick < 0.78:
        return Expect("GET", "/write"), request(port, "GET", "/write", close=close)
    if pick < 0.85:
        return Expect("HEAD", "/"), request(port, "HEAD", "/", close=close)
    if pick < 0.92:
        body = os.urandom(random.randint(0, 4096))
        return Expect("POST", "/echo", kind="echo", sent=body), \
            request(port, "POST", "/echo", body, close=close)
    body = os.urandom(random.randint(1, 2048))
    return Expect("POST", "/x/json", sent=body), request(port, "POST", "/x/json", body, close=close)


def w_keepalive(run):
    conn = None
    used = 0
    idle_at = now() + random.uniform(30, 90)
    while not run.stop.is_set():
        if conn is not None and now() >= idle_at:
            # idle past the server's keep-alive timeout, then reuse
            idle_at = now() + random.uniform(30, 90)
            if run.stop.wait(KEEP_ALIVE_TIMEOUT + 1.0):
                break
        conn = with_retry(run, "keepalive", conn, lambda: simple_get(run.port))
        used += 1
        if conn is not None and used % random.randint(50, 400) == 0:
            conn.close()
            conn = None
    if conn:
        conn.close()


def w_pipeline(run):
    port = run.port
    conn = None
    while not run.stop.is_set():
        started = now()
        if conn is None:
            conn = connect(run, "pipeline", started)
            if conn is None:
                time.sleep(0.1)
                continue
            bursts = random.randint(1, 20)
        depth = random.randint(2, 16)
        reqs = []
        for _ in range(depth):
            pick = random.random()
            if pick < 0.4:
                reqs.append((Expect("GET", "/"), request(port, "GET", "/")))
            elif pick < 0.6:
                n = random.choice((10, 1000, 70000))
                reqs.append((Expect("GET", "/bytes/%d" % n, kind="bytes", n=n),
                             request(port, "GET", "/bytes/%d" % n)))
            elif pick < 0.75:
                reqs.append((Expect("GET", "/stream/3", kind="stream", n=3),
                             request(port, "GET", "/stream/3")))
            elif pick < 0.85:
                reqs.append((Expect("HEAD", "/"), request(port, "HEAD", "/")))
            else:
                reqs.append((Expect("GET", "/status/404", status=404),
                             request(port, "GET", "/status/404")))
        reused = conn.served > 0
        idle = started - conn.last_used
        try:
            conn.send(b"".join(raw for _, raw in reqs))
        except OSError as e:
            r = Response()
            r.err = "send: %s" % e
            for exp, _ in reqs:
                judge(run, "pipeline", exp, r, started, reused, idle)
            conn.close()
            conn = None
            continue
        alive = True
        unanswered = []
        for i, (exp, raw) in enumerate(reqs):
            if not alive:
                unanswered.append((exp, raw))
                continue
            r = conn.read_response(exp.method, sink=exp.sink(), store=exp.kind != "bytes")
            if r.stage == "none" and r.err in ("eof", "reset") and (i > 0 or reused):
                # closed before this one: announced, or at a reload
                outcome = judge(run, "pipeline", exp, r, started, True, idle if i == 0 else 0.0)
                if outcome in RETRY:
                    unanswered.append((exp, raw))
                alive = False
                continue
            outcome = judge(run, "pipeline", exp, r, started, False)
            if outcome != "ok" or r.err:
                alive = False
            elif r.closes:
                alive = False
                for exp2, _ in reqs[i + 1:]:
                    run.record("pipeline", "closed-after-announce", started,
                               "%s %s after a Connection: close (response %d of %d)"
                               % (exp2.method, exp2.path, i + 1, depth))
                unanswered.extend(reqs[i + 1:])
                break
        if not alive:
            conn.close()
            conn = None
            # the unanswered ones again, one by one on new connections
            for exp, raw in unanswered:
                one(run, "pipeline", None, exp, raw)
            continue
        bursts -= 1
        if bursts <= 0:
            conn.close()
            conn = None


def w_newconn(run):
    while not run.stop.is_set():
        close = random.random() < 0.7
        exp, raw = simple_get(run.port, close=close)
        outcome, conn = one(run, "newconn", None, exp, raw)
        if conn is not None:
            conn.close()
        if outcome == "refused":
            time.sleep(0.05)


def w_upload(run):
    port = run.port
    conn = None
    while not run.stop.is_set():
        size = random.choice((0, random.randint(1, 65536), random.randint(65536, 1 << 20),
                              random.randint(1 << 20, 3 << 20)))
        body = os.urandom(size) if size <= 65536 else (os.urandom(4096) * (size // 4096 + 1))[:size]
        target = "/echo" if size <= 256 * 1024 and random.random() < 0.3 else "/discard"
        exp = Expect("POST", target, kind="echo" if target == "/echo" else "discard", sent=body)
        use_chunks = random.random() < 0.3
        expect100 = random.random() < 0.1
        headers = [("Content-Type", "application/octet-stream")]
        if expect100:
            headers.append(("Expect", "100-continue"))
        raw = request(port, "POST", target, body, headers, chunks=chunked(body) if use_chunks else None)
        if conn is not None and random.random() < 0.5:
            conn.close()
            conn = None
        if expect100:
            # the head, then the body after the 100 (or after 1 s)
            started = now()
            reused = conn is not None
            if conn is None:
                conn = connect(run, "upload", started)
                if conn is None:
                    continue
            split = raw.index(b"\r\n\r\n") + 4
            try:
                conn.send(raw[:split])
                conn.sock.settimeout(1.0)
                try:
                    conn._need(Response())
                except (socket.timeout, TimeoutError):
                    pass
                finally:
                    conn.sock.settimeout(READ_TIMEOUT)
                conn.send(raw[split:])
            except (OSError, _Eof) as e:
                r = Response()
                r.err = "send: %s" % e
                judge(run, "upload", exp, r, started, reused, started - conn.last_used)
                conn.close()
                conn = None
                continue
            r = conn.read_response("POST")
            outcome = judge(run, "upload", exp, r, started, reused, 0.0)
            if outcome != "ok" or r.closes or r.err:
                conn.close()
                conn = None
            continue
        outcome, conn = one(run, "upload", conn, exp, raw)
        if outcome in RETRY:
            outcome, conn = one(run, "upload", None, exp, raw)


def w_slowsend(run):
    port = run.port
    while not run.stop.is_set():
        started = now()
        large = random.random() < 0.05
        # over 1 MiB: read by the application as it comes, in a worker
        size = random.randint(1100 * 1024, 1600 * 1024) if large else random.randint(4096, 48 * 1024)
        body = os.urandom(size)
        use_chunks = random.random() < 0.25
        raw = request(port, "POST", "/discard", body, chunks=chunked(body) if use_chunks else None)
        pick = random.random()
        mode = "finish" if pick < 0.6 or large else "abandon-open" if pick < 0.85 else "abandon-close"
        duration = random.uniform(1.0, 5.0)
        slow_head = random.random() < 0.1
        split = raw.index(b"\r\n\r\n") + 4
        stop_at = len(raw) if mode == "finish" else random.randint(split // 2 if slow_head else split,
                                                                    len(raw) - 1)
        conn = connect(run, "slowsend", started)
        if conn is None:
            time.sleep(0.1)
            continue
        exp = Expect("POST", "/discard", kind="discard", sent=body)
        try:
            at = 0 if slow_head else split
            if not slow_head:
                conn.send(raw[:split])
            pieces = max(1, (stop_at - at) // (65536 if large else random.choice((256, 1024, 2048))))
            pause = duration / pieces
            step = max(1, (stop_at - at) // pieces)
            while at < stop_at:
                conn.send(raw[at:min(at + step, stop_at)])
                at = min(at + step, stop_at)
                time.sleep(pause)
        except OSError as e:
            r = Response()
            r.err = "send: %s" % e
            # was an answer sent before the server closed?
            try:
                conn.sock.settimeout(1.0)
                r = conn.read_response("POST")
                r.err = r.err or "send: %s" % e
            except OSError:
                pass
            detail = "POST /discard %s %d of %d bytes sent (slow_head=%s chunked=%s): %s"
            if r.stage == "done" and r.status == 408:
                run.record("slowsend", "408-timeout", started, detail % (mode, at, len(raw), slow_head,
                                                                         use_chunks, r.describe()))
            elif r.stage == "done" and r.status == 503 and r.body_len:
                run.record("slowsend", "503-refused", started, detail % (mode, at, len(raw), slow_head,
                                                                         use_chunks, r.describe()))
            else:
                run.record("slowsend", "send-failed", started, detail % (mode, at, len(raw), slow_head,
                                                                         use_chunks, r.describe()))
            conn.close()
            continue
        if mode == "abandon-close":
            run.record("slowsend", "client-abandoned", started)
            conn.close()
            continue
        if mode == "abandon-open":
            # The server's deadline, from when it first reads the request:
            # head_timeout + size / 8 KiB (a chunked body counts as the
            # largest buffered body, 1 MiB: 128 s more). At a reload the
            # request may first wait in the backlog, up to the grace.
            deadline = started + HEAD_TIMEOUT + (1 << 20 if use_chunks else size) / 8192 + GRACE + 5
            r = Response()
            while not run.stop.is_set() and now() < deadline:
                conn.sock.settimeout(1.0)
                try:
                    if conn.buf or select_readable(conn.sock):
                        conn.sock.settimeout(READ_TIMEOUT)
                        r = conn.read_response("POST")
                        break
                except OSError:
                    pass
            else:
                conn.close()
                if run.stop.is_set():
                    # the load ended before the server's deadline
                    run.record("slowsend", "client-abandoned", started)
                    continue
                r.err = "timeout"
            conn.close()
            detail = "POST /discard abandoned after %d of %d bytes (slow_head=%s chunked=%s): %s, after %.1f s" % (
                stop_at, len(raw), slow_head, use_chunks, r.describe(), now() - started)
            if r.stage == "done" and r.status == 408:
                run.record("slowsend", "408-timeout", started)
            elif r.stage == "done" and r.status == 503 and r.body_len:
                run.record("slowsend", "503-refused", started, detail)
            elif r.stage == "none" and r.err in ("eof", "reset"):
                run.record("slowsend", "closed-no-408", started, detail)
            else:
                run.record("slowsend", "wrong-response" if r.stage == "done" else "no-408", started, detail)
            continue
        r = conn.read_response("POST")
        conn.close()
        if r.stage == "done" and r.status == 408 and run.outlived_a_grace(started, now()):
            # Too slow to finish within the old child's grace: the server
            # answers 408 before it goes, as it should.
            run.record("slowsend", "408-grace-over", started)
            continue
        if r.stage != "done":
            r.err += " (body sent over %.1f s, slow_head=%s chunked=%s, %d bytes)" % (
                duration, slow_head, use_chunks, size)
        judge(run, "slowsend", exp, r, started, False)


def w_slowread(run):
    port = run.port
    while not run.stop.is_set():
        started = now()
        n = random.randint(256 * 1024, 4 << 20)
        pick = random.random()
        mode = "finish" if pick < 0.75 else "abandon" if pick < 0.98 else "stall"
        if mode == "stall":
            n = 16 << 20  # more than the socket buffers hold
        conn = connect(run, "slowread", started, rcvbuf=8192)
        if conn is None:
            time.sleep(0.1)
            continue
        conn.recv_size = random.choice((1024, 4096, 16384))
        exp = Expect("GET", "/bytes/%d" % n, kind="bytes", n=n)
        check = exp.sink()
        duration = random.uniform(1.0, 6.0)
        rate = n / duration
        cut = random.randint(0, n - 1) if mode == "abandon" else random.randint(0, 512 * 1024) \
            if mode == "stall" else n + 1
        state = {"got": 0, "stalled": 0.0}

        def sink(data):
            check(data)
            state["got"] += len(data)
            if state["got"] >= cut:
                if mode == "abandon":
                    return True
                if mode == "stall" and not state["stalled"]:
                    state["stalled"] = IO_TIMEOUT + 5
                    time.sleep(IO_TIMEOUT + 5)
                    return False
            time.sleep(len(data) / rate)
            return False

        conn.sock.settimeout(READ_TIMEOUT + IO_TIMEOUT + 10)
        try:
            conn.send(request(port, "GET", exp.path))
        except OSError as e:
            run.record("slowread", "send-failed", started, str(e))
            conn.close()
            continue
        r = conn.read_response("GET", sink=sink, store=False)
        conn.close()
        if mode == "abandon" and r.err == "stopped":
            run.record("slowread", "client-abandoned", started)
            continue
        if mode == "stall" and r.stage != "done":
            outcome = "cut-after-stall" if state["stalled"] else "truncated"
            run.record("slowread", outcome, started, "GET %s: stalled %.0f s after %d bytes: %s" % (
                exp.path, state["stalled"], state["got"], r.describe()))
            continue
        if r.stage != "done":
            r.err += " (reading over %.1f s, %s)" % (duration, mode)
        judge(run, "slowread", exp, r, started, False)


def select_readable(sock, timeout=1.0):
    import select
    return bool(select.select([sock], [], [], timeout)[0])


def stop_after(limit, measure):
    """A sink that asks to stop once `measure` of the body reaches `limit`."""
    seen = [0]

    def sink(data):
        seen[0] += measure(data)
        return seen[0] >= limit
    return sink


def w_reset(run):
    port = run.port
    while not run.stop.is_set():
        started = now()
        conn = connect(run, "reset", started)
        if conn is None:
            time.sleep(0.1)
            continue
        pick = random.random()
        try:
            if pick < 0.6:
                n = random.randint(1 << 20, 16 << 20)
                conn.send(request(port, "GET", "/bytes/%d" % n))
                cut = random.randint(0, n // 2)
                r = conn.read_response("GET", sink=stop_after(cut, len), store=False)
                what = "GET /bytes/%d reset after %d bytes" % (n, r.body_len)
            elif pick < 0.8:
                conn.send(request(port, "GET", "/stream/200?delay_ms=5"))
                cut = random.randint(0, 60)
                r = conn.read_response("GET", sink=stop_after(cut, lambda d: d.count(b"\n")), store=False)
                what = "GET /stream/200?delay_ms=5 reset after %d bytes" % r.body_len
            else:
                size = random.randint(2 << 20, 4 << 20)
                raw = request(port, "POST", "/discard", b"\0" * size)
                part = random.randint(100, len(raw) // 2)
                conn.send(raw[:part])
                time.sleep(random.uniform(0, 0.2))
                r = Response()
                r.err = "stopped"
                what = "POST /discard (%d bytes) reset after sending %d" % (size, part)
        except OSError as e:
            r = Response()
            r.err = "send: %s" % e
            what = "send failed"
        conn.reset()
        if r.err == "stopped" and (r.status in (None, 200)):
            run.record("reset", "client-reset", started)
        elif r.status == 503 and r.stage == "done":
            run.record("reset", "503-refused", started, what)
        else:
            run.record("reset", "before-reset:" + (str(r.status) if r.status else r.err.split(":")[0]),
                       started, "%s: %s" % (what, r.describe()))


def w_panic(run):
    port = run.port
    conn = None
    while not run.stop.wait(0.02):
        pick = random.random()
        if pick < 0.4:
            conn = with_retry(run, "panic", conn,
                              lambda: (Expect("GET", "/panic", status=500, kind="text"),
                                       request(port, "GET", "/panic")))
            continue
        if pick < 0.5:
            # the connection carries on after a panic
            conn = with_retry(run, "panic", conn, lambda: (Expect("GET", "/"), request(port, "GET", "/")))
            continue
        n = random.randint(2, 40)
        k = random.randint(0, n - 1)
        path = "/stream/%d?panic_at=%d" % (n, k)
        if conn is not None:
            conn.close()
            conn = None
        started = now()
        c = connect(run, "panic", started)
        if c is None:
            time.sleep(0.1)
            continue
        try:
            c.send(request(port, "GET", path))
        except OSError as e:
            run.record("panic", "send-failed", started, "%s: %s" % (path, e))
            c.close()
            continue
        r = c.read_response("GET")
        c.close()
        want = b"".join(b'{"chunk": %d}\n' % i for i in range(k))
        if r.stage == "done" and r.status == 500:
            # panicked before the head went out
            run.record("panic", "ok" if k == 0 else "wrong-response", started,
                       None if k == 0 else "%s: 500 after the head should have gone" % path)
        elif r.status == 200 and r.stage == "body" and r.err in ("eof", "reset") and bytes(r.body) == want:
            run.record("panic", "panic-cut", started)
        elif r.status == 503 and r.stage == "done" and r.body_len:
            run.record("panic", "503-refused", started, path)
        else:
            run.record("panic", "wrong-response" if r.stage == "done" else "unexpected-cut", started,
                       "%s: %s, body %r" % (path, r.describe(), bytes(r.body[-60:])))


WORKERS = {
    "keepalive": w_keepalive, "pipeline": w_pipeline, "newconn": w_newconn, "upload": w_upload,
    "slowsend": w_slowsend, "slowread": w_slowread, "reset": w_reset, "panic": w_panic,
}
DEFAULT_MIX = "keepalive=2,pipeline=1,newconn=2,upload=2,slowsend=3,slowread=3,reset=1,panic=1"


def guarded(run, name, fn):
    def body():
        try:
            fn(run)
        except Exception as e:  # a bug in this script: say so, count it
            import traceback
            traceback.print_exc()
            run.record(name, "client-bug", now(), repr(e))
    return body


def run_load(run, mix, seconds, reloads=None):
    """The load mix for `seconds` (and the reloads, if given); returns when
    every worker has finished its last request."""
    run.stop.clear()
    threads = []
    for name, count in mix.items():
        for i in range(count):
            t = threading.Thread(target=guarded(run, name, WORKERS[name]), name="%s-%d" % (name, i),
                                 daemon=True)
            t.start()
            threads.append(t)
    end = now() + seconds
    if reloads:
        reloads(end)
    run.stop.wait(max(0.0, end - now()))
    run.stop.set()
    stop_t = now()
    for t in threads:
        t.join(IO_TIMEOUT + READ_TIMEOUT + 30)
    left = [t.name for t in threads if t.is_alive()]
    if left:
        run.record("probe", "client-stuck", now(), "workers still running: %s" % left)
    return now() - stop_t


# ---------------------------------------------------------------- reloads

def get_pid(run, cls="probe"):
    """GET / on a new connection: the child's pid, or None (counted)."""
    exp = Expect("GET", "/")
    started = now()
    conn = connect(run, cls, started)
    if conn is None:
        return None
    try:
        conn.send(request(run.port, "GET", "/", close=True))
        r = conn.read_response()
    finally:
        conn.close()
    if judge(run, cls, exp, r, started, False) != "ok":
        return None
    return json.loads(bytes(r.body))["pid"]


class Reloader:
    def __init__(self, run, watched, lo, hi):
        self.run, self.watched, self.lo, self.hi = run, watched, lo, hi
        self.rows = []
        self.thread = None

    def touch(self, why):
        """Appends a line to the watched file; returns the time."""
        with open(self.watched, "a") as f:
            f.write("soak change %d at %.6f (%s)\n" % (len(self.rows) + 1, time.time(), why))
        t = now()
        with self.run.lock:
            self.run.touches.append(t)
        return t

    def reload(self, why):
        """One change; waits (20 s at most) for a new pid to answer."""
        old = get_pid(self.run)
        t = self.touch(why)
        new = None
        while now() - t < 20:
            time.sleep(0.05)
            new = get_pid(self.run)
            if new is not None and new != old:
                break
        done = now()
        row = {"t": self.run.rel(t), "phase": self.run.phase, "old_pid": old, "new_pid": new,
               "ms": round((done - t) * 1000) if new not in (None, old) else None}
        self.rows.append(row)
        print("   reload %d: pid %s -> %s in %s ms" % (len(self.rows), old, new, row["ms"]), flush=True)
        return new

    def during(self, end):
        def loop():
            while True:
                wait = random.uniform(self.lo, self.hi)
                if now() + wait > end - 2 or self.run.stop.wait(wait):
                    return
                self.reload("under load")
        self.thread = threading.Thread(target=loop, name="reloader", daemon=True)
        self.thread.start()


# --------------------------------------------------------------- sampling

def read_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def children_of(pid):
    kids = []
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def fd_kinds(pid):
    kinds = collections.Counter()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:"):
            kinds["socket"] += 1
        elif target.startswith("pipe:"):
            kinds["pipe"] += 1
        elif target.startswith("anon_inode:"):
            kinds[target[len("anon_inode:"):].strip("[]")] += 1
        else:
            kinds["file"] += 1
    return kinds


def proc_sample(pid):
    st = read_status(pid)
    kinds = fd_kinds(pid)
    return {
        "pid": pid, "state": st.get("State", "?")[:1],
        "rss_kb": int(st.get("VmRSS", "0 kB").split()[0]),
        "hwm_kb": int(st.get("VmHWM", "0 kB").split()[0]),
        "threads": int(st.get("Threads", "0")),
        "fds": sum(kinds.values()),
        "fd_kinds": " ".join("%s=%d" % kv for kv in sorted(kinds.items())),
    }


TCP_STATES = {"01": "established", "02": "syn_sent", "03": "syn_recv", "04": "fin_wait1",
              "05": "fin_wait2", "06": "time_wait", "07": "close", "08": "close_wait",
              "09": "last_ack", "0A": "listen", "0B": "closing"}


def tcp_states(port):
    """Server-side TCP sockets of the port, by state (machine-wide tables)."""
    c = collections.Counter()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if int(parts[1].rsplit(":", 1)[1], 16) == port:
                        c[TCP_STATES.get(parts[3], parts[3])] += 1
        except OSError:
            pass
    return c


SAMPLE_FIELDS = ["t", "phase", "role", "pid", "state", "rss_kb", "hwm_kb", "threads", "fds",
                 "fd_kinds", "children", "tcp_established", "tcp_close_wait", "tcp_time_wait",
                 "tcp_other"]


class Sampler:
    def __init__(self, run, supervisor, every=1.0):
        self.run, self.supervisor, self.every = run, supervisor, every
        self.rows = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.dead = None

    def sample(self):
        t = self.run.rel()
        phase = self.run.phase
        rows = []
        try:
            sup = proc_sample(self.supervisor)
        except OSError:
            self.dead = self.dead or t
            return []
        kids = children_of(self.supervisor)
        tcp = tcp_states(self.run.port)
        other = sum(v for k, v in tcp.items()
                    if k not in ("established", "close_wait", "time_wait", "listen"))
        common = {"t": t, "phase": phase, "children": len(kids),
                  "tcp_established": tcp["established"], "tcp_close_wait": tcp["close_wait"],
                  "tcp_time_wait": tcp["time_wait"], "tcp_other": other}
        rows.append(dict(common, role="supervisor", **sup))
        for kid in kids:
            try:
                rows.append(dict(common, role="child", **proc_sample(kid)))
            except OSError:
                pass
        with self.lock:
            self.rows += rows
        return rows

    def start(self):
        def loop():
            while not self.done.wait(self.every):
                self.sample()
        threading.Thread(target=loop, name="sampler", daemon=True).start()

    def snapshot(self, label, n=5):
        """n samples 1 s apart; the last one of each role, with the
        spread seen."""
        taken = []
        for i in range(n):
            taken.append(self.sample())
            if i < n - 1:
                time.sleep(1.0)
        last = {row["role"]: dict(row, label=label) for row in taken[-1]}
        for role, row in last.items():
            for key in ("rss_kb", "threads", "fds"):
                vals = [r[key] for rows in taken for r in rows if r["role"] == role and r["pid"] == row["pid"]]
                row[key + "_range"] = [min(vals), max(vals)] if vals else None
        return last

    def peak(self, role, phases):
        with self.lock:
            rows = [r for r in self.rows if r["role"] == role and r["phase"] in phases]
        return {k: max((r[k] for r in rows), default=None) for k in ("rss_kb", "threads", "fds")}


# ------------------------------------------------------------------ report

def fmt_mib(kb):
    return "%.1f MiB" % (kb / 1024) if kb is not None else "-"


def report(run, sampler, snaps, reloader, args, timing):
    out = args.out
    rss_frac, rss_abs = args.rss_tolerance, args.rss_tolerance_kb
    lines = []
    add = lines.append

    # requests
    totals = collections.defaultdict(collections.Counter)
    for (phase, cls), c in run.counts.items():
        totals[cls].update(c)
    add("Requests, all phases (soak: %d s with %d reloads; warm-up %d s twice):" % (
        args.duration, sum(1 for r in reloader.rows if r["phase"] == "soak"), args.warmup))
    add("")
    add("| class | requests | ok | allowed refusals | failures | ok latency p50 / p99 / max (soak) |")
    add("|---|---:|---:|---|---|---|")
    grand = collections.Counter()
    for cls in CLASSES:
        c = totals.get(cls)
        if not c:
            continue
        allowed = {k: v for k, v in c.items() if k != "ok" and k in ALLOWED[cls]}
        failed = {k: v for k, v in c.items() if k != "ok" and k not in ALLOWED[cls]}
        lat = sorted(run.latency.get(cls, []))
        latency = "%.1f / %.0f / %.0f ms" % (1000 * lat[len(lat) // 2], 1000 * lat[int(len(lat) * 0.99)],
                                             1000 * lat[-1]) if lat else "-"
        n = sum(c.values())
        grand["requests"] += n
        grand["ok"] += c["ok"]
        grand["allowed"] += sum(allowed.values())
        grand["failed"] += sum(failed.values())
        add("| %s | %d | %d | %s | %s | %s |" % (
            cls, n, c["ok"],
            ", ".join("%s %d" % kv for kv in sorted(allowed.items())) or "0",
            "**" + ", ".join("%s %d" % kv for kv in sorted(failed.items())) + "**" if failed else "0",
            latency))
    add("| all | %d | %d | %d | %s |  |" % (grand["requests"], grand["ok"], grand["allowed"],
                                            "**%d**" % grand["failed"] if grand["failed"] else "0"))
    add("")

    # reloads
    soak_reloads = [r for r in reloader.rows if r["phase"] == "soak"]
    ms = [r["ms"] for r in soak_reloads if r["ms"] is not None]
    add("Reloads under load: %d changes, %d new children seen%s." % (
        len(soak_reloads), len(ms),
        " (change to the first answer from the new child: median %d ms, max %d ms)" % (
            statistics.median(ms), max(ms)) if ms else ""))
    add("")

    # resources
    sup_peak = sampler.peak("supervisor", {"warmup", "settle-start", "soak", "settle-end", "fresh",
                                           "settle-fresh"})
    kid_peak = sampler.peak("child", {"soak"})
    initial = snaps.get("initial", {})
    start, end, fresh = snaps.get("start", {}), snaps.get("end", {}), snaps.get("fresh", {})
    verdicts = []

    def verdict(metric, now_, ref, frac=0.0, abs_=0):
        if now_ is None or ref is None:
            return "?"
        ok = now_ <= ref * (1 + frac) + abs_
        verdicts.append(ok)
        return "back" if ok else "**not back (+%s)**" % (
            fmt_mib(now_ - ref) if metric == "rss_kb" else now_ - ref)

    add("Serving processes (%d s of rest before each sample; RSS back = within %d %% + %d KiB of "
        "the reference; threads and descriptors: equal):" % (args.settle, rss_frac * 100, rss_abs))
    add("")
    add("| process | metric | before load | start | peak (soak) | end | fresh child | end vs reference |")
    add("|---|---|---:|---:|---:|---:|---:|---|")
    for role, ref_label in (("supervisor", "start"), ("child", "fresh")):
        i, s, e, f = initial.get(role, {}), start.get(role, {}), end.get(role, {}), fresh.get(role, {})
        peak = sup_peak if role == "supervisor" else kid_peak
        ref = s if ref_label == "start" else f
        for metric, name in (("rss_kb", "RSS"), ("threads", "threads"), ("fds", "open descriptors")):
            show = fmt_mib if metric == "rss_kb" else (lambda v: "-" if v is None else str(v))
            add("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                role if metric == "rss_kb" else "", name, show(i.get(metric)), show(s.get(metric)),
                show(peak.get(metric)),
                show(e.get(metric)), show(f.get(metric)) if role == "child" else "",
                verdict(metric, e.get(metric), ref.get(metric),
                        rss_frac if metric == "rss_kb" else 0.0,
                        rss_abs if metric == "rss_kb" else 0) + " (vs %s)" % ref_label))
    add("")
    for label, snap in (("before load", initial), ("start", start), ("end", end), ("fresh", fresh)):
        parts = []
        for role in ("supervisor", "child"):
            row = snap.get(role)
            if row:
                parts.append("%s pid %d: %s" % (role, row["pid"], row["fd_kinds"]))
        if snap:
            any_row = next(iter(snap.values()))
            parts.append("server-side TCP: %d established, %d close-wait, %d other (and %d time-wait)" % (
                any_row["tcp_established"], any_row["tcp_close_wait"], any_row["tcp_other"],
                any_row["tcp_time_wait"]))
            parts.append("%d child process(es)" % any_row["children"])
        add("- %s: %s" % (label, "; ".join(parts)))
    add("")
    add("Server alive at the end: %s. Workers took %.1f s to finish after the soak's load stopped." % (
        "no (gone at %.0f s)" % sampler.dead if sampler.dead else "yes", timing.get("soak_stop", 0)))
    table = "\n".join(lines)

    summary = {
        "args": vars(args), "counts": {"%s/%s" % k: dict(v) for k, v in run.counts.items()},
        "reloads": reloader.rows, "snapshots": snaps, "peak_supervisor": sup_peak,
        "peak_child_soak": kid_peak, "failures": len(run.failures),
        "resources_back": all(verdicts) if verdicts else None, "timing": timing,
        "server_died_at": sampler.dead,
    }
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    with open(os.path.join(out, "failures.json"), "w") as f:
        json.dump(run.failures, f, indent=1)
    with open(os.path.join(out, "events.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, ["t", "started", "phase", "class", "outcome", "kind", "at_reload", "detail"])
        w.writeheader()
        w.writerows(run.events)
    with open(os.path.join(out, "samples.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, SAMPLE_FIELDS, extrasaction="ignore")
        w.writeheader()
        w.writerows(sampler.rows)
    with open(os.path.join(out, "reloads.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, ["t", "phase", "old_pid", "new_pid", "ms"])
        w.writeheader()
        w.writerows(reloader.rows)
    return table, summary


# -------------------------------------------------------------------- main

def parse_mix(text):
    mix = {}
    for part in text.split(","):
        name, _, n = part.partition("=")
        if name not in WORKERS:
            sys.exit("soak.py: unknown class %r (%s)" % (name, ", ".join(WORKERS)))
        mix[name] = int(n or 1)
    return mix


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--supervisor", type=int, required=True, help="pid of `werk serve --reload`")
    p.add_argument("--watched", required=True, help="the --extra-files file")
    p.add_argument("--out", required=True)
    p.add_argument("--duration", type=float, default=300)
    p.add_argument("--warmup", type=float, default=25)
    p.add_argument("--settle", type=float, default=20)
    p.add_argument("--reload-min", type=float, default=20)
    p.add_argument("--reload-max", type=float, default=30)
    p.add_argument("--mix", default=DEFAULT_MIX)
    p.add_argument("--rss-tolerance", type=float, default=0.25)
    p.add_argument("--rss-tolerance-kb", type=int, default=2048)
    p.add_argument("--seed", type=int, default=None)
    args = p.parse_args()
    if args.seed is not None:
        random.seed(args.seed)
    mix = parse_mix(args.mix)
    run = Run(args.port, args.out)
    sampler = Sampler(run, args.supervisor)
    reloader = Reloader(run, args.watched, args.reload_min, args.reload_max)
    snaps, timing = {}, {}

    def phase(name):
        run.phase = name
        print("== %s (t=%.0f s)" % (name, run.rel()), flush=True)

    deadline = now() + 30
    pid = None
    while pid is None and now() < deadline:
        pid = get_pid(run, "probe")
        if pid is None:
            time.sleep(0.2)
    if pid is None:
        sys.exit("soak.py: the server did not answer GET / in 30 s")
    run.counts.clear()
    run.events.clear()
    run.failures.clear()
    snaps["initial"] = sampler.snapshot("initial", n=1)
    sampler.start()

    phase("warmup")
    run_load(run, mix, args.warmup)
    phase("settle-start")
    time.sleep(max(0.0, args.settle - 4))
    snaps["start"] = sampler.snapshot("start")

    phase("soak")
    timing["soak_stop"] = run_load(run, mix, args.duration, reloads=reloader.during)
    if reloader.thread:
        reloader.thread.join(30)
    phase("settle-end")
    time.sleep(max(0.0, args.settle - 4))
    snaps["end"] = sampler.snapshot("end")

    phase("fresh")
    reloader.reload("fresh child")
    run_load(run, mix, args.warmup)
    phase("settle-fresh")
    time.sleep(max(0.0, args.settle - 4))
    snaps["fresh"] = sampler.snapshot("fresh")
    sampler.done.set()

    table, summary = report(run, sampler, snaps, reloader, args, timing)
    print()
    print(table)
    with open(os.path.join(args.out, "table.md"), "w") as f:
        f.write(table + "\n")
    failed = summary["failures"] > 0 or summary["resources_back"] is False or sampler.dead
    print()
    print("soak: %s" % ("failures or leaks found (see above and %s)" % args.out if failed
                        else "every request answered as its class allows; resources back"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
