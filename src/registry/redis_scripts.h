// The Lua scripts of the Redis registry store (redis_store.h documents the
// key schema and each script's contract). Each script runs atomically in
// Redis, reads the time from Redis's own clock (TIME) and gets the key
// prefix as ARGV[1]; every key it touches is derived from that prefix, so
// the scripts need a standalone Redis (or a Cluster prefix with a hash tag,
// e.g. "{sp}:", putting every key in one slot).
#pragma once

#include "registry/redis_client.h"

namespace sp::redis_scripts {

const RedisScript& register_origin();
const RedisScript& origins();
const RedisScript& control_origin();
const RedisScript& pick();
const RedisScript& confirm();
const RedisScript& report_failure();
const RedisScript& report_success();
const RedisScript& add_client();
const RedisScript& proxy_heartbeat();
const RedisScript& streams();
const RedisScript& session_put();
const RedisScript& session_get();
const RedisScript& session_touch();
const RedisScript& session_remove();
const RedisScript& sessions();
const RedisScript& usage();

}  // namespace sp::redis_scripts
