-- meetergo-async: how the shared budget stands, read-only, on Redis's own clock.
--
-- For a forecast (pacing._forecast): when could the k-th next request go. Nothing is
-- changed: entries that stopped counting are skipped, not removed.
--
-- KEYS (the budget's hash tag): 1 log ZSET member -> ms when it stops counting, 2 state HASH
-- ARGV: 1 the limit configured
-- Returns: {now ms, limit in force, ms the budget is paused until (0: not), blocked (0/1),
--           the ms at which each entry of the log stops counting, soonest first...}

local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local limit = tonumber(ARGV[1])
local state = redis.call("HMGET", KEYS[2], "told", "taught", "pause_until", "blocked")
local told, taught = tonumber(state[1]) or 0, tonumber(state[2]) or 0
if told > 0 and told < limit then limit = told end
if taught > 0 and taught < limit then limit = taught end
local reply = { math.floor(now), limit, math.floor(tonumber(state[3]) or 0), tonumber(state[4]) or 0 }
for i, value in ipairs(redis.call("ZRANGEBYSCORE", KEYS[1], "(" .. now, "+inf", "WITHSCORES")) do
  if i % 2 == 0 then reply[#reply + 1] = math.ceil(tonumber(value)) end
end
return reply
