// Lua run inside Redis (EVALSHA through ioredis defineCommand): each script is atomic, so no other client's command
// runs between its read and its write. Times are integer milliseconds of Redis server time (TIME), so every node
// shares one clock and a node whose own clock drifts can neither mint tokens nor keep a dead peer's health alive.

/** Current Redis server time in whole milliseconds. */
const serverNowMs = `
local t = redis.call('TIME')
local server_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Token bucket, line for line takeFromBucket() in live-state.ts.
 * KEYS[1] the bucket's hash; ARGV capacity, refill per second, now in ms or '' for server time, tokens wanted.
 * Returns { granted, remaining, retryAfterMs } as integers (Redis truncates Lua numbers in replies).
 */
export const takeTokenLua = `${serverNowMs}
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local now = tonumber(ARGV[3]) or server_now
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated_ms')
local tokens = capacity
local updated = now
if state[1] and state[2] then
  local elapsed = math.max(0, now - tonumber(state[2]))
  tokens = math.min(capacity, tonumber(state[1]) + elapsed * rate / 1000)
  updated = math.max(tonumber(state[2]), now)
end
local want = tonumber(ARGV[4]) or 1
local granted = math.min(want, math.floor(tokens))
tokens = tokens - granted
local retry = 0
if granted < want then
  retry = math.ceil((1 - tokens) * 1000 / rate)
end
-- %.17g round-trips a double; Lua's default number-to-string (%.14g) would not.
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'updated_ms', string.format('%d', updated))
-- Once refilled to capacity the bucket holds nothing a fresh one would not: let the key expire then.
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) * 1000 / rate) + 1000)
return { granted, math.floor(tokens), retry }
`;

/** KEYS[1] the health hash; ARGV instance, ttl in ms, JSON. Stored as "<expiresAtMs>:<json>". */
export const putHealthLua = `${serverNowMs}
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', server_now + tonumber(ARGV[2])) .. ':' .. ARGV[3])
return 1
`;

/**
 * KEYS[1] the health hash. Returns a flat list instance, json, … of the entries still alive, deleting the expired ones.
 * Per-field TTLs (HPEXPIRE) would do this natively but need Redis 7.4; Debian 12 ships 7.0.
 */
export const getHealthLua = `${serverNowMs}
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  local value = all[i + 1]
  local sep = string.find(value, ':', 1, true)
  local expires = sep and tonumber(string.sub(value, 1, sep - 1))
  if expires and expires > server_now then
    live[#live + 1] = all[i]
    live[#live + 1] = string.sub(value, sep + 1)
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
return live
`;
