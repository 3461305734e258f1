// One request of an HTTP stream client, from its head to the end of its
// answer: the proxy-loop check, routing (stream_route.h), the short answers
// (OPTIONS, 405, versions, errors), the client count of a relayed stream and
// the access log line. An answer that waits on an origin is an OriginJob
// (StreamRelay or HlsPlaylistFetch) owned by the request. The object is
// made by StreamConn when the head arrives and destroyed once the answer is
// over, so no field is ever reset for the next request.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "http/http_server.h"

namespace sp {

class HttpStreamService;
class StreamConn;
struct StreamRoute;

// What a request waits on while an origin answers.
class OriginJob {
 public:
  virtual ~OriginJob() = default;
  // The client's pending output fell below HttpConn::kLowWater.
  virtual void on_client_drain() {}
  // The client is gone: the origin request ends now, without callbacks.
  virtual void abort() = 0;
};

class StreamRequest {
 public:
  StreamRequest(StreamConn& owner, HttpStreamService& svc, HttpConn& conn, const HttpRequestHead& head);
  // Still running (a worker exiting): logged and its client count given back.
  ~StreamRequest();
  StreamRequest(const StreamRequest&) = delete;
  StreamRequest& operator=(const StreamRequest&) = delete;

  // Answers the request, at once or by starting an origin job.
  void serve(const HttpRequestHead& head);
  void on_client_drain();
  // The connection closed under the request.
  void client_gone(const std::string& reason);

  // For the jobs.
  HttpStreamService& svc() { return svc_; }
  HttpConn& conn() { return conn_; }
  const std::string& ctx() const { return conn_.ctx(); }
  const std::string& method() const { return method_; }
  const std::string& target() const { return target_; }
  const std::string& path() const { return path_; }
  const std::string& query() const { return query_; }
  int64_t started_ms() const { return started_ms_; }
  // Request headers passed on to the origin (with X-Forwarded-For and Via).
  const HttpHeaders& forward() const { return forward_; }
  // "server@host:port" of the origin serving the request, for the log.
  void set_origin(std::string desc) { origin_desc_ = std::move(desc); }
  const std::string& origin_desc() const { return origin_desc_; }
  void set_hls_id(std::string id) { hls_id_ = std::move(id); }
  // The origin accepted a viewer of `key`: counted in the registry until the
  // request ends.
  void count_client(const std::string& key);
  bool counted() const { return !counted_key_.empty(); }
  const std::string& counted_key() const { return counted_key_; }

  void add_cors(HttpHeaders* h) const;
  void answer(int status, const std::string& text, const char* content_type = "text/plain; charset=utf-8");
  // A one-line error answer; the request is over.
  void fail(int status, const std::string& why);
  // An error answer whose status comes from the kind (http/http_error.h).
  void fail(ErrorKind kind, const std::string& why);
  // The answer is over (reason empty when it went well): the access line is
  // logged, the client count given back, and the object destroyed later.
  void end(const std::string& reason);

 private:
  bool proxy_loop(const HttpRequestHead& head);
  void dispatch(const HttpRequestHead& head, const StreamRoute& route);
  void serve_live(const std::string& key);
  void serve_new_hls(const HttpRequestHead& head, const std::string& key);
  void serve_hls_session(const std::string& id);
  // Logs and releases once; false when already over.
  bool finish(const std::string& reason);

  StreamConn& owner_;
  HttpStreamService& svc_;
  HttpConn& conn_;
  bool running_ = true;
  int64_t started_ms_;
  std::string method_, target_, path_, query_, host_header_;
  HttpHeaders forward_;
  std::string origin_desc_;
  std::string hls_id_;
  std::string counted_key_;
  std::unique_ptr<OriginJob> job_;
};

}  // namespace sp
