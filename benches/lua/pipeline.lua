-- wrk script: each write sends DEPTH requests back to back on one
-- connection (HTTP/1.1 pipelining); wrk counts every response.
-- DEPTH comes from the environment (default 16); the path from the URL.
local depth = tonumber(os.getenv("DEPTH") or "16")

init = function(args)
  local one = wrk.format("GET", wrk.path)
  local batch = {}
  for i = 1, depth do
    batch[i] = one
  end
  pipelined = table.concat(batch)
end

request = function()
  return pipelined
end
