-- wrk script of bench/tracking.py: GET the open pixels and tracked links of sent emails.
--
-- The file BENCH_URLS holds one request path a line (/t/o/<token>/ or
-- /t/c/<token>/), each a different delivery. Of BENCH_THREADS wrk threads,
-- thread t (from 0) takes the lines t+1, t+1+T, t+1+2T, ... (1-based) in
-- order, round-robin, so no two requests name the same delivery until a
-- thread has used all its lines. bench/tracking.py knows from each thread's
-- "sent" which lines were requested and how often.
--
-- Answers are counted by status: 200 is an open (only the pixel answers
-- 200), 302 a click (only the tracked link redirects), anything else is
-- "bad". done() prints one line, "tracking-counts {json}", after wrk's summary.

local urls_path = os.getenv("BENCH_URLS")
local thread_count = tonumber(os.getenv("BENCH_THREADS") or "1")
-- As a mail client or a browser sends them: the views record the user agent.
local headers = { ["User-Agent"] = "Mozilla/5.0 (bench/tracking.lua)" }

-- setup() runs in wrk's main Lua state, one call per thread, before its init().
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state).
id = id or 0
sent, opened, clicked, bad = 0, 0, 0, 0
local paths = {}

function init(args)
  local n = 0
  for line in io.lines(urls_path) do
    if n % thread_count == id then
      table.insert(paths, line)
    end
    n = n + 1
  end
  line_count = #paths
end

function request()
  if #paths == 0 then -- wrk's main state calls request() once to check the script
    return wrk.format("GET", "/", headers)
  end
  sent = sent + 1
  return wrk.format("GET", paths[(sent - 1) % #paths + 1], headers)
end

function response(status, headers, body)
  if status == 200 then
    opened = opened + 1
  elseif status == 302 then
    clicked = clicked + 1
  else
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local out = {}
  for _, thread in ipairs(threads) do
    table.insert(out, string.format(
      '{"id": %d, "lines": %d, "sent": %d, "opened": %d, "clicked": %d, "bad": %d}',
      thread:get("id"), thread:get("line_count"), thread:get("sent"),
      thread:get("opened"), thread:get("clicked"), thread:get("bad")))
  end
  local e = summary.errors
  io.write(string.format(
    'tracking-counts {"threads": [%s], "socket_errors": '
      .. '{"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}}\n',
    table.concat(out, ", "), e.connect, e.read, e.write, e.timeout, e.status))
end
