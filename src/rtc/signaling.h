// Pure pieces of WHIP/WHEP and SRS-JSON signalling through the proxy (see
// rtc_api.h for the I/O): which stream a request names, where the origin
// really receives a session's media, the session record kept in the shared
// registry, and the rewrite of the origin's WHIP/WHEP resource URL (Location)
// so a later DELETE comes back to the proxy. Text in, value or error out.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace sp {

enum class RtcAction {
  whip,     // POST /rtc/v1/whip/           (publish, body = SDP offer)
  whep,     // POST /rtc/v1/whep/ or /rtc/v1/whip-play/ (play, body = SDP offer)
  publish,  // POST /rtc/v1/publish/        (SRS JSON: {"sdp","streamurl"})
  play,     // POST /rtc/v1/play/           (SRS JSON)
};
const char* rtc_action_name(RtcAction a);
inline bool rtc_action_is_json(RtcAction a) { return a == RtcAction::publish || a == RtcAction::play; }

struct RtcTarget {
  RtcAction action = RtcAction::whip;
  std::string app, stream;  // empty for the JSON actions (they carry a streamurl)
};

// Reads a signalling path and query: "/rtc/v1/whip/?app=live&stream=s",
// the path form "/rtc/v1/whip/live/s", "/rtc/v1/whep/...", "/rtc/v1/whip-play/...",
// "/rtc/v1/publish/", "/rtc/v1/play/". Error when the path is none of these or a
// WHIP/WHEP request names no app or stream.
Result<RtcTarget> parse_rtc_target(std::string_view path, std::string_view query);

// True for paths a WHIP/WHEP resource DELETE may use: the signalling paths
// above (SRS puts its resource on them) and anything under them.
bool is_rtc_resource_path(std::string_view path);

// SRS's "webrtc://host[:port]/app[/more]/stream[?query]" (also http(s)://).
// The stream is the last path segment, the app everything before it.
struct StreamUrl {
  std::string host, app, stream, query;
};
Result<StreamUrl> parse_stream_url(std::string_view url);

// Where the origin receives a session's media. An origin that gives each
// session a port of its own (aiortc, Janus, ...) names it in its answer's
// host candidates; an origin with one port for all (SRS) names that port,
// which is also the registered `rtc` endpoint. So: the port of the first UDP
// host candidate whose address is the origin's rtc host, else the registered
// port. Candidates naming other addresses (public IPs the origin announces)
// are not trusted, since the proxy reaches the origin on its registered host.
uint16_t origin_media_port(std::string_view answer_sdp, std::string_view rtc_host, uint16_t registered_port);

// The session record in the shared registry (SessionView::data), keyed by
// "answer-ufrag:offer-ufrag": where the origin receives the session's media,
// the answer's ice-pwd (so the relay checks MESSAGE-INTEGRITY of binding
// requests before trusting a USERNAME that travels in clear text), and the
// origin's own resource URL (path and query) for DELETE.
struct RtcSessionData {
  std::string origin_host;
  uint16_t origin_port = 0;
  std::string answer_pwd;      // may be empty (then integrity is not checked)
  std::string origin_resource;  // may be empty (no Location from the origin)
};
// Space-separated, at most kSessionDataMax bytes: the resource is left out if it
// does not fit, then the password.
std::string encode_rtc_session_data(const RtcSessionData& d, size_t max_bytes);
Result<RtcSessionData> decode_rtc_session_data(std::string_view text);

// The origin's Location (absolute URL, absolute path or relative reference,
// resolved against `request_path`) as path+query on the origin.
std::string origin_resource_path(std::string_view location, std::string_view request_path);

// The proxy's Location for a resource: the origin's path and query with
// `spsid=<session id>` added, so a DELETE through any worker finds the
// session and its origin. `base` is "scheme://host" or empty (relative URL).
std::string proxy_location(std::string_view origin_resource, std::string_view session_id, std::string_view base);

// Name of the abstract Unix socket that marks the worker owning a relayed
// session (see udp_relay.h): unique per webrtc listener socket (its inode,
// shared by every worker and generation) and session id.
std::string rtc_claim_socket_name(uint64_t listener_inode, std::string_view session_id);

}  // namespace sp
