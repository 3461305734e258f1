// The SRT streamid a caller sends in its handshake, parsed into the parts the
// proxy routes on. The listen callback calls parse_srt_streamid() before it
// accepts, rejects the caller when it fails, and otherwise builds the stream
// key from vhost/app/stream. The streamid is forwarded to the origin as the
// caller sent it plus one item, the proxy-loop marker srsproxy=<id chain>
// (core/proxy_loop.h), made by srt_streamid_for_origin().
//
// Accepted forms (the ones SRS accepts, see SRS issue 2893):
//   #!::r=app/stream,m=publish,h=vhost,u=user,...   keys in any order
//   #!::h=app/stream                                 old form, one slash
//   #!::h=vhost/app/stream                           old form, two or more slashes
//   app/stream    stream                             plain; app defaults to "live"
// Any stream part may carry "?query". Pure: no libsrt, no sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace sp {

// SRTO_STREAMID holds at most 512 bytes; libsrt refuses longer ones.
constexpr size_t kSrtMaxStreamIdBytes = 512;
constexpr std::string_view kSrtDefaultApp = "live";

enum class SrtMode {
  kRequest,  // play (the default when m= is absent)
  kPublish,
};

struct SrtStreamId {
  std::string vhost;  // empty unless h= names one
  std::string app;
  std::string stream;
  std::string query;  // text after '?' in the resource, without the '?'
  SrtMode mode = SrtMode::kRequest;
  // Keys other than r, h and m (u=, s=, t=, ...), in the order they came.
  std::vector<std::pair<std::string, std::string>> extra;
};

// Parses a streamid. Errors name the problem: empty, too long, control
// characters, "#!::" without r= or a resource-bearing h=, an item without '=',
// a repeated r/h/m key, an unknown m= value, an empty app or stream.
Result<SrtStreamId> parse_srt_streamid(std::string_view text);

// "publish" or "request".
std::string_view srt_mode_name(SrtMode mode);

// The proxy chain (core/proxy_loop.h) the streamid carries in its srsproxy=
// key(s), joined with '.'; "" when it has none.
std::string srt_streamid_proxy_chain(const SrtStreamId& id);

// The streamid to send to the origin: `raw`, as the caller sent it and as
// parsed into `id`, with proxy id `proxy` appended to its srsproxy= chain.
// A "#!::" streamid keeps its other items byte for byte and gets one
// srsproxy= item at the end; a plain "app/stream?q" becomes
// "#!::r=app/stream?q,srsproxy=<hex>" (SRS's syntax, same meaning). Error
// when the result would be longer than kSrtMaxStreamIdBytes, or for a plain
// streamid with a ',' (it would split the resource in the key-value form).
Result<std::string> srt_streamid_for_origin(std::string_view raw, const SrtStreamId& id, uint64_t proxy);

}  // namespace sp
