// The SRT proxy service of a protocol worker: callers connect with libsrt
// (live mode) to `srt { listen }`, are routed by their streamid and relayed to
// the picked origin's `srt` endpoint. The design (threads, socket ownership
// across workers and reloads, rejections) is described at the top of
// srt_service.cpp.
//
// Waiting for the registry
// ------------------------
// The pick of a caller's origin used to be made in libsrt's listen callback,
// on libsrt's receive thread, which must answer at once (accept, or reject
// with a code) and must not block: every SRT socket of the multiplexer
// waits while it runs. The RegistryClient, on the other hand, belongs to the
// worker's event loop thread and may answer later (Redis). So:
//   - All registry traffic of the SRT threads goes through SrtRegistry
//     (srt_registry.h). With the memory backend it calls the client at once
//     from the asking thread (the table is process-shared and locked). With
//     Redis it queues the call for the loop thread, wakes it through the
//     eventfd the worker_connections notes already use, and the loop thread
//     makes the call and keeps its RegistryCall; the answer, whenever it
//     comes (on the loop thread), is queued back for the SRT thread.
//   - Listen callback: the pure checks (streamid, proxy loop, onward
//     streamid) as before; then, memory only, the pick, so a caller with no
//     origin is still rejected with 1503 (SRT_REJX_DOWN, "service
//     unavailable") before libsrt answers. With Redis the caller is accepted
//     without a pick.
//   - The SRT thread accepts the caller, creates its relay without an
//     origin, watches the caller's socket for errors only (its data waits in
//     libsrt's receive buffer, bounded by SRTO_RCVBUF) and asks for the
//     pick (SrtService's `waits_`). While answers are awaited the SRT loop
//     polls every 10 ms instead of sleeping 100 ms in srt_epoll_uwait(), so
//     an answer is acted on within 10 ms. The answer starts the origin connect,
//     or closes the caller: its end line ("srt session end: peer ..., key
//     ..., reason: no origin (registry: timeout|unavailable|...): ...") names
//     peer, key and reason. The caller sees a clean close, not a rejection
//     code: libsrt has answered its handshake by then.
//   - The wait shares the caller's connect_timeout (from its acceptance):
//     past it the caller is closed ("the registry did not answer within
//     connect_timeout"); the backend's own call timeout normally answers
//     first. A caller that closes meanwhile, a refusal by worker_connections
//     and the worker's exit end the relay and cancel the look-up (the loop
//     thread drops the RegistryCall); a late answer finds no waiting relay
//     and is discarded.
//   - The re-pick after a failed origin connect (retry_or_end) waits the
//     same way: the failed origin socket is closed first, "-1 client, pick,
//     +1 client" reach the registry in that order, and no answer or one
//     naming an origin already tried ends the session with the origin's
//     failure as reason.
//   - Writes (confirm, add_client, report_failure/success) take the same
//     queue with Redis, so they stay in order with the picks.
#pragma once

#include "module/module.h"

namespace sp {

// The SRT module (listed in src/modules.cpp). Every protocol worker gets a
// service; only worker slot 0 actually serves SRT. Its master hook keeps the
// reuseport groups across reloads (srt_groups.h).
extern const Module kSrtModule;

}  // namespace sp
