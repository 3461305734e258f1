// The master's side of the metrics area: see metrics_master.h.
#include "process/metrics_master.h"

#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "core/clock.h"

namespace sp::metrics {

namespace {

// Which metrics protocols serve clients on a listener of `kind`.
void protocols_of(const std::string& kind, std::vector<Protocol>* out) {
  if (kind == "rtmp") out->push_back(Protocol::rtmp);
  else if (kind == "http_stream") *out = {Protocol::http_flv, Protocol::http_ts, Protocol::hls};
  else if (kind == "webrtc") out->push_back(Protocol::webrtc);
  else if (kind == "srt") out->push_back(Protocol::srt);
  else if (kind == "system_api") out->push_back(Protocol::api);
}

}  // namespace

void note_generation(Area* a, int generation, const ListenerSet& listeners) {
  if (!a) return;
  for (const Listener& l : listeners.items()) {
    std::vector<Protocol> ps;
    protocols_of(l.kind, &ps);
    for (Protocol p : ps) a->add_listener(p, l.conf.addr.to_string(), l.conf.addr.sa());
  }
  a->master.generation.store(generation);
  if (a->master.start_unix_ms.load() == 0) {
    timeval tv;
    gettimeofday(&tv, nullptr);
    a->master.start_unix_ms.store(int64_t(tv.tv_sec) * 1000 + tv.tv_usec / 1000);
  }
}

void child_reaped(Area* a, int slot, Registry& registry, int wait_status, bool respawned) {
  if (!a) return;
  if (respawned) {
    Respawn why = Respawn::exit;
    if (WIFSIGNALED(wait_status)) {
      int sig = WTERMSIG(wait_status);
      bool crash = sig == SIGSEGV || sig == SIGABRT || sig == SIGBUS || sig == SIGFPE || sig == SIGILL;
      why = crash ? Respawn::crash : Respawn::signal;
    }
    add(a->master.respawns[int(why)], 1);
  }
  if (slot <= 0) return;
  // The serial of the origin now in each registry slot (0: none).
  std::vector<uint64_t> serials(kOrigins, 0);
  for (const OriginView& o : registry.origins(monotonic_ms())) {
    if (o.slot >= 0 && o.slot < kOrigins) serials[size_t(o.slot)] = origin_serial(o.server);
  }
  a->release(slot, [&serials](int i) { return serials[size_t(i)]; });
}

}  // namespace sp::metrics
