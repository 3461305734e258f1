// The WebRTC UDP media relay of one protocol worker (I/O glue; the wire format
// is stun.h). Clients send ICE/DTLS/SRTP to the webrtc listener; the relay
// recognises a session by the USERNAME of the client's STUN binding request
// (recorded by signalling, rtc_api.h) and relays every datagram of it to the
// origin over a socket of its own, and the origin's datagrams back.
//
// How a session's packets reach the worker that owns it (multi-worker):
//
//   Every worker reads the shared listener, but only to *start* sessions.
//   The worker that reads a session's first valid binding request becomes its
//   owner and opens, per client address ("path"), a UDP socket bound to the
//   listener's own address and port (SO_REUSEADDR, as the listener) and
//   connect()ed to that client address. Linux delivers a datagram to the
//   connected socket whose 4-tuple matches before any unconnected one, so from
//   then on the kernel itself steers that client's packets to the owner; the
//   owner's replies leave from the same address and port the client talks to.
//   (Kernels since 6.13 find connected UDP sockets by a 4-tuple hash; older
//   ones walk every socket bound to the port, which costs O(sessions) per
//   packet: the known scaling limit of this design there.)
//
//   Ownership is an abstract Unix datagram socket named after the listener
//   and the session id (signaling.h: rtc_claim_socket_name). bind() is atomic,
//   so two workers reading retransmitted binding requests cannot both own a
//   session, and the kernel releases the name when the owner exits or crashes
//   (the next binding request, sent by ICE consent checks every few seconds,
//   lets another worker adopt the session). A worker that reads a binding
//   request for a session owned elsewhere -- a client behind a NAT that
//   rebinds, or a second candidate of the client -- forwards it (with the
//   client and local addresses) to the owner through that socket; the owner
//   opens a new path and the kernel steers that address too.
//
//   Reload: old workers stop reading the listener at once but keep their
//   sessions (connected sockets are their own), until the sessions end or
//   shutdown_timeout passes; new sessions start in the new generation; a
//   rebinding of an old session reaches its old owner through the claim socket.
//
//   Cost: three descriptors per session (path, origin, claim) plus one per
//   extra client path; a UDP datagram from a client that is racing the
//   creation of its connected socket may land on the listener of another
//   worker, which drops it unless it is a binding request (ICE retransmits).
//
// Session look-up: a binding request whose USERNAME names no session of this
// worker is looked up in the registry (RegistryClient::get_session), which
// may answer later (Redis). While it waits, only the one binding request
// that started the look-up is held (one datagram, at most kSlotBytes);
// further datagrams from that client address, and further binding requests
// for that session from any address, are dropped and counted
// (waiting_drops): ICE retransmits its checks, and nothing else is sent
// before a check succeeds. At most 64 look-ups wait per worker; a binding
// request beyond that is refused and counted (lookup_refused), so a flood of
// unknown USERNAMEs costs a bounded amount of memory. A look-up that fails
// (registry timeout or unreachable) or outlives 5 s is dropped and counted
// (lookup_failed): there is nobody to answer over UDP without the session's
// password, and the client's next check retries.
//
// Hot path (path socket <-> origin socket): recvmmsg into per-worker buffers,
// sendmmsg of the same buffers, no allocation. UDP has no back-pressure: when
// the kernel send buffer is full the batch's rest is dropped and counted, so
// memory per session stays bounded by construction.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "registry/registry_client.h"

namespace sp {

class ConnectionLimiter;

class UdpRelay {
 public:
  struct Counters {
    uint64_t sessions = 0;           // started
    uint64_t not_stun = 0;           // non-STUN from an unknown address
    uint64_t bad_stun = 0;           // malformed STUN, or not a binding request with USERNAME
    uint64_t unknown_username = 0;   // USERNAME that names no recorded session
    uint64_t bad_integrity = 0;      // MESSAGE-INTEGRITY wrong for the session
    uint64_t oversized = 0;          // datagrams over the relay's buffer, dropped
    uint64_t forwarded_to_owner = 0;  // binding requests handed to another worker
    uint64_t send_drops = 0;         // datagrams lost to a full kernel send buffer
    uint64_t lookup_waits = 0;       // binding requests that waited for the registry's answer
    uint64_t waiting_drops = 0;      // datagrams dropped while their session was being looked up
    uint64_t lookup_refused = 0;     // binding requests refused: too many look-ups in flight
    uint64_t lookup_failed = 0;      // look-ups that failed (registry timeout/unavailable, or 5 s)
  };

  // Look-ups waiting for the registry at once, per worker (see above).
  static constexpr size_t kMaxLookups = 64;
  // A look-up the registry has not answered by then is given up.
  static constexpr int64_t kLookupTimeoutMs = 5000;

  UdpRelay(event_base* base, const Config& conf, RegistryClient& registry, ConnectionLimiter& limiter);
  ~UdpRelay();
  UdpRelay(const UdpRelay&) = delete;
  UdpRelay& operator=(const UdpRelay&) = delete;

  // Starts reading the inherited listener sockets (the caller keeps its fds).
  Status start(const std::vector<int>& listen_fds);
  // Graceful stop: no new sessions; current ones go on.
  void stop_accepting();
  size_t active_sessions() const;
  // Session look-ups waiting for the registry.
  size_t pending_lookups() const;
  const Counters& counters() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace sp
