-- wrk script for the outlet redemption bench (tests/bench/outlet_bench.py): like checkin.lua, but each
-- line of the credentials file is "<session cookie>\t<CSRF token>\t<path>\t<JSON body>": one staff
-- member's signed-in session, the outlet's redemption URL and one cart (its own key and member token).
-- wrk -t T -c C -d D -s outlet.lua URL -- <file> T <done dir>
-- Thread i of T takes lines i, i+T, …; every line is sent once. Throughput is first request to last answer.

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
   local path, nthreads = args[1], tonumber(args[2])
   lines = {}
   local n = 0
   for line in io.lines(path) do
      if n % nthreads == index then
         local cookie, csrf, url, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.+)$")
         table.insert(lines, { cookie, csrf, url, body })
      end
      n = n + 1
   end
   done_dir = args[3]
   sent, answered, extra = 0, 0, 0
   first_us, last_us = 0, 0
end

function delay()
   if sent >= #lines then
      return 120000
   end
   return 0
end

function request()
   if index == 0 and not verified then
      verified = true
      return wrk.format("POST", "/healthz", { ["Content-Type"] = "application/json" }, "{}")
   end
   if sent == 0 then
      first_us = now_us()
   end
   sent = sent + 1
   local i = sent
   if i > #lines then
      extra = extra + 1
      i = #lines
   end
   local c = lines[i]
   local headers = {
      ["Content-Type"] = "application/json",
      ["Cookie"] = "session=" .. c[1],
      ["X-CSRFToken"] = c[2],
   }
   return wrk.format("POST", c[3], headers, c[4])
end

function response(status, headers, resp_body)
   answered = answered + 1
   if status >= 400 and not first_error then
      first_error = status .. " " .. resp_body:sub(1, 300)
   end
   if status >= 400 then
      bad = (bad or 0) + 1
   end
   last_us = now_us()
   if answered == #lines then
      local f = io.open(done_dir .. "/" .. index, "w")
      f:close()
      wrk.thread:stop()
   end
end

function done(summary, latency, requests)
   local extras, err, first, last, bads = 0, "null", nil, 0, 0
   for _, t in ipairs(threads) do
      extras = extras + (t:get("extra") or 0)
      bads = bads + (t:get("bad") or 0)
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
      summary.requests, summary.duration, last - (first or last), extras, e.connect, e.read, e.write, bads, e.timeout,
      latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max, err
   ))
end
