// The origin side shared by the HTTP stream service's origin jobs
// (StreamRelay, HlsPlaylistFetch): one OriginClient at a time for a
// StreamRequest, started with the request's forwarded headers, passive
// health reports to the registry, and the choice of the next origin when
// the current one failed before its response head (a pick that may wait on
// the registry, held by the request: StreamRequest::wait_registry).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/origin_client.h"
#include "http/stream_request.h"
#include "registry/registry_client.h"

namespace sp {

std::string host_port_text(const std::string& host, uint16_t port);

class OriginLeg : public OriginJob, public OriginClient::Handler {
 public:
  void abort() override { drop(); }

 protected:
  explicit OriginLeg(StreamRequest& req) : req_(req) {}

  // Starts a request to host:port for `target` (GET, or HEAD for a relayed
  // HEAD). A whole-body fetch (`relay` false: a playlist to rewrite) sends no
  // Range or conditional headers. False when it could not start: the origin
  // is reported, and the request answered 503 and over.
  bool open(const std::string& host, uint16_t port, const std::string& target, bool relay);
  // Passive health of the request's origin (StreamRequest::origin_desc()):
  // Registry::report_success / report_failure.
  void report(const Status& result);
  // Aborts the origin request; the client object is destroyed from the loop.
  void drop();
  // After the current origin failed before its response head: asks the
  // registry where `key` goes now, while connect_timeout from the request's
  // start has time left, up to 3 origins a request, never one already tried
  // (the failed one is down and no counted client keeps the stream on it).
  // False when no retry is possible: the caller ends the request. True: the
  // failed origin request is dropped and `then` runs (maybe before this
  // returns, maybe from the loop: the pick may wait on the registry, within
  // what is left of connect_timeout) with the next origin, already logged
  // and set as the request's origin, or with nullopt when there is none.
  // `hls_id` names the session in the retry's log line.
  using NextOrigin = std::function<void(std::optional<Pick>)>;
  bool next_origin(const std::string& key, const std::string& hls_id, NextOrigin then);

  StreamRequest& req_;
  std::unique_ptr<OriginClient> origin_;

 private:
  std::optional<Pick> retry_on(const std::string& key, const std::string& hls_id, Result<Pick> pick);

  std::vector<std::string> tried_;  // origins that failed this request
  int64_t open_us_ = 0;             // metrics: when open() began
};

}  // namespace sp
