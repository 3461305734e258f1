// The SRT streamid a caller sends in its handshake, parsed into the parts the
// proxy routes on. The listen callback calls parse_srt_streamid() before it
// accepts, rejects the caller when it fails, and otherwise builds the stream
// key from vhost/app/stream. The raw streamid is forwarded to the origin
// unchanged, so nothing here needs to re-encode it.
//
// Accepted forms (the ones SRS accepts, see SRS issue 2893):
//   #!::r=app/stream,m=publish,h=vhost,u=user,...   keys in any order
//   #!::h=app/stream                                 old form, one slash
//   #!::h=vhost/app/stream                           old form, two or more slashes
//   app/stream    stream                             plain; app defaults to "live"
// Any stream part may carry "?query". Pure: no libsrt, no sockets.
#pragma once

#include <cstddef>
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

}  // namespace sp
