-- wrk script for bench/ingest.py: POSTs one signed GitHub delivery body with a fresh
-- X-GitHub-Delivery per request (GitHub signs the body, not the headers), so every
-- request is a new delivery. Reports latency percentiles and status counts as JSON.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
  table.insert(threads, thread)
end

function init(args)
  path = args[1]
  signature = args[2]
  local f = assert(io.open(args[3], "rb"))
  body = f:read("*a")
  f:close()
  run_id = args[4]
  statuses = {}
end

function request()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "pull_request",
    ["X-GitHub-Hook-ID"] = "482911",
    ["X-GitHub-Delivery"] = run_id .. "-" .. tid .. "-" .. counter,
    ["X-Hub-Signature-256"] = signature,
  }
  return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do merged[code] = (merged[code] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(merged) do table.insert(parts, string.format('"%d": %d', code, n)) end
  io.write(string.format(
    'WRK_JSON {"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
    table.concat(parts, ", ")))
end
