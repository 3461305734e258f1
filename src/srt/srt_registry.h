// How the SRT service's threads reach the registry. A RegistryClient belongs
// to the worker's event loop thread (the Redis backend's connection and its
// callbacks live there), but SRT callers are accepted, routed and relayed on
// the service's own SRT thread and libsrt's listen-callback thread (see
// srt_service.h). SrtRegistry is the one door between them:
//   - "direct" (the memory backend: its table is process-shared and locked,
//     and it answers before the call returns) calls the client at once, from
//     whichever thread asks, so `memory` keeps today's behaviour and speed:
//     the listen callback can still refuse a caller with no origin;
//   - otherwise (Redis) every call is queued, in order, for the loop thread,
//     which is woken (`wake`) and runs the queue (run_queued()). A pick's
//     answer, whenever the backend gives it, is queued back for the SRT
//     thread, which collects it with take_answers(). The loop thread keeps
//     each pending pick's RegistryCall; cancel() drops it there.
// Writes (confirm, add_client, report_*) take the same way, in order with
// the picks, so "my count -1, pick, my count +1" reaches Redis in that order.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "registry/registry_client.h"

namespace sp {

class SrtRegistry {
 public:
  struct Answer {
    uint64_t ticket;
    Result<Pick> pick;
  };

  // `wake` is called from the SRT thread after something was queued for the
  // loop thread, which must then call run_queued().
  SrtRegistry(RegistryClient& client, bool direct, std::function<void()> wake);
  ~SrtRegistry();
  SrtRegistry(const SrtRegistry&) = delete;
  SrtRegistry& operator=(const SrtRegistry&) = delete;

  // True for a backend that answers before the call returns and may be
  // called from any thread: only the memory one.
  static bool answers_inline(const RegistryClient& client);
  bool direct() const { return direct_; }

  // Any thread (the listen callback): the pick, if the backend can give it
  // now (direct); nullopt when the answer would have to be waited for.
  std::optional<Result<Pick>> pick_now(std::string_view key, int64_t now_ms);

  // ---- the SRT thread ----
  // Asks for `key`'s origin; the answer comes back from take_answers() with
  // the returned ticket (direct: already there when pick() returns).
  uint64_t pick(std::string_view key, int64_t now_ms);
  // The answer to `ticket` is not wanted any more.
  void cancel(uint64_t ticket);
  std::vector<Answer> take_answers();
  // `ctx`: the session's context id, for the log line of a failed confirm.
  void confirm(const std::string& ctx, std::string_view key, std::string_view server, int64_t now_ms);
  void report_failure(std::string_view server, std::string_view reason, int64_t now_ms);
  void report_success(std::string_view server, int64_t now_ms);
  void add_client(std::string_view key, int delta, int64_t now_ms);

  // ---- the loop thread ----
  // Runs what the SRT thread queued. Returns how many calls it made.
  size_t run_queued();
  // Look-ups the loop thread still waits for (tests).
  size_t in_flight() const { return calls_.size(); }

 private:
  struct Op {
    enum Kind { pick, cancel, confirm, failure, success, add_client } kind;
    uint64_t ticket = 0;
    std::string key;     // pick, confirm, add_client
    std::string server;  // confirm, failure, success
    std::string text;    // failure: reason; confirm: ctx
    int delta = 0;
    int64_t now_ms = 0;
  };
  void queue(Op op);
  void apply(Op& op);
  void answered(uint64_t ticket, Result<Pick> pick);

  RegistryClient& client_;
  const bool direct_;
  std::function<void()> wake_;
  uint64_t next_ticket_ = 1;  // SRT thread

  std::mutex mu_;
  std::vector<Op> ops_;          // SRT thread -> loop thread
  std::vector<Answer> answers_;  // -> SRT thread

  std::unordered_map<uint64_t, RegistryCall> calls_;  // loop thread
};

}  // namespace sp
