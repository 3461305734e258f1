// One request of an HTTP stream client, from its head to the end of its
// answer: the proxy-loop check, routing (stream_route.h), the short answers
// (OPTIONS, 405, versions, errors), the client count of a relayed stream and
// the access log line. An answer that waits on an origin is an OriginJob
// (StreamRelay or HlsPlaylistFetch) owned by the request. The object is
// made by StreamConn when the head arrives and destroyed once the answer is
// over, so no field is ever reset for the next request.
//
// Waiting for the registry: the pick of a live stream or a new HLS viewer,
// the HLS session look-ups and a job's retry pick go through the
// RegistryClient, which may answer later (Redis). Meanwhile the request holds
// the RegistryCall (wait_registry), the client's further input waits in its
// buffer (HttpConn reads no next request while one is handled, bounded by
// its read watermark), and a deadline runs: the registry's own timeout
// normally answers first; if no answer came by the deadline the look-up is
// dropped and the client answered 503. The client going away (or the
// request ending any other way) drops the look-up, so a late answer is never
// delivered and leaves no pin, count or session.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "core/event_ptr.h"
#include "core/metrics.h"
#include "http/http_server.h"
#include "registry/registry_client.h"

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

  // The "waiting for the registry" state (see above): `call`, whose callback
  // may capture this request or its job, is kept until it is answered or the
  // request ends; if it is not answered within `timeout_ms` it is dropped and
  // `expired` runs. Nothing happens when the answer came before the call
  // returned (memory backend), so a look-up started from inside another's
  // callback is never replaced by its parent's empty handle.
  void wait_registry(RegistryCall call, int64_t timeout_ms, std::function<void()> expired);
  bool waiting_registry() const { return lookup_.pending(); }

  // For the jobs.
  HttpStreamService& svc() { return svc_; }
  RegistryClient& registry();
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
  metrics::SessionMeter& meter() { return meter_; }
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
  void live_picked(const std::string& key, Result<Pick> pick);
  void new_hls_picked(const std::string& key, const std::string& client, Result<Pick> pick);
  void new_hls_known(const std::string& key, Pick pick, const std::string& client, Result<SessionView> known);
  void new_hls_start(const std::string& key, const Pick& pick, const std::string& client, std::string id, bool reused,
                     const std::string& note);
  void hls_session_found(const std::string& id, Result<SessionView> s);
  // The default answer to a look-up that did not come in time: 503.
  std::function<void()> registry_late(const std::string& what);
  static void on_lookup_deadline(evutil_socket_t, short, void* arg);
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
  metrics::SessionMeter meter_;  // core/metrics.h: from the constructor to finish()
  std::string hls_id_;
  std::string counted_key_;
  std::unique_ptr<OriginJob> job_;
  // After job_: a pending look-up whose callback captures the job is
  // cancelled before the job is destroyed.
  RegistryCall lookup_;
  EventPtr lookup_timer_;
  std::function<void()> lookup_expired_;
};

}  // namespace sp
