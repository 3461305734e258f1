// An HLS playlist fetched whole from an origin for a client of the HTTP
// stream service: for a new viewer (after a pick; the session and the
// viewer's fingerprint are stored only once the playlist came back 200) or
// for an existing session (master -> media playlists). Redirects are
// followed on the proxy side (up to 5, location.h); one to another origin
// moves the session there, one into another directory is remembered in the
// session record (hls_session.h). The playlist is rewritten so every URI
// carries the session id (hls_playlist.h) and answered with no-cache
// headers. A new viewer's playlist whose origin failed before its head is
// retried on the stream's new origin (OriginLeg::next_origin).
#pragma once

#include <string>

#include "http/location.h"
#include "http/stream_origin.h"

namespace sp {

class HlsPlaylistFetch : public OriginLeg {
 public:
  static constexpr size_t kMaxPlaylist = 4 * 1024 * 1024;
  static constexpr int kMaxRedirects = 5;

  struct Session {
    std::string id;         // the HLS session id (spbhid)
    std::string key;        // its stream key
    std::string server;     // its origin's server id
    std::string client;     // new viewer: its fingerprint (hls_client session id)
    bool is_new = false;    // a new viewer (picked): stored once the playlist is 200
  };

  HlsPlaylistFetch(StreamRequest& req, Session session) : OriginLeg(req), s_(std::move(session)) {}

  // Fetches `at` (host, port, target); the request is over when it cannot
  // start.
  void start(OriginTarget at);

  void on_origin_head(OriginClient& origin, const HttpResponseHead& head) override;
  void on_origin_body(OriginClient& origin, std::span<const std::string_view> pieces) override;
  void on_origin_end(OriginClient& origin, const Status& result) override;

 private:
  void finish(const Status& result);
  // The playlist came back 200: store the session, answer the rewritten text.
  void answer_playlist();
  // A playlist the origin does not have: drop a new viewer's session now
  // rather than after session_ttl (other failures may be transient).
  void forget_if_missing();

  Session s_;
  OriginTarget at_;  // the current origin request; after a redirect, the next one
  int redirects_ = 0;
  bool redirect_pending_ = false;
  int status_ = 0;
  std::string body_;
};

}  // namespace sp
