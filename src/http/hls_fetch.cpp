// HLS playlists fetched, rewritten and answered (see hls_fetch.h).
#include "http/hls_fetch.h"

#include <algorithm>

#include "core/clock.h"
#include "core/log.h"
#include "http/hls_playlist.h"
#include "http/hls_session.h"
#include "http/stream_service.h"

namespace sp {

void HlsPlaylistFetch::start(OriginTarget at) {
  at_ = std::move(at);
  status_ = 0;
  body_.clear();
  redirect_pending_ = false;
  open(at_.host, at_.port, at_.target, false);
}

void HlsPlaylistFetch::on_origin_head(OriginClient& origin, const HttpResponseHead& head) {
  report(Status::Ok());
  auto loc = head.headers.get("Location");
  if (head.status / 100 == 3 && loc && redirects_ < kMaxRedirects) {
    auto next = resolve_location(*loc, at_);
    if (next.ok()) {
      at_ = std::move(*next);
      redirect_pending_ = true;  // followed once this answer is over
      origin.abort();
      return finish(Status::Ok());
    }
  }
  status_ = head.status;
}

void HlsPlaylistFetch::on_origin_body(OriginClient& origin, std::span<const std::string_view> pieces) {
  for (std::string_view data : pieces) {
    if (body_.size() + data.size() > kMaxPlaylist) {
      origin.abort();
      return finish(Status::Error(ErrorKind::upstream, "playlist larger than 4 MiB"));
    }
    body_.append(data);
  }
}

void HlsPlaylistFetch::on_origin_end(OriginClient&, const Status& result) { finish(result); }

void HlsPlaylistFetch::finish(const Status& result) {
  if (!origin_) return;
  bool had_head = origin_->got_head();
  if (!had_head) report(result);
  // A new viewer's playlist: its session is not stored yet, so only where
  // the playlist comes from changes. A redirect's target is the origin's
  // choice, not the registry's: not retried.
  if (!had_head && !result.ok() && s_.is_new && redirects_ == 0 && !redirect_pending_) {
    bool retried = next_origin(s_.key, s_.id, [this, result](std::optional<Pick> pick) {
      if (!pick) return req_.fail(result.kind(), "origin " + req_.origin_desc() + ": " + result.message());
      s_.server = pick->origin.server;
      start(OriginTarget{pick->host, pick->port, at_.target});
    });
    if (retried) return;
  }
  drop();
  if (redirect_pending_) {
    redirects_++;
    std::string desc = host_port_text(at_.host, at_.port);
    SP_INFO(req_.ctx(), "http: origin redirected the playlist to %s%s", desc.c_str(), at_.target.c_str());
    req_.set_origin(s_.server + "@" + desc);
    return start(at_);
  }
  if (!result.ok()) {
    forget_if_missing();
    return req_.fail(result.kind(), "origin " + req_.origin_desc() + ": " + result.message());
  }
  if (status_ != 200) {
    forget_if_missing();
    // 404 and 508 (a proxy loop further on) keep their meaning for the
    // player; a loop's one-line reason goes along.
    std::string why = "origin " + req_.origin_desc() + " answered " + std::to_string(status_) + " for the playlist";
    if (status_ == 508) why += ": " + body_.substr(0, std::min(body_.find_first_of("\r\n"), size_t(200)));
    return req_.fail(status_ == 404 || status_ == 508 ? status_ : 502, why);
  }
  answer_playlist();
}

void HlsPlaylistFetch::forget_if_missing() {
  if (s_.is_new && status_ == 404) req_.registry().remove_session(SessionKind::hls, s_.id);
}

void HlsPlaylistFetch::answer_playlist() {
  auto rewritten = rewrite_hls_playlist(body_, s_.id);
  if (!rewritten.ok()) {
    forget_if_missing();
    return req_.fail(502, "origin " + req_.origin_desc() + " sent a bad playlist: " + rewritten.error());
  }
  RegistryClient& registry = req_.registry();
  if (s_.is_new || (redirects_ > 0 && !s_.id.empty())) {
    // Later requests of the session go where the playlist came from, into
    // the directory it came from. (at_ is the pick's when there was no
    // redirect.) Re-put even when reused: the stream may have moved to
    // another origin.
    std::string data = hls_session_data(make_hls_session_route(at_.host, at_.port, req_.path(), at_.target,
                                                               redirects_ > 0));
    if (data.size() > kSessionDataMax) {
      SP_WARN(req_.ctx(), "http: hls session %s: redirected paths too long to remember", s_.id.c_str());
      data = hls_session_data(HlsSessionRoute{at_.host, at_.port, {}, {}});
    }
    int64_t now = monotonic_ms();
    Status st = registry.put_session(SessionKind::hls, s_.id, s_.key, s_.server, data, now);
    if (!st.ok()) {
      if (s_.is_new) return req_.fail(st.kind(), "cannot create HLS session: " + st.message());
      SP_WARN(req_.ctx(), "http: hls session %s not updated: %s", s_.id.c_str(), st.message().c_str());
    }
    if (s_.is_new) {
      st = registry.put_session(SessionKind::hls_client, s_.client, s_.key, s_.server, s_.id, now);
      if (!st.ok()) {
        SP_WARN(req_.ctx(), "http: hls session %s not remembered for reloads: %s", s_.id.c_str(),
                st.message().c_str());
      }
      st = registry.confirm(s_.key, s_.server, now);
      if (!st.ok()) SP_WARN(req_.ctx(), "http: stream %s not pinned: %s", s_.key.c_str(), st.message().c_str());
    }
  }
  HttpHeaders h;
  h.add("Content-Type", "application/vnd.apple.mpegurl");
  h.add("Cache-Control", "no-cache, no-store");
  req_.add_cors(&h);
  req_.conn().respond(200, h, rewritten->text);
  req_.end("");
}

}  // namespace sp
