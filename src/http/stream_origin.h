// The origin side shared by the HTTP stream service's origin jobs
// (StreamRelay, HlsPlaylistFetch): one OriginClient at a time for a
// StreamRequest, started with the request's forwarded headers, passive
// health reports to the registry, and the choice of the next origin when
// the current one failed before its response head.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/origin_client.h"
#include "http/stream_request.h"
#include "registry/registry.h"

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
  // After the current origin failed before its response head: the origin the
  // registry now sends `key` to, while connect_timeout from the request's
  // start has time left, up to 3 origins a request, never one already tried
  // (the failed one is down and no counted client keeps the stream on it).
  // Logs the retry; `hls_id` names the session in that line.
  std::optional<Pick> next_origin(const std::string& key, const std::string& hls_id);

  StreamRequest& req_;
  std::unique_ptr<OriginClient> origin_;

 private:
  std::vector<std::string> tried_;  // origins that failed this request
};

}  // namespace sp
