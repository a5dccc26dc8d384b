#!/usr/bin/env bash
# Edit, build, reload: one cargo project whose binary calls werk::run_simple,
# edited EDITS times by a script under three development loops, one loop at a
# time, in the same run; clients send requests the whole time. Loopback only,
# bounded in time; asserts nothing.
#
#   benches/run_loop.sh                  werk-run cargo-watch systemfd
#   EDITS=5 benches/run_loop.sh werk-run
#
# Loops (each in its own process group, on a new port P):
#   werk-run     werk run --offline --host 127.0.0.1 --port P -q
#                (werk from `cargo build --release`; it holds the sockets)
#   cargo-watch  cargo watch -x run (the program binds 127.0.0.1:P itself)
#   systemfd     systemfd --no-pid -s http::127.0.0.1:P -- cargo watch -x run
#                (systemfd holds the socket; the program adopts it)
#
# The project is written to WORK (/tmp/werk-run-loop): it depends by path on
# a copy of this working tree's werk (Cargo.toml, Cargo.lock, src/; copied
# with their times, so an unchanged tree is not built again), without its
# default features, and builds in WORK/target, offline. Its main answers
# `GET /` with `TEXT pid=PID`. Per loop: src/main.rs is set back to TEXT
# "start" and built; the loop starts; once it serves "start",
# tools/run_loop.py runs a client that sends `GET /` on a new connection
# every 5 ms and one that sends it every 5 ms on a kept-alive connection
# (reconnecting when the server closes it); then EDITS times it writes
# src/main.rs in place with a new TEXT, waits until a client is served it
# (EDIT_TIMEOUT), and pauses a random PAUSE_MIN..PAUSE_MAX seconds.
# Requests are counted refused, failed (no or broken response, or not 200)
# and stalled (over 100 ms); werk run's reload lines give its build time and
# its own part. The kernel's TCPAbortOnClose and TCPAbortOnData counters
# (machine-wide) are read before and after each loop's edits.
#
# Env: EDITS (20)  PAUSE_MIN (0.5)  PAUSE_MAX (1.0)  EDIT_TIMEOUT (60 s)
#      START_TIMEOUT (600 s: the first build compiles werk)  KEEPALIVE (1; 0:
#      the new-connection client only)  WAIT_LOAD (1.0: before measuring,
#      wait, at most 20 minutes, until the 1-minute load average is below it;
#      0: do not wait)  WERK_BIN (a werk binary; default:
#      `cargo build --release`, target/release/werk)  WERK_REV (a commit:
#      werk, binary and library, from it rather than the working tree, built
#      in WORK/werk-<commit>/)  WORK (/tmp/werk-run-loop)  OUT (benches/results)
# cargo-watch and systemfd are installed in benches/.tools when missing
# (`cargo install --locked --root benches/.tools cargo-watch systemfd`).
set -euo pipefail

BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
ROOT=$(cd "$BENCH/.." && pwd)
COMMAND="$0${*:+ $*}"
for var in EDITS PAUSE_MIN PAUSE_MAX EDIT_TIMEOUT KEEPALIVE WAIT_LOAD WERK_BIN WERK_REV; do
  [[ -n "${!var:-}" ]] && COMMAND="$var=${!var} $COMMAND"
done

EDITS=${EDITS:-20}
PAUSE_MIN=${PAUSE_MIN:-0.5}
PAUSE_MAX=${PAUSE_MAX:-1.0}
EDIT_TIMEOUT=${EDIT_TIMEOUT:-60}
START_TIMEOUT=${START_TIMEOUT:-600}
KEEPALIVE=${KEEPALIVE:-1}
WAIT_LOAD=${WAIT_LOAD:-1.0}
WORK=${WORK:-/tmp/werk-run-loop}
LOOPS=("$@"); [[ ${#LOOPS[@]} -eq 0 ]] && LOOPS=(werk-run cargo-watch systemfd)
OUT=${OUT:-$BENCH/results}/run-loop-$(date -u +%Y%m%dT%H%M%SZ)
TOOL=$BENCH/tools/run_loop.py

case "${1:-}" in
  -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
esac
for loop in "${LOOPS[@]}"; do
  [[ "$loop" =~ ^(werk-run|cargo-watch|systemfd)$ ]] || {
    echo "run_loop.sh: unknown loop $loop (werk-run, cargo-watch, systemfd)" >&2; exit 2; }
done

# --- setup -------------------------------------------------------------------
if [[ -n "${WERK_REV:-}" ]]; then
  # werk from a commit, for both the binary and the library the project uses
  REV=$(git -C "$ROOT" rev-parse --short "$WERK_REV")
  WERK_SRC=$WORK/werk-$REV
  if [[ ! -x $WERK_SRC/target/release/werk ]]; then
    echo "== cargo build --release (werk at $REV, in $WERK_SRC)" >&2
    rm -rf "$WERK_SRC" && mkdir -p "$WERK_SRC"
    git -C "$ROOT" archive "$REV" | tar -x -C "$WERK_SRC"
    (cd "$WERK_SRC" && CARGO_TARGET_DIR=$WERK_SRC/target cargo build --release --quiet --bin werk)
  fi
  WERK_BIN=${WERK_BIN:-$WERK_SRC/target/release/werk}
  WERK_AT="werk at $REV"
else
  WERK_SRC=$ROOT
  if [[ -z "${WERK_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build --release --quiet --bin werk)
    WERK_BIN=$ROOT/target/release/werk
  fi
  WERK_AT="werk at $(git -C "$ROOT" rev-parse --short HEAD)"
  git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock || WERK_AT="$WERK_AT with uncommitted changes to src/"
fi
TOOLS=$BENCH/.tools
if [[ ! -x $TOOLS/bin/cargo-watch || ! -x $TOOLS/bin/systemfd ]]; then
  echo "run_loop.sh: installing cargo-watch and systemfd in $TOOLS" >&2
  timeout 1800 cargo install --quiet --locked --root "$TOOLS" cargo-watch systemfd
fi
export PATH=$TOOLS/bin:$PATH          # `cargo watch` finds cargo-watch on the PATH
export CARGO_TARGET_DIR=$WORK/target CARGO_NET_OFFLINE=true
unset CARGO_MANIFEST_DIR CARGO_PKG_NAME

mkdir -p "$OUT" "$WORK/werk" "$WORK/project/src"
# werk as it is in the working tree (or WERK_REV) now; edits made to the
# checkout during the run do not reach the loops (the copy keeps the files'
# times, so cargo builds it again only when they changed).
rm -rf "$WORK/werk.new" && mkdir "$WORK/werk.new"
cp -a "$WERK_SRC/Cargo.toml" "$WERK_SRC/Cargo.lock" "$WERK_SRC/README.md" "$WERK_SRC/src" "$WERK_SRC/examples" "$WORK/werk.new/"
# Files from `git archive` carry the commit's time: after a change of commit
# they are made newer, so that cargo cannot take an older build for them.
SOURCE_ID=${REV:-tree}
if [[ "$(cat "$WORK/werk.id" 2>/dev/null)" != "$SOURCE_ID" ]]; then
  find "$WORK/werk.new" -type f -exec touch {} +
fi
rm -rf "$WORK/werk" && mv "$WORK/werk.new" "$WORK/werk"
echo "$SOURCE_ID" > "$WORK/werk.id"
PROJECT=$WORK/project
cat > "$PROJECT/Cargo.toml" <<EOF
[package]
name = "run-loop-app"
version = "0.1.0"
edition = "2021"

[dependencies]
werk = { path = "$WORK/werk", default-features = false }

[workspace]
EOF
cp "$WERK_SRC/Cargo.lock" "$PROJECT/Cargo.lock"   # the versions werk builds with: nothing to fetch
MAIN=$PROJECT/src/main.rs
python3 "$TOOL" program start > "$MAIN"
echo "== building the project (werk and its dependencies the first time)" >&2
(cd "$PROJECT" && timeout "$START_TIMEOUT" cargo build --offline --quiet)

SRV_PID="" CLIENT_PID="" PORT=""
stop() {  # SIGTERM to the loop's process group, SIGKILL after 5 s
  stop_client "$CLIENT_PID"; CLIENT_PID=""
  [[ -n "$SRV_PID" ]] || return 0
  stop_group "$SRV_PID" 5
  SRV_PID=""
}
trap 'stop' EXIT
trap 'exit 130' INT TERM

# The kernel's TcpExt counters TCPAbortOnClose (a socket closed with data
# unread: here, a request that reached the server and was not answered) and
# TCPAbortOnData (data that came after the close); machine-wide.
tcp_aborts() {
  awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) n[i] = $i; h = 1 }
                    else for (i = 1; i <= NF; i++) if (n[i] ~ /^TCPAbortOn(Close|Data)$/) print n[i], $i }' /proc/net/netstat
}


loop_argv() {  # NAME PORT: sets ARGV
  case "$1" in
    werk-run)    ARGV=("$WERK_BIN" run --offline --host 127.0.0.1 --port "$2" -q) ;;
    cargo-watch) ARGV=(cargo watch -x run) ;;
    systemfd)    ARGV=(systemfd --no-pid -s "http::127.0.0.1:$2" -- cargo watch -x run) ;;
  esac
}

# --- measure -----------------------------------------------------------------
# The machine may be shared: wait (at most 20 minutes) for a quiet moment.
if [[ $WAIT_LOAD != 0 ]]; then
  for i in $(seq 40); do
    awk -v b="$WAIT_LOAD" '{ exit !($1 < b) }' /proc/loadavg && break
    echo "== waiting for the 1-minute load average ($(cut -d' ' -f1 /proc/loadavg)) to fall below $WAIT_LOAD" >&2
    sleep 30
  done
fi
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A CMD LEFT
for loop in "${LOOPS[@]}"; do
  python3 "$TOOL" program start > "$MAIN"
  (cd "$PROJECT" && timeout 300 cargo build --offline --quiet)
  PORT=$(free_port)
  loop_argv "$loop" "$PORT"
  CMD[$loop]=$(printf '%q ' "${ARGV[@]}"); CMD[$loop]=${CMD[$loop]% }
  echo "== $loop: ${CMD[$loop]}" >&2
  (cd "$PROJECT" && RUN_LOOP_PORT=$PORT exec setsid "${ARGV[@]}") > "$OUT/$loop.log" 2>&1 < /dev/null &
  SRV_PID=$!
  ABORTS=$(tcp_aborts)
  # Bounded: the start, then EDITS edits of at most EDIT_TIMEOUT + PAUSE_MAX each.
  limit=$(awk -v n="$EDITS" -v w="$EDIT_TIMEOUT" -v p="$PAUSE_MAX" -v t="$START_TIMEOUT" \
    'BEGIN { printf "%d", t + n * (w + p) + 30 }')
  # In the background, so that a signal to this script is acted on at once.
  timeout "$limit" python3 "$TOOL" measure --port "$PORT" --main "$MAIN" --out "$OUT" --name "$loop" \
    --edits "$EDITS" --pause-min "$PAUSE_MIN" --pause-max "$PAUSE_MAX" --edit-timeout "$EDIT_TIMEOUT" \
    --start-timeout "$START_TIMEOUT" --keepalive "$KEEPALIVE" 2> "$OUT/$loop.client.log" &
  CLIENT_PID=$!
  wait "$CLIENT_PID" || echo "!! $loop: the client failed (see $OUT/$loop.client.log)" >&2
  CLIENT_PID=""
  pgid=$SRV_PID
  join -j1 <(echo "$ABORTS" | sort) <(tcp_aborts | sort) | awk '{ print $1 "=" $3 - $2 }' > "$OUT/$loop.kernel"
  stop
  # Anything of the loop still alive, or still on the port, after SIGKILL to
  # its process group (a process that left the group).
  LEFT[$loop]=$( (pgrep -f "$CARGO_TARGET_DIR/debug/run-loop-app" || true; \
    ss -Htlnp "sport = :$PORT" | grep -o 'pid=[0-9]*' | cut -d= -f2 || true) | sort -u | tr '\n' ' ')
  if [[ -n "${LEFT[$loop]// /}" ]]; then
    echo "!! $loop: processes left after the loop's group $pgid was killed: ${LEFT[$loop]}" >&2
    ps -o pid,pgid,sid,args -p "${LEFT[$loop]// /,}" >&2 || true
    for pid in ${LEFT[$loop]}; do kill -KILL "$pid" 2>/dev/null || true; done
  fi
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
python3 "$TOOL" program start > "$MAIN"

# --- report ------------------------------------------------------------------
{
  echo "# Edit, build, reload: save to the new text served"
  echo
  echo "EDITS=$EDITS, a random ${PAUSE_MIN}-${PAUSE_MAX} s pause after each; GET / every 5 ms on new" \
       "connections$( [[ $KEEPALIVE == 1 ]] && echo " and every 5 ms on one kept-alive connection");" \
       "$(nproc) CPUs, $(uname -r), $(cargo --version | cut -d' ' -f1-2)," \
       "$(cargo-watch --version), $(systemfd --version);" \
       "$WERK_AT;" \
       "load average $LOAD_START at the start, $LOAD_END at the end"
  echo
  python3 "$TOOL" report "$OUT" "${LOOPS[@]}"
  for loop in "${LOOPS[@]}"; do
    [[ -n "${LEFT[$loop]// /}" ]] && echo && echo "$loop: processes left after its process group was killed: ${LEFT[$loop]}"
  done
  echo
  echo "Command: \`$COMMAND\`"
  echo
  echo "Loops:"
  echo
  for loop in "${LOOPS[@]}"; do
    echo "- $loop: \`${CMD[$loop]}\`"
  done
  echo
  echo "Samples and logs: $OUT"
} | tee "$OUT/table.md"
