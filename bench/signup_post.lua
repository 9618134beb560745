-- wrk script of bench/signup.py: POST /s/<key>/ form-encoded, as a shop's
-- embedded signup form does.
--
-- Each request signs up a new address (bench-t<thread>-<n>@example.com) with
-- the point's four profile values and a "shown at" token made long enough ago
-- that the minimum fill time has passed. Set by bench/signup.py through the
-- environment:
--   BENCH_PATH    the point's path, /s/<key>/
--   BENCH_TOKEN   the token, URL-encoded
--   BENCH_FIELDS  the point's profile fields, "id:DataType,id:DataType,..."
--   BENCH_RESULT  where done() writes the counters, as JSON
--
-- Counted per thread: requests sent, answers, 2xx answers and the rest, so
-- bench/signup.py can check every 2xx answer is a stored signup.

local path = os.getenv("BENCH_PATH") or "/"
local token = os.getenv("BENCH_TOKEN") or ""
local result_path = os.getenv("BENCH_RESULT")

local fields = {}
for id, data_type in string.gmatch(os.getenv("BENCH_FIELDS") or "", "(%d+):(%a+)") do
  table.insert(fields, { id = tonumber(id), data_type = data_type })
end

local headers = { ["Content-Type"] = "application/x-www-form-urlencoded" }

-- setup() runs in wrk's main Lua state, one call per thread, before any request.
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state).
id = id or 0 -- wrk's main state calls request() once to check the script
sent, answered, ok, non2xx = 0, 0, 0, 0

-- The values bench/api.py's script sends, as a person types them into the form.
local function value(data_type, n)
  if data_type == "Numeric" then
    return string.format("%d.%02d", n % 10000, n % 100)
  elseif data_type == "Date" then
    return string.format("%02d%%2F%02d%%2F19%02d", n % 12 + 1, n % 28 + 1, n % 60 + 40)
  elseif data_type == "CheckBox" then
    return (n % 2 == 0) and "on" or nil -- an unticked box is not sent
  end
  return "Name+" .. n
end

function request()
  sent = sent + 1
  local parts = { string.format("email=bench-t%d-%d%%40example.com", id, sent) }
  for _, field in ipairs(fields) do
    local v = value(field.data_type, sent)
    if v then
      table.insert(parts, string.format("field_%d=%s", field.id, v))
    end
  end
  table.insert(parts, "website=")
  table.insert(parts, "token=" .. token)
  return wrk.format("POST", path, headers, table.concat(parts, "&"))
end

function response(status, headers, body)
  answered = answered + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  else
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local out = {}
  for _, thread in ipairs(threads) do
    table.insert(out, string.format(
      '{"id": %d, "sent": %d, "answered": %d, "ok": %d, "non2xx": %d}',
      thread:get("id"), thread:get("sent"), thread:get("answered"), thread:get("ok"),
      thread:get("non2xx")))
  end
  local e = summary.errors
  local file = assert(io.open(result_path, "w"))
  file:write(string.format(
    '{"threads": [%s], "socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    table.concat(out, ", "), e.connect, e.read, e.write, e.timeout))
  file:close()
end
