// Fuzz target: the SRT streamid a caller sends in its handshake (SRT access
// control syntax "#!::r=app/stream,m=publish" or a plain "app/stream"), and
// the route (stream key) built from it.
#include "fuzz_util.h"
#include "srt/srt_route.h"
#include "srt/streamid.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto id = sp::parse_srt_streamid(sp::fuzz::as_text(data, size));
  if (id.ok()) {
    FUZZ_CHECK(size <= sp::kSrtMaxStreamIdBytes);
    FUZZ_CHECK(!id->app.empty() && !id->stream.empty());
    (void)sp::srt_mode_name(id->mode);
  }
  auto route = sp::route_srt_streamid(sp::fuzz::as_text(data, size));
  // The route may still refuse a well-formed streamid whose names cannot be
  // part of a stream key ("#", spaces), never the other way round.
  if (route.ok()) FUZZ_CHECK(id.ok());
  if (route.ok()) FUZZ_CHECK(!route->key.empty());
  return 0;
}
