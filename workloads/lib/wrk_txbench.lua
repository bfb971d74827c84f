-- wrk_txbench.lua — wrk replays txbench's request stream against a server:
-- the requests come from `txbench --dump-requests=N --live-mb=M` (a file
-- of "<length>\n<request bytes>" records, txbench's varied JSON bodies, 5%
-- of them puts), so every request runs the whole handler. Each wrk thread
-- starts at its own offset and cycles through the file.
--
--   wrk -t2 -c64 -d10s --latency -s wrk_txbench.lua URL -- FILE
--
-- Counts responses by status class; a non-2xx response is reported at the end.

local reqs, n, i = {}, 0, 0
local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

function init(args)
   local path = args[1]
   if not path then error("wrk_txbench.lua: pass the request file after --") end
   local f = assert(io.open(path, "rb"))
   while true do
      local line = f:read("*l")
      if not line then break end
      local len = tonumber(line)
      if not len then error("wrk_txbench.lua: bad length line in " .. path) end
      n = n + 1
      reqs[n] = f:read(len)
   end
   f:close()
   if n == 0 then error("wrk_txbench.lua: no requests in " .. path) end
   i = (id or 0) * 7919 % n
   bad = 0
end

function request()
   i = i % n + 1
   return reqs[i]
end

function response(status, headers, body)
   if status < 200 or status > 299 then bad = bad + 1 end
end

function done(summary, latency, requests)
   local total = 0
   for _, t in ipairs(threads) do total = total + (t:get("bad") or 0) end
   io.write(string.format("non-2xx responses: %d\n", total))
end
