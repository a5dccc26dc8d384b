#!/usr/bin/env bash
# The echo app three ways, side by side in one run, with wrk on loopback:
#   werk-http      werk serve echo: werk's own HTTP server
#   lighttpd-scgi  lighttpd mod_scgi -> werk serve echo --scgi (a Unix socket)
#   lighttpd-cgi   lighttpd mod_cgi  -> a wrapper that execs `werk cgi echo`
# Every request is `GET /` of the echo app (its environ as JSON, ~1 KiB).
# Prints requests/s and latency; asserts nothing. See docs/deploying.md.
#
# Env: DURATION (10 s per run)  CONNS (16)  PIN (1: servers on CPU 1, wrk on
#      CPU 0, wrk -t1; 0: nothing pinned, wrk -t2)  WERK_BIN (a werk binary;
#      default: build target/release/werk)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/benches/lib.sh"
DURATION=${DURATION:-10}
CONNS=${CONNS:-16}
PIN=${PIN:-1}
if [[ "$PIN" == 1 ]]; then
  ON_SERVER=(taskset -c 1); ON_CLIENT=(taskset -c 0); WRK_THREADS=1
else
  ON_SERVER=(); ON_CLIENT=(); WRK_THREADS=2
fi

for program in wrk curl lighttpd python3; do
  command -v "$program" >/dev/null || [[ -x /usr/sbin/$program ]] || {
    echo "deploy.sh: $program is not installed (apt-get install $program)" >&2; exit 1; }
done
LIGHTTPD=$(command -v lighttpd || echo /usr/sbin/lighttpd)

if [[ -z "${WERK_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --release --quiet)
  WERK_BIN=$ROOT/target/release/werk
fi
WERK_BIN=$(realpath "$WERK_BIN")  # the CGI wrapper runs in another directory

DIR=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || true; done
  rm -rf "$DIR"
}
trap cleanup EXIT

wait_up() {  # URL: until it answers 200, at most 10 s
  for _ in $(seq 1 1000); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1" || true) == 200 ]] && return 0
    sleep 0.01
  done
  echo "deploy.sh: $1 did not answer" >&2; return 1
}

HTTP_PORT=$(free_port)
"${ON_SERVER[@]}" "$WERK_BIN" serve echo --host 127.0.0.1 --port "$HTTP_PORT" -q \
  >"$DIR/werk-http.log" 2>&1 & PIDS+=($!)
"${ON_SERVER[@]}" "$WERK_BIN" serve echo --scgi --host "unix://$DIR/werk.sock" -q \
  >"$DIR/werk-scgi.log" 2>&1 & PIDS+=($!)

mkdir -p "$DIR/www/cgi-bin"
printf '#!/bin/sh\nexec %q cgi echo\n' "$WERK_BIN" >"$DIR/www/cgi-bin/echo"
chmod 755 "$DIR/www/cgi-bin/echo"
LIGHTTPD_PORT=$(free_port)
cat >"$DIR/lighttpd.conf" <<EOF
server.document-root = "$DIR/www"
server.bind          = "127.0.0.1"
server.port          = $LIGHTTPD_PORT
server.errorlog      = "$DIR/lighttpd-error.log"
server.modules       = ( "mod_cgi", "mod_scgi" )
\$HTTP["url"] =~ "^/cgi-bin/" { cgi.assign = ( "" => "" ) }
\$HTTP["url"] =~ "^/scgi/" {
  scgi.server = ( "/scgi" => (( "socket" => "$DIR/werk.sock", "check-local" => "disable" )) )
}
EOF
"${ON_SERVER[@]}" "$LIGHTTPD" -D -f "$DIR/lighttpd.conf" >"$DIR/lighttpd.log" 2>&1 & PIDS+=($!)

declare -A URL=(
  [werk-http]="http://127.0.0.1:$HTTP_PORT/"
  [lighttpd-scgi]="http://127.0.0.1:$LIGHTTPD_PORT/scgi/"
  [lighttpd-cgi]="http://127.0.0.1:$LIGHTTPD_PORT/cgi-bin/echo/"
)
ORDER=(werk-http lighttpd-scgi lighttpd-cgi)
for name in "${ORDER[@]}"; do wait_up "${URL[$name]}"; done

echo "# echo app, GET /, wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s, PIN=$PIN, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| %-14s | %10s | %9s | %9s | %8s |\n' setup 'requests/s' 'p50' 'p99' 'errors'
printf '|%s|%s|%s|%s|%s|\n' ---------------- ------------ ----------- ----------- ----------
for name in "${ORDER[@]}"; do
  out=$("${ON_CLIENT[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --timeout 5s --latency "${URL[$name]}")
  echo "$out" >"$DIR/wrk-$name.txt"
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {sub(/^ +/, ""); printf "%s; ", $0}' <<<"$out")
  printf '| %-14s | %10s | %9s | %9s | %8s |\n' "$name" "$rps" "$p50" "$p99" "${errors:-0}"
done
