//! The Lua scripts behind [`RedisOutbox`](super::RedisOutbox). Each runs atomically in Redis.
//!
//! Keys, under a prefix `P`:
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `P:msg:<id>` | hash | the message's fields, below |
//! | `P:due` | sorted set | pending ids by due time (ms) |
//! | `P:leases` | sorted set | claimed ids by lease expiry (ms); expired ones are pending again |
//! | `P:created` | sorted set | undelivered ids by creation time, for the oldest age |
//! | `P:dead` | sorted set | dead ids by time of death |
//! | `P:ep:<name>:open` / `:dead` | sorted sets | the same per endpoint, for per-endpoint stats |
//! | `P:idem:<key>` | string | the id under an idempotency key; expires a while after delivery |
//!
//! The fields of `P:msg:<id>`: `e` endpoint, `p` payload, `h` headers (JSON), `t` event type,
//! `a` attempts, `c` created (ms), `le` last error, `ik` idempotency key, `g` claim generation,
//! `l` live lease, `r` and `d` the dead reason and time.
//!
//! Time is Redis's own clock (`TIME`), so instances with skewed clocks agree on leases.

/// Shared Lua helpers, prepended to every script.
const PRELUDE: &str = r#"
local P = ARGV[1]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function msg_key(id) return P .. ':msg:' .. id end
local function close(id, endpoint)
  redis.call('ZREM', P .. ':due', id)
  redis.call('ZREM', P .. ':leases', id)
  redis.call('ZREM', P .. ':created', id)
  redis.call('ZREM', P .. ':ep:' .. endpoint .. ':open', id)
end
-- 1 when `token` is the live lease of `id`, 0 when it is stale, -1 when there is no such id.
local function check_lease(id, token)
  local key = msg_key(id)
  local lease = redis.call('HGET', key, 'l')
  if not lease then
    if redis.call('EXISTS', key) == 0 then return -1 end
    return 0
  end
  if lease ~= token then return 0 end
  return 1
end
"#;

/// ARGV: P, count, then per message: id, endpoint, payload, headers, event type, idempotency
/// key, due time in ms ('' for now). Returns id, duplicate flag pairs.
pub(super) const ENQUEUE: &str = r#"
local n = tonumber(ARGV[2])
local now = now_ms()
local out = {}
for i = 0, n - 1 do
  local b = 3 + i * 7
  local id, endpoint, idem, due = ARGV[b], ARGV[b + 1], ARGV[b + 5], ARGV[b + 6]
  local held = false
  if idem ~= '' then held = redis.call('GET', P .. ':idem:' .. idem) end
  if not held and redis.call('EXISTS', msg_key(id)) == 1 then held = id end
  if held then
    out[#out + 1] = held
    out[#out + 1] = 1
  else
    redis.call('HSET', msg_key(id), 'e', endpoint, 'p', ARGV[b + 2], 'h', ARGV[b + 3],
      't', ARGV[b + 4], 'a', 0, 'c', now, 'ik', idem, 'g', 0)
    if due == '' then due = now end
    redis.call('ZADD', P .. ':due', due, id)
    redis.call('ZADD', P .. ':created', now, id)
    redis.call('ZADD', P .. ':ep:' .. endpoint .. ':open', now, id)
    if idem ~= '' then redis.call('SET', P .. ':idem:' .. idem, id) end
    out[#out + 1] = id
    out[#out + 1] = 0
  end
end
return out
"#;

/// ARGV: P, limit, lease ms, window, then endpoints to skip. Returns rows of id, lease,
/// endpoint, payload, headers, event type, attempts, created ms, last error. It looks through
/// at most `window` due ids (the crate's `claim_window`: the limit, plus
/// [`SKIP_WINDOW`](crate::outbox::SKIP_WINDOW) with endpoints to skip), so one stuck
/// endpoint's backlog cannot make a claim slow; skipped messages stay due.
pub(super) const CLAIM: &str = r#"
local limit = tonumber(ARGV[2])
local lease_ms = tonumber(ARGV[3])
local window = tonumber(ARGV[4])
local skip = {}
local skipping = false
for i = 5, #ARGV do
  skip[ARGV[i]] = true
  skipping = true
end
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', P .. ':leases', '-inf', now, 'WITHSCORES',
  'LIMIT', 0, 1000)
for i = 1, #expired, 2 do
  redis.call('ZREM', P .. ':leases', expired[i])
  redis.call('ZADD', P .. ':due', expired[i + 1], expired[i])
end
local ids = redis.call('ZRANGEBYSCORE', P .. ':due', '-inf', now, 'LIMIT', 0, window)
local out = {}
for _, id in ipairs(ids) do
  if #out >= limit then break end
  local key = msg_key(id)
  if redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', P .. ':due', id)
  elseif not (skipping and skip[redis.call('HGET', key, 'e')]) then
    redis.call('ZREM', P .. ':due', id)
    local generation = redis.call('HINCRBY', key, 'g', 1)
    redis.call('HSET', key, 'l', generation)
    redis.call('ZADD', P .. ':leases', now + lease_ms, id)
    local f = redis.call('HMGET', key, 'e', 'p', 'h', 't', 'a', 'c', 'le')
    out[#out + 1] = {id, tostring(generation), f[1] or '', f[2] or '', f[3] or '[]',
      f[4] or '', tonumber(f[5] or 0), tonumber(f[6] or 0), f[7] or ''}
  end
end
return out
"#;

/// ARGV: P, id, lease, dedup window ms. Returns 1, 0 (lease lost) or -1 (no such id).
pub(super) const ACK: &str = r#"
local id = ARGV[2]
local checked = check_lease(id, ARGV[3])
if checked ~= 1 then return checked end
local f = redis.call('HMGET', msg_key(id), 'e', 'ik')
close(id, f[1])
if f[2] and f[2] ~= '' then redis.call('PEXPIRE', P .. ':idem:' .. f[2], ARGV[4]) end
redis.call('DEL', msg_key(id))
return 1
"#;

/// ARGV: P, id, lease, due ms, count attempt ('1'/'0'), has error ('1'/'0'), error.
pub(super) const RESCHEDULE: &str = r#"
local id = ARGV[2]
local checked = check_lease(id, ARGV[3])
if checked ~= 1 then return checked end
local key = msg_key(id)
redis.call('ZREM', P .. ':leases', id)
redis.call('ZADD', P .. ':due', ARGV[4], id)
if ARGV[5] == '1' then redis.call('HINCRBY', key, 'a', 1) end
if ARGV[6] == '1' then redis.call('HSET', key, 'le', ARGV[7]) end
redis.call('HDEL', key, 'l')
return 1
"#;

/// ARGV: P, id, lease, reason.
pub(super) const DEAD_LETTER: &str = r#"
local id = ARGV[2]
local checked = check_lease(id, ARGV[3])
if checked ~= 1 then return checked end
local key = msg_key(id)
local endpoint = redis.call('HGET', key, 'e')
close(id, endpoint)
local now = now_ms()
redis.call('ZADD', P .. ':dead', now, id)
redis.call('ZADD', P .. ':ep:' .. endpoint .. ':dead', now, id)
redis.call('HSET', key, 'r', ARGV[4], 'd', now)
redis.call('HDEL', key, 'l')
return 1
"#;

/// ARGV: P, endpoint ('' for all). Returns pending, in flight, dead, oldest created ms (-1
/// when none), now ms.
pub(super) const STATS: &str = r#"
local endpoint = ARGV[2]
local now = now_ms()
local pending, in_flight, dead, oldest
if endpoint == '' then
  local leased = redis.call('ZCARD', P .. ':leases')
  in_flight = redis.call('ZCOUNT', P .. ':leases', '(' .. now, '+inf')
  pending = redis.call('ZCARD', P .. ':due') + leased - in_flight
  dead = redis.call('ZCARD', P .. ':dead')
  oldest = redis.call('ZRANGE', P .. ':created', 0, 0, 'WITHSCORES')
else
  local open = P .. ':ep:' .. endpoint .. ':open'
  local ids = redis.call('ZRANGE', open, 0, -1)
  in_flight = 0
  for _, id in ipairs(ids) do
    local expiry = redis.call('ZSCORE', P .. ':leases', id)
    if expiry and tonumber(expiry) > now then in_flight = in_flight + 1 end
  end
  pending = #ids - in_flight
  dead = redis.call('ZCARD', P .. ':ep:' .. endpoint .. ':dead')
  oldest = redis.call('ZRANGE', open, 0, 0, 'WITHSCORES')
end
local oldest_ms = -1
if oldest[2] then oldest_ms = tonumber(oldest[2]) end
return {pending, in_flight, dead, oldest_ms, now}
"#;

/// ARGV: P, limit. Returns rows of id, endpoint, payload, headers, event type, attempts,
/// created ms, last error, reason, died ms.
pub(super) const DEAD_LETTERS: &str = r#"
local ids = redis.call('ZRANGE', P .. ':dead', 0, tonumber(ARGV[2]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local f = redis.call('HMGET', msg_key(id), 'e', 'p', 'h', 't', 'a', 'c', 'le', 'r', 'd')
  if f[1] then
    out[#out + 1] = {id, f[1], f[2] or '', f[3] or '[]', f[4] or '', tonumber(f[5] or 0),
      tonumber(f[6] or 0), f[7] or '', f[8] or '', tonumber(f[9] or 0)}
  end
end
return out
"#;

/// ARGV: P, mode ('all', 'endpoint' or 'ids'), then the endpoint or the ids. Returns the count.
pub(super) const REPLAY: &str = r#"
local mode = ARGV[2]
local ids = {}
if mode == 'all' then
  ids = redis.call('ZRANGE', P .. ':dead', 0, -1)
elseif mode == 'endpoint' then
  ids = redis.call('ZRANGE', P .. ':ep:' .. ARGV[3] .. ':dead', 0, -1)
else
  for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local now = now_ms()
local count = 0
for _, id in ipairs(ids) do
  if redis.call('ZSCORE', P .. ':dead', id) then
    local key = msg_key(id)
    local f = redis.call('HMGET', key, 'e', 'c')
    redis.call('ZREM', P .. ':dead', id)
    redis.call('ZREM', P .. ':ep:' .. f[1] .. ':dead', id)
    redis.call('ZADD', P .. ':due', now, id)
    redis.call('ZADD', P .. ':created', f[2], id)
    redis.call('ZADD', P .. ':ep:' .. f[1] .. ':open', f[2], id)
    redis.call('HSET', key, 'a', 0)
    redis.call('HDEL', key, 'r', 'd', 'le')
    count = count + 1
  end
end
return count
"#;

/// A script with the shared prelude.
pub(super) fn script(body: &str) -> redis::Script {
    redis::Script::new(&format!("{PRELUDE}\n{body}"))
}
