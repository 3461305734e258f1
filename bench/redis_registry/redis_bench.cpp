// Throughput of the Redis registry store: origin registrations (heartbeats)
// and picks, each as round trips per second over --connections RedisClient
// connections (one event loop, as one proxy worker would run them) keeping
// --pipeline calls in flight each. bench/redis_registry/run starts the
// redis-server, runs this, then redis-benchmark with the same number of
// round trips, connections and pipeline depth, and prints the ratios.
//
// Phases (each --ops calls, every answer checked):
//   register  heartbeats of --origins origins in turn
//   pick      (against --origins newly registered origins, untimed) picks
//             of --streams stream names in turn: the first of each is
//             a new pin (least-loaded choice), the rest sticky
//   client_pick   the pick sequence again through RedisRegistryClient
//   mem_register, mem_pick  the same registrations and picks through the
//             memory backend (MemoryRegistryClient), for the comparison
// Output: one line per phase, "<phase> <ops> ops <seconds> s <ops/s> ops/s".
//
// Usage: redis-registry-bench --address HOST:PORT [--ops 100000] [--connections 4]
//                             [--pipeline 32] [--origins 4] [--streams 10000]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/event_ptr.h"
#include "registry/redis_registry_client.h"
#include "registry/redis_store.h"

namespace {

struct Args {
  std::string address = "127.0.0.1:6379";
  long ops = 100000, connections = 4, pipeline = 32, origins = 4, streams = 10000;
};

[[noreturn]] void usage() {
  fprintf(stderr,
          "usage: redis-registry-bench --address HOST:PORT [--ops N] [--connections N] [--pipeline N] "
          "[--origins N] [--streams N]\n");
  exit(2);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    std::string k = argv[i];
    const char* v = argv[++i];
    if (k == "--address") a.address = v;
    else if (k == "--ops") a.ops = atol(v);
    else if (k == "--connections") a.connections = atol(v);
    else if (k == "--pipeline") a.pipeline = atol(v);
    else if (k == "--origins") a.origins = atol(v);
    else if (k == "--streams") a.streams = atol(v);
    else usage();
  }
  if (a.ops <= 0 || a.connections <= 0 || a.pipeline <= 0 || a.origins <= 0 || a.streams <= 0) usage();
  return a;
}

sp::OriginSpec origin(long i) {
  sp::OriginSpec s;
  s.server = "bench-origin-" + std::to_string(i);
  s.service = "bench";
  s.pid = "1";
  s.ip = "127.0.0.1";
  s.endpoints[int(sp::Proto::rtmp)].push_back(sp::Endpoint{"", uint16_t(19350 + i)});
  s.endpoints[int(sp::Proto::http)].push_back(sp::Endpoint{"", uint16_t(18080 + i)});
  return s;
}

// Runs `ops` calls of `issue(n, done)` keeping `pipeline` in flight per store.
template <class Issue>
double run_phase(event_base* base, std::vector<std::unique_ptr<sp::RedisStore>>& stores, long ops, long pipeline,
                 long* errors, Issue issue) {
  long next = 0, answered = 0;
  std::string first_error;
  std::function<void(size_t)> send_one;
  send_one = [&](size_t s) {
    if (next >= ops) return;
    long n = next++;
    issue(*stores[s], n, [&, s](bool ok, const std::string& err) {
      answered++;
      if (!ok) {
        if (first_error.empty()) first_error = err;
        (*errors)++;
      }
      send_one(s);
    });
  };
  int64_t start = sp::monotonic_ms();
  for (size_t s = 0; s < stores.size(); s++) {
    for (long k = 0; k < pipeline; k++) send_one(s);
  }
  while (answered < ops) event_base_loop(base, EVLOOP_ONCE);
  double secs = double(sp::monotonic_ms() - start) / 1000.0;
  if (!first_error.empty()) fprintf(stderr, "first error: %s\n", first_error.c_str());
  return secs;
}

}  // namespace

int main(int argc, char** argv) {
  Args a = parse(argc, argv);
  sp::EventBasePtr base(event_base_new());
  std::vector<std::unique_ptr<sp::RedisClient>> clients;
  std::vector<std::unique_ptr<sp::RedisStore>> stores;
  std::string prefix = "bench:" + std::to_string(sp::monotonic_ms()) + ":";
  for (long i = 0; i < a.connections; i++) {
    sp::RedisClientOptions o;
    o.address = a.address;
    o.command_timeout_ms = 30000;
    auto c = sp::RedisClient::create(base.get(), o);
    if (!c.ok()) {
      fprintf(stderr, "%s\n", c.error().c_str());
      return 1;
    }
    (*c)->start();
    clients.push_back(std::move(*c));
  }
  int64_t deadline = sp::monotonic_ms() + 5000;
  for (auto& c : clients) {
    while (!c->connected()) {
      if (sp::monotonic_ms() > deadline) {
        fprintf(stderr, "no connection to redis at %s\n", a.address.c_str());
        return 1;
      }
      event_base_loop(base.get(), EVLOOP_ONCE | EVLOOP_NONBLOCK);
    }
  }
  for (long i = 0; i < a.connections; i++) {
    sp::RedisStoreOptions so;
    so.prefix = prefix;
    so.proxy_id = "bench-proxy-" + std::to_string(i);
    so.max_streams = uint32_t(a.streams) * 2;
    stores.push_back(std::make_unique<sp::RedisStore>(*clients[i], so));
  }
  std::vector<sp::OriginSpec> specs;
  for (long i = 0; i < a.origins; i++) specs.push_back(origin(i));

  long errors = 0;
  double t = run_phase(base.get(), stores, a.ops, a.pipeline, &errors, [&](sp::RedisStore& st, long n, auto done) {
    st.register_origin(specs[n % a.origins], [done](sp::Result<sp::RedisRegistration> r) { done(r.ok(), r.error()); });
  });
  printf("register %ld ops %.3f s %.0f ops/s\n", a.ops, t, double(a.ops) / t);

  // The register phase's origins learned a 1 s heartbeat interval (the
  // floor) and die 3 s after it; picks go to fresh ones (origin_ttl applies
  // until their interval is known).
  for (long i = 0; i < a.origins; i++) {
    sp::OriginSpec s = origin(i);
    s.server = "bench-pick-origin-" + std::to_string(i);
    long left = 1;
    stores[0]->register_origin(s, [&](sp::Result<sp::RedisRegistration> r) {
      if (!r.ok()) errors++;
      left--;
    });
    while (left > 0) event_base_loop(base.get(), EVLOOP_ONCE);
  }
  t = run_phase(base.get(), stores, a.ops, a.pipeline, &errors, [&](sp::RedisStore& st, long n, auto done) {
    st.pick("bench/" + std::to_string(n % a.streams), sp::Proto::rtmp, std::nullopt,
            [done](sp::Result<sp::RedisPick> r) { done(r.ok(), r.error()); });
  });
  printf("pick %ld ops %.3f s %.0f ops/s\n", a.ops, t, double(a.ops) / t);

  // The same picks through the proxy's RegistryClient (RedisRegistryClient:
  // one per connection, as one per worker, sharing one local table), which
  // also mirrors each answer's origin into the local cache.
  auto local = sp::Registry::create(64ull * 1024 * 1024, sp::RegistryTtls{});
  if (!local.ok()) {
    fprintf(stderr, "%s\n", local.error().c_str());
    return 1;
  }
  std::vector<std::unique_ptr<sp::RedisRegistryClient>> rcs;
  for (long i = 0; i < a.connections; i++) {
    sp::RedisRegistryOptions ro;
    ro.redis.address = a.address;
    ro.redis.command_timeout_ms = 30000;
    ro.store.prefix = prefix;
    ro.store.proxy_id = "bench-proxy-client";
    ro.store.max_streams = uint32_t(a.streams) * 2;
    auto c = sp::RedisRegistryClient::create(base.get(), **local, ro);
    if (!c.ok()) {
      fprintf(stderr, "%s\n", c.error().c_str());
      return 1;
    }
    rcs.push_back(std::move(*c));
  }
  for (auto& c : rcs) {
    while (!c->reachable()) event_base_loop(base.get(), EVLOOP_ONCE);
  }
  {
    long next = 0, answered = 0;
    // One RegistryCall per slot in flight (dropping one would cancel it); a
    // slot's next call replaces the one that just answered.
    std::vector<sp::RegistryCall> slots(rcs.size() * size_t(a.pipeline));
    std::function<void(size_t)> send_one = [&](size_t slot) {
      if (next >= a.ops) return;
      long n = next++;
      size_t s = slot / size_t(a.pipeline);
      slots[slot] = rcs[s]->pick("bench/" + std::to_string(n % a.streams), sp::Proto::rtmp, sp::monotonic_ms(),
                                 [&, slot](sp::Result<sp::Pick> r) {
                                   answered++;
                                   if (!r.ok()) errors++;
                                   send_one(slot);
                                 });
    };
    int64_t start = sp::monotonic_ms();
    for (size_t slot = 0; slot < slots.size(); slot++) send_one(slot);
    while (answered < a.ops) event_base_loop(base.get(), EVLOOP_ONCE);
    t = double(sp::monotonic_ms() - start) / 1000.0;
  }
  printf("client_pick %ld ops %.3f s %.0f ops/s\n", a.ops, t, double(a.ops) / t);

  // The memory backend through the same interface (MemoryRegistryClient on a
  // shared-memory table of its own): registrations of the same origins, then
  // the same pick sequence (first pick of a name new, the rest sticky). Its
  // answers come before each call returns, so there is nothing in flight.
  auto mem_table = sp::Registry::create(64ull * 1024 * 1024, sp::RegistryTtls{});
  if (!mem_table.ok()) {
    fprintf(stderr, "%s\n", mem_table.error().c_str());
    return 1;
  }
  sp::MemoryRegistryClient mem(**mem_table);
  int64_t start = sp::monotonic_ms();
  for (long n = 0; n < a.ops; n++) {
    mem.register_origin(specs[n % a.origins], sp::monotonic_ms(), [&](sp::Status st) { errors += !st.ok(); });
  }
  t = std::max(0.001, double(sp::monotonic_ms() - start) / 1000.0);
  printf("mem_register %ld ops %.3f s %.0f ops/s\n", a.ops, t, double(a.ops) / t);
  start = sp::monotonic_ms();
  for (long n = 0; n < a.ops; n++) {
    mem.pick("bench/" + std::to_string(n % a.streams), sp::Proto::rtmp, sp::monotonic_ms(),
             [&](sp::Result<sp::Pick> r) { errors += !r.ok(); });
  }
  t = std::max(0.001, double(sp::monotonic_ms() - start) / 1000.0);
  printf("mem_pick %ld ops %.3f s %.0f ops/s\n", a.ops, t, double(a.ops) / t);

  if (errors) {
    fprintf(stderr, "%ld errors\n", errors);
    return 1;
  }
  return 0;
}
