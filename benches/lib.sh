# What the bench scripts share; each sources it: . "$BENCH/lib.sh"

# free_port: prints a free loopback TCP port.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# stop_group PID SECS: SIGTERM to the process group PID leads, SIGKILL if
# any of it outlives SECS seconds. Sets STOP_STATUS (the leader's exit
# status) and STOP_KILLED (1 when SIGKILL was needed).
stop_group() {
  local pid=$1 secs=$2 i
  STOP_KILLED=0
  kill -TERM -- "-$pid" 2>/dev/null || true
  for i in $(seq $((secs * 10))); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 -- "-$pid" 2>/dev/null; then
    STOP_KILLED=1
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null && STOP_STATUS=0 || STOP_STATUS=$?
}

# stop_client PID: ends a background client, if PID is set.
stop_client() {
  [[ -n "$1" ]] || return 0
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
