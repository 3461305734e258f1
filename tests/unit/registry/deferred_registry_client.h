// A RegistryClient for unit tests of the protocols' "waiting for the
// registry" states: the memory backend's answers, held back until the test
// releases them (deliver_all), fails them (fail_all, e.g. as a Redis call
// timeout would) or drops them (the session must then give up by itself).
// Writes go straight to the table, as with both real backends.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "registry/registry_client.h"

namespace sp::test {

class DeferredRegistryClient final : public RegistryClient {
 public:
  explicit DeferredRegistryClient(Registry& registry) : mem_(registry) {}

  // Look-ups waiting for an answer (cancelled ones included until delivery).
  size_t waiting() const { return queue_.size(); }
  // Answers every waiting look-up from the table, in order; cancelled ones
  // are skipped. Returns how many callbacks ran.
  size_t deliver_all() {
    return drain([](Held& h) { h.answer(); });
  }
  // Answers every waiting look-up with an error of `kind`.
  size_t fail_all(ErrorKind kind, const std::string& why) {
    return drain([&](Held& h) { h.fail(Status::Error(kind, why)); });
  }

  const char* backend() const override { return "deferred (test)"; }
  Registry& local() override { return mem_.local(); }

  RegistryCall pick(std::string_view stream_key, Proto proto, Proto also, int64_t now_ms, PickDone done) override {
    std::string key(stream_key);
    return hold([this, key, proto, also, now_ms](PickDone& d) { mem_.pick(key, proto, also, now_ms, std::move(d)); },
                std::move(done));
  }
  using RegistryClient::pick;
  RegistryCall get_session(SessionKind kind, std::string_view id, int64_t now_ms, SessionDone done) override {
    std::string sid(id);
    return hold([this, kind, sid, now_ms](SessionDone& d) { mem_.get_session(kind, sid, now_ms, std::move(d)); },
                std::move(done));
  }
  RegistryCall touch_sessions(SessionKind kind, std::span<const std::string> ids, int64_t now_ms,
                              GoneDone done) override {
    std::vector<std::string> copy(ids.begin(), ids.end());
    auto state = std::make_shared<RegistryCall::State>();
    queue_.push_back(Held{state, [this, kind, copy, now_ms, done, state] {
                            mem_.touch_sessions(kind, copy, now_ms, done);
                          },
                          [done](Status) { done({}); }});
    return RegistryCall(state);
  }

  Status confirm(std::string_view k, std::string_view s, int64_t now) override { return mem_.confirm(k, s, now); }
  void report_failure(std::string_view s, std::string_view r, int64_t now) override { mem_.report_failure(s, r, now); }
  void report_success(std::string_view s, int64_t now) override { mem_.report_success(s, now); }
  void add_client(std::string_view k, Proto p, int d, int64_t now) override { mem_.add_client(k, p, d, now); }
  Status put_session(SessionKind kind, std::string_view id, std::string_view key, std::string_view server,
                     std::string_view data, int64_t now) override {
    return mem_.put_session(kind, id, key, server, data, now);
  }
  void remove_session(SessionKind kind, std::string_view id) override { mem_.remove_session(kind, id); }

  RegistryCall register_origin(const OriginSpec& spec, int64_t now_ms, StatusDone done) override {
    return hold([this, spec, now_ms](StatusDone& d) { mem_.register_origin(spec, now_ms, std::move(d)); },
                std::move(done));
  }
  RegistryCall control_origin(std::string_view server, OriginOp op, int weight, int64_t now_ms,
                              StatusDone done) override {
    return hold([this, server = std::string(server), op, weight, now_ms](StatusDone& d) {
      mem_.control_origin(server, op, weight, now_ms, std::move(d));
    }, std::move(done));
  }
  RegistryCall origins(int64_t now_ms, OriginsDone done) override {
    return hold([this, now_ms](OriginsDone& d) { mem_.origins(now_ms, std::move(d)); }, std::move(done));
  }
  RegistryCall streams(int64_t now_ms, StreamsDone done) override {
    return hold([this, now_ms](StreamsDone& d) { mem_.streams(now_ms, std::move(d)); }, std::move(done));
  }
  RegistryCall sessions(int64_t now_ms, SessionsDone done) override {
    return hold([this, now_ms](SessionsDone& d) { mem_.sessions(now_ms, std::move(d)); }, std::move(done));
  }
  void tick(int64_t now_ms) override { mem_.tick(now_ms); }
  void set_origin_rates(std::vector<OriginRate> rates) override { mem_.set_origin_rates(std::move(rates)); }

 private:
  struct Held {
    std::shared_ptr<RegistryCall::State> state;
    std::function<void()> answer;
    std::function<void(Status)> fail;
  };

  // Queues a look-up: `ask` runs it against the table with the callback.
  template <class Ask, class Done>
  RegistryCall hold(Ask ask, Done done) {
    auto state = std::make_shared<RegistryCall::State>();
    auto shared = std::make_shared<Done>(std::move(done));
    queue_.push_back(Held{state, [ask, shared] { ask(*shared); }, [shared](Status st) { (*shared)(std::move(st)); }});
    return RegistryCall(state);
  }

  template <class Fn>
  size_t drain(Fn fn) {
    size_t ran = 0;
    std::deque<Held> now;
    now.swap(queue_);
    for (Held& h : now) {
      bool cancelled = h.state->cancelled;
      auto keep = std::move(h);
      keep.state.reset();  // delivered: RegistryCall::pending() turns false
      if (cancelled) continue;
      fn(keep);
      ran++;
    }
    return ran;
  }

  MemoryRegistryClient mem_;
  std::deque<Held> queue_;
};

}  // namespace sp::test
