// Destroying an object later: the one "destroy later" mechanism. A session
// (or a connection, a path) that ends inside one of its own libevent
// callbacks cannot be destroyed there -- the callback would return into freed
// memory -- so its owner hands it to a DeferredFree, which destroys it on the
// next turn of the loop (a zero-delay event), or at once when the owner goes.
#pragma once

#include <event2/event.h>

#include <memory>
#include <utility>
#include <vector>

#include "core/event_ptr.h"

namespace sp {

class DeferredFree {
 public:
  explicit DeferredFree(event_base* base)
      : ev_(base ? event_new(base, -1, 0, &DeferredFree::on_event, this) : nullptr) {}
  ~DeferredFree() { flush(); }
  DeferredFree(const DeferredFree&) = delete;
  DeferredFree& operator=(const DeferredFree&) = delete;

  // Destroys `obj` on the next loop iteration.
  template <class T>
  void later(std::unique_ptr<T> obj) {
    if (!obj) return;
    items_.push_back(std::shared_ptr<void>(std::move(obj)));
    if (ev_) event_active(ev_.get(), EV_TIMEOUT, 0);
  }
  // Destroys everything handed over so far, now (also what their
  // destructors hand over).
  void flush() {
    while (!items_.empty()) {
      std::vector<std::shared_ptr<void>> batch = std::move(items_);
      items_.clear();
      batch.clear();
    }
  }

 private:
  static void on_event(evutil_socket_t, short, void* arg) { static_cast<DeferredFree*>(arg)->flush(); }

  std::vector<std::shared_ptr<void>> items_;
  EventPtr ev_;  // last: freed first, so no callback can reach a half-destroyed object
};

}  // namespace sp
