-- wrk script of bench/api.py: POST /email/v1/List/<listId>/Contact, as an API client would.
--
-- Each request is one contact: three in four create a new address
-- (bench-t<thread>-<n>@example.com, unique per request), one in four re-posts
-- an address this thread posted earlier with changed profile values (an
-- update). Set by bench/api.py through the environment:
--   BENCH_PATH    the request path
--   BENCH_TOKEN   the bearer token
--   BENCH_FIELDS  the list's profile fields, "id:DataType,id:DataType,..."
--   BENCH_RESULT  where done() writes the counters, as JSON
--
-- Counted per thread: requests sent, new addresses sent, non-2xx answers, and
-- the addresses answered 2xx (from the answer's resourceId, the address), so
-- bench/api.py can check every one of them is in the database.

local path = os.getenv("BENCH_PATH") or "/"
local token = os.getenv("BENCH_TOKEN") or ""
local result_path = os.getenv("BENCH_RESULT")
-- An update re-posts an address at least this many requests old, so its
-- create has been answered (wrk keeps at most one request in flight per connection).
local SETTLED = 64

local fields = {}
for id, data_type in string.gmatch(os.getenv("BENCH_FIELDS") or "", "(%d+):(%a+)") do
  table.insert(fields, { id = tonumber(id), data_type = data_type })
end

local headers = {
  ["Authorization"] = "Bearer " .. token,
  ["Content-Type"] = "application/json",
}

-- setup() runs in wrk's main Lua state, one call per thread, before any request.
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- Per-thread state (each wrk thread has its own Lua state).
id = id or 0 -- wrk's main state calls request() once to check the script
sent, sent_new, non2xx = 0, 0, 0
ok = {} -- n of each bench-t<id>-<n> address answered 2xx, as keys

local function value(data_type, n)
  if data_type == "Numeric" then
    return string.format("%d.%02d", n % 10000, n % 100)
  elseif data_type == "Date" then
    return string.format("%02d/%02d/19%02d", n % 12 + 1, n % 28 + 1, n % 60 + 40)
  elseif data_type == "CheckBox" then
    return (n % 2 == 0) and "on" or "off"
  end
  return "Name " .. n
end

local function body(n, variant)
  local values = {}
  for _, field in ipairs(fields) do
    table.insert(values, string.format(
      '{"segmentationFieldId": %d, "value": "%s"}', field.id, value(field.data_type, n + variant)))
  end
  return string.format(
    '{"emailAddress": "bench-t%d-%d@example.com", "subscriptionState": "Subscribed", '
      .. '"segmentationFieldValues": [%s]}',
    id, n, table.concat(values, ", "))
end

function request()
  sent = sent + 1
  local n, variant
  if sent % 4 == 0 and sent_new > SETTLED then
    n, variant = math.random(1, sent_new - SETTLED), sent -- an update: other values
  else
    sent_new = sent_new + 1
    n, variant = sent_new, 0
  end
  return wrk.format("POST", path, headers, body(n, variant))
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    return
  end
  local n = string.match(body, '"resourceId"%s*:%s*"bench%-t%d+%-(%d+)@')
  ok[tonumber(n) or "unrecognised"] = true
end

function done(summary, latency, requests)
  local out = {}
  for _, thread in ipairs(threads) do
    local numbers = {}
    for n in pairs(thread:get("ok")) do
      table.insert(numbers, type(n) == "number" and tostring(n) or '"' .. n .. '"')
    end
    table.insert(out, string.format(
      '{"id": %d, "sent": %d, "sent_new": %d, "non2xx": %d, "ok": [%s]}',
      thread:get("id"), thread:get("sent"), thread:get("sent_new"), thread:get("non2xx"),
      table.concat(numbers, ",")))
  end
  local e = summary.errors
  local file = assert(io.open(result_path, "w"))
  file:write(string.format(
    '{"threads": [%s], "socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}}\n',
    table.concat(out, ", "), e.connect, e.read, e.write, e.timeout))
  file:close()
end
