#!/usr/bin/env bash
# HTTPS start-up and new-handshake rate (loopback only, every wait bounded):
# werk --cert local (its authority already made, and made at that very
# start), werk --cert adhoc, and Werkzeug's ssl_context="adhoc" when a
# Python with werkzeug and cryptography is there, measured in the same run
# by benches/tools/tls_bench.py (see its --help).
#
#     benches/tls.sh                      # 10 starts and 5 s of handshakes per server, 2 rounds
#     STARTS=20 SECS=10 ROUNDS=3 benches/tls.sh
#
# Env: STARTS (10)  SECS (5)  ROUNDS (2)  PORT (18443)  PIN (1: the servers
# on CPU 1, the client on the others; empty: no pinning)  PYTHON (the
# Python for Werkzeug: benches/.venv/bin/python if there, else python3)
# SKIP_BUILD=1 (use target/release/werk as it is).
# Results: benches/results/tls-<UTC time>/ (table.md, samples.tsv, logs).
set -euo pipefail
cd "$(dirname "$0")/.."
STARTS=${STARTS:-10}
SECS=${SECS:-5}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-18443}
PIN=${PIN-1}
if [ -z "${PYTHON:-}" ]; then
  if [ -x benches/.venv/bin/python ]; then PYTHON=benches/.venv/bin/python; else PYTHON=python3; fi
fi
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --bin werk
WERK=$PWD/target/release/werk
out=benches/results/tls-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
warm=$(mktemp -d /tmp/werk-tls-bench-XXXXXX)
trap 'rm -rf "$warm"' EXIT

serve="serve hello --host 127.0.0.1 --port {port} -q"
servers=(
  "werk --cert local|env XDG_DATA_HOME=$warm $WERK $serve --cert local"
  "werk --cert local, first start|env XDG_DATA_HOME={fresh} $WERK $serve --cert local"
  "werk --cert adhoc|$WERK $serve --cert adhoc"
)
if "$PYTHON" -c 'import werkzeug, cryptography' 2>/dev/null; then
  servers+=("Werkzeug ssl_context=adhoc|env SSL_CONTEXT=adhoc $PYTHON benches/py/peer_werkzeug.py {port}")
else
  echo "tls.sh: $PYTHON has no werkzeug and cryptography: Werkzeug is left out" >&2
fi

{
  echo "date: $(date -u +%FT%TZ)  commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo '+changes')"
  echo "machine: $(nproc) CPUs, $(uname -sr), $(rustc --version), $(openssl version)"
  echo "python: $("$PYTHON" --version 2>&1), werkzeug $("$PYTHON" -c 'import importlib.metadata as m; print(m.version("werkzeug"))' 2>/dev/null || echo none)"
  echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt"

pin=()
[ -z "$PIN" ] || pin=(--pin "$PIN")
python3 benches/tools/tls_bench.py --starts "$STARTS" --secs "$SECS" --rounds "$ROUNDS" \
  --port "$PORT" "${pin[@]}" --rate-skip "werk --cert local, first start" --out "$out" \
  -- "${servers[@]}" | tee "$out/table.md"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$out/machine.txt"
