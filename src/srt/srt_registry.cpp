// SrtRegistry: the SRT threads' door to the loop thread's RegistryClient
// (see srt_registry.h).
#include "srt/srt_registry.h"

#include <cstring>

#include "core/log.h"

namespace sp {

SrtRegistry::SrtRegistry(RegistryClient& client, bool direct, std::function<void()> wake)
    : client_(client), direct_(direct), wake_(std::move(wake)) {}

SrtRegistry::~SrtRegistry() = default;  // dropping calls_ cancels what is still pending

bool SrtRegistry::answers_inline(const RegistryClient& client) {
  // The memory backend is the shared-memory table behind a process-shared
  // lock: any thread may call it, and it answers before returning.
  return std::strcmp(client.backend(), "memory") == 0;
}

std::optional<Result<Pick>> SrtRegistry::pick_now(std::string_view key, int64_t now_ms) {
  if (!direct_) return std::nullopt;
  std::optional<Result<Pick>> got;
  RegistryCall call = client_.pick(key, Proto::srt, now_ms, [&got](Result<Pick> p) { got.emplace(std::move(p)); });
  if (!got) return Result<Pick>::Error(ErrorKind::internal, "the registry did not answer at once");
  return got;
}

uint64_t SrtRegistry::pick(std::string_view key, int64_t now_ms) {
  uint64_t ticket = next_ticket_++;
  queue(Op{Op::pick, ticket, std::string(key), {}, {}, 0, now_ms});
  return ticket;
}

void SrtRegistry::cancel(uint64_t ticket) {
  if (direct_) return;  // answered already
  queue(Op{Op::cancel, ticket});
}

std::vector<SrtRegistry::Answer> SrtRegistry::take_answers() {
  std::vector<Answer> out;
  std::lock_guard<std::mutex> lock(mu_);
  out.swap(answers_);
  return out;
}

void SrtRegistry::confirm(const std::string& ctx, std::string_view key, std::string_view server, int64_t now_ms) {
  queue(Op{Op::confirm, 0, std::string(key), std::string(server), ctx, 0, now_ms});
}

void SrtRegistry::report_failure(std::string_view server, std::string_view reason, int64_t now_ms) {
  queue(Op{Op::failure, 0, {}, std::string(server), std::string(reason), 0, now_ms});
}

void SrtRegistry::report_success(std::string_view server, int64_t now_ms) {
  queue(Op{Op::success, 0, {}, std::string(server), {}, 0, now_ms});
}

void SrtRegistry::add_client(std::string_view key, int delta, int64_t now_ms) {
  queue(Op{Op::add_client, 0, std::string(key), {}, {}, delta, now_ms});
}

void SrtRegistry::queue(Op op) {
  if (direct_) {
    apply(op);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    ops_.push_back(std::move(op));
  }
  wake_();
}

size_t SrtRegistry::run_queued() {
  std::vector<Op> ops;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ops.swap(ops_);
  }
  for (Op& op : ops) apply(op);
  return ops.size();
}

// Direct: on the calling thread. Queued: on the loop thread.
void SrtRegistry::apply(Op& op) {
  switch (op.kind) {
    case Op::pick: {
      uint64_t t = op.ticket;
      RegistryCall call = client_.pick(op.key, Proto::srt, op.now_ms, [this, t](Result<Pick> p) {
        answered(t, std::move(p));
      });
      if (call.pending()) calls_.emplace(t, std::move(call));
      return;
    }
    case Op::cancel:
      calls_.erase(op.ticket);  // drops the RegistryCall: no answer any more
      return;
    case Op::confirm:
      if (Status st = client_.confirm(op.key, op.server, op.now_ms); !st.ok()) {
        SP_WARN(op.text, "srt stream %s not pinned: %s", op.key.c_str(), st.message().c_str());
      }
      return;
    case Op::failure:
      client_.report_failure(op.server, op.text, op.now_ms);
      return;
    case Op::success:
      client_.report_success(op.server, op.now_ms);
      return;
    case Op::add_client:
      client_.add_client(op.key, Proto::srt, op.delta, op.now_ms);
      return;
  }
}

void SrtRegistry::answered(uint64_t ticket, Result<Pick> pick) {
  calls_.erase(ticket);  // delivered (absent when answered inline)
  std::lock_guard<std::mutex> lock(mu_);
  answers_.push_back(Answer{ticket, std::move(pick)});
}

}  // namespace sp
