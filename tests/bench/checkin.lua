-- wrk script for the check-in burst (tests/bench/checkin_bench.py).
-- wrk -t T -c C -d D -s checkin.lua URL -- <credentials file> <body file> T <done dir> [cookie name]
-- Each line of the credentials file is "<session cookie>\t<CSRF token>" of one signed-in volunteer;
-- thread i of T takes lines i, i+T, i+2T, … in turn, so every volunteer is used once. When a thread's
-- volunteers are all answered it stops; its connections send nothing more meanwhile (`delay`). Should
-- a connection still send one (a run of more than two minutes), it repeats the thread's last volunteer:
-- a second scan, which changes nothing; `done` counts those as extra. The body file holds the JSON body (the same for everyone: the
-- session says who scans). Throughput is timed from the first request sent to the last answer.

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]])
local tv = ffi.new("bench_timeval")
local function now_us()
   ffi.C.gettimeofday(tv, nil)
   return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
end

local threads = {}
local counter = 0

function setup(thread)
   thread:set("index", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   local creds_path, body_path, nthreads = args[1], args[2], tonumber(args[3])
   creds = {}
   local n = 0
   for line in io.lines(creds_path) do
      if n % nthreads == index then
         local cookie, csrf = line:match("^([^\t]+)\t([^\t]+)$")
         table.insert(creds, { cookie, csrf })
      end
      n = n + 1
   end
   local f = io.open(body_path, "r")
   body = f:read("*a")
   f:close()
   done_dir = args[4]
   cookie_name = args[5] or "session"
   sent, answered, extra = 0, 0, 0
   first_us, last_us = 0, 0
   statuses = {}
end

-- Once a thread has handed out all its volunteers, its connections wait (instead of sending more)
-- until the benchmark stops wrk.
function delay()
   if sent >= #creds then
      return 120000
   end
   return 0
end

function request()
   if index == 0 and not verified then
      -- wrk calls request() once on the first thread's state to check what it returns, before any
      -- connection: that call must not use up a volunteer.
      verified = true
      return wrk.format("POST", nil, { ["Content-Type"] = "application/json" }, body)
   end
   if sent == 0 then
      first_us = now_us()
   end
   sent = sent + 1
   local i = sent
   if i > #creds then
      extra = extra + 1
      i = #creds
   end
   local c = creds[i]
   local headers = {
      ["Content-Type"] = "application/json",
      ["Cookie"] = cookie_name .. "=" .. c[1],
      ["X-CSRFToken"] = c[2],
   }
   return wrk.format("POST", nil, headers, body)
end

function response(status, headers, resp_body)
   answered = answered + 1
   statuses[status] = (statuses[status] or 0) + 1
   if status >= 400 and not first_error then
      first_error = status .. " " .. resp_body:sub(1, 300)
   end
   last_us = now_us()
   if answered == #creds then
      -- tell the benchmark this thread is through (it stops wrk when all are)
      local f = io.open(done_dir .. "/" .. index, "w")
      f:close()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local extras, err, first, last = 0, "null", nil, 0
   for _, t in ipairs(threads) do
      extras = extras + (t:get("extra") or 0)
      local f, l = t:get("first_us") or 0, t:get("last_us") or 0
      if f > 0 and (first == nil or f < first) then
         first = f
      end
      if l > last then
         last = l
      end
      local fe = t:get("first_error")
      if fe and err == "null" then
         err = '"' .. fe:gsub('[%c"\\]', " ") .. '"'
      end
   end
   local e = summary.errors
   io.write(string.format(
      'WRK_RESULT {"requests": %d, "duration_us": %d, "burst_us": %d, "extra": %d, "connect": %d, "read": %d, "write": %d,'
         .. ' "status": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d,'
         .. ' "first_error": %s}\n',
      summary.requests, summary.duration, last - (first or last), extras, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, err
   ))
end
