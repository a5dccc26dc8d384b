#!/usr/bin/env bash
# werk's benchmark runner: werk next to hyper, tiny_http and Werkzeug, with
# wrk, on loopback only. Every load loop is bounded in time; nothing here
# asserts a timing. See benches/README.md.
#
#   benches/run.sh                      werk hyper tiny_http werkzeug, every scenario
#   benches/run.sh werk werk-t4 hyper   chosen servers (werk-tN: werk --threads N)
#   SCENARIOS="ka16 starve" benches/run.sh werk hyper
#   SCENARIOS="upload download static allocs startup idle1024" benches/run.sh
#   benches/run.sh --list               servers and scenarios
#
# Env: RUNS (1; rounds over all servers, interleaved; the tables give medians)
#      DURATION (10 s per wrk scenario)  WARMUP (2 s)  PORT (first port, 19100;
#      every server start takes the next one)  PIN (1: server on CPU PIN_SERVER=1,
#      client on PIN_CLIENT=0, wrk -t1; 0: nothing pinned, wrk -t2)
#      SCENARIOS (see --list)  IDLE (64 idle connections)  DEPTH (16 pipelined)
#      NEIGHBOUR_S (1: whole seconds of CPU-bound neighbours, neighbour16)
#      NEIGHBOURS (2 per CPU of the server)
#      SIZE_MIB (50, upload/download)  PIECE_KIB (64: the download is sent in pieces
#      of this size, at most 1024)  STATIC_MIB (100, static)  REPS (3, transfers)
#      STARTS (10 starts per server, startup)  STARTUP_POLL (0.0005 s)
#      IDLE_CONNS (1024, idle1024)  ALLOC_N (10000, allocs)  ALLOC_ROUNDS (3)
#      WAIT_LOAD (1.0: wait until the 1-minute load average is below it before
#      measuring, checking every 30 s for up to WAIT_LOAD_MAX=2400 s; 0: no wait)
#      SKIP_SETUP (1: install and build nothing)  OUT (benches/results)
#      WERK_BIN (a werk binary to measure instead of building target/release/werk;
#      `allocs` still builds werk-alloc from the working tree)
#      WERK_REV (a commit: build werk, and werk-alloc, from it, not from the
#      working tree, in $OUT/build/werk-<commit>/; for measuring while the
#      tree is being edited)
set -euo pipefail

# a relative WERK_BIN is relative to where the script was started
[[ -n "${WERK_BIN:-}" ]] && WERK_BIN=$(realpath -m -- "$WERK_BIN")
[[ -n "${OUT:-}" ]] && OUT=$(realpath -m -- "$OUT")
BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
ROOT=$(cd "$BENCH/.." && pwd)
cd "$BENCH"

ALL_SERVERS="werk hyper tiny_http werkzeug"
ALL_SCENARIOS="ka1 ka16 ka256 ka1024 close16 pipe16 idle64ka16 neighbour16 starve upload download static allocs startup idle1024"

RUNS=${RUNS:-1}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
NEXT_PORT=${PORT:-19100}
PIN=${PIN:-1}
SCENARIOS=${SCENARIOS:-$ALL_SCENARIOS}
IDLE=${IDLE:-64}
DEPTH=${DEPTH:-16}
SIZE_MIB=${SIZE_MIB:-50}
PIECE_KIB=${PIECE_KIB:-64}
STATIC_MIB=${STATIC_MIB:-100}
REPS=${REPS:-3}
STARTS=${STARTS:-10}
STARTUP_POLL=${STARTUP_POLL:-0.0005}
IDLE_CONNS=${IDLE_CONNS:-1024}
ALLOC_N=${ALLOC_N:-10000}
ALLOC_ROUNDS=${ALLOC_ROUNDS:-3}
NEIGHBOUR_S=${NEIGHBOUR_S:-1}
NEIGHBOURS=${NEIGHBOURS:-2}
WAIT_LOAD=${WAIT_LOAD:-1.0}
WAIT_LOAD_MAX=${WAIT_LOAD_MAX:-2400}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-60}
SKIP_SETUP=${SKIP_SETUP:-0}
HOST=127.0.0.1

if [[ "$PIN" == 1 ]]; then
  PIN_SERVER=${PIN_SERVER:-1}; PIN_CLIENT=${PIN_CLIENT:-0}; WRK_THREADS=${WRK_THREADS:-1}
  ON_SERVER=(taskset -c "$PIN_SERVER"); ON_CLIENT=(taskset -c "$PIN_CLIENT")
else
  WRK_THREADS=${WRK_THREADS:-2}; ON_SERVER=(); ON_CLIENT=()
fi

usage() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

list() {
  cat <<EOF
servers:
  werk        target/release/werk serve hello (transfers: serve echo, /discard and /bytes/N;
              static: serve hello --static /files=DIR; allocs: benches/peers werk-alloc)
  werk-tN     the same with --threads N (e.g. werk-t4)
  hyper       benches/peers: hyper 1.x, tokio multi-thread runtime
  tiny_http   benches/peers: tiny_http 0.12, 4 threads on Server::recv
  werkzeug    benches/py/peer_werkzeug.py: run_simple(threaded=True), in benches/.venv
  copy        benches/peers peer-copy: std::io::copy(File, TcpStream), the static-file
              ceiling; static only, and added to every run that has static
  copy-nodelay  the same with TCP_NODELAY on the connection, as werk sets it (also added)
scenarios (wrk -t$WRK_THREADS, --timeout 2s, ${DURATION}s each unless said):
  ka1 ka16 ka256 ka1024   keep-alive, 1/16/256/1024 connections
  close16                 16 connections, 'Connection: close' (new connection per request)
  pipe16                  16 connections, $DEPTH requests pipelined per write (lua/pipeline.lua)
  idle64ka16              $IDLE idle keep-alive connections held open during a 16-connection
                          load; then each idle one sends a request
  neighbour16             a 16-connection load with $NEIGHBOURS CPU-bound programs per server CPU,
                          in its session, for ${NEIGHBOUR_S} s (a build beside the server); then
                          ka16 measured and the server's threads counted
  starve                  $IDLE idle keep-alive conns + a fresh request; $IDLE silent conns + a
                          fresh request (tools/idleconns.py check)
  upload download         ${SIZE_MIB} MiB with curl, $REPS times each: upload = the server reads,
                          discards and answers the count; download = the alphabet from a
                          precomputed block, in ${PIECE_KIB} KiB pieces (the same for every server)
  static                  a ${STATIC_MIB} MiB file from disk (page cache) with curl, $REPS times
  allocs                  werk only: heap allocations per request, keep-alive and new
                          connection (werk-alloc, tools/allocs.py, $ALLOC_N requests)
  startup                 spawn to the first successful connect(), polled every
                          ${STARTUP_POLL}s, $STARTS starts (tools/startup.py)
  idle1024                $IDLE_CONNS keep-alive connections, one request each, held idle:
                          the server's VmRSS/VmHWM (tools/idleconns.py rss)
EOF
}

case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  --list) list; exit 0 ;;
esac
SERVERS=("$@"); [[ ${#SERVERS[@]} -eq 0 ]] && read -r -a SERVERS <<< "$ALL_SERVERS"

# ---------------------------------------------------------------- setup

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$BENCH/results}
WERK=${WERK_BIN:-$ROOT/target/release/werk}
WERK_COMMIT=""
PEERS="$BENCH/peers/target/release"
WERK_ALLOC="$PEERS/werk-alloc"
PY="$BENCH/.venv/bin/python"
# the static scenario's file; every server serves it as /files/<name>
STATIC_DIR="$OUT/static"
STATIC_NAME="blob-${STATIC_MIB}mib.bin"
export FILES_DIR="$STATIC_DIR"

needs() { local s; for s in "${SERVERS[@]}"; do [[ "$s" == $1 ]] && return 0; done; return 1; }
wants() { [[ " $SCENARIOS " == *" $1 "* ]]; }

setup() {
  local missing=()
  command -v wrk >/dev/null || missing+=(wrk)
  command -v curl >/dev/null || missing+=(curl)
  command -v taskset >/dev/null || missing+=(util-linux)
  if [[ ${#missing[@]} -gt 0 ]]; then
    echo "== installing ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  fi
  if needs werkzeug && ! "$PY" -c 'import werkzeug' 2>/dev/null; then
    echo "== Python venv with werkzeug in benches/.venv"
    python3 -m venv "$BENCH/.venv"
    "$BENCH/.venv/bin/pip" install -q werkzeug
  fi
  if needs 'werk*' && [[ -n "${WERK_REV:-}" && -z "${WERK_BIN:-}" ]]; then
    local rev dir
    rev=$(git -C "$ROOT" rev-parse --short "$WERK_REV")
    dir="$OUT/build/werk-$rev"
    echo "== cargo build --release (werk at $rev, in $dir)"
    if [[ ! -x "$dir/target/release/werk" ]]; then
      rm -rf "$dir"; mkdir -p "$dir"
      git -C "$ROOT" archive "$rev" | tar -x -C "$dir"
      (cd "$dir" && cargo build --release --bin werk)
    fi
    WERK="$dir/target/release/werk"; WERK_COMMIT=$rev
  elif needs 'werk*' && [[ -z "${WERK_BIN:-}" ]]; then
    echo "== cargo build --release (werk)"
    (cd "$ROOT" && cargo build --release --bin werk)
  fi
  if needs hyper || needs tiny_http || wants static; then
    echo "== cargo build --release (benches/peers)"
    cargo build --release --manifest-path "$BENCH/peers/Cargo.toml"
  fi
  if needs 'werk*' && wants allocs; then
    if [[ -n "$WERK_COMMIT" ]]; then
      # the peers crate of the working tree, over werk at that commit
      local dir="$OUT/build/werk-$WERK_COMMIT"
      echo "== cargo build --release --features alloc --bin werk-alloc (werk at $WERK_COMMIT)"
      if [[ ! -x "$dir/werk-alloc" ]]; then
        rm -rf "$dir/benches/peers"; mkdir -p "$dir/benches/peers"
        cp -r "$BENCH/peers/Cargo.toml" "$BENCH/peers/Cargo.lock" "$BENCH/peers/src" "$dir/benches/peers/"
        cargo build --release --features alloc --bin werk-alloc \
          --manifest-path "$dir/benches/peers/Cargo.toml" --target-dir "$dir/benches/peers/target"
        cp "$dir/benches/peers/target/release/werk-alloc" "$dir/werk-alloc"
      fi
      WERK_ALLOC="$dir/werk-alloc"
    else
      echo "== cargo build --release --features alloc --bin werk-alloc (werk from the working tree)"
      cargo build --release --features alloc --bin werk-alloc --manifest-path "$BENCH/peers/Cargo.toml"
    fi
  fi
}

# ------------------------------------------------------------- servers

# server_cmd NAME PHASE PORT -> the command line; PHASE is hello (also
# startup and idle1024), transfer, static or allocs
server_cmd() {
  local name=$1 phase=$2 port=$3 app=hello extra=""
  case "$name" in
    werk|werk-t[0-9]*)
      [[ "$phase" == transfer ]] && app=echo
      [[ "$phase" == static ]] && extra=" --static /files=$STATIC_DIR"
      if [[ "$phase" == allocs ]]; then
        # same options as `serve hello -q` (THREADS: --threads)
        [[ "$name" == werk-t* ]] && extra="THREADS=${name#werk-t} "
        echo "${extra:+env }$extra$WERK_ALLOC $port"; return 0
      fi
      [[ "$name" == werk-t* ]] && extra="$extra --threads ${name#werk-t}"
      echo "$WERK serve $app --host $HOST --port $port -q$extra" ;;
    hyper)     echo "$PEERS/peer-hyper $port" ;;
    tiny_http) echo "$PEERS/peer-tiny-http $port" ;;
    werkzeug)  echo "$PY $BENCH/py/peer_werkzeug.py $port" ;;
    copy)      echo "$PEERS/peer-copy $port $STATIC_DIR/$STATIC_NAME" ;;
    copy-nodelay) echo "env NODELAY=1 $PEERS/peer-copy $port $STATIC_DIR/$STATIC_NAME" ;;
    *) echo "unknown server '$name' (see --list)" >&2; return 1 ;;
  esac
}

# transfer_urls NAME PORT BYTES -> "UPLOAD_URL DOWNLOAD_URL": every server
# reads and discards the upload and answers the byte count, and generates
# the download
transfer_urls() {
  local name=$1 port=$2 bytes=$3 base="http://$HOST:$2" piece=$((PIECE_KIB * 1024))
  case "$name" in
    werk|werk-t*) echo "$base/discard $base/bytes/$bytes?piece=$piece" ;;
    *)            echo "$base/upload $base/download?bytes=$bytes&piece=$piece" ;;
  esac
}

SRV_PID=""

start_server() {  # CMD LOG
  # setsid: the server leads its own process group, stopped as a group.
  # With neighbour16, a line on $NEIGHBOUR_FIFO starts the neighbours in the
  # server's session, on its CPUs: in one scheduling group (autogroup) with
  # it, so that they compete with its threads one for one, as a build does
  # in the same container or where there are no autogroups. (From another
  # session they would only share the CPU between sessions.)
  local hook=""
  if [[ -n "${NEIGHBOUR_FIFO:-}" ]]; then
    local n=$NEIGHBOURS; [[ "$PIN" == 1 ]] || n=$((NEIGHBOURS * $(nproc)))
    hook="(read -r _ < '$NEIGHBOUR_FIFO' && for i in \$(seq $n); do"
    hook="$hook timeout $NEIGHBOUR_S sh -c 'while :; do :; done' & done; wait) & "
  fi
  setsid "${ON_SERVER[@]}" bash -c "$hook exec $1" > "$2" 2>&1 < /dev/null &
  SRV_PID=$!
}

stop_server() {
  [[ -n "$SRV_PID" ]] || return 0
  stop_group "$SRV_PID" 5
  SRV_PID=""
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

answers() { curl -s -o /dev/null --max-time 1 "http://$HOST:$1/"; }

# wait_ready PORT -> prints the ms from start until GET / answered 2xx. Not
# a start-up time: it includes starting curl per poll and 10 ms sleeps
# (the startup scenario measures start-up, with tools/startup.py).
wait_ready() {
  local t0 code
  t0=$(date +%s%N)
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://$HOST:$1/" || true)
    [[ "$code" == 2* ]] && { echo $(( ($(date +%s%N) - t0) / 1000000 )); return 0; }
    kill -0 "$SRV_PID" 2>/dev/null || return 1
    (( ($(date +%s%N) - t0) / 1000000000 < STARTUP_TIMEOUT )) || return 1
    sleep 0.01
  done
}

# peak RSS in KiB: VmHWM summed over the server and its descendants
peak_rss_kb() {
  local pid=$1 total=0 kb child
  kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  total=$((total + ${kb:-0}))
  for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
    total=$((total + $(peak_rss_kb "$child")))
  done
  echo "$total"
}

# server_cpu_ns: CPU time the server's living threads have used, in ns
# (schedstat's first field, per thread; exact where /proc/PID/stat counts
# 10 ms ticks). A thread that ends takes its time with it, so a server
# with a thread per request (Werkzeug) gets no CPU figure (cpu_ms).
server_cpu_ns() {
  { cat /proc/"$SRV_PID"/task/*/schedstat 2>/dev/null || true; } |
    awk '{ s += $1 } END { printf "%.0f", s }'
}

# record_cpu SERVER SCENARIO REP SINCE_NS: the server's CPU time since
# SINCE_NS, in ms, unless its threads come and go
record_cpu() {
  [[ "$1" == werkzeug* ]] && return 0
  record "$1" "$2" "cpu_ms.$3" "$(awk -v a="$4" -v b="$(server_cpu_ns)" \
    'BEGIN { printf "%.1f", (b - a) / 1e6 }')"
}

# the server process itself (below setsid/taskset/bash -c exec, it is SRV_PID)
server_alive() { kill -0 "$SRV_PID" 2>/dev/null; }

# ------------------------------------------------------------ measuring

wait_for_quiet_machine() {
  [[ "$WAIT_LOAD" == 0 ]] && return 0
  local waited=0 load
  while :; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    if awk -v l="$load" -v max="$WAIT_LOAD" 'BEGIN { exit !(l < max) }'; then
      echo "== load average $load < $WAIT_LOAD: measuring"; return 0
    fi
    if (( waited >= WAIT_LOAD_MAX )); then
      echo "== load average still $load after ${waited}s: measuring anyway (noted in the results)"
      return 0
    fi
    echo "   load average $load >= $WAIT_LOAD, waiting (${waited}s so far)"
    sleep 30; waited=$((waited + 30))
  done
}


RUN_DIR="$OUT/$STAMP"
TSV="$RUN_DIR/results.tsv"

RUN=0
record() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$RUN" "$3" "$4" >> "$TSV"; }

# CPU accounting around a scenario, to see whether something else ran on the
# server's core or on wrk's. cpu_sample prints "<server-core busy> <server-core
# steal> <client-core busy> <server ticks>" in clock ticks (unpinned: all CPUs,
# twice); busy = user+nice+system+irq+softirq.
cpu_sample() {
  local sline=cpu cline=cpu
  [[ -n "${PIN_SERVER:-}" ]] && sline="cpu$PIN_SERVER"
  [[ -n "${PIN_CLIENT:-}" ]] && cline="cpu$PIN_CLIENT"
  awk -v s="$sline" -v c="$cline" '
    $1 == s { sb = $2 + $3 + $4 + $7 + $8; st = $9 }
    $1 == c { cb = $2 + $3 + $4 + $7 + $8 }
    END { printf "%d %d %d ", sb, st, cb }' /proc/stat
  awk '{ print $14 + $15 }' "/proc/$SRV_PID/stat" 2>/dev/null || echo 0
}
# cpu_report BEFORE AFTER WALL_TICKS WRK_TICKS -> "server% other% client_other% steal%"
# in % of one core's wall time: other = busy time on the server's core not spent
# by the server; client_other = busy time on wrk's core not spent by wrk.
cpu_report() {
  local b0 st0 c0 sv0 b1 st1 c1 sv1
  read -r b0 st0 c0 sv0 <<< "$1"; read -r b1 st1 c1 sv1 <<< "$2"
  awk -v b=$((b1 - b0)) -v st=$((st1 - st0)) -v c=$((c1 - c0)) -v sv=$((sv1 - sv0)) -v w="$3" -v wrk="$4" 'BEGIN {
    if (w <= 0) { print "NA NA NA NA"; exit }
    o = b - sv; if (o < 0) o = 0
    co = c - wrk; if (co < 0) co = 0
    printf "%.0f %.0f %.0f %.0f\n", 100 * sv / w, 100 * o / w, 100 * co / w, 100 * st / w }'
}

# run_wrk SERVER SCENARIO PORT WRK-ARGS... : runs wrk, records its numbers
run_wrk() {
  local server=$1 sc=$2 port=$3; shift 3
  local raw="$RUN_DIR/raw/$server.r$RUN.$sc.wrk"
  local cmd=("${ON_CLIENT[@]}" wrk "$@" -d"${DURATION}s" --timeout 2s --latency "http://$HOST:$port/")
  echo "${cmd[*]}" > "$raw"
  local before after t0 t1 srv other cother steal wrk_ticks hz
  hz=$(getconf CLK_TCK)
  before=$(cpu_sample); t0=$(date +%s%N)
  # bash's `time` gives wrk's own user+system time (through timeout, its child)
  { TIMEFORMAT='%U %S'; time DEPTH=$DEPTH timeout $((DURATION + 30)) "${cmd[@]}" >> "$raw" 2>&1 \
      || echo "(wrk exit $?)" >> "$raw"; } 2> "$raw.time"
  after=$(cpu_sample); t1=$(date +%s%N)
  wrk_ticks=$(awk -v hz="$hz" 'NF == 2 { printf "%d", ($1 + $2) * hz }' "$raw.time")
  read -r srv other cother steal < <(cpu_report "$before" "$after" $(( (t1 - t0) * hz / 1000000000 )) "${wrk_ticks:-0}")
  record "$server" "$sc" server_cpu_pct "$srv"; record "$server" "$sc" other_cpu_pct "$other"
  record "$server" "$sc" client_other_cpu_pct "$cother"; record "$server" "$sc" steal_pct "$steal"
  local rps p50 p99 errs detail occ
  read -r rps p50 p99 errs detail occ < <(awk -f tools/wrk.awk "$raw")
  record "$server" "$sc" rps "$rps"; record "$server" "$sc" p50_ms "$p50"
  record "$server" "$sc" p99_ms "$p99"; record "$server" "$sc" errors "$errs"
  record "$server" "$sc" error_kinds "$detail"; record "$server" "$sc" occupancy "$occ"
  printf '   %-11s %7s req/s  p50 %7s ms  p99 %8s ms  errors %s (%s)  occupancy %s  cpu: server %s%%, other on its core %s%%, other on wrk core %s%%, steal %s%%\n' \
    "$sc" "$rps" "$p50" "$p99" "$errs" "$detail" "$occ" "$srv" "$other" "$cother" "$steal"
}

scenario() {  # SERVER SCENARIO PORT
  local server=$1 sc=$2 port=$3
  case "$sc" in
    ka1)     run_wrk "$server" "$sc" "$port" -t1 -c1 ;;
    ka16)    run_wrk "$server" "$sc" "$port" -t"$WRK_THREADS" -c16 ;;
    ka256)   run_wrk "$server" "$sc" "$port" -t"$WRK_THREADS" -c256 ;;
    ka1024)  run_wrk "$server" "$sc" "$port" -t"$WRK_THREADS" -c1024 ;;
    close16) run_wrk "$server" "$sc" "$port" -t"$WRK_THREADS" -c16 -H 'Connection: close' ;;
    pipe16)  run_wrk "$server" "$sc" "$port" -t"$WRK_THREADS" -c16 -s "$BENCH/lua/pipeline.lua" ;;
    idle64ka16)
      # the idle connections are opened first, then the load runs beside them
      local held="$RUN_DIR/raw/$server.r$RUN.$sc.idle"
      timeout $((DURATION + 40)) "${ON_CLIENT[@]}" python3 tools/idleconns.py hold \
        --port "$port" -n "$IDLE" --seconds $((DURATION + 2)) > "$held" 2>&1 &
      local holder=$!
      sleep 1
      run_wrk "$server" "$sc" "$port" -t"$WRK_THREADS" -c16
      wait "$holder" || echo "(idleconns exit $?)" >> "$held"
      echo "   $sc idle: $(cat "$held")"
      local kv
      for kv in $(tail -n1 "$held"); do
        if [[ "$kv" == *=* ]]; then record "$server" "$sc" "${kv%%=*}" "${kv#*=}"; fi
      done
      ;;
    neighbour16)
      # The load runs throughout; CPU-bound neighbours share the server's
      # core for a moment, then leave. What the server is left with (more
      # threads, say) is what the run measures.
      timeout $((NEIGHBOUR_S + 20)) "${ON_CLIENT[@]}" wrk -t"$WRK_THREADS" -c16 \
        -d"$((NEIGHBOUR_S + 1))s" "http://$HOST:$port/" > /dev/null 2>&1 &
      local loader=$!
      sleep 0.5
      timeout 5 bash -c "echo go > '$NEIGHBOUR_FIFO'" || echo "   $sc: no neighbours started" >&2
      wait "$loader" || true
      run_wrk "$server" "$sc" "$port" -t"$WRK_THREADS" -c16
      local threads; threads=$(ls "/proc/$SRV_PID/task" 2>/dev/null | wc -l)
      record "$server" "$sc" threads "$threads"
      echo "   $sc threads after: $threads"
      ;;
    starve)
      local line
      line=$(timeout 40 "${ON_CLIENT[@]}" python3 tools/idleconns.py check --port "$port" -n "$IDLE" \
             || echo "check_failed=1")
      echo "   starve      $line"
      echo "$line" > "$RUN_DIR/raw/$server.r$RUN.starve"
      local kv; for kv in $line; do record "$server" starve "${kv%%=*}" "${kv#*=}"; done
      ;;
    *) echo "unknown scenario '$sc' (see --list)" >&2; return 1 ;;
  esac
}

mib_per_s() { awk -v b="$1" -v t="$2" 'BEGIN { if (t > 0) printf "%.0f", b / t / 1048576; else print "NA" }'; }

# blob FILE BYTES: a file of zeros of that size (kept between runs)
blob() {
  mkdir -p "$(dirname "$1")"
  [[ -f "$1" && $(stat -c %s "$1") == "$2" ]] || head -c "$2" /dev/zero > "$1"
}

transfers() {  # SERVER PORT
  local server=$1 port=$2 bytes=$((SIZE_MIB * 1024 * 1024))
  local blob="$OUT/blob-${SIZE_MIB}mib.bin"
  blob "$blob" "$bytes"
  record "$server" transfer size_mib "$SIZE_MIB"
  record "$server" transfer piece_kib "$PIECE_KIB"
  local up_url down_url rep res a b t rate cpu0
  read -r up_url down_url < <(transfer_urls "$server" "$port" "$bytes")
  if wants download; then same_download_bytes "$server" "$port"; fi
  for rep in $(seq "$REPS"); do
    if wants upload; then
      cpu0=$(server_cpu_ns)
      # -T streams the file with a Content-Length; 'Expect:' turns off 100-continue
      res=$(timeout 60 "${ON_CLIENT[@]}" curl -sS --max-time 30 -X POST -T "$blob" -H 'Expect:' \
            -H 'Content-Type: application/octet-stream' -o "$RUN_DIR/raw/upload.reply" \
            -w '%{http_code} %{size_download} %{time_total}' "$up_url" 2>&1 || echo "failed 0 0")
      read -r a b t <<< "$res"
      rate=FAIL
      # the reply is the byte count the server read
      if [[ "$a" == 200 && "$(cat "$RUN_DIR/raw/upload.reply")" == "$bytes" ]]; then
        rate=$(mib_per_s "$bytes" "$t")
      fi
      [[ "$rate" == FAIL ]] && echo "   upload failed: $res"
      record "$server" upload "mibs.$rep" "$rate"
      record_cpu "$server" upload "$rep" "$cpu0"
      echo "   upload      rep $rep: $rate MiB/s"
    fi
    if wants download; then
      timed_download "$server" download "$rep" "$down_url" "$bytes"
    fi
  done
}

# same_download_bytes SERVER PORT: every server's download is the same
# bytes (byte i is 'a' + i % 26), so the transfers compare like for like;
# checked once, on a short download, outside the timing
same_download_bytes() {
  local n=1000003 want got url
  want=$(python3 -c "import sys; sys.stdout.buffer.write(bytes(97 + i % 26 for i in range($n)))" | md5sum)
  read -r _ url < <(transfer_urls "$1" "$2" "$n")
  got=$({ "${ON_CLIENT[@]}" curl -sS --max-time 30 "$url" || true; } | md5sum)
  if [[ "$got" != "$want" ]]; then
    echo "   download: $1 does not send the pattern (md5 $got, want $want)"
    record "$1" download same_bytes no
  fi
}

# static_file SERVER PORT: the static file with curl, REPS times
static_file() {
  local server=$1 port=$2 bytes=$((STATIC_MIB * 1024 * 1024)) rep
  record "$server" static size_mib "$STATIC_MIB"
  # from the page cache, for every server
  cat "$STATIC_DIR/$STATIC_NAME" > /dev/null
  for rep in $(seq "$REPS"); do
    timed_download "$server" static "$rep" "http://$HOST:$port/files/$STATIC_NAME" "$bytes"
  done
}

# timed_download SERVER SCENARIO REP URL BYTES: one download with curl,
# recorded in MiB/s (FAIL unless a 200 with exactly BYTES)
timed_download() {
  local server=$1 sc=$2 rep=$3 url=$4 bytes=$5 res a b t rate=FAIL cpu0
  cpu0=$(server_cpu_ns)
  res=$(timeout 60 "${ON_CLIENT[@]}" curl -sS --max-time 30 -o /dev/null \
        -w '%{http_code} %{size_download} %{time_total}' "$url" 2>&1 || echo "failed 0 0")
  read -r a b t <<< "$res"
  if [[ "$a" == 200 && "$b" == "$bytes" ]]; then rate=$(mib_per_s "$bytes" "$t"); fi
  if [[ "$rate" == FAIL ]]; then echo "   $sc failed: $res"; fi
  record "$server" "$sc" "mibs.$rep" "$rate"
  record_cpu "$server" "$sc" "$rep" "$cpu0"
  printf '   %-11s rep %s: %s MiB/s\n' "$sc" "$rep" "$rate"
}

# kv_record SERVER SCENARIO LINE: records each key=value of LINE
kv_record() {
  local kv
  for kv in $3; do [[ "$kv" == *=* ]] && record "$1" "$2" "${kv%%=*}" "${kv#*=}"; done
  return 0
}

# idle_rss SERVER PORT: IDLE_CONNS idle keep-alive connections, the server's memory
idle_rss() {
  local server=$1 port=$2 line
  line=$(timeout 150 "${ON_CLIENT[@]}" python3 tools/idleconns.py rss --port "$port" --pid "$SRV_PID" \
         -n "$IDLE_CONNS" --seconds 1 --setup 60 2>&1 | tail -n1 || true)
  [[ "$line" == *rss_kb=* ]] || line="failed=1"
  echo "   idle1024    $line"
  echo "$line" > "$RUN_DIR/raw/$server.r$RUN.idle1024"
  kv_record "$server" idle1024 "$line"
}

# alloc_counts SERVER PORT: allocations per request (werk-alloc)
alloc_counts() {
  local server=$1 port=$2 line
  line=$(timeout 300 "${ON_CLIENT[@]}" python3 tools/allocs.py --port "$port" -n "$ALLOC_N" \
         --rounds "$ALLOC_ROUNDS" 2>&1 | tail -n1 || true)
  [[ "$line" == *ka_allocs=* ]] || line="failed=1 ($line)"
  echo "   allocs      $line"
  echo "$line" > "$RUN_DIR/raw/$server.r$RUN.allocs"
  kv_record "$server" allocs "$line"
}

# run_startup SERVER: STARTS starts, each on a new port, timed by tools/startup.py
run_startup() {
  local server=$1 cmd line argv pin=()
  cmd=$(server_cmd "$server" hello "{port}")
  read -r -a argv <<< "$cmd"
  [[ -n "${PIN_SERVER:-}" && "$PIN" == 1 ]] && pin=(--pin "$PIN_SERVER")
  echo "== $server (startup, run $RUN/$RUNS): $STARTS starts of $cmd from port $NEXT_PORT"
  record "$server" startup command "$cmd"
  line=$(timeout $((STARTS * 40 + 10)) "${ON_CLIENT[@]}" python3 tools/startup.py --port "$NEXT_PORT" \
         -n "$STARTS" "${pin[@]}" --interval "$STARTUP_POLL" \
         --log "$RUN_DIR/raw/$server.r$RUN.startup.server.log" -- "${argv[@]}" 2>&1 | tail -n1 || true)
  NEXT_PORT=$((NEXT_PORT + STARTS))
  [[ "$line" == *listen_ms=* ]] || line="failed=$STARTS"
  echo "   startup     $line"
  echo "$line" > "$RUN_DIR/raw/$server.r$RUN.startup"
  kv_record "$server" startup "$line"
}

# run_phase SERVER PHASE SCENARIO... : one server start, its scenarios, RSS, stop
run_phase() {
  local server=$1 phase=$2; shift 2
  local port=$NEXT_PORT; NEXT_PORT=$((NEXT_PORT + 1))
  if answers "$port"; then echo "!! port $port already answers; skipping $server"; return 0; fi
  local cmd; cmd=$(server_cmd "$server" "$phase" "$port")
  echo "== $server ($phase, run $RUN/$RUNS) on port $port: ${ON_SERVER[*]} $cmd"
  record "$server" "$phase" command "${ON_SERVER[*]} $cmd"
  record "$server" "$phase" loadavg_before "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
  start_server "$cmd" "$RUN_DIR/raw/$server.r$RUN.$phase.server.log"
  local ms
  if ! ms=$(wait_ready "$port"); then
    echo "!! $server did not start (log: $RUN_DIR/raw/$server.r$RUN.$phase.server.log)"
    record "$server" "$phase" start_failed 1; stop_server; return 0
  fi
  record "$server" "$phase" ready_ms "$ms"
  if [[ "$phase" == hello ]]; then
    timeout $((WARMUP + 20)) "${ON_CLIENT[@]}" wrk -t1 -c16 -d"${WARMUP}s" "http://$HOST:$port/" > /dev/null 2>&1 || true
    local sc
    for sc in "$@"; do
      scenario "$server" "$sc" "$port"
      if ! server_alive; then
        echo "!! $server exited during $sc"; record "$server" "$sc" died 1; break
      fi
    done
  else
    case "$phase" in
      transfer) transfers "$server" "$port" ;;
      static)   static_file "$server" "$port" ;;
      idle1024) idle_rss "$server" "$port" ;;
      allocs)   alloc_counts "$server" "$port" ;;
    esac
  fi
  local rss; rss=$(peak_rss_kb "$SRV_PID")
  record "$server" "$phase" rss_kb "$rss"
  record "$server" "$phase" loadavg_after "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
  echo "   peak RSS $rss KiB (answered after $ms ms, curl polling)"
  stop_server
  sleep 1
}

# ----------------------------------------------------------------- main

[[ "$SKIP_SETUP" == 1 ]] || setup
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install -y wrk)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

hello_scenarios=(); transfer_wanted=0
for sc in $SCENARIOS; do
  case "$sc" in
    upload|download) transfer_wanted=1 ;;
    static|allocs|startup|idle1024) ;;
    *) hello_scenarios+=("$sc") ;;
  esac
done
if wants static; then
  # the ceiling, and the ceiling with werk's TCP_NODELAY, in every run that has static
  needs copy || SERVERS+=(copy)
  needs copy-nodelay || SERVERS+=(copy-nodelay)
  blob "$STATIC_DIR/$STATIC_NAME" $((STATIC_MIB * 1024 * 1024))
fi
if wants allocs && needs 'werk*' && [[ ! -x "$WERK_ALLOC" ]]; then
  echo "werk-alloc is missing ($WERK_ALLOC): run without SKIP_SETUP=1 once" >&2; exit 1
fi
if wants idle1024 && [[ "$(ulimit -n)" != unlimited ]] && (( $(ulimit -n) < IDLE_CONNS + 64 )); then
  echo "idle1024 needs more open files than ulimit -n ($(ulimit -n)) allows" >&2; exit 1
fi

mkdir -p "$RUN_DIR/raw"
NEIGHBOUR_FIFO=""
if [[ " $SCENARIOS " == *" neighbour16 "* ]]; then
  NEIGHBOUR_FIFO="$RUN_DIR/neighbours.fifo"
  mkfifo "$NEIGHBOUR_FIFO"
fi
{
  echo "date=$(date -u +%FT%TZ)"
  echo "nproc=$(nproc)"
  echo "cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
  echo "kernel=$(uname -sr)"
  echo "wrk=$(wrk -v 2>&1 | head -n1)"
  echo "rustc=$(rustc --version 2>/dev/null || echo '?')"
  echo "werk=$WERK ($("$WERK" --version 2>/dev/null || echo '?'); ${WERK_COMMIT:+built from commit $WERK_COMMIT; }repository at $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?'))"
  echo "python=$("$PY" --version 2>/dev/null || echo '-')"
  echo "werkzeug=$("$PY" -c 'import werkzeug.serving, importlib.metadata as m; print(m.version("werkzeug"))' 2>/dev/null || echo '-')"
  echo "pin=$PIN server=${PIN_SERVER:-any} client=${PIN_CLIENT:-any} wrk_threads=$WRK_THREADS"
  echo "runs=$RUNS duration=$DURATION warmup=$WARMUP idle=$IDLE depth=$DEPTH"
  echo "size_mib=$SIZE_MIB piece_kib=$PIECE_KIB static_mib=$STATIC_MIB reps=$REPS starts=$STARTS startup_poll=$STARTUP_POLL idle_conns=$IDLE_CONNS alloc_n=$ALLOC_N alloc_rounds=$ALLOC_ROUNDS"
  echo "werk_alloc=$WERK_ALLOC"
  echo "servers=${SERVERS[*]}"
  echo "scenarios=$SCENARIOS"
} > "$RUN_DIR/machine.txt"
cat "$RUN_DIR/machine.txt"

for server in "${SERVERS[@]}"; do server_cmd "$server" hello 0 > /dev/null; done
# rounds are interleaved (run 1 of every server, then run 2, ...) to spread
# the machine's noise over all servers
for RUN in $(seq "$RUNS"); do
  wait_for_quiet_machine
  record - - loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' '/')"
  for server in "${SERVERS[@]}"; do
    if [[ "$server" == copy* ]]; then
      wants static && run_phase "$server" static
      continue
    fi
    [[ ${#hello_scenarios[@]} -gt 0 ]] && run_phase "$server" hello "${hello_scenarios[@]}"
    [[ "$transfer_wanted" == 1 ]] && run_phase "$server" transfer
    wants static && run_phase "$server" static
    wants idle1024 && run_phase "$server" idle1024
    if wants allocs; then
      case "$server" in
        werk|werk-t[0-9]*) run_phase "$server" allocs ;;
        *) echo "== $server: allocs is measured for werk only (werk-alloc)" ;;
      esac
    fi
    wants startup && run_startup "$server"
  done
done

echo
python3 tools/table.py "$TSV" | tee "$RUN_DIR/table.md"
ln -sfn "$STAMP" "$OUT/latest"
echo
echo "results: $RUN_DIR (table.md, results.tsv, raw/)"
