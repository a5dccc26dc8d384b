#!/usr/bin/env bash
# Reload latency, on loopback only: the time from a change to a watched file
# to the first request served by the new process, for werk's reloader and
# Werkzeug's, side by side in one run. Bounded in time; asserts nothing.
#
#   benches/reload.sh                    werk-auto werk-stat-1 werk-stat-0.1 werkzeug-stat
#   benches/reload.sh werk-auto werkzeug-stat
#
# Servers (each one alone, one after the other, in its own process group):
#   werk-auto       werk serve echo --reload --extra-files F --reloader-type auto
#                   (inotify on Linux)
#   werk-stat-SECS  the same with --reloader-type stat --reloader-interval SECS
#   werkzeug-stat   a small app file: run_simple(..., use_reloader=True,
#                   extra_files=[F], reloader_type='stat'), interval 1 s (the
#                   default); the app answers {"pid": os.getpid()}
#
# For each server: start it, wait until `GET /` answers, take the pid from the
# answer; then REPEAT times: pause a random SETTLE_MIN..SETTLE_MAX seconds (so
# the change falls at a random point of a stat interval), append a line to F,
# and poll `GET /` every 2 ms (a new connection per request, 1 s timeout) until
# the pid differs; the time from the write to that answer is one sample.
#
# Env: REPEAT (10)  SETTLE_MIN (0.3)  SETTLE_MAX (1.3)  MAX_WAIT (15 s per
#      change)  START_TIMEOUT (30 s)  PYTHON (a python with werkzeug; default
#      /tmp/sbench/venv/bin/python; if it lacks werkzeug, a venv is made in
#      /tmp/werk-reload-venv with `pip install werkzeug`)  WERK_BIN (a werk binary; default:
#      `cargo build --release`, target/release/werk)  OUT (benches/results)
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
ROOT=$(cd "$BENCH/.." && pwd)
COMMAND="$0${*:+ $*}"
for var in REPEAT SETTLE_MIN SETTLE_MAX MAX_WAIT PYTHON WERK_BIN; do
  [[ -n "${!var:-}" ]] && COMMAND="$var=${!var} $COMMAND"
done

REPEAT=${REPEAT:-10}
SETTLE_MIN=${SETTLE_MIN:-0.3}
SETTLE_MAX=${SETTLE_MAX:-1.3}
MAX_WAIT=${MAX_WAIT:-15}
START_TIMEOUT=${START_TIMEOUT:-30}
PYTHON=${PYTHON:-/tmp/sbench/venv/bin/python}
HOST=127.0.0.1
SERVERS=("$@"); [[ ${#SERVERS[@]} -eq 0 ]] && SERVERS=(werk-auto werk-stat-1 werk-stat-0.1 werkzeug-stat)
OUT=${OUT:-$BENCH/results}/reload-$(date -u +%Y%m%dT%H%M%SZ)

case "${1:-}" in
  -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
for server in "${SERVERS[@]}"; do
  [[ "$server" =~ ^(werk-auto|werk-stat-[0-9.]+|werkzeug-stat)$ ]] || {
    echo "reload.sh: unknown server $server (werk-auto, werk-stat-SECS, werkzeug-stat)" >&2; exit 2; }
done

# --- setup -------------------------------------------------------------------
if [[ -z "${WERK_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --release --quiet --bin werk)
  WERK_BIN=$ROOT/target/release/werk
fi
if ! "$PYTHON" -c 'import werkzeug' 2>/dev/null; then
  PYTHON=/tmp/werk-reload-venv/bin/python
  if ! "$PYTHON" -c 'import werkzeug' 2>/dev/null; then
    echo "reload.sh: creating a venv with werkzeug in /tmp/werk-reload-venv" >&2
    python3 -m venv /tmp/werk-reload-venv
    timeout 300 /tmp/werk-reload-venv/bin/pip install --quiet werkzeug
  fi
fi
WERKZEUG_VERSION=$("$PYTHON" -c 'import importlib.metadata as m; print(m.version("werkzeug"))')

mkdir -p "$OUT"
DIR=$(mktemp -d /tmp/werk-reload.XXXXXX)
SRV_PID="" CLIENT_PID=""
stop() {  # SIGTERM to the server's process group, SIGKILL after 5 s
  stop_client "$CLIENT_PID"; CLIENT_PID=""
  [[ -n "$SRV_PID" ]] || return 0
  stop_group "$SRV_PID" 5
  SRV_PID=""
}
trap 'stop; rm -rf "$DIR"' EXIT
trap 'exit 130' INT TERM

# The Werkzeug app (PORT FILE on the command line) and the client, kept in $OUT
# with the results; the watched files are in a temporary directory.
cat > "$OUT/werkzeug_app.py" <<'EOF'
import os
import sys

from werkzeug.serving import run_simple


def app(environ, start_response):
    body = b'{"pid": %d}\n' % os.getpid()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


if __name__ == "__main__":
    run_simple("127.0.0.1", int(sys.argv[1]), app, use_reloader=True,
               extra_files=[sys.argv[2]], reloader_type="stat")
EOF

# The client: PORT FILE; prints one "i ms polls failed pid kinds" line per
# change (kinds: what the failed polls were, e.g. ConnectionResetError:1).
cat > "$OUT/measure.py" <<'EOF'
import collections
import http.client
import os
import random
import re
import sys
import time

port, path = int(sys.argv[1]), sys.argv[2]
repeat = int(os.environ["REPEAT"])
settle = float(os.environ["SETTLE_MIN"]), float(os.environ["SETTLE_MAX"])
max_wait, start_timeout = float(os.environ["MAX_WAIT"]), float(os.environ["START_TIMEOUT"])
PID = re.compile(rb'"pid":\s*(\d+)')
failures = collections.Counter()


def get_pid():
    """One request on a new connection: the pid in the answer, or None."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        resp = conn.getresponse()
        body = resp.read()
        match = PID.search(body)
        if resp.status == 200 and match:
            return int(match.group(1))
        failures["status-%d" % resp.status] += 1
        return None
    except (OSError, http.client.HTTPException) as e:
        failures[type(e).__name__] += 1
        return None
    finally:
        conn.close()


def kinds():
    return ",".join("%s:%d" % kv for kv in sorted(failures.items())) or "-"


deadline = time.monotonic() + start_timeout
pid = get_pid()
while pid is None:
    if time.monotonic() > deadline:
        sys.exit("measure.py: the server did not answer in %.0f s" % start_timeout)
    time.sleep(0.02)
    pid = get_pid()
print("start pid %d" % pid, file=sys.stderr)

for i in range(1, repeat + 1):
    time.sleep(random.uniform(*settle))
    with open(path, "a") as f:
        f.write("change %d at %.6f\n" % (i, time.time()))
    t0 = time.monotonic()
    polls = failed = 0
    failures.clear()
    while True:
        new = get_pid()
        now = time.monotonic()
        polls += 1
        if new is None:
            failed += 1
        elif new != pid:
            print("%d %.1f %d %d %d %s" % (i, (now - t0) * 1000, polls, failed, new, kinds()), flush=True)
            pid = new
            break
        if now - t0 > max_wait:
            print("%d timeout %d %d %d %s" % (i, polls, failed, pid, kinds()), flush=True)
            break
        time.sleep(0.002)
EOF


server_argv() {  # NAME PORT FILE: sets ARGV
  case "$1" in
    werk-auto)     ARGV=("$WERK_BIN" serve echo --host "$HOST" --port "$2" --reload --extra-files "$3" --reloader-type auto) ;;
    werk-stat-*)   ARGV=("$WERK_BIN" serve echo --host "$HOST" --port "$2" --reload --extra-files "$3" --reloader-type stat --reloader-interval "${1#werk-stat-}") ;;
    werkzeug-stat) ARGV=("$PYTHON" "$OUT/werkzeug_app.py" "$2" "$3") ;;
  esac
}

# --- measure -----------------------------------------------------------------
export REPEAT SETTLE_MIN SETTLE_MAX MAX_WAIT START_TIMEOUT
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A CMD
for server in "${SERVERS[@]}"; do
  mkdir -p "$DIR/$server"
  file=$DIR/$server/watched.txt
  echo "watched by $server" > "$file"
  port=$(free_port)
  server_argv "$server" "$port" "$file"
  CMD[$server]=$(printf '%q ' "${ARGV[@]}"); CMD[$server]=${CMD[$server]% }
  echo "== $server: ${CMD[$server]}" >&2
  setsid "${ARGV[@]}" > "$OUT/$server.log" 2>&1 < /dev/null &
  SRV_PID=$!
  # Bounded: startup, REPEAT changes of at most MAX_WAIT + SETTLE_MAX + 1 s each.
  limit=$(awk -v r="$REPEAT" -v w="$MAX_WAIT" -v s="$SETTLE_MAX" -v t="$START_TIMEOUT" \
    'BEGIN { printf "%d", t + r * (w + s + 1) + 10 }')
  # In the background, so that a signal to this script is acted on at once.
  timeout "$limit" "$PYTHON" "$OUT/measure.py" "$port" "$file" > "$OUT/$server.samples" \
    2> "$OUT/$server.client.log" &
  CLIENT_PID=$!
  wait "$CLIENT_PID" || echo "!! $server: the client failed (see $OUT/$server.client.log)" >&2
  CLIENT_PID=""
  stop
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ------------------------------------------------------------------
{
  echo "# Reload latency: file change -> first answer from the new process (ms)"
  echo
  echo "REPEAT=$REPEAT, poll every 2 ms, random pause ${SETTLE_MIN}-${SETTLE_MAX} s before each change;" \
       "$(nproc) CPUs, $(uname -r), Werkzeug $WERKZEUG_VERSION;" \
       "load average $LOAD_START at the start, $LOAD_END at the end"
  echo
  echo "| server | watcher | samples | min | median | max | failed polls | werk's \"Restarted in\", median |"
  echo "|---|---|---:|---:|---:|---:|---|---:|"
  for server in "${SERVERS[@]}"; do
    case "$server" in
      werk-auto) watcher="auto ($(grep -m1 -o 'Restarting with [a-z]*' "$OUT/$server.log" | cut -d' ' -f3 || echo '?'))" ;;
      werk-stat-*) watcher="stat, ${server#werk-stat-} s" ;;
      werkzeug-stat) watcher="stat, 1 s" ;;
    esac
    "$PYTHON" - "$server" "$watcher" "$OUT/$server.samples" "$OUT/$server.log" <<'EOF'
import collections, re, statistics, sys
server, watcher, samples, log = sys.argv[1:]
ms, failed, timeouts, kinds = [], 0, 0, collections.Counter()
for line in open(samples):
    f = line.split()
    if f[1] == "timeout":
        timeouts += 1
    else:
        ms.append(float(f[1]))
    failed += int(f[3])
    for kv in f[5].split(","):
        if kv != "-":
            kind, n = kv.rsplit(":", 1)
            kinds[kind] += int(n)
n = "%d" % len(ms) + (" (+%d timed out)" % timeouts if timeouts else "")
stats = "%.0f | %.0f | %.0f" % (min(ms), statistics.median(ms), max(ms)) if ms else "- | - | -"
failed = "%d" % failed + (" (%s)" % ", ".join("%s %d" % kv for kv in sorted(kinds.items())) if kinds else "")
own = [int(x) for x in re.findall(r"Restarted in (\d+) ms", open(log, errors="replace").read())]
own = "%.0f" % statistics.median(own) if own else "-"
print("| %s | %s | %s | %s | %s | %s |" % (server, watcher, n, stats, failed, own))
EOF
  done
  echo
  echo "Command: \`$COMMAND\`"
  echo
  echo "Servers:"
  echo
  for server in "${SERVERS[@]}"; do
    echo "- $server: \`${CMD[$server]}\`"
  done
  echo
  echo "Samples and server logs: $OUT"
} | tee "$OUT/table.md"
