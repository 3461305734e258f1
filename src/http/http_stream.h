// The HTTP stream service of a protocol worker (`http_stream { }` block):
// HTTP-FLV / HTTP-TS / AAC / MP3 live streams relayed from the picked origin,
// HLS with sessions routed through the shared registry, static files from
// `root`, CORS, GET /api/v1/versions, plain HTTP and HTTPS listeners.
//
// Routing of one request (first match wins):
//   OPTIONS *                         200, CORS headers, no body
//   GET /api/v1/versions              JSON, as on the system API
//   any path with ?spbhid=ID          the HLS session's origin (404 if unknown)
//   *.m3u8                            new HLS session, playlist rewritten
//   *.flv *.ts *.aac *.mp3 (or ?app=&stream=)   live relay from the picked origin
//   anything else                     static file from `root`, else 404
//
// Live relay: the stream key comes from the Host header and path
// (stream_key_from_http), the origin from the registry's pick(key,
// Proto::http) through the worker's RegistryClient.
// The origin gets the same path and query with its own Host; its status and
// end-to-end headers are passed on, and the body is streamed as it arrives.
// A body of known length keeps the client connection; a chunked or
// close-delimited body is de-chunked and sent close-delimited (valid for
// HTTP/1.0 and 1.1 clients alike, and no re-framing cost per byte).
// Errors: origin unreachable or none alive -> 503 with a one-line reason;
// the origin's own 404 (or any status) passes through; client gone -> the
// origin connection is closed at once. A request whose origin failed before
// its response head is retried on the origin the stream moves to (the
// failed one is marked down), within connect_timeout from its start, up to
// 3 origins; so is a new HLS viewer's playlist (not a session's segments,
// whose session names the origin). The pick's pin stays pending (first to
// be evicted, short-lived) until the origin answers 2xx; then the client is
// counted and the pin confirmed (Registry::confirm).
//
// Waiting for the registry: with the Redis backend a pick or an HLS session
// look-up answers later, from the loop. The request then waits (its further
// input stays buffered, bounded by the read watermark); the client closing
// cancels the look-up, so nothing is pinned, counted or stored for it. A
// look-up that fails with timeout or unavailable is answered 503 with a
// one-line reason naming the stream key or session (logged in the access
// line with the peer); one that gets no answer within connect_timeout is
// given up and answered 503 too. A new viewer whose fingerprint or reused
// session cannot be looked up gets a new session instead of an error.
//
// Proxy loops: every origin request carries Via with "1.1 srs-proxy-<id>"
// appended; a client request whose Via already names this proxy is answered
// 508 Loop Detected at once, before any pick (core/proxy_loop.h).
//
// HLS sessions: a playlist request without spbhid creates (or, for the same
// client address, User-Agent and stream, refreshes) a session whose id is 16
// hex chars of an HMAC under a random secret made in the master before it
// forks, so all workers agree. Players reload the URL they started with
// (without spbhid); a fresh random id per reload would leave one registry
// entry behind per reload. The registry entry holds the stream key, the
// origin's server id and, as its data, "HOST PORT" of the origin's http
// endpoint, so any worker can route the session's later requests without
// another pick. The playlist is fetched (following up to 5 redirects on the
// proxy side; a redirect to another origin moves the session there, and a
// redirect into another directory is remembered in the session so relative
// segment URIs, which the player resolves against its own URL, are mapped
// back into that directory),
// rewritten with hls_playlist.h so every URI carries spbhid, and answered
// with no-cache headers. The session and the viewer's fingerprint are put in
// the registry (and the pin confirmed) only once the playlist came back 200,
// so a playlist the origin does not have leaves nothing behind but a pending
// pin. Requests carrying spbhid refresh the session
// (get_session) and are relayed to its origin with spbhid removed from the
// query; playlists among them (master -> media) are rewritten again.
//
// Relaying: one origin connection per client request. Plaintext clients get
// the body written straight to their socket as each origin read arrives
// (identity bodies spliced socket to socket through a pipe, never copied
// into the process); only what the client's socket does not take is
// queued, and the origin is not read while anything is (http_server.h). So a
// viewer that keeps up holds no body bytes, a stalled one at most one origin
// read (256 KiB; a pipe's 64 KiB in the kernel when spliced) plus socket
// buffers, and is closed after idle_timeout without progress. TLS clients
// go through the bufferevent: reading stops above HttpConn::kHighWater
// (1 MiB) of pending output and resumes below HttpConn::kLowWater.
//
// Logs: every request gets one access line (peer, method, target, status,
// body bytes, duration, origin, end reason) under the connection's context
// id; a relayed stream also gets a start line.
//
// The classes behind this (one job each) are listed in stream_service.h.
#pragma once

#include "module/module.h"

namespace sp {

// The HTTP module (listed in src/modules.cpp; its tables in http_conf.cpp).
extern const Module kHttpModule;

}  // namespace sp
