-- wrk script of the benchmark (bench/run.js): POSTs one body file, as fast as the connections go
-- or at a fixed offered rate, and prints the summary as one JSON line for run.js to read.
--   wrk -t1 -c64 -d10s -s bench/wrk-rate.lua <url> -- <requests/s per thread, 0 = no limit> <content-type> <body file> [content-encoding]
-- The body file is sent as it is: for gzip, run.js writes it compressed and passes "gzip".
-- Plain wrk (4.x) has no rate option, so with a rate delay() keeps a schedule: request n of a
-- thread is due at start + n / rate, and a connection that comes free waits until the next due
-- time (or sends at once when the schedule is behind). Latency is measured by wrk from each
-- request's send. Without a rate there is no delay(), so wrk sends its prebuilt request directly.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } kg_timespec;
int clock_gettime(int clk_id, kg_timespec *tp);
]]
local ts = ffi.new("kg_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000 + tonumber(ts.tv_nsec) / 1e6
end

local interval
local due

local function scheduled()
  local t = now_ms()
  if due == nil then due = t end
  due = due + interval
  local d = due - t
  if d < 1 then return 0 end
  return math.floor(d)
end

function init(args)
  local rate = tonumber(args[1])
  wrk.method = "POST"
  wrk.headers["content-type"] = args[2]
  if args[4] ~= nil and args[4] ~= "" then wrk.headers["content-encoding"] = args[4] end
  local f = assert(io.open(args[3], "rb"))
  wrk.body = f:read("*a")
  f:close()
  -- wrk checks for a global delay() after init, per thread.
  if rate > 0 then
    interval = 1000 / rate
    delay = scheduled
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"durationUs":%d,"statusErrors":%d,"socketErrors":%d,"timeouts":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d}\n',
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
