// Fuzz target: the SRT streamid a caller sends in its handshake (SRT access
// control syntax "#!::r=app/stream,m=publish" or a plain "app/stream"), and
// the route (stream key) built from it, and the streamid sent to the origin
// with the proxy-loop marker (same meaning, chain lists the proxy).
#include "core/proxy_loop.h"
#include "fuzz_util.h"
#include "srt/srt_route.h"
#include "srt/streamid.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto id = sp::parse_srt_streamid(sp::fuzz::as_text(data, size));
  if (id.ok()) {
    FUZZ_CHECK(size <= sp::kSrtMaxStreamIdBytes);
    FUZZ_CHECK(!id->app.empty() && !id->stream.empty());
    (void)sp::srt_mode_name(id->mode);
    constexpr uint64_t kProxy = 0x5a5a5a5a5a5a5a5aULL;
    auto onward = sp::srt_streamid_for_origin(sp::fuzz::as_text(data, size), *id, kProxy);
    if (onward.ok()) {
      FUZZ_CHECK(onward->size() <= sp::kSrtMaxStreamIdBytes);
      auto again = sp::parse_srt_streamid(*onward);
      FUZZ_CHECK(again.ok());
      FUZZ_CHECK(again->app == id->app && again->stream == id->stream && again->query == id->query);
      FUZZ_CHECK(again->vhost == id->vhost && again->mode == id->mode);
      FUZZ_CHECK(sp::proxy_chain_lists(sp::srt_streamid_proxy_chain(*again), kProxy));
    }
  }
  auto route = sp::route_srt_streamid(sp::fuzz::as_text(data, size));
  // The route may still refuse a well-formed streamid whose names cannot be
  // part of a stream key ("#", spaces), never the other way round.
  if (route.ok()) FUZZ_CHECK(id.ok());
  if (route.ok()) FUZZ_CHECK(!route->key.empty());
  return 0;
}
