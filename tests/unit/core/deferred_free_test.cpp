// DeferredFree (core/deferred_free.h): what is handed over from a callback
// lives until the loop turns, then is destroyed; nothing is leaked when the
// owner goes first.
#include "core/deferred_free.h"

#include <gtest/gtest.h>

namespace sp {
namespace {

struct Counted {
  explicit Counted(int* alive) : alive(alive) { ++*alive; }
  ~Counted() { --*alive; }
  int* alive;
};

// Hands a second object over from its destructor, as a session ending its paths does.
struct Chained {
  Chained(DeferredFree* g, int* alive) : g(g), alive(alive) {}
  ~Chained() { g->later(std::make_unique<Counted>(alive)); }
  DeferredFree* g;
  int* alive;
};

TEST(DeferredFree, DestroysOnTheNextLoopIteration) {
  EventBasePtr base(event_base_new());
  int alive = 0;
  DeferredFree g(base.get());
  g.later(std::make_unique<Counted>(&alive));
  EXPECT_EQ(alive, 1);  // not inside the caller's callback
  event_base_loop(base.get(), EVLOOP_NONBLOCK);
  EXPECT_EQ(alive, 0);
}

TEST(DeferredFree, FlushAlsoDestroysWhatDestructorsHandOver) {
  int alive = 0;
  {
    DeferredFree g(nullptr);  // no loop: only flush() or the owner's end frees
    g.later(std::make_unique<Chained>(&g, &alive));
    g.flush();
    EXPECT_EQ(alive, 0);
    g.later(std::make_unique<Counted>(&alive));
    EXPECT_EQ(alive, 1);
  }
  EXPECT_EQ(alive, 0);
}

}  // namespace
}  // namespace sp
