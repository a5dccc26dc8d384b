#!/usr/bin/env bash
# Where a server's time goes, per request, on loopback; bounded in time.
#
#   benches/profile.sh [SERVER...]        default: werk hyper tiny_http
#
# For each server (the `GET /` hello route):
#   1. CPU per request: a pinned `wrk -t1 -cCONNS` run of DURATION seconds while
#      the server's user and system CPU time (/proc/PID/stat) and its context
#      switches (`perf stat -e task-clock,context-switches`) are read, and
#      wrk's own CPU (`perf stat`): near 100 % of its core, wrk sets the rate;
#   2. system calls per request: `strace -c -f` attached while tools/reqloop.py
#      makes STRACE_N keep-alive requests;
#   3. user-space instructions per request: the server under
#      `valgrind --tool=callgrind`, counters zeroed after a warm-up, then N
#      keep-alive requests from tools/reqloop.py (one connection), a dump, then
#      N/2 requests with one connection each, a dump; the top functions by
#      inclusive and by self cost are printed for the keep-alive part.
# Hardware counters (`perf stat -e instructions`) are not available in this
# VM, hence valgrind for instructions.
#
# Env: N (5000)  STRACE_N (2000)  DURATION (5)  CONNS (16)  PORT (19400)  TOP (25)
#      WERK_BIN (a werk binary; default target/release/werk)  OUT (benches/results)
#      SKIP_BUILD (1: build nothing)  STEPS ("cpu strace callgrind")
set -euo pipefail
# a relative WERK_BIN is relative to where the script was started
[[ -n "${WERK_BIN:-}" ]] && WERK_BIN=$(realpath -m -- "$WERK_BIN")
[[ -n "${OUT:-}" ]] && OUT=$(realpath -m -- "$OUT")
BENCH=$(cd "$(dirname "$0")" && pwd)
. "$BENCH/lib.sh"
ROOT=$(cd "$BENCH/.." && pwd)
cd "$BENCH"

N=${N:-5000}
STRACE_N=${STRACE_N:-2000}
DURATION=${DURATION:-5}
CONNS=${CONNS:-16}
NEXT_PORT=${PORT:-19400}
TOP=${TOP:-25}
STEPS=${STEPS:-"cpu strace callgrind"}
WERK=${WERK_BIN:-$ROOT/target/release/werk}
PEERS="$BENCH/peers/target/release"
OUT=${OUT:-$BENCH/results}/profile-$(date -u +%Y%m%dT%H%M%SZ)
HOST=127.0.0.1
SERVERS=("$@"); [[ ${#SERVERS[@]} -eq 0 ]] && SERVERS=(werk hyper tiny_http)
mkdir -p "$OUT"

for tool in wrk valgrind callgrind_annotate callgrind_control strace perf taskset; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y wrk valgrind strace linux-perf util-linux)" >&2; exit 1; }
done
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  [[ -n "${WERK_BIN:-}" ]] || (cd "$ROOT" && cargo build --release --bin werk)
  cargo build --release --manifest-path "$BENCH/peers/Cargo.toml"
fi

server_cmd() {  # NAME PORT
  case "$1" in
    werk)      echo "$WERK serve hello --host $HOST --port $2 -q" ;;
    werk-t*)   echo "$WERK serve hello --host $HOST --port $2 -q --threads ${1#werk-t}" ;;
    hyper)     echo "$PEERS/peer-hyper $2" ;;
    tiny_http) echo "$PEERS/peer-tiny-http $2" ;;
    *) echo "unknown server $1" >&2; return 1 ;;
  esac
}

SRV_PID=""
start() {  # PREFIX-WORDS... -- CMD ; runs in its own process group
  setsid bash -c "exec $*" > "$OUT/server.log" 2>&1 < /dev/null &
  SRV_PID=$!
}
stop() {
  [[ -n "$SRV_PID" ]] || return 0
  stop_group "$SRV_PID" 10
  SRV_PID=""
}
trap stop EXIT
trap 'stop; exit 130' INT TERM
ready() {  # PORT [TRIES]
  local i; for i in $(seq "${2:-200}"); do
    curl -s -o /dev/null --max-time 1 "http://$HOST:$1/" && return 0
    kill -0 "$SRV_PID" 2>/dev/null || return 1
    sleep 0.1
  done; return 1
}
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }   # utime stime (clock ticks)

for server in "${SERVERS[@]}"; do
  echo "== $server"
  if [[ " $STEPS " == *" cpu "* ]]; then
    port=$NEXT_PORT; NEXT_PORT=$((NEXT_PORT + 1))
    start taskset -c 1 "$(server_cmd "$server" "$port")"
    ready "$port" || { echo "!! $server did not start"; stop; continue; }
    taskset -c 0 wrk -t1 -c16 -d1s "http://$HOST:$port/" > /dev/null
    read -r u0 s0 < <(cpu_ticks "$SRV_PID")
    timeout $((DURATION + 20)) perf stat -e task-clock,context-switches,cpu-migrations -p "$SRV_PID" \
      -o "$OUT/$server.perf" -- sleep "$((DURATION + 1))" &
    perf_pid=$!
    sleep 0.3
    # wrk's own CPU too: when it is near 100 % of its core, the client,
    # not the server, sets the rate.
    timeout $((DURATION + 20)) perf stat -e task-clock -o "$OUT/$server.client.perf" -- \
      taskset -c 0 wrk -t1 -c"$CONNS" -d"${DURATION}s" "http://$HOST:$port/" > "$OUT/$server.cpu.wrk"
    wait "$perf_pid" || true
    read -r u1 s1 < <(cpu_ticks "$SRV_PID")
    reqs=$(awk '/ requests in / {print $1}' "$OUT/$server.cpu.wrk")
    hz=$(getconf CLK_TCK)
    cs=$(awk '/context-switches/ {gsub(",", "", $1); print $1}' "$OUT/$server.perf")
    client_ms=$(awk '/task-clock/ {gsub(",", "", $1); print $1}' "$OUT/$server.client.perf")
    awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$hz" -v r="$reqs" -v cs="${cs:-0}" -v d="$DURATION" -v c="${client_ms:-0}" 'BEGIN {
      printf "   cpu: %d requests in %ds (%.0f req/s); server CPU per request: %.2f us user + %.2f us system = %.2f us; %.2f context switches per request; wrk: %.2f us per request, %.0f %% of its core\n",
        r, d, r / d, u / hz * 1e6 / r, s / hz * 1e6 / r, (u + s) / hz * 1e6 / r, cs / r, c * 1e3 / r, c / 10 / d }' | tee "$OUT/$server.cpu.txt"
    stop; sleep 1
  fi

  if [[ " $STEPS " == *" strace "* ]]; then
    port=$NEXT_PORT; NEXT_PORT=$((NEXT_PORT + 1))
    start "$(server_cmd "$server" "$port")"
    ready "$port" || { echo "!! $server did not start"; stop; continue; }
    python3 tools/reqloop.py --port "$port" -n 100 > /dev/null
    timeout 120 strace -c -f -p "$SRV_PID" -o "$OUT/$server.strace" &
    st_pid=$!
    sleep 1
    python3 tools/reqloop.py --port "$port" -n "$STRACE_N" > /dev/null
    sleep 0.5
    kill -INT "$st_pid" 2>/dev/null || true
    wait "$st_pid" 2>/dev/null || true
    echo "   system calls per keep-alive request (strace -c -f, $STRACE_N requests):" | tee "$OUT/$server.strace.txt"
    awk -v n="$STRACE_N" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" { if ($4 / n >= 0.01) printf "      %-16s %.2f\n", $NF, $4 / n }
                          $NF == "total" { printf "      %-16s %.2f\n", "total", $4 / n }' "$OUT/$server.strace" | tee -a "$OUT/$server.strace.txt"
    stop; sleep 1
  fi

  if [[ " $STEPS " == *" callgrind "* ]]; then
    port=$NEXT_PORT; NEXT_PORT=$((NEXT_PORT + 1))
    start valgrind --tool=callgrind --callgrind-out-file="$OUT/$server.cg" "$(server_cmd "$server" "$port")"
    ready "$port" 600 || { echo "!! $server did not start under valgrind"; stop; continue; }
    python3 tools/reqloop.py --port "$port" -n 200 --max-seconds 60 > /dev/null
    callgrind_control -z "$SRV_PID" > /dev/null
    python3 tools/reqloop.py --port "$port" -n "$N" --max-seconds 300 | sed 's/^/   keep-alive client: /'
    callgrind_control -d keepalive "$SRV_PID" > /dev/null
    python3 tools/reqloop.py --port "$port" -n $((N / 2)) --close --max-seconds 300 | sed 's/^/   close client: /'
    sleep 0.5
    callgrind_control -d close "$SRV_PID" > /dev/null
    stop
    ka="$OUT/$server.cg.1"; cl="$OUT/$server.cg.2"
    ka_ir=$(awk '/^summary:/ {print $2}' "$ka")
    cl_ir=$(awk '/^summary:/ {print $2}' "$cl")
    awk -v a="$ka_ir" -v b="$cl_ir" -v n="$N" 'BEGIN {
      printf "   callgrind: %.0f instructions per keep-alive request, %.0f per request with a new connection (user space, all threads)\n", a / n, b / (n / 2) }' \
      | tee "$OUT/$server.callgrind.txt"
    {
      # one function per line: "<instructions per request>  <file:function>";
      # frames that were on a stack for the whole window (>= 99 % of the
      # total: thread starts, the worker loop) are left out of the self list
      top_list() {  # MODE(inclusive|self) FILE
        local flags=(--threshold=100); [[ "$1" == inclusive ]] && flags+=(--inclusive=yes)
        callgrind_annotate "${flags[@]}" "$2" 2>/dev/null | awk -v n="$N" -v top="$TOP" -v mode="$1" '
          /PROGRAM TOTALS/ { t = $1; gsub(",", "", t); total = t + 0 }
          /^-+$/ { rule++; next }
          rule == 6 && $1 ~ /^[0-9,]+$/ && shown < top {
            v = $1; gsub(",", "", v); v += 0
            if (mode == "self" && total > 0 && v >= 0.99 * total) next
            line = $0
            sub(/^ *[0-9,]+ +\( *[0-9.]+%\) +(\* +)?/, "", line); sub(/ \[[^]]*\]$/, "", line)
            printf "      %8.0f  %s\n", v / n, line; shown++ }'
      }
      echo "   top functions, keep-alive, inclusive (instructions per request):"
      top_list inclusive "$ka"
      echo "   top functions, keep-alive, self (instructions per request):"
      top_list self "$ka"
      callgrind_annotate --tree=caller --threshold=100 "$ka" 2>/dev/null | awk -v n="$N" '
        /^$/ { sum = 0; next }
        / < / { if (match($0, /\([0-9,]+x\)/)) { c = substr($0, RSTART + 1, RLENGTH - 3); gsub(",", "", c); sum += c }; next }
        / \* / && /malloc\.c:(malloc|realloc|calloc|posix_memalign) / {
          name = $0; sub(/.*malloc\.c:/, "", name); sub(/ .*/, "", name); calls[name] += sum }
        END { printf "   heap calls per keep-alive request:"; for (k in calls) printf " %s %.1f", k, calls[k] / n; print "" }'
    } | tee -a "$OUT/$server.callgrind.txt"
  fi
done
echo "profile output: $OUT"
