// The registry's Lua scripts as C++ raw strings. Every script is the shared
// prelude (time, key helpers, pin and eviction helpers) followed by its own
// body. Key schema and contracts: redis_store.h. Booleans never go into a
// reply table (Lua false would end the array): they are sent as 0/1.
#include "registry/redis_scripts.h"

namespace sp::redis_scripts {
namespace {

const char* kPrelude = R"LUA(
local P = ARGV[1]
local T = redis.call('TIME')
local NOW = tonumber(T[1]) * 1000 + math.floor(tonumber(T[2]) / 1000)

local function hash(key)
  local h = redis.call('HGETALL', key)
  if #h == 0 then return nil end
  local t = {}
  for i = 1, #h, 2 do t[h[i]] = h[i + 1] end
  return t
end

-- An origin's hash with its liveness: hb_alive while its oa: key lives
-- (a Redis TTL), down while its passive-health mark lasts.
local function origin(server)
  local o = hash(P .. 'o:' .. server)
  if not o then return nil end
  o.server = server
  o.hb_alive = redis.call('EXISTS', P .. 'oa:' .. server) == 1
  o.down = tonumber(o.du or '0') > NOW
  return o
end

-- Live clients of a stream: the counts of every live proxy holding some.
local function stream_clients(stream)
  local c = 0
  for _, px in ipairs(redis.call('SMEMBERS', P .. 'ph:' .. stream)) do
    if redis.call('EXISTS', P .. 'px:' .. px) == 1 then
      for p = 0, 4 do c = c + tonumber(redis.call('HGET', P .. 'pc:' .. px, p .. '|' .. stream) or '0') end
    end
  end
  return c
end

-- The pick rule's load of an origin (the same as registry.cpp's): the sum
-- over its live pins of max(1, live clients), recomputed at most every
-- LOAD_MS, plus the streams picked for it since (ol:<server> n); and, taken
-- at the same refresh, its bytes per second summed over the live proxies'
-- reports (pr:<proxy>, ol:<server> r). Returns load, rate.
local LOAD_MS = 2000
local function origin_load(server)
  local k = P .. 'ol:' .. server
  local v = redis.call('HMGET', k, 'l', 't', 'n', 'r')
  local t = tonumber(v[2] or '')
  if t and NOW - t < LOAD_MS and NOW >= t then
    return math.max(0, tonumber(v[1]) + tonumber(v[3])), tonumber(v[4] or '0') or 0
  end
  local osk = P .. 'os:' .. server
  redis.call('ZREMRANGEBYSCORE', osk, '-inf', NOW)
  local l = 0
  for _, s in ipairs(redis.call('ZRANGE', osk, 0, -1)) do l = l + math.max(1, stream_clients(s)) end
  local r = 0
  for _, px in ipairs(redis.call('SMEMBERS', P .. 'proxies')) do
    if redis.call('EXISTS', P .. 'px:' .. px) == 1 then
      r = r + (tonumber(redis.call('HGET', P .. 'pr:' .. px, server) or '0') or 0)
    end
  end
  redis.call('HSET', k, 'l', l, 't', NOW, 'n', 0, 'r', r)
  redis.call('PEXPIRE', k, 60000)
  return l, r
end

-- The pick load in bytes-per-second units (registry.h scaled_load): load x U
-- + rate; U = 0 counts no bytes.
local function scaled_load(l, r, u)
  if u <= 0 then return l end
  return l * u + r
end

local function weight(o)
  local wo = tonumber(o.wo or '0') or 0
  if wo > 0 then return wo end
  return tonumber(o.w or '1') or 1
end

-- with_clients: also sum the live clients of its streams (costs a look-up
-- per stream and holder: operators' listings only).
local function origin_reply(o, fail_timeout, with_streams, with_clients)
  local fails = tonumber(o.f or '0')
  if NOW - tonumber(o.fw or '0') >= fail_timeout then fails = 0 end
  local down_for, reason = 0, ''
  if o.down then down_for = tonumber(o.du) - NOW; reason = o.dr or '' end
  local streams, clients = {}, 0
  local load, rate = origin_load(o.server)
  if with_streams then
    streams = redis.call('ZRANGEBYSCORE', P .. 'os:' .. o.server, NOW, '+inf')
    if with_clients then
      for _, s in ipairs(streams) do clients = clients + stream_clients(s) end
    end
  end
  return {o.server, o.sv or '', o.pid or '', o.dev or '', o.ip or '',
          o.e0 or '', o.e1 or '', o.e2 or '', o.e3 or '', o.e4 or '',
          o.hb_alive and 1 or 0, o.down and 1 or 0, reason, down_for, fails,
          tonumber(o.hbi or '0'), NOW - tonumber(o.hb or NOW), tonumber(o.reg or NOW), streams,
          o.drain == '1' and 1 or 0, o.ovl == '1' and 1 or 0, o.cpu or '-1', o.l1 or '-1',
          tonumber(o.w or '1') or 1, tonumber(o.wo or '0') or 0, load, clients, rate}
end

-- A use of a pin: it expires `ttl` from now; the load and eviction indexes
-- follow.
local function pin_ttl(stream, server, ttl)
  local exp = NOW + ttl
  redis.call('PEXPIRE', P .. 'p:' .. stream, ttl)
  redis.call('ZADD', P .. 'pins', exp, stream)
  local osk = P .. 'os:' .. server
  redis.call('ZADD', osk, exp, stream)
  local keep = redis.call('PTTL', P .. 'o:' .. server)
  if keep > 0 then redis.call('PEXPIRE', osk, math.max(keep, ttl)) end
end

-- Clients of a stream held by a live proxy (dead holders are dropped).
local function has_clients(stream)
  local hk = P .. 'ph:' .. stream
  for _, px in ipairs(redis.call('SMEMBERS', hk)) do
    if redis.call('EXISTS', P .. 'px:' .. px) == 1 then return true end
    redis.call('SREM', hk, px)
  end
  return false
end

local function drop_pin(stream)
  local o = redis.call('HGET', P .. 'p:' .. stream, 'o')
  redis.call('DEL', P .. 'p:' .. stream, P .. 'ph:' .. stream)
  redis.call('ZREM', P .. 'pins', stream)
  redis.call('ZREM', P .. 'pp', stream)
  if o then redis.call('ZREM', P .. 'os:' .. o, stream) end
  redis.call('INCR', P .. 'evicted_pins')
end

-- Room for one more pin under max_pins: expired entries leave the indexes,
-- then the oldest pending pin is evicted, else the soonest-expiring pin no
-- live proxy holds clients of. False when every pin is live.
local function room_for_pin(max_pins, pending_ttl)
  redis.call('ZREMRANGEBYSCORE', P .. 'pins', '-inf', NOW)
  redis.call('ZREMRANGEBYSCORE', P .. 'pp', '-inf', NOW - pending_ttl)
  if redis.call('ZCARD', P .. 'pins') < max_pins then return true end
  for _, s in ipairs(redis.call('ZRANGE', P .. 'pp', 0, 15)) do
    if redis.call('HGET', P .. 'p:' .. s, 'st') == 'p' then drop_pin(s) return true end
    redis.call('ZREM', P .. 'pp', s)
  end
  for _, s in ipairs(redis.call('ZRANGE', P .. 'pins', 0, 15)) do
    if not has_clients(s) then drop_pin(s) return true end
  end
  return false
end
)LUA";

// ARGV: P, server, service, pid, device_id, ip, e0..e4, origin_ttl, heartbeat_misses,
//       weight, cpu_percent, load_1m, cpu_limit
const char* kRegister = R"LUA(
local server = ARGV[2]
local k = P .. 'o:' .. server
local origin_ttl, misses = tonumber(ARGV[12]), tonumber(ARGV[13])
local rmk = P .. 'rm:' .. server
local removed = redis.call('GET', rmk)
if removed then
  if removed == ARGV[3] then return {'removed', redis.call('PTTL', rmk)} end
  redis.call('DEL', rmk)
  redis.call('ZREM', P .. 'rms', server)
end
local cur = hash(k)
local function learn(o)
  local n = tonumber(o.hbn or '0') + 1
  local iv = tonumber(o.hbi or '0')
  if n > 1 then
    local gap = math.max(1000, math.min(3600000, NOW - tonumber(o.hb or NOW)))
    if iv == 0 then iv = gap else iv = math.floor((3 * iv + gap) / 4) end
  end
  return n, iv
end
local what, hbn, hbi, reg, keep_health = 'registered', 0, 0, NOW, false
if cur then
  if cur.sv ~= ARGV[3] or cur.pid ~= ARGV[4] then
    what = 'restarted'
    hbn, hbi = tonumber(cur.hbn or '0'), tonumber(cur.hbi or '0')
  else
    local same = cur.ip == ARGV[6]
    for p = 0, 4 do if (cur['e' .. p] or '') ~= ARGV[7 + p] then same = false end end
    what = same and 'heartbeat' or 'changed'
    hbn, hbi = learn(cur)
    reg = tonumber(cur.reg or NOW)
    keep_health = true
  end
end
if not keep_health then redis.call('DEL', k) end
-- Overload with hysteresis (registry.h next_overloaded); the operator's
-- drain and weight override outlive restarts.
local cpu, limit = tonumber(ARGV[15]) or -1, tonumber(ARGV[17]) or 0
local over = false
if limit > 0 and cpu >= 0 then
  over = cpu > limit or (keep_health and cur.ovl == '1' and cpu >= limit - 10)
end
if cur and not keep_health then
  redis.call('HSET', k, 'drain', cur.drain or '0', 'wo', cur.wo or '0')
end
redis.call('HSET', k, 'sv', ARGV[3], 'pid', ARGV[4], 'dev', ARGV[5], 'ip', ARGV[6],
           'e0', ARGV[7], 'e1', ARGV[8], 'e2', ARGV[9], 'e3', ARGV[10], 'e4', ARGV[11],
           'hb', NOW, 'hbn', hbn, 'hbi', hbi, 'reg', reg,
           'w', ARGV[14], 'cpu', ARGV[15], 'l1', ARGV[16], 'ovl', over and 1 or 0)
local dead_after = origin_ttl
if hbi > 0 and misses > 0 then dead_after = math.min(origin_ttl, hbi * misses) end
redis.call('SET', P .. 'oa:' .. server, 1, 'PX', dead_after)
redis.call('PEXPIRE', k, dead_after + origin_ttl)
redis.call('PEXPIRE', P .. 'os:' .. server, dead_after + origin_ttl)
redis.call('SADD', P .. 'origins', server)
if cur and (cur.ovl == '1') ~= over then what = what .. (over and ',overloaded' or ',recovered') end
return {what, dead_after}
)LUA";

// ARGV: P, server, op (drain|undrain|weight|remove), weight, origin_remove_ms, max_removed
const char* kControl = R"LUA(
local server, op = ARGV[2], ARGV[3]
local k = P .. 'o:' .. server
if redis.call('EXISTS', k) == 0 then return 'not_found' end
if op == 'drain' then
  redis.call('HSET', k, 'drain', 1)
elseif op == 'undrain' then
  redis.call('HSET', k, 'drain', 0)
elseif op == 'weight' then
  redis.call('HSET', k, 'wo', tonumber(ARGV[4]))
elseif op == 'remove' then
  local sv = redis.call('HGET', k, 'sv') or ''
  for _, s in ipairs(redis.call('ZRANGE', P .. 'os:' .. server, 0, -1)) do
    if redis.call('HGET', P .. 'p:' .. s, 'o') == server then
      redis.call('DEL', P .. 'p:' .. s)
      redis.call('ZREM', P .. 'pins', s)
      redis.call('ZREM', P .. 'pp', s)
    end
  end
  redis.call('DEL', k, P .. 'oa:' .. server, P .. 'os:' .. server, P .. 'ol:' .. server)
  redis.call('SREM', P .. 'origins', server)
  local ms = tonumber(ARGV[5])
  redis.call('SET', P .. 'rm:' .. server, sv, 'PX', ms)
  redis.call('ZADD', P .. 'rms', NOW, server)
  redis.call('ZREMRANGEBYSCORE', P .. 'rms', '-inf', NOW - ms)
  while redis.call('ZCARD', P .. 'rms') > tonumber(ARGV[6]) do
    local old = redis.call('ZRANGE', P .. 'rms', 0, 0)[1]
    redis.call('ZREM', P .. 'rms', old)
    redis.call('DEL', P .. 'rm:' .. old)
  end
else
  return redis.error_reply('unknown origin operation ' .. op)
end
return 'ok'
)LUA";

// ARGV: P, fail_timeout, with_clients ('1': each origin's live client count)
const char* kOrigins = R"LUA(
local out = {}
for _, s in ipairs(redis.call('SMEMBERS', P .. 'origins')) do
  local o = origin(s)
  if not o then
    redis.call('SREM', P .. 'origins', s)
    redis.call('DEL', P .. 'os:' .. s)
  else
    table.insert(out, origin_reply(o, tonumber(ARGV[2]), true, ARGV[3] == '1'))
  end
end
return out
)LUA";

// ARGV: P, stream, proto, also ('' = none), session_ttl, pending_ttl, max_pins, fail_timeout, protocol name,
//       pick_bytes_per_client
const char* kPick = R"LUA(
local stream, proto, also = ARGV[2], ARGV[3], ARGV[4]
local session_ttl, pending_ttl = tonumber(ARGV[5]), tonumber(ARGV[6])
local max_pins, fail_timeout = tonumber(ARGV[7]), tonumber(ARGV[8])
local pk = P .. 'p:' .. stream
local function serves(o)
  return (o['e' .. proto] or '') ~= '' and (also == '' or (o['e' .. also] or '') ~= '')
end
local pin = redis.call('HMGET', pk, 'o', 'st')
local old = pin[1]
if old then
  local o = origin(old)
  if o and o.hb_alive then
    local ok = serves(o)
    if (ok and not o.down and o.drain ~= '1') or has_clients(stream) then
      if not ok then
        return redis.error_reply('origin ' .. old .. ' holds stream ' .. stream .. ' and has no ' .. ARGV[9] .. ' endpoint')
      end
      pin_ttl(stream, old, pin[2] == 'p' and pending_ttl or session_ttl)
      return {'sticky', origin_reply(o, fail_timeout, false)}
    end
  end
end
-- The pick rule (registry.cpp): eligible = alive, not down, not draining,
-- not overloaded; the lowest load / weight, ties to the smallest server id;
-- with none eligible, the best down or overloaded one (never a draining one).
local live, fallback = {}, {}
for _, s in ipairs(redis.call('SMEMBERS', P .. 'origins')) do
  local o = origin(s)
  if not o then
    redis.call('SREM', P .. 'origins', s)
  elseif o.hb_alive and serves(o) and o.drain ~= '1' then
    if o.down or o.ovl == '1' then table.insert(fallback, o) else table.insert(live, o) end
  end
end
local cands = live
if #cands == 0 then cands = fallback end
if #cands == 0 then return redis.error_reply('no alive origin serves ' .. ARGV[9]) end
local u = tonumber(ARGV[10]) or 0
local chosen, cl, cw = nil, 0, 1
for _, o in ipairs(cands) do
  local l0, r = origin_load(o.server)
  local l, w = scaled_load(l0, r, u), weight(o)
  if chosen == nil or l * cw < cl * w or (l * cw == cl * w and o.server < chosen.server) then
    chosen, cl, cw = o, l, w
  end
end
redis.call('HINCRBY', P .. 'ol:' .. chosen.server, 'n', 1)
if not old then
  if not room_for_pin(max_pins, pending_ttl) then
    return redis.error_reply('registry full: ' .. max_pins .. ' streams')
  end
elseif old ~= chosen.server then
  redis.call('ZREM', P .. 'os:' .. old, stream)
  -- The moved stream no longer weighs on its old origin (registry.cpp too).
  if redis.call('EXISTS', P .. 'ol:' .. old) == 1 then redis.call('HINCRBY', P .. 'ol:' .. old, 'n', -1) end
end
redis.call('HSET', pk, 'o', chosen.server, 'st', 'p', 't', NOW)
pin_ttl(stream, chosen.server, pending_ttl)
redis.call('ZADD', P .. 'pp', NOW, stream)
return {old and 'moved' or 'new', origin_reply(chosen, fail_timeout, false)}
)LUA";

// ARGV: P, stream, server, session_ttl, pending_ttl, max_pins
const char* kConfirm = R"LUA(
local stream, server = ARGV[2], ARGV[3]
local session_ttl, pending_ttl, max_pins = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
if redis.call('EXISTS', P .. 'o:' .. server) == 0 then
  return redis.error_reply('origin ' .. server .. ' is gone')
end
local pk = P .. 'p:' .. stream
local pin = redis.call('HMGET', pk, 'o', 'st')
if pin[1] and pin[1] ~= server then return {'moved', pin[1]} end
local what = 'confirmed'
if not pin[1] then
  if not room_for_pin(max_pins, pending_ttl) then
    return redis.error_reply('registry full: ' .. max_pins .. ' streams')
  end
  redis.call('HSET', pk, 'o', server, 'st', 'c', 't', NOW)
  what = 'remade'
else
  if pin[2] == 'c' then what = 'used' end
  redis.call('HSET', pk, 'st', 'c')
end
redis.call('ZREM', P .. 'pp', stream)
pin_ttl(stream, server, session_ttl)
return {what, server}
)LUA";

// ARGV: P, server, reason, max_fails, fail_timeout
const char* kReportFailure = R"LUA(
local k = P .. 'o:' .. ARGV[2]
local max_fails, ft = tonumber(ARGV[4]), tonumber(ARGV[5])
if max_fails <= 0 or redis.call('EXISTS', k) == 0 then return {'ignored', 0} end
local f = redis.call('HMGET', k, 'f', 'fw', 'du')
local fails, fw = tonumber(f[1] or '0'), tonumber(f[2] or '0')
if fails == 0 or NOW - fw >= ft then fails = 0; fw = NOW end
fails = fails + 1
if fails < max_fails then
  redis.call('HSET', k, 'f', fails, 'fw', fw)
  return {'counted', fails}
end
local was_down = tonumber(f[3] or '0') > NOW
redis.call('HSET', k, 'f', 0, 'fw', fw, 'du', NOW + ft, 'dr', ARGV[3])
return {was_down and 'still_down' or 'down', fails}
)LUA";

// ARGV: P, server
const char* kReportSuccess = R"LUA(
local k = P .. 'o:' .. ARGV[2]
if redis.call('EXISTS', k) == 0 then return 'ignored' end
local du = tonumber(redis.call('HGET', k, 'du') or '0')
redis.call('HSET', k, 'f', 0)
if du == 0 then return 'ok' end
redis.call('HSET', k, 'du', 0, 'dr', '')
if du > NOW then return 'up' end
return 'ok'
)LUA";

// ARGV: P, proxy, stream, proto, delta, proxy_ttl, session_ttl, pending_ttl
const char* kAddClient = R"LUA(
local proxy, stream, proto, delta = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local proxy_ttl, session_ttl, pending_ttl = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local ck = P .. 'pc:' .. proxy
local n = redis.call('HINCRBY', ck, proto .. '|' .. stream, delta)
if n <= 0 then redis.call('HDEL', ck, proto .. '|' .. stream); n = 0 end
local any = false
for p = 0, 4 do
  if redis.call('HEXISTS', ck, p .. '|' .. stream) == 1 then any = true; break end
end
local hk = P .. 'ph:' .. stream
if any then
  redis.call('SADD', hk, proxy)
  redis.call('PEXPIRE', hk, session_ttl + proxy_ttl)
else
  redis.call('SREM', hk, proxy)
end
redis.call('SET', P .. 'px:' .. proxy, 1, 'PX', proxy_ttl)
redis.call('PEXPIRE', ck, proxy_ttl)
redis.call('SADD', P .. 'proxies', proxy)
local pin = redis.call('HMGET', P .. 'p:' .. stream, 'o', 'st')
if pin[1] then pin_ttl(stream, pin[1], pin[2] == 'p' and pending_ttl or session_ttl) end
return n
)LUA";

// ARGV: P, proxy, proxy_ttl, session_ttl, with_counts ('1'/'0'), nrates (-1 =
//       none sent), server, bps (nrates pairs), field, count, field, count...
// With the '1', the fields ("<proto>|<stream>") and counts that follow are
// this proxy's whole client count (its host's shared-memory table): they
// replace its pc: hash, so counts lost by Redis (a restart, an outage longer
// than proxy_ttl) or left by a crashed worker are exact again. The rates
// (this proxy's measured bytes per second per origin) replace its pr: hash
// the same way; both expire with the proxy.
const char* kProxyHeartbeat = R"LUA(
local proxy, proxy_ttl, session_ttl = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local ck = P .. 'pc:' .. proxy
local rk = P .. 'pr:' .. proxy
local nrates = tonumber(ARGV[6]) or -1
local first = 7 + 2 * math.max(0, nrates)
if nrates >= 0 then
  redis.call('DEL', rk)
  for i = 7, first - 1, 2 do
    local b = tonumber(ARGV[i + 1])
    if b and b > 0 then redis.call('HSET', rk, ARGV[i], b) end
  end
end
redis.call('PEXPIRE', rk, proxy_ttl)
if ARGV[5] == '1' then
  local before = {}
  for _, f in ipairs(redis.call('HKEYS', ck)) do
    before[string.sub(f, string.find(f, '|', 1, true) + 1)] = true
  end
  redis.call('DEL', ck)
  local now = {}
  for i = first, #ARGV - 1, 2 do
    local f, c = ARGV[i], tonumber(ARGV[i + 1])
    if c and c > 0 then
      redis.call('HSET', ck, f, c)
      local stream = string.sub(f, string.find(f, '|', 1, true) + 1)
      if not now[stream] then
        now[stream] = true
        redis.call('SADD', P .. 'ph:' .. stream, proxy)
      end
    end
  end
  for stream in pairs(before) do
    if not now[stream] then redis.call('SREM', P .. 'ph:' .. stream, proxy) end
  end
end
redis.call('SET', P .. 'px:' .. proxy, 1, 'PX', proxy_ttl)
redis.call('PEXPIRE', ck, proxy_ttl)
redis.call('SADD', P .. 'proxies', proxy)
local seen, n = {}, 0
for _, f in ipairs(redis.call('HKEYS', ck)) do
  local stream = string.sub(f, string.find(f, '|', 1, true) + 1)
  if not seen[stream] then
    seen[stream] = true
    n = n + 1
    local pin = redis.call('HMGET', P .. 'p:' .. stream, 'o', 'st')
    if pin[1] and pin[2] == 'c' then pin_ttl(stream, pin[1], session_ttl) end
    redis.call('PEXPIRE', P .. 'ph:' .. stream, session_ttl + proxy_ttl)
  end
end
return n
)LUA";

// ARGV: P
const char* kStreams = R"LUA(
redis.call('ZREMRANGEBYSCORE', P .. 'pins', '-inf', NOW)
local pins = {}
for _, s in ipairs(redis.call('ZRANGE', P .. 'pins', 0, -1)) do
  local p = redis.call('HMGET', P .. 'p:' .. s, 'o', 'st', 't')
  if p[1] then table.insert(pins, {s, p[1], p[2] or 'p', tonumber(p[3] or NOW)}) end
end
local counts = {}
for _, px in ipairs(redis.call('SMEMBERS', P .. 'proxies')) do
  if redis.call('EXISTS', P .. 'px:' .. px) == 1 then
    table.insert(counts, {px, redis.call('HGETALL', P .. 'pc:' .. px)})
  else
    redis.call('SREM', P .. 'proxies', px)
    redis.call('DEL', P .. 'pc:' .. px)
  end
end
return {pins, counts}
)LUA";

const char* kSessionTouchOne = R"LUA(
local function touch(kind, member, ttl)
  local sk = P .. 's:' .. member
  redis.call('HSET', sk, 't', NOW)
  redis.call('PEXPIRE', sk, ttl)
  redis.call('ZADD', P .. 'ss', NOW, member)
  if kind == '3' then redis.call('ZADD', P .. 'shc', NOW, member) end
end
)LUA";

// ARGV: P, kind, id, stream, origin, data, session_ttl, max_sessions
const char* kSessionPut = R"LUA(
local kind, member = ARGV[2], ARGV[2] .. ':' .. ARGV[3]
local sk = P .. 's:' .. member
local ttl, max = tonumber(ARGV[7]), tonumber(ARGV[8])
if redis.call('EXISTS', sk) == 0 then
  redis.call('ZREMRANGEBYSCORE', P .. 'ss', '-inf', NOW - ttl)
  redis.call('ZREMRANGEBYSCORE', P .. 'shc', '-inf', NOW - ttl)
  if redis.call('ZCARD', P .. 'ss') >= max then
    local victim = redis.call('ZRANGE', P .. 'shc', 0, 0)[1]
    if not victim then
      local v = redis.call('ZRANGE', P .. 'ss', 0, 0, 'WITHSCORES')
      if v[1] and NOW - tonumber(v[2]) >= 30000 then victim = v[1] end
    end
    if not victim then return redis.error_reply('registry full: ' .. max .. ' sessions') end
    redis.call('DEL', P .. 's:' .. victim)
    redis.call('ZREM', P .. 'ss', victim)
    redis.call('ZREM', P .. 'shc', victim)
    redis.call('INCR', P .. 'evicted_sessions')
  end
end
redis.call('DEL', sk)
redis.call('HSET', sk, 'k', ARGV[4], 'o', ARGV[5], 'd', ARGV[6])
touch(kind, member, ttl)
return 1
)LUA";

// ARGV: P, kind, id, session_ttl
const char* kSessionGet = R"LUA(
local member = ARGV[2] .. ':' .. ARGV[3]
local s = redis.call('HMGET', P .. 's:' .. member, 'k', 'o', 'd', 't')
if not s[1] then return false end
touch(ARGV[2], member, tonumber(ARGV[4]))
return {s[1], s[2] or '', s[3] or '', NOW - tonumber(s[4] or NOW)}
)LUA";

// ARGV: P, kind, session_ttl, id...
const char* kSessionTouch = R"LUA(
local gone = {}
for i = 4, #ARGV do
  local member = ARGV[2] .. ':' .. ARGV[i]
  if redis.call('EXISTS', P .. 's:' .. member) == 1 then
    touch(ARGV[2], member, tonumber(ARGV[3]))
  else
    table.insert(gone, ARGV[i])
  end
end
return gone
)LUA";

// ARGV: P, kind, id
const char* kSessionRemove = R"LUA(
local member = ARGV[2] .. ':' .. ARGV[3]
redis.call('ZREM', P .. 'ss', member)
redis.call('ZREM', P .. 'shc', member)
return redis.call('DEL', P .. 's:' .. member)
)LUA";

// ARGV: P, session_ttl
const char* kSessions = R"LUA(
redis.call('ZREMRANGEBYSCORE', P .. 'ss', '-inf', NOW - tonumber(ARGV[2]))
local out = {}
for _, m in ipairs(redis.call('ZRANGE', P .. 'ss', 0, -1)) do
  local s = redis.call('HMGET', P .. 's:' .. m, 'k', 'o', 'd', 't')
  if s[1] then table.insert(out, {m, s[1], s[2] or '', s[3] or '', NOW - tonumber(s[4] or NOW)}) end
end
return out
)LUA";

// ARGV: P, pending_ttl, session_ttl
const char* kUsage = R"LUA(
redis.call('ZREMRANGEBYSCORE', P .. 'pins', '-inf', NOW)
redis.call('ZREMRANGEBYSCORE', P .. 'pp', '-inf', NOW - tonumber(ARGV[2]))
redis.call('ZREMRANGEBYSCORE', P .. 'ss', '-inf', NOW - tonumber(ARGV[3]))
redis.call('ZREMRANGEBYSCORE', P .. 'shc', '-inf', NOW - tonumber(ARGV[3]))
return {redis.call('ZCARD', P .. 'pins'), redis.call('ZCARD', P .. 'pp'), redis.call('ZCARD', P .. 'ss'),
        redis.call('ZCARD', P .. 'shc'), tonumber(redis.call('GET', P .. 'evicted_pins') or '0'),
        tonumber(redis.call('GET', P .. 'evicted_sessions') or '0')}
)LUA";

std::string with_prelude(const char* body, const char* extra = "") { return std::string(kPrelude) + extra + body; }

}  // namespace

#define SP_SCRIPT(fn, name, ...)                                  \
  const RedisScript& fn() {                                      \
    static const RedisScript s(name, with_prelude(__VA_ARGS__)); \
    return s;                                                    \
  }

SP_SCRIPT(register_origin, "register_origin", kRegister)
SP_SCRIPT(origins, "origins", kOrigins)
SP_SCRIPT(control_origin, "control_origin", kControl)
SP_SCRIPT(pick, "pick", kPick)
SP_SCRIPT(confirm, "confirm", kConfirm)
SP_SCRIPT(report_failure, "report_failure", kReportFailure)
SP_SCRIPT(report_success, "report_success", kReportSuccess)
SP_SCRIPT(add_client, "add_client", kAddClient)
SP_SCRIPT(proxy_heartbeat, "proxy_heartbeat", kProxyHeartbeat)
SP_SCRIPT(streams, "streams", kStreams)
SP_SCRIPT(session_put, "session_put", kSessionPut, kSessionTouchOne)
SP_SCRIPT(session_get, "session_get", kSessionGet, kSessionTouchOne)
SP_SCRIPT(session_touch, "session_touch", kSessionTouch, kSessionTouchOne)
SP_SCRIPT(session_remove, "session_remove", kSessionRemove)
SP_SCRIPT(sessions, "sessions", kSessions)
SP_SCRIPT(usage, "usage", kUsage)

#undef SP_SCRIPT

}  // namespace sp::redis_scripts
