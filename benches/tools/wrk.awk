# Reads the output of `wrk --latency` and prints one line:
#   rps p50_ms p99_ms errors error_kinds occupancy
# errors      = socket errors (connect + read + write + timeout) + non-2xx/3xx replies
# error_kinds = c<connect>/r<read>/w<write>/t<timeout>/n<non-2xx>
# occupancy   = mean latency x requests / (connections x wall time). For a
#               closed-loop client this is at most 1 (Little's law); above
#               about 1.2 wrk's latency samples contradict its request count,
#               far below 1 connections sat without a request in flight.
function to_ms(s,   v) {
  v = s + 0
  if (s ~ /us$/) return v / 1000
  if (s ~ /ms$/) return v
  if (s ~ /m$/)  return v * 60000
  if (s ~ /s$/)  return v * 1000
  return v
}
/ threads and [0-9]+ connections/ { conns = $4 + 0 }
$1 == "Latency" && mean == ""     { mean = to_ms($2) }
$1 == "50%"                        { p50 = to_ms($2) }
$1 == "99%"                        { p99 = to_ms($2) }
/ requests in /                    { reqs = $1 + 0; t = $4; sub(/,$/, "", t); wall = to_ms(t) }
/Socket errors:/ {
  line = $0; gsub(/,/, "", line); split(line, f, " ")
  c = f[4] + 0; r = f[6] + 0; w = f[8] + 0; to = f[10] + 0
}
/Non-2xx or 3xx responses:/        { n = $NF + 0 }
/^Requests\/sec:/                  { rps = $2 }
END {
  occ = (conns > 0 && wall > 0) ? mean * reqs / (conns * wall) : 0
  printf "%s %s %s %d c%d/r%d/w%d/t%d/n%d %.2f\n",
    (rps == "" ? "NA" : sprintf("%.0f", rps)),
    (p50 == "" ? "NA" : sprintf("%.3f", p50)),
    (p99 == "" ? "NA" : sprintf("%.3f", p99)),
    c + r + w + to + n, c, r, w, to, n, occ
}
