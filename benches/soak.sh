#!/usr/bin/env bash
# A bounded soak of `werk serve echo --reload`, on loopback only: a mix of
# clients for DURATION seconds (300 by default) with a reload every 20-30 s,
# checking that every request got a complete response or a refusal its
# class allows, and that the serving processes' memory, threads and open
# descriptors come back to where they started. Asserts no timing.
#
#   benches/soak.sh            5 minutes
#   benches/soak.sh 60         1 minute
#   DURATION=600 benches/soak.sh
#
# The server: target/release/werk serve echo --reload --extra-files F
# --host 127.0.0.1 --port P -q, in its own process group (F: a file in a
# temporary directory; a line appended to it is a reload). The clients
# (tools/soak.py, one Python process, a thread per client):
#
#   keepalive  quick GETs, HEADs and small POSTs on kept-alive connections;
#              every 30-90 s idle past the server's 15 s keep-alive timeout
#   pipeline   2-16 requests in one write, then every response
#   newconn    a new connection per request
#   upload     POST /discard or /echo, 0 to 3 MiB, some chunked, some with
#              Expect: 100-continue
#   slowsend   a body of 4-48 KiB dribbled over 1-5 s: finished, abandoned
#              with the connection open (408 expected), or abandoned closed
#   slowread   GET /bytes/N (256 KiB-4 MiB) read over 1-6 s through a small
#              receive buffer: finished, abandoned, or stalled past the
#              30 s io_timeout
#   reset      SO_LINGER 0 close part way through a large response, a
#              stream, or an upload
#   panic      GET /panic (500), and /stream/N?panic_at=K (cut after K lines)
#
# Phases: warm-up (WARMUP s of load), rest (SETTLE s), the *start* sample;
# the soak (DURATION s, reloads); rest, the *end* sample; one more reload,
# the warm-up load again, rest, the *fresh* sample (a new child after the
# same warm-up as the start, which the last child is compared with; the
# supervisor is compared with its start). /proc of the supervisor and its
# child is sampled every second (RSS, threads, descriptors by kind), with
# the server side of the port's TCP sockets by state.
#
# Env: DURATION (300 s; or the first argument)  WARMUP (25 s)  SETTLE (20 s;
#      longer than the 15 s keep-alive timeout and the pool's 10 s idle
#      shrink)  RELOAD_MIN RELOAD_MAX (20, 30 s)  MIX (clients per class,
#      default keepalive=2,pipeline=1,newconn=2,upload=2,slowsend=3,
#      slowread=3,reset=1,panic=1)  RSS_TOLERANCE (0.25)  RSS_TOLERANCE_KB
#      (2048)  SEED (random)  PORT (a free one)  WERK_BIN (a werk binary;
#      default: `cargo build --release`, target/release/werk)  WERK_REV (a
#      commit: werk built from it, in /tmp/werk-soak-build/werk-<commit>/,
#      not from the working tree)  OUT (benches/results)
# Results in OUT/soak-<UTC time>/: table.md, samples.csv, events.csv,
# failures.json, reloads.csv, summary.json, server.log, machine.txt.
# Exit status 1 when a request failed, a resource did not come back, or
# the server died.
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
ROOT=$(cd "$BENCH/.." && pwd)
case "${1:-}" in
  -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
esac
COMMAND="$0${*:+ $*}"
for var in DURATION WARMUP SETTLE RELOAD_MIN RELOAD_MAX MIX RSS_TOLERANCE RSS_TOLERANCE_KB SEED PORT WERK_BIN WERK_REV; do
  [[ -n "${!var:-}" ]] && COMMAND="$var=${!var} $COMMAND"
done

DURATION=${1:-${DURATION:-300}}
WARMUP=${WARMUP:-25}
SETTLE=${SETTLE:-20}
RELOAD_MIN=${RELOAD_MIN:-20}
RELOAD_MAX=${RELOAD_MAX:-30}
MIX=${MIX:-keepalive=2,pipeline=1,newconn=2,upload=2,slowsend=3,slowread=3,reset=1,panic=1}
RSS_TOLERANCE=${RSS_TOLERANCE:-0.25}
RSS_TOLERANCE_KB=${RSS_TOLERANCE_KB:-2048}
SEED=${SEED:-$RANDOM}
HOST=127.0.0.1
OUT=${OUT:-$BENCH/results}/soak-$(date -u +%Y%m%dT%H%M%SZ)

# --- setup -------------------------------------------------------------------
if [[ -z "${WERK_BIN:-}" && -n "${WERK_REV:-}" ]]; then
  REV=$(git -C "$ROOT" rev-parse --short "$WERK_REV")
  BUILD=${TMPDIR:-/tmp}/werk-soak-build/werk-$REV
  if [[ ! -x $BUILD/target/release/werk ]]; then
    echo "== cargo build --release (werk at $REV, in $BUILD)" >&2
    rm -rf "$BUILD" && mkdir -p "$BUILD"
    git -C "$ROOT" archive "$REV" | tar -x -C "$BUILD"
    (cd "$BUILD" && cargo build --release --quiet --bin werk)
  fi
  WERK_BIN=$BUILD/target/release/werk
elif [[ -z "${WERK_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --release --quiet --bin werk)
  WERK_BIN=$ROOT/target/release/werk
fi
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}

mkdir -p "$OUT"
DIR=$(mktemp -d /tmp/werk-soak.XXXXXX)
WATCHED=$DIR/watched.txt
echo "watched by the soak" > "$WATCHED"
SRV_PID="" CLIENT_PID=""
stop() {  # SIGTERM to the server's process group, SIGKILL after 15 s
  stop_client "$CLIENT_PID"; CLIENT_PID=""
  [[ -n "$SRV_PID" ]] || return 0
  stop_group "$SRV_PID" 15
  if [[ $STOP_KILLED == 1 ]]; then
    echo "!! the server's process group outlived SIGTERM by 15 s: SIGKILL" | tee -a "$OUT/stop.txt" >&2
  fi
  SRV_STATUS=$STOP_STATUS
  SRV_PID=""
}
trap 'stop; rm -rf "$DIR"' EXIT
trap 'exit 130' INT TERM

{
  echo "date=$(date -u +%FT%TZ)"
  if [[ -n "${REV:-}" ]]; then
    echo "commit=$REV (built from the commit)"
  else
    echo "commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml 2>/dev/null || echo ' (the working tree: src/ differs from the commit)')"
  fi
  echo "werk=$WERK_BIN ($("$WERK_BIN" --version 2>/dev/null || echo '?'))"
  echo "nproc=$(nproc) kernel=$(uname -r) python=$(python3 --version 2>&1)"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "duration=$DURATION warmup=$WARMUP settle=$SETTLE reloads=$RELOAD_MIN-$RELOAD_MAX mix=$MIX seed=$SEED"
  echo "command=$COMMAND"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt"

# --- the server and the load -------------------------------------------------
SERVER=("$WERK_BIN" serve echo --reload --extra-files "$WATCHED" --host "$HOST" --port "$PORT" -q)
echo "== $(printf '%q ' "${SERVER[@]}")"
# setsid: the server leads its own process group (setsid does not fork here,
# so $! is the supervisor itself); without RUST_BACKTRACE, so that each of
# the panics asked for logs two lines, not a backtrace
setsid env -u RUST_BACKTRACE "${SERVER[@]}" > "$OUT/server.log" 2>&1 < /dev/null &
SRV_PID=$!
sleep 0.2
if [[ "$(ps -o pgid= -p "$SRV_PID" | tr -d ' ')" != "$SRV_PID" ]]; then
  echo "soak.sh: the server did not start as its own process group (see $OUT/server.log)" >&2; exit 1
fi
LIMIT=$(awk -v d="$DURATION" -v w="$WARMUP" -v s="$SETTLE" 'BEGIN { printf "%d", d + 2 * w + 3 * s + 400 }')
timeout "$LIMIT" python3 "$BENCH/tools/soak.py" --port "$PORT" --supervisor "$SRV_PID" \
  --watched "$WATCHED" --out "$OUT" --duration "$DURATION" --warmup "$WARMUP" --settle "$SETTLE" \
  --reload-min "$RELOAD_MIN" --reload-max "$RELOAD_MAX" --mix "$MIX" --seed "$SEED" \
  --rss-tolerance "$RSS_TOLERANCE" --rss-tolerance-kb "$RSS_TOLERANCE_KB" 2> "$OUT/client.log" &
CLIENT_PID=$!
STATUS=0
wait "$CLIENT_PID" || STATUS=$?
CLIENT_PID=""
ALIVE=yes; kill -0 "$SRV_PID" 2>/dev/null || ALIVE=no
SRV_STATUS="" GROUP=$SRV_PID
stop
LEFT=$(pgrep -g "$GROUP" 2>/dev/null | wc -l || true)

# --- the server's own account ------------------------------------------------
count() { grep -c -- "$1" "$OUT/server.log" || true; }
{
  echo
  echo "Server log ($OUT/server.log): $(count 'Detected change') changes detected," \
       "$(count 'Restarted in') restarts, $(count 'panicked at') panics logged," \
       "$(count 'grace period over') grace periods over," \
       "$(count 'exited with status') children ended other than by a reload;" \
       "alive when the load ended: $ALIVE; exit status after SIGTERM: ${SRV_STATUS:-?};" \
       "processes left in its group: $LEFT."
  other=$(grep -v -e 'Detected change' -e 'Restarted in' -e 'Restarting with' -e 'panicked at' \
            -e 'panic requested' -e '^note: run with' -e 'WARNING: This is a development server' \
            -e 'Running on' -e 'Press CTRL+C' -e 'code 408' -e '^ \* Shutting down' -e '^$' \
            "$OUT/server.log" | sort | uniq -c | sort -rn | head -n 15 || true)
  if [[ -n "$other" ]]; then
    echo
    echo "Other server log lines (count, line):"
    echo
    echo '```'
    echo "$other"
    echo '```'
  fi
  echo
  echo "Load average: $(sed -n 's/^loadavg_start=//p' "$OUT/machine.txt") at the start," \
       "$(cut -d' ' -f1-3 /proc/loadavg) at the end ($(nproc) CPUs)."
  echo
  echo "Command: \`$COMMAND\` (seed $SEED); server: \`$(printf '%q ' "${SERVER[@]}" | sed 's/ $//')\`"
  echo
  echo "Results: $OUT"
} | tee -a "$OUT/table.md"
[[ "$STATUS" == 124 ]] && echo "!! the client did not finish within ${LIMIT}s" >&2
exit "$STATUS"
