// The memory backend of RegistryClient: see registry_client.h.
#include "registry/registry_client.h"

#include "registry/redis_registry_client.h"
#include "registry/registry_conf.h"

namespace sp {

RegistryCall MemoryRegistryClient::pick(std::string_view stream_key, Proto proto, Proto also, int64_t now_ms,
                                        PickDone done) {
  done(r_.pick(stream_key, proto, also, now_ms));
  return {};
}

RegistryCall MemoryRegistryClient::get_session(SessionKind kind, std::string_view id, int64_t now_ms,
                                               SessionDone done) {
  done(r_.get_session(kind, id, now_ms));
  return {};
}

RegistryCall MemoryRegistryClient::touch_sessions(SessionKind kind, std::span<const std::string> ids,
                                                  int64_t now_ms, GoneDone done) {
  done(r_.touch_sessions(kind, ids, now_ms));
  return {};
}

Status MemoryRegistryClient::confirm(std::string_view stream_key, std::string_view origin_server, int64_t now_ms) {
  return r_.confirm(stream_key, origin_server, now_ms);
}

void MemoryRegistryClient::report_failure(std::string_view server, std::string_view reason, int64_t now_ms) {
  r_.report_failure(server, reason, now_ms);
}

void MemoryRegistryClient::report_success(std::string_view server, int64_t now_ms) {
  r_.report_success(server, now_ms);
}

void MemoryRegistryClient::add_client(std::string_view stream_key, Proto proto, int delta, int64_t now_ms) {
  r_.add_client(stream_key, proto, delta, now_ms);
}

Status MemoryRegistryClient::put_session(SessionKind kind, std::string_view id, std::string_view stream_key,
                                         std::string_view origin_server, std::string_view data, int64_t now_ms) {
  return r_.put_session(kind, id, stream_key, origin_server, data, now_ms);
}

void MemoryRegistryClient::remove_session(SessionKind kind, std::string_view id) { r_.remove_session(kind, id); }

RegistryCall MemoryRegistryClient::register_origin(const OriginSpec& spec, int64_t now_ms, StatusDone done) {
  done(r_.register_origin(spec, now_ms));
  return {};
}

RegistryCall MemoryRegistryClient::control_origin(std::string_view server, OriginOp op, int weight, int64_t now_ms,
                                                  StatusDone done) {
  done(r_.control_origin(server, op, weight, now_ms));
  return {};
}

RegistryCall MemoryRegistryClient::origins(int64_t now_ms, OriginsDone done) {
  done(r_.origins(now_ms));
  return {};
}

RegistryCall MemoryRegistryClient::streams(int64_t now_ms, StreamsDone done) {
  done(r_.streams(now_ms));
  return {};
}

RegistryCall MemoryRegistryClient::sessions(int64_t now_ms, SessionsDone done) {
  done(r_.sessions(now_ms));
  return {};
}

void MemoryRegistryClient::tick(int64_t now_ms) { r_.expire(now_ms); }

void MemoryRegistryClient::set_origin_rates(std::vector<OriginRate> rates) {
  r_.set_origin_rates(rates_by_slot(rates));
}

std::vector<uint64_t> rates_by_slot(const std::vector<OriginRate>& rates) {
  std::vector<uint64_t> by_slot;
  for (const OriginRate& r : rates) {
    if (r.slot < 0) continue;
    if (size_t(r.slot) >= by_slot.size()) by_slot.resize(size_t(r.slot) + 1, 0);
    by_slot[size_t(r.slot)] = r.bps;
  }
  return by_slot;
}

void OriginRateMeter::tick(RegistryClient& client, int64_t now_ms) {
  if (last_ms_ >= 0 && now_ms - last_ms_ < kRateIntervalMs && now_ms >= last_ms_) return;
  std::vector<std::pair<std::string, Seen>> seen;
  std::vector<OriginRate> rates;
  for (const auto& [slot, server] : client.local().origin_ids()) {
    const uint64_t bytes = bytes_of_(slot, server);
    seen.push_back({server, Seen{slot, bytes}});
    uint64_t bps = 0;
    if (last_ms_ >= 0 && now_ms > last_ms_) {
      for (const auto& [was, before] : last_) {
        // A counter that went back (the slot now counts another origin) gives 0.
        if (was == server && before.slot == slot && bytes >= before.bytes) {
          bps = (bytes - before.bytes) * 1000 / uint64_t(now_ms - last_ms_);
        }
      }
    }
    rates.push_back(OriginRate{slot, server, bps});
  }
  last_ = std::move(seen);
  last_ms_ = now_ms;
  client.set_origin_rates(std::move(rates));
}

RegistryCall RegistryClient::cluster_streams(int64_t now_ms, ClusterStreamsDone done) {
  return streams(now_ms, [done = std::move(done)](Result<std::vector<StreamView>> r) {
    if (!r.ok()) return done(r.status());
    std::vector<ClusterStreamView> out;
    out.reserve(r->size());
    for (StreamView& v : *r) {
      ClusterStreamView c;
      StreamHolder h;
      for (int p = 0; p < kProtoCount; p++) h.clients[p] = v.clients[p];
      c.view = std::move(v);
      c.holders.push_back(h);
      out.push_back(std::move(c));
    }
    done(std::move(out));
  });
}

// `backend memory` (the default) or `backend redis` (registry_conf.h).
Result<std::unique_ptr<RegistryClient>> make_registry_client(const Config& conf, Registry& registry,
                                                            event_base* base) {
  const RegistryConf& c = conf.module<RegistryConf>();
  if (c.backend != RegistryBackend::redis) {
    return std::unique_ptr<RegistryClient>(std::make_unique<MemoryRegistryClient>(registry));
  }
  auto client = RedisRegistryClient::create(base, registry, redis_registry_options(conf, registry));
  if (!client.ok()) return client.status();
  return std::unique_ptr<RegistryClient>(std::move(*client));
}

}  // namespace sp
