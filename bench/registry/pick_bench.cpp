// Pick latency of the shared-memory registry under a steady flood of picks
// of made-up stream names, at two registry sizes, with the periodic expire()
// running meanwhile in another process as the API worker runs it.
//
// Per size: first the pin table is filled to capacity with made-up names
// (untimed; a flood fills any size sooner or later, and this also faults in
// the table's pages so both sizes run warm), then a forked "housekeeper"
// calls expire() every --expire-ms (the
// proxy does it every second; more often here so a short run sees many), and
// the parent times each pick (lock wait included) of a new random name for
// --seconds; one pick in --confirm-every is confirmed, as if its origin had
// the stream. Prints p50/p99/p99.9/max per size, how often expire() ran and
// how long it held the lock at most, then the ratios big/small. With expiry
// and origin scans proportional to what is live, the ratio stays near 1.
//
// Usage: registry-bench [--small 16m] [--big 1g] [--seconds 5] [--expire-ms 100]
//                       [--confirm-every 10]
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/clock.h"
#include "registry/registry.h"

namespace {

uint64_t parse_size(const char* s) {
  char* end = nullptr;
  uint64_t v = strtoull(s, &end, 10);
  switch (end && *end ? *end : ' ') {
    case 'k': case 'K': return v << 10;
    case 'm': case 'M': return v << 20;
    case 'g': case 'G': return v << 30;
    default: return v;
  }
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Shared {  // between the parent and the housekeeper, in a shared page
  std::atomic<int> stop;
  std::atomic<uint64_t> expires;
  std::atomic<int64_t> max_expire_ns;
};

struct Result {
  double p50, p99, p999, max;  // microseconds
  uint64_t picks, expires;
  double max_expire_ms;
  uint32_t streams, capacity;
  uint64_t evicted;
};

double pct(std::vector<int64_t>& v, double p) {
  size_t i = std::min(v.size() - 1, size_t(p * double(v.size())));
  std::nth_element(v.begin(), v.begin() + long(i), v.end());
  return double(v[i]) / 1000.0;
}

Result run(uint64_t bytes, double seconds, int expire_ms, int confirm_every) {
  auto made = sp::Registry::create(bytes, sp::RegistryTtls{});
  if (!made.ok()) {
    fprintf(stderr, "registry-bench: %s\n", made.error().c_str());
    exit(1);
  }
  sp::Registry& reg = **made;
  sp::OriginSpec o;
  for (int i = 0; i < 4; i++) {
    o.server = "origin-" + std::to_string(i);
    o.service = "svc";
    o.pid = "1";
    o.ip = "127.0.0.1";
    o.endpoints[int(sp::Proto::rtmp)] = {sp::Endpoint{"", uint16_t(19350 + i)}};
    reg.register_origin(o, sp::monotonic_ms());
  }
  {
    char key[64];
    uint64_t i = 0;
    while (reg.usage().streams < reg.capacity().streams) {
      for (int k = 0; k < 4096; k++) {
        snprintf(key, sizeof(key), "__defaultVhost__/fill/%llu", (unsigned long long)i++);
        reg.pick(key, sp::Proto::rtmp, sp::monotonic_ms());
      }
    }
  }
  auto* sh = static_cast<Shared*>(mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  new (sh) Shared{};
  pid_t child = fork();
  if (child == 0) {
    while (!sh->stop.load()) {
      int64_t t0 = now_ns();
      reg.expire(sp::monotonic_ms());
      int64_t d = now_ns() - t0;
      sh->expires.fetch_add(1);
      if (d > sh->max_expire_ns.load()) sh->max_expire_ns.store(d);
      usleep(useconds_t(expire_ms) * 1000);
    }
    _exit(0);
  }
  std::mt19937_64 rng(42);
  std::vector<int64_t> lat;
  lat.reserve(4'000'000);
  int64_t end = now_ns() + int64_t(seconds * 1e9);
  char key[64];
  uint64_t n = 0;
  while (now_ns() < end) {
    snprintf(key, sizeof(key), "__defaultVhost__/live/r%016llx", (unsigned long long)rng());
    int64_t now = sp::monotonic_ms();
    int64_t t0 = now_ns();
    auto p = reg.pick(key, sp::Proto::rtmp, now);
    int64_t d = now_ns() - t0;
    if (p.ok() && confirm_every > 0 && ++n % uint64_t(confirm_every) == 0) reg.confirm(key, p->origin.server, now);
    lat.push_back(d);
  }
  sh->stop.store(1);
  waitpid(child, nullptr, 0);
  Result r{};
  r.picks = lat.size();
  r.p50 = pct(lat, 0.50);
  r.p99 = pct(lat, 0.99);
  r.p999 = pct(lat, 0.999);
  r.max = double(*std::max_element(lat.begin(), lat.end())) / 1000.0;
  r.expires = sh->expires.load();
  r.max_expire_ms = double(sh->max_expire_ns.load()) / 1e6;
  sp::Registry::Usage u = reg.usage();
  r.streams = u.streams;
  r.capacity = reg.capacity().streams;
  r.evicted = u.evicted_streams;
  munmap(sh, sizeof(Shared));
  return r;
}

void print(const char* name, const Result& r) {
  printf("%-6s picks %9llu  p50 %7.2f us  p99 %7.2f us  p99.9 %8.2f us  max %9.2f us  | expire() x%llu, max %.2f ms"
         "  | pins %u/%u, evicted %llu\n",
         name, (unsigned long long)r.picks, r.p50, r.p99, r.p999, r.max, (unsigned long long)r.expires,
         r.max_expire_ms, r.streams, r.capacity, (unsigned long long)r.evicted);
}

}  // namespace

int main(int argc, char** argv) {
  const char* small = "16m";
  const char* big = "1g";
  double seconds = 5;
  int expire_ms = 100, confirm_every = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--small") small = argv[i + 1];
    else if (a == "--big") big = argv[i + 1];
    else if (a == "--seconds") seconds = atof(argv[i + 1]);
    else if (a == "--expire-ms") expire_ms = atoi(argv[i + 1]);
    else if (a == "--confirm-every") confirm_every = atoi(argv[i + 1]);
    else {
      fprintf(stderr, "usage: %s [--small 16m] [--big 1g] [--seconds 5] [--expire-ms 100] [--confirm-every 10]\n",
              argv[0]);
      return 2;
    }
  }
  Result s = run(parse_size(small), seconds, expire_ms, confirm_every);
  print(small, s);
  Result b = run(parse_size(big), seconds, expire_ms, confirm_every);
  print(big, b);
  printf("ratio %s/%s: p50 %.2f  p99 %.2f  p99.9 %.2f\n", big, small, b.p50 / s.p50, b.p99 / s.p99, b.p999 / s.p999);
  return 0;
}
