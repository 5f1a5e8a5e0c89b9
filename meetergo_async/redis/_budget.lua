-- meetergo-async: one decision about a shared rate budget, on Redis's own clock.
--
-- The budget of one API key is a sliding log, as meetergo's throttler keeps it: at most
-- `limit` requests count at once, each from when it is sent until `window` after its answer
-- (in flight: until `flight + window` after it was sent). One call applies what a process
-- learned since its last call (answers, in any order), then reserves up to `wanted` slots,
-- each with the milliseconds to wait before sending. A slot is reserved in the future when
-- the log is full: it starts when the entry it replaces stops counting, so waiters never
-- poll and never race. Only a decision that needs an answer not yet reported (the budget's
-- first request, a probe of a block, a log full of requests in flight) is asked again.
--
-- Two lanes (pacing._lanes): interactive slots are granted first, bulk ones after, in one
-- call. A bulk slot is reserved at most BULK_AHEAD (or window / limit) ahead, so an
-- interactive call of any process takes a slot freeing later before any bulk request
-- waiting for it; and while interactive requests were sent within the last window (the
-- seen ZSET), bulk slots leave free those the calls expected need before the calls' own
-- slots come back, at least one.
--
-- KEYS (one hash tag): 1 log  ZSET member -> ms when it stops counting
--                      2 state HASH, the fields below
--                      3 accepted ZSET member -> ms sent, answered below 400, last window
--                      4 procs ZSET process -> ms last seen
--                      5 seen  ZSET interactive member -> ms it is sent, last window
-- ARGV: 1 limit, 2 window ms, 3 flight ms, 4 presence ms, 5 process id, 6 generation the
--       process knows ("" for none), 7 "1" when the updates carry the process's whole
--       history, 8 interactive slots wanted, 9 presence (1 hello, -1 goodbye, 0 nothing),
--       10 sequence number of the first slot (interactive ones first, then bulk ones),
--       11 bulk slots wanted, then updates of 8 fields each:
--       kind (A answer, E ended without lesson, S in flight, R release), member, ms since it
--       ended, ms since it was sent, status (0: no answer), Retry-After ms (-1 none, -2 too
--       long to share), limit told by X-RateLimit-Limit (-1 no such header, 0 unusable),
--       stamp (2 * blocks + 1 when granted during a block).
-- Returns: {"ok" | "resync", generation, now ms, limit in force, processes seen recently,
--           stamp, ms until asking again (-1: all granted), heard (0/1), interactive
--           slots granted, waits of the granted slots in ms (interactive, then bulk)...}

local MARGIN = $margin
local POLL = $poll
local BLOCK_PROBE_FIRST = $probe_first
local BLOCK_PROBE_GROWTH = $probe_growth
local BLOCK_PROBE_CAP = $probe_cap
local RECOVERY_STEP = $recovery_step
local RECOVERY_WINDOWS = $recovery_windows
local COUNT_SLACK = $count_slack
local BULK_AHEAD = $bulk_ahead

local LOG, STATE, ACCEPTED, PROCS, SEEN = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local flight, presence = tonumber(ARGV[3]), tonumber(ARGV[4])
local pid, known, full = ARGV[5], ARGV[6], ARGV[7] == "1"
local wanted, hello, first = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local wanted_bulk = tonumber(ARGV[11])

local clock = redis.call("TIME")
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
-- An entry scored above this has had no answer (Redis keeps 14 digits of a script's
-- number: a millisecond of slack).
local answered_by = now + window + MARGIN + 1

local TEXT = { gen = true, probe = true }
local FIELDS = {
  "gen", "heard", "told", "taught", "refused_level", "confirmed", "best", "clean_since",
  "blocks", "blocked", "pause_until", "refused_at", "backoff", "probe", "probe_until",
  "accepted",
}
local s = {}
local stored = redis.call("HMGET", STATE, unpack(FIELDS))
for i, name in ipairs(FIELDS) do
  if TEXT[name] then s[name] = stored[i] or "" else s[name] = tonumber(stored[i]) or 0 end
end
if s.gen == "" then
  s.gen = clock[1] .. "." .. clock[2]
  s.clean_since, s.backoff = now, BLOCK_PROBE_FIRST
end
local learn = known == "" or known == s.gen

redis.call("ZREMRANGEBYSCORE", LOG, "-inf", now)
redis.call("ZREMRANGEBYSCORE", ACCEPTED, "-inf", now - window)
redis.call("ZREMRANGEBYSCORE", SEEN, "-inf", now - window)

local function same(a, b)
  return math.abs(a - b) <= COUNT_SLACK * limit + 1
end

-- A limit taught by 429s without headers (see _window_log.Lesson).
local function lesson_blocked(accepted, at)
  s.clean_since = at
  if accepted == 0 or (accepted < s.best and not same(accepted, s.best)) then return end
  local confirmed = s.refused_level > 0 and same(accepted + 1, s.refused_level)
  s.confirmed = confirmed and 1 or 0
  s.taught = math.max(1, accepted)
  s.refused_level = confirmed and 0 or accepted + 1
end

local function lesson_quiet(surely, at)
  s.best = math.max(s.best, surely)
  if s.refused_level > 0 and surely >= s.refused_level then s.refused_level = 0 end
  if s.taught == 0 or s.confirmed == 1 then return end
  if at - s.clean_since >= RECOVERY_WINDOWS * window then
    local step = math.max(1, math.ceil(RECOVERY_STEP * limit))
    s.taught = (s.taught + step >= limit) and 0 or s.taught + step
    s.clean_since = at
  end
end

-- A 429: the key is blocked until Retry-After, or until a probe gets through.
local function refused(blocks, probe, retry, ended)
  if s.blocked == 0 then
    if blocks < s.blocks then return end -- sent before the last block ended
    s.blocks, s.blocked, s.refused_at, s.backoff = s.blocks + 1, 1, ended, BLOCK_PROBE_FIRST
    s.accepted = redis.call("ZCARD", ACCEPTED)
  elseif not (probe and blocks == s.blocks) then
    return -- sent before this block was known: the same refusal again
  end
  local pause
  if retry >= 0 then
    pause = ended + retry
  else
    pause = ended + s.backoff
    s.backoff = math.min(BLOCK_PROBE_GROWTH * s.backoff, BLOCK_PROBE_CAP * window)
    local expected_end = s.refused_at + window -- a block of one window
    if ended < expected_end then pause = math.min(pause, expected_end) end
  end
  s.pause_until = math.max(s.pause_until, pause)
end

local function answered(member, blocks, probe, status, told, ended, sent)
  if s.blocked == 1 and probe and blocks == s.blocks then
    -- The first answer after a block: the server started a fresh log with it.
    s.blocked = 0
    redis.call("ZREMRANGEBYSCORE", LOG, "-inf", answered_by)
    redis.call("ZADD", LOG, ended + window + MARGIN, member)
    redis.call("DEL", ACCEPTED)
    if status < 400 then redis.call("ZADD", ACCEPTED, sent, member) end
    if s.told == 0 then lesson_blocked(s.accepted, ended) end
  elseif s.blocked == 1 and status < 400 then
    s.accepted = s.accepted + 1 -- sent before the refusal came back: counted before it
  end
  if told >= 0 then
    if told > 0 and told ~= s.told then s.told, s.taught, s.refused_level = told, 0, 0 end
  elseif s.blocked == 0 and status < 400 then
    lesson_quiet(redis.call("ZCARD", ACCEPTED), ended)
  end
end

local function apply(kind, member, since_end, since_sent, status, retry, told, stamp)
  if kind == "R" then
    redis.call("ZREM", LOG, member)
    redis.call("ZREM", SEEN, member)
    if s.probe == member then s.probe = "" end
    return
  end
  local sent = now - since_sent
  if kind == "S" then
    redis.call("ZADD", LOG, sent + flight + window + MARGIN, member)
    return
  end
  local ended = now - since_end
  if s.probe == member then s.probe = "" end
  redis.call("ZADD", LOG, ended + window + MARGIN, member)
  if kind ~= "A" or status == 0 or not learn then return end
  s.heard = 1
  local blocks, probe = math.floor(stamp / 2), stamp % 2 == 1
  if status == 429 then
    if retry ~= -2 then refused(blocks, probe, retry, ended) end
  else
    if status < 400 then redis.call("ZADD", ACCEPTED, sent, member) end
    answered(member, blocks, probe, status, told, ended, sent)
  end
end

for i = 12, #ARGV, 8 do
  apply(ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]),
    tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), tonumber(ARGV[i + 6]), tonumber(ARGV[i + 7]))
end

local function limit_now()
  local n = limit
  if s.told > 0 and s.told < n then n = s.told end
  if s.taught > 0 and s.taught < n then n = s.taught end
  return n
end

-- When the interactive requests answered stop counting, soonest first: the slots that come
-- back for the calls (a bulk job takes its own back). Read once a call: granting bulk slots
-- does not change them.
local coming_back = nil
local function interactive_expiries()
  if coming_back then return coming_back end
  coming_back = {}
  for _, member in ipairs(redis.call("ZRANGE", SEEN, 0, -1)) do
    local expiry = tonumber(redis.call("ZSCORE", LOG, member))
    if expiry and expiry > now and expiry <= answered_by then
      coming_back[#coming_back + 1] = expiry
    end
  end
  table.sort(coming_back)
  return coming_back
end

-- The slots a bulk request leaves free for ``expected`` interactive calls a window, and ms
-- until fewer may do (pacing._lanes.reserve, the same arithmetic).
local function reserve(expected)
  local rate = expected / window
  local horizon = now + window
  local most, whole, freed, entering = 0, true, 0, nil
  local bounded = false
  for _, expiry in ipairs(interactive_expiries()) do
    if expiry > horizon then
      entering = expiry - window
      break
    end
    if rate * window - freed <= most then
      bounded = true
      break
    end
    if rate * (expiry - now) - freed > most then most, whole = rate * (expiry - now) - freed, false end
    freed = freed + 1
  end
  if not bounded and rate * window - freed >= most then most, whole = rate * window - freed, true end
  local needed = math.max(1, math.ceil(most - 1e-9))
  if whole then return needed, entering and math.max(entering - now, 1) or window end
  return needed, math.max((most - (needed - 1)) / rate, 1)
end

-- When the next request of a lane may go: ms to wait, or nil and ms until asking again.
local function decide(bulk)
  if s.pause_until > now then return nil, s.pause_until - now end
  if s.blocked == 1 then -- one probe at a time, whatever the log
    if s.probe ~= "" and s.probe_until > now then return nil, POLL end
    return 0
  end
  local live = redis.call("ZCARD", LOG)
  local flying = redis.call("ZCOUNT", LOG, "(" .. answered_by, "+inf")
  if s.heard == 0 and flying > 0 then return nil, POLL end -- the first answer tells the limit
  if s.refused_level > 0 and live >= s.refused_level - 1 and flying > 0 then
    return nil, POLL -- at a level once refused: one request at a time
  end
  local cap = limit_now()
  if bulk then
    local seen = redis.call("ZCARD", SEEN)
    if seen > 0 then
      local spare, recheck = reserve(seen + 1) -- and the next one
      if live >= cap - spare then
        -- Again when a slot frees, fewer are needed, or the oldest call seen is a window old.
        local oldest = tonumber(redis.call("ZRANGE", SEEN, 0, 0, "WITHSCORES")[2])
        local again = math.min(recheck, math.max(oldest + window - now, 1))
        local soonest = redis.call("ZRANGE", LOG, 0, 0, "WITHSCORES")[2]
        if soonest then
          local frees = tonumber(soonest)
          again = math.min(again, frees > answered_by and POLL or math.max(frees - now, 1))
        end
        return nil, again
      end
    end
  end
  if live < cap then return 0 end
  local entry = redis.call("ZRANGE", LOG, live - cap, live - cap, "WITHSCORES")
  local frees = tonumber(entry[2])
  if frees > answered_by then return nil, POLL end -- it frees a window after its answer
  local ahead = math.min(BULK_AHEAD, window / cap) -- no more than a slot's share of the window
  if bulk and frees - now > ahead then return nil, frees - now - ahead end
  return frees - now
end

local waits, retry, granted = {}, -1, 0
-- Grant up to ``count`` slots of a lane, numbered from ``seq``; false when one is refused.
local function grant(count, seq, bulk)
  for i = 1, count do
    local wait, again = decide(bulk)
    if wait == nil then
      retry = again
      return false
    end
    local member = pid .. ":" .. (seq + i - 1)
    redis.call("ZADD", LOG, now + wait + flight + window + MARGIN, member)
    if not bulk then redis.call("ZADD", SEEN, now + wait, member) end
    if s.blocked == 1 then s.probe, s.probe_until = member, now + flight + MARGIN end
    waits[#waits + 1] = math.ceil(wait)
  end
  return true
end
if learn or full then
  if grant(wanted, first, false) then
    granted = #waits
    grant(wanted_bulk, first + wanted, true)
  else
    granted = #waits
  end
end

if hello == 1 then
  redis.call("ZADD", PROCS, now, pid)
  redis.call("ZREMRANGEBYSCORE", PROCS, "-inf", now - presence)
elseif hello == -1 then
  redis.call("ZREM", PROCS, pid)
end
local processes = redis.call("ZCARD", PROCS)

local flat = {}
for _, name in ipairs(FIELDS) do
  flat[#flat + 1] = name
  flat[#flat + 1] = s[name]
end
redis.call("HSET", STATE, unpack(flat))
local keep = math.ceil(flight + 2 * window + presence)
for _, key in ipairs(KEYS) do redis.call("PEXPIRE", key, keep) end

local status = (learn or full) and "ok" or "resync"
if status == "resync" then retry = 0 end
local reply = { status, s.gen, math.floor(now), limit_now(), processes,
  2 * s.blocks + s.blocked, math.ceil(retry), s.heard, granted }
for _, wait in ipairs(waits) do reply[#reply + 1] = wait end
return reply
