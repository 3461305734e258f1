// The Redis registry store (see redis_store.h): argument encoding, reply
// decoding (pure) and the asynchronous calls, one Lua script each.
#include "registry/redis_store.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "core/log.h"
#include "registry/redis_scripts.h"

namespace sp {

namespace {

constexpr int64_t kPendingPinMs = 30 * 1000;

bool to_int(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

// An integer element (Lua numbers arrive as integers, strings as text).
int64_t int_of(const RedisValue& v) {
  if (v.type == RedisValue::Type::integer) return v.integer;
  int64_t n = 0;
  return to_int(v.str, &n) ? n : 0;
}

const char* kind_arg(SessionKind kind) {
  switch (kind) {
    case SessionKind::hls: return "1";
    case SessionKind::rtc: return "2";
    case SessionKind::hls_client: return "3";
  }
  return "0";
}

template <class T>
Result<T> bad_reply(const char* what) {
  return Result<T>::Error(ErrorKind::internal, std::string("redis registry: unexpected reply to ") + what);
}

// A reported figure as stored (and compared by the scripts): "-1" when
// unknown, else a decimal text.
std::string number_text(double v) {
  if (!(v >= 0) || !std::isfinite(v)) return "-1";
  char buf[32];
  snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

double number_of(const RedisValue& v) {
  std::string t = v.type == RedisValue::Type::integer ? std::to_string(v.integer) : v.text();
  char* end = nullptr;
  double d = strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || !std::isfinite(d) || d < 0) return -1;
  return d;
}

}  // namespace

std::string encode_endpoints(const std::vector<Endpoint>& eps) {
  std::string out;
  for (const Endpoint& ep : eps) {
    if (!out.empty()) out += ' ';
    out += std::to_string(ep.port);
    out += '/';
    out += ep.host;
  }
  return out;
}

Result<std::vector<Endpoint>> decode_endpoints(std::string_view text) {
  std::vector<Endpoint> eps;
  while (!text.empty()) {
    size_t sp = text.find(' ');
    std::string_view item = text.substr(0, sp);
    text = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
    size_t slash = item.find('/');
    int64_t port = 0;
    if (slash == std::string_view::npos || !to_int(item.substr(0, slash), &port) || port <= 0 || port > 65535) {
      return Result<std::vector<Endpoint>>::Error(ErrorKind::internal, "bad stored endpoint '" + std::string(item) + "'");
    }
    eps.push_back(Endpoint{std::string(item.substr(slash + 1)), uint16_t(port)});
  }
  return eps;
}

std::string redis_origin_key(std::string_view prefix, std::string_view server) {
  return std::string(prefix) + "o:" + std::string(server);
}
std::string redis_origin_alive_key(std::string_view prefix, std::string_view server) {
  return std::string(prefix) + "oa:" + std::string(server);
}
std::string redis_pin_key(std::string_view prefix, std::string_view stream) {
  return std::string(prefix) + "p:" + std::string(stream);
}
std::string redis_proxy_alive_key(std::string_view prefix, std::string_view proxy_id) {
  return std::string(prefix) + "px:" + std::string(proxy_id);
}
std::string redis_proxy_counts_key(std::string_view prefix, std::string_view proxy_id) {
  return std::string(prefix) + "pc:" + std::string(proxy_id);
}
std::string redis_session_key(std::string_view prefix, SessionKind kind, std::string_view id) {
  return std::string(prefix) + "s:" + kind_arg(kind) + ":" + std::string(id);
}


std::vector<std::string> register_args(const OriginSpec& spec, const RegistryTtls& ttls) {
  std::vector<std::string> a{spec.server, spec.service, spec.pid, spec.device_id, spec.ip};
  for (int p = 0; p < kProtoCount; p++) a.push_back(encode_endpoints(spec.endpoints[p]));
  a.push_back(std::to_string(ttls.origin_ttl_ms));
  a.push_back(std::to_string(ttls.heartbeat_misses));
  a.push_back(std::to_string(std::clamp(spec.weight, 1, kWeightMax)));
  a.push_back(number_text(spec.cpu_percent));
  a.push_back(number_text(spec.load_1m));
  a.push_back(std::to_string(ttls.cpu_limit));
  return a;
}

// {server, service, pid, device_id, ip, e0..e4, hb_alive, down, down_reason,
//  down_for_ms, fails, hbi, age_ms, registered_ms, {streams}, draining,
//  overloaded, cpu, load_1m, weight, weight_override, load, clients, bytes_per_sec}
Result<OriginView> decode_origin(const RedisValue& v) {
  if (!v.is_array() || v.elements.size() != 28) return bad_reply<OriginView>("an origin");
  const auto& e = v.elements;
  OriginView o;
  o.server = e[0].text();
  o.service = e[1].text();
  o.pid = e[2].text();
  o.device_id = e[3].text();
  o.ip = e[4].text();
  for (int p = 0; p < kProtoCount; p++) {
    Result<std::vector<Endpoint>> eps = decode_endpoints(e[5 + p].text());
    if (!eps.ok()) return eps.status();
    o.endpoints[p] = std::move(*eps);
  }
  o.heartbeat_alive = int_of(e[10]) != 0;
  o.down = int_of(e[11]) != 0;
  o.alive = o.heartbeat_alive && !o.down;
  o.down_reason = e[12].text();
  o.down_for_ms = int_of(e[13]);
  o.fails = uint32_t(std::max<int64_t>(0, int_of(e[14])));
  o.heartbeat_interval_ms = int_of(e[15]);
  o.age_ms = int_of(e[16]);
  o.registered_ms = int_of(e[17]);
  if (!e[18].is_array()) return bad_reply<OriginView>("an origin's streams");
  for (const RedisValue& s : e[18].elements) o.streams.push_back(s.text());
  o.draining = int_of(e[19]) != 0;
  o.overloaded = int_of(e[20]) != 0;
  o.cpu_percent = number_of(e[21]);
  o.load_1m = number_of(e[22]);
  o.registered_weight = int(std::clamp<int64_t>(int_of(e[23]), 1, kWeightMax));
  o.weight_override = int(std::clamp<int64_t>(int_of(e[24]), 0, kWeightMax));
  o.weight = o.weight_override > 0 ? o.weight_override : o.registered_weight;
  o.load = uint64_t(std::max<int64_t>(0, int_of(e[25])));
  o.clients = uint64_t(std::max<int64_t>(0, int_of(e[26])));
  o.bytes_per_sec = uint64_t(std::max<int64_t>(0, int_of(e[27])));
  return o;
}

Result<std::vector<OriginView>> decode_origins(const RedisValue& v) {
  if (!v.is_array()) return bad_reply<std::vector<OriginView>>("origins");
  std::vector<OriginView> out;
  for (const RedisValue& e : v.elements) {
    Result<OriginView> o = decode_origin(e);
    if (!o.ok()) return o.status();
    out.push_back(std::move(*o));
  }
  std::sort(out.begin(), out.end(), [](const OriginView& a, const OriginView& b) { return a.server < b.server; });
  return out;
}

Result<RedisPick> decode_pick(const RedisValue& v, Proto proto) {
  if (!v.is_array() || v.elements.size() != 2) return bad_reply<RedisPick>("pick");
  RedisPick r;
  const std::string how = v.elements[0].text();
  if (how == "new") {
    r.how = RedisPick::How::fresh;
  } else if (how == "sticky") {
    r.how = RedisPick::How::sticky;
  } else if (how == "moved") {
    r.how = RedisPick::How::moved;
  } else {
    return bad_reply<RedisPick>("pick");
  }
  Result<OriginView> o = decode_origin(v.elements[1]);
  if (!o.ok()) return o.status();
  const std::vector<Endpoint>& eps = o->endpoints[int(proto)];
  if (eps.empty()) return Result<RedisPick>::Error(ErrorKind::unavailable, "picked origin " + o->server + " has no " + proto_name(proto) + " endpoint");
  r.pick.host = endpoint_connect_host(eps.front(), o->ip);
  r.pick.port = eps.front().port;
  r.pick.origin = std::move(*o);
  return r;
}

// {{stream, origin, st, pinned_at}...}, {{proxy, {field, count, ...}}...}
Result<std::vector<RedisStreamView>> decode_streams(const RedisValue& v) {
  using R = std::vector<RedisStreamView>;
  if (!v.is_array() || v.elements.size() != 2 || !v.elements[0].is_array() || !v.elements[1].is_array()) {
    return bad_reply<R>("streams");
  }
  R out;
  for (const RedisValue& p : v.elements[0].elements) {
    if (!p.is_array() || p.elements.size() != 4) return bad_reply<R>("streams (pin)");
    RedisStreamView s;
    s.view.key = p.elements[0].text();
    s.view.origin_server = p.elements[1].text();
    s.pending = p.elements[2].text() == "p";
    s.view.pinned_ms = int_of(p.elements[3]);
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.view.key < b.view.key; });
  auto find = [&](std::string_view key) -> RedisStreamView* {
    auto it = std::lower_bound(out.begin(), out.end(), key, [](const auto& a, std::string_view k) { return a.view.key < k; });
    return it != out.end() && it->view.key == key ? &*it : nullptr;
  };
  for (const RedisValue& px : v.elements[1].elements) {
    if (!px.is_array() || px.elements.size() != 2 || !px.elements[1].is_array()) return bad_reply<R>("streams (proxy)");
    const std::string proxy = px.elements[0].text();
    const auto& kv = px.elements[1].elements;
    for (size_t i = 0; i + 1 < kv.size(); i += 2) {
      const std::string field = kv[i].text();
      size_t bar = field.find('|');
      int64_t proto = -1;
      if (bar == std::string::npos || !to_int(std::string_view(field).substr(0, bar), &proto) || proto < 0 ||
          proto >= kProtoCount) {
        continue;
      }
      RedisStreamView* s = find(std::string_view(field).substr(bar + 1));
      if (!s) continue;  // counts of a stream whose pin is gone
      uint32_t n = uint32_t(std::clamp<int64_t>(int_of(kv[i + 1]), 0, UINT32_MAX));
      auto h = std::find_if(s->holders.begin(), s->holders.end(), [&](const auto& x) { return x.proxy_id == proxy; });
      if (h == s->holders.end()) {
        s->holders.push_back(RedisStreamView::Holder{proxy, {}});
        h = s->holders.end() - 1;
      }
      h->clients[proto] += n;
      s->view.clients[proto] += n;
    }
  }
  return out;
}

Result<SessionView> decode_session(SessionKind kind, std::string_view id, const RedisValue& v) {
  if (v.is_nil()) return Result<SessionView>::Error(ErrorKind::not_found, "no session " + std::string(id));
  if (!v.is_array() || v.elements.size() != 4) return bad_reply<SessionView>("a session");
  SessionView s;
  s.kind = kind;
  s.id = std::string(id);
  s.stream_key = v.elements[0].text();
  s.origin_server = v.elements[1].text();
  s.data = v.elements[2].text();
  s.age_ms = int_of(v.elements[3]);
  return s;
}

Result<std::vector<SessionView>> decode_sessions(const RedisValue& v) {
  using R = std::vector<SessionView>;
  if (!v.is_array()) return bad_reply<R>("sessions");
  R out;
  for (const RedisValue& e : v.elements) {
    if (!e.is_array() || e.elements.size() != 5) return bad_reply<R>("sessions (entry)");
    const std::string member = e.elements[0].text();
    size_t colon = member.find(':');
    int64_t kind = 0;
    if (colon == std::string::npos || !to_int(std::string_view(member).substr(0, colon), &kind) || kind < 1 ||
        kind > 3) {
      continue;
    }
    SessionView s;
    s.kind = SessionKind(kind);
    s.id = member.substr(colon + 1);
    s.stream_key = e.elements[1].text();
    s.origin_server = e.elements[2].text();
    s.data = e.elements[3].text();
    s.age_ms = int_of(e.elements[4]);
    out.push_back(std::move(s));
  }
  return out;
}

Result<Registry::Usage> decode_usage(const RedisValue& v) {
  if (!v.is_array() || v.elements.size() != 6) return bad_reply<Registry::Usage>("usage");
  const auto& e = v.elements;
  Registry::Usage u;
  u.streams = uint32_t(int_of(e[0]));
  u.pending_streams = uint32_t(int_of(e[1]));
  u.hls_clients = uint32_t(int_of(e[3]));
  u.sessions = uint32_t(int_of(e[2]));  // hls_client fingerprints included, as in the memory registry
  u.evicted_streams = uint64_t(int_of(e[4]));
  u.evicted_sessions = uint64_t(int_of(e[5]));
  return u;
}

RedisStore::RedisStore(RedisClient& client, RedisStoreOptions options)
    : client_(client), options_(std::move(options)) {}

int64_t RedisStore::pending_ttl_ms() const { return std::min(kPendingPinMs, options_.ttls.session_ttl_ms); }

void RedisStore::register_origin(const OriginSpec& spec, Done<RedisRegistration> done) {
  if (Status s = check_origin_spec(spec); !s.ok()) {
    done(s);  // a bad spec never reaches Redis
    return;
  }
  std::vector<std::string> args = register_args(spec, options_.ttls);
  args.insert(args.begin(), options_.prefix);
  std::string server = spec.server;
  client_.eval(redis_scripts::register_origin(), {}, std::move(args),
               [done = std::move(done), server](Result<RedisValue> r) {
                 if (!r.ok()) return done(r.status());
                 if (!r->is_array() || r->elements.size() != 2) return done(bad_reply<RedisRegistration>("register"));
                 RedisRegistration reg{r->elements[0].text(), int_of(r->elements[1])};
                 if (reg.what == "removed") {
                   return done(Result<RedisRegistration>::Error(
                       ErrorKind::not_found, "origin " + server +
                                                 " was removed by an operator; its heartbeats are ignored for " +
                                                 std::to_string((reg.dead_after_ms + 999) / 1000) +
                                                 " s more unless it registers with a new service id"));
                 }
                 if (size_t comma = reg.what.find(','); comma != std::string::npos) {
                   bool over = reg.what.substr(comma + 1) == "overloaded";
                   reg.what.resize(comma);
                   if (over) {
                     SP_PWARN("registry (redis): origin %s overloaded (cpu above origin_cpu_limit): no new streams",
                              server.c_str());
                   } else {
                     SP_PINFO("registry (redis): origin %s no longer overloaded", server.c_str());
                   }
                 }
                 if (reg.what == "registered" || reg.what == "restarted") {
                   SP_PINFO("registry (redis): origin %s %s, dead after %lld ms without a heartbeat", server.c_str(),
                            reg.what.c_str(), (long long)reg.dead_after_ms);
                 }
                 done(std::move(reg));
               });
}

void RedisStore::origins(Done<std::vector<OriginView>> done, bool with_clients) {
  client_.eval(redis_scripts::origins(), {},
               {options_.prefix, std::to_string(options_.ttls.fail_timeout_ms), with_clients ? "1" : "0"},
               [done = std::move(done)](Result<RedisValue> r) {
                 if (!r.ok()) return done(r.status());
                 done(decode_origins(*r));
               });
}

void RedisStore::control_origin(std::string_view server, OriginOp op, int weight, StatusDone done) {
  const char* name = op == OriginOp::set_weight ? "weight" : origin_op_name(op);
  client_.eval(redis_scripts::control_origin(), {},
               {options_.prefix, std::string(server), name, std::to_string(weight),
                std::to_string(std::max<int64_t>(1, options_.ttls.origin_remove_ms)), std::to_string(kTombstones)},
               [done = std::move(done), s = std::string(server)](Result<RedisValue> r) {
                 if (!r.ok()) return done(r.status());
                 if (r->text() == "not_found") return done(Status::Error(ErrorKind::not_found, "no origin \"" + s + "\""));
                 if (r->text() != "ok") return done(bad_reply<bool>("control_origin").status());
                 done(Status::Ok());
               });
}

void RedisStore::pick(std::string_view stream_key, Proto proto, std::optional<Proto> also, Done<RedisPick> done) {
  if (stream_key.empty() || stream_key.size() > kStreamKeyMax) {
    done(Result<RedisPick>::Error(ErrorKind::bad_input, "bad stream key length " + std::to_string(stream_key.size())));
    return;
  }
  std::string name = proto_name(proto);
  if (also) name += std::string("+") + proto_name(*also);
  client_.eval(redis_scripts::pick(), {},
               {options_.prefix, std::string(stream_key), std::to_string(int(proto)),
                also ? std::to_string(int(*also)) : std::string(), std::to_string(options_.ttls.session_ttl_ms),
                std::to_string(pending_ttl_ms()), std::to_string(options_.max_streams),
                std::to_string(options_.ttls.fail_timeout_ms), name,
                std::to_string(std::max<int64_t>(0, options_.ttls.bytes_per_client))},
               [done = std::move(done), proto](Result<RedisValue> r) {
                 if (!r.ok()) return done(r.status());
                 done(decode_pick(*r, proto));
               });
}

void RedisStore::confirm(std::string_view stream_key, std::string_view origin_server, Done<RedisConfirm> done) {
  std::string stream(stream_key);
  client_.eval(redis_scripts::confirm(), {},
               {options_.prefix, stream, std::string(origin_server), std::to_string(options_.ttls.session_ttl_ms),
                std::to_string(pending_ttl_ms()), std::to_string(options_.max_streams)},
               [done = std::move(done), stream](Result<RedisValue> r) {
                 if (!r.ok()) return done(r.status());
                 if (!r->is_array() || r->elements.size() != 2) return done(bad_reply<RedisConfirm>("confirm"));
                 RedisConfirm c{r->elements[0].text(), r->elements[1].text()};
                 if (c.what == "moved") {
                   SP_PWARN("registry (redis): stream %s moved to origin %s meanwhile; keeping that pin", stream.c_str(),
                            c.origin_server.c_str());
                 }
                 done(std::move(c));
               });
}

void RedisStore::report_failure(std::string_view server, std::string_view reason, Done<std::string> done) {
  std::string s(server);
  std::string why(reason.substr(0, kDownReasonMax));
  const RegistryTtls& t = options_.ttls;
  client_.eval(redis_scripts::report_failure(), {},
               {options_.prefix, s, why, std::to_string(t.max_fails), std::to_string(t.fail_timeout_ms)},
               [done = std::move(done), s, why, t](Result<RedisValue> r) {
                 if (!r.ok()) return done(r.status());
                 if (!r->is_array() || r->elements.empty()) return done(bad_reply<std::string>("report_failure"));
                 std::string what = r->elements[0].text();
                 if (what == "down") {
                   SP_PWARN("registry (redis): origin %s marked down for %lld ms after %d failure(s) within "
                            "fail_timeout: %s",
                            s.c_str(), (long long)t.fail_timeout_ms, t.max_fails, why.c_str());
                 }
                 done(std::move(what));
               });
}

void RedisStore::report_success(std::string_view server, Done<std::string> done) {
  std::string s(server);
  client_.eval(redis_scripts::report_success(), {}, {options_.prefix, s},
               [done = std::move(done), s](Result<RedisValue> r) {
                 if (!r.ok()) return done(r.status());
                 std::string what = r->text();
                 if (what == "up") SP_PINFO("registry (redis): origin %s answered again, down mark cleared", s.c_str());
                 done(std::move(what));
               });
}

void RedisStore::add_client(std::string_view stream_key, Proto proto, int delta, Done<int64_t> done) {
  client_.eval(redis_scripts::add_client(), {},
               {options_.prefix, options_.proxy_id, std::string(stream_key), std::to_string(int(proto)),
                std::to_string(delta), std::to_string(options_.proxy_ttl_ms),
                std::to_string(options_.ttls.session_ttl_ms), std::to_string(pending_ttl_ms())},
               [done = std::move(done)](Result<RedisValue> r) {
                 if (!r.ok()) return done(r.status());
                 done(int_of(*r));
               });
}

void RedisStore::proxy_heartbeat(Done<int64_t> done) { proxy_heartbeat(nullptr, std::move(done)); }

void RedisStore::proxy_heartbeat(const std::vector<ClientCount>* counts, Done<int64_t> done) {
  proxy_heartbeat(counts, nullptr, std::move(done));
}

void RedisStore::proxy_heartbeat(const std::vector<ClientCount>* counts, const std::vector<OriginRate>* rates,
                                 Done<int64_t> done) {
  std::vector<std::string> args{options_.prefix, options_.proxy_id, std::to_string(options_.proxy_ttl_ms),
                                std::to_string(options_.ttls.session_ttl_ms), counts ? "1" : "0",
                                rates ? std::to_string(rates->size()) : "-1"};
  if (rates) {
    for (const OriginRate& r : *rates) {
      args.push_back(r.server);
      args.push_back(std::to_string(r.bps));
    }
  }
  if (counts) {
    args.reserve(args.size() + 2 * counts->size());
    for (const ClientCount& c : *counts) {
      args.push_back(std::to_string(int(c.proto)) + "|" + c.stream_key);
      args.push_back(std::to_string(c.clients));
    }
  }
  client_.eval(redis_scripts::proxy_heartbeat(), {}, std::move(args),
               [done = std::move(done)](Result<RedisValue> r) {
                 if (!r.ok()) return done(r.status());
                 done(int_of(*r));
               });
}

void RedisStore::streams(Done<std::vector<RedisStreamView>> done) {
  client_.eval(redis_scripts::streams(), {}, {options_.prefix}, [done = std::move(done)](Result<RedisValue> r) {
    if (!r.ok()) return done(r.status());
    done(decode_streams(*r));
  });
}

void RedisStore::put_session(SessionKind kind, std::string_view id, std::string_view stream_key,
                             std::string_view origin_server, std::string_view data, StatusDone done) {
  if (id.empty() || id.size() > kSessionIdMax) return done(Status::Error(ErrorKind::bad_input, "bad session id length"));
  if (data.size() > kSessionDataMax) return done(Status::Error(ErrorKind::bad_input, "session data longer than 256 bytes"));
  client_.eval(redis_scripts::session_put(), {},
               {options_.prefix, kind_arg(kind), std::string(id), std::string(stream_key), std::string(origin_server),
                std::string(data), std::to_string(options_.ttls.session_ttl_ms), std::to_string(options_.max_sessions)},
               [done = std::move(done)](Result<RedisValue> r) { done(r.status()); });
}

void RedisStore::get_session(SessionKind kind, std::string_view id, Done<SessionView> done) {
  std::string sid(id);
  client_.eval(redis_scripts::session_get(), {},
               {options_.prefix, kind_arg(kind), sid, std::to_string(options_.ttls.session_ttl_ms)},
               [done = std::move(done), kind, sid](Result<RedisValue> r) {
                 if (!r.ok()) return done(r.status());
                 done(decode_session(kind, sid, *r));
               });
}

void RedisStore::touch_sessions(SessionKind kind, std::span<const std::string> ids, Done<std::vector<std::string>> done) {
  std::vector<std::string> args{options_.prefix, kind_arg(kind), std::to_string(options_.ttls.session_ttl_ms)};
  args.insert(args.end(), ids.begin(), ids.end());
  client_.eval(redis_scripts::session_touch(), {}, std::move(args), [done = std::move(done)](Result<RedisValue> r) {
    if (!r.ok()) return done(r.status());
    if (!r->is_array()) return done(bad_reply<std::vector<std::string>>("touch_sessions"));
    std::vector<std::string> gone;
    for (const RedisValue& e : r->elements) gone.push_back(e.text());
    done(std::move(gone));
  });
}

void RedisStore::remove_session(SessionKind kind, std::string_view id, Done<bool> done) {
  client_.eval(redis_scripts::session_remove(), {}, {options_.prefix, kind_arg(kind), std::string(id)},
               [done = std::move(done)](Result<RedisValue> r) {
                 if (!r.ok()) return done(r.status());
                 done(int_of(*r) > 0);
               });
}

void RedisStore::sessions(Done<std::vector<SessionView>> done) {
  client_.eval(redis_scripts::sessions(), {}, {options_.prefix, std::to_string(options_.ttls.session_ttl_ms)},
               [done = std::move(done)](Result<RedisValue> r) {
                 if (!r.ok()) return done(r.status());
                 done(decode_sessions(*r));
               });
}

void RedisStore::usage(Done<Registry::Usage> done) {
  client_.eval(redis_scripts::usage(), {},
               {options_.prefix, std::to_string(pending_ttl_ms()), std::to_string(options_.ttls.session_ttl_ms)},
               [done = std::move(done)](Result<RedisValue> r) {
                 if (!r.ok()) return done(r.status());
                 done(decode_usage(*r));
               });
}

}  // namespace sp
