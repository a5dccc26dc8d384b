#!/usr/bin/env bash
# New TLS handshakes per second (openssl s_time -new, per real second) for
# werk serve hello and openssl s_server -www, the crypto's ceiling here, on
# the same ECDSA P-256 certificate (werk devcert); server on CPU 1, client on
# CPU 0, 3 rounds alternating. Loopback only; asserts nothing.
#   cargo build --release && benches/tls_ceiling.sh
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
W=${WERK_BIN:-$ROOT/target/release/werk}
DIR=$(mktemp -d); trap 'rm -rf "$DIR"' EXIT
"$W" devcert "$DIR/dev" >/dev/null; cd "$DIR"
rate() { taskset -c 0 openssl s_time -new -connect 127.0.0.1:$1 -time 8 -www / 2>/dev/null |
  awk '/real seconds/ { printf "%.0f", $1 / $4 }'; }
for round in 1 2 3; do
  taskset -c 1 openssl s_server -www -cert dev.crt -key dev.key -accept 19443 -quiet >/dev/null 2>&1 &
  S=$!; sleep 0.5; echo "round $round openssl-s_server $(rate 19443)"; kill $S; wait $S 2>/dev/null
  taskset -c 1 $W serve hello --host 127.0.0.1 --port 19444 -q --cert dev.crt --key dev.key >/dev/null 2>&1 &
  S=$!; sleep 0.5; echo "round $round werk $(rate 19444)"; kill $S; wait $S 2>/dev/null
done
