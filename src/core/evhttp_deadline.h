// Request deadlines for libevent's evhttp servers (system_api, http_api).
//
// evhttp's own timeout is a read timeout that every received byte restarts,
// so a client trickling its request head a byte a second (slowloris) holds
// a connection for hours: 16 KiB of headers at one byte per second. Here
// each connection gets `timeout_ms` from its accept, and again from each
// complete answer, to deliver a whole request; past it the connection is
// closed (and logged with the peer). While a
// request is being answered (the WHIP/WHEP API answers asynchronously) no
// deadline runs: the request's own timeouts apply.
//
// How it hooks in without evhttp internals (libevent 2.1 has no callback
// for a new connection): evhttp_set_bevcb creates each connection's
// bufferevent, which we hold a reference on until the next loop iteration;
// by then evhttp has set the bufferevent's callbacks, whose argument is the
// evhttp_connection, and we watch it with its close callback. So the close
// callback belongs to this class: a service that wants it too uses
// set_close_hook(). The request callback must call on_request(req) first.
//
// worker_connections: with a limiter, each connection takes a slot when it is
// adopted (the loop iteration after its accept, before any request is read)
// and gives it back when it closes; one the limiter refuses is closed at once.
#pragma once

#include <event2/bufferevent.h>
#include <event2/http.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/connection_limiter.h"
#include "core/event_ptr.h"

namespace sp {

class EvhttpDeadlines {
 public:
  using BevMaker = bufferevent* (*)(event_base*, void*);
  using CloseHook = void (*)(evhttp_connection*, void*);

  // `what` names the server in log lines ("system_api", "http_api").
  // `limiter`, if any, must outlive this object.
  EvhttpDeadlines(event_base* base, int64_t timeout_ms, std::string what, ConnectionLimiter* limiter = nullptr);
  ~EvhttpDeadlines();
  EvhttpDeadlines(const EvhttpDeadlines&) = delete;
  EvhttpDeadlines& operator=(const EvhttpDeadlines&) = delete;

  // Watches every connection of `http` (which must be freed before this
  // object). `make` creates the bufferevent (e.g. TLS); null: plain socket.
  void attach(evhttp* http, BevMaker make = nullptr, void* make_arg = nullptr);
  // At the top of the request callback: no deadline until req is answered.
  void on_request(evhttp_request* req);
  // The connection's close callback, for a service (null hook: none).
  void set_close_hook(evhttp_connection* evcon, CloseHook hook, void* arg);

  size_t connections() const { return by_bev_.size(); }

 private:
  struct Maker {
    EvhttpDeadlines* owner;
    BevMaker make;
    void* arg;
  };
  struct Conn {
    EvhttpDeadlines* owner = nullptr;
    bufferevent* bev = nullptr;
    evhttp_connection* evcon = nullptr;  // null until adopted
    bool ref_held = false;               // our reference until adopted
    bool busy = false;                   // a request is being answered
    bool counted = false;                // holds a worker_connections slot
    int64_t since_ms = 0;
    EventPtr timer;
    CloseHook hook = nullptr;
    void* hook_arg = nullptr;
    ~Conn();
  };

  static bufferevent* on_new_bev(event_base* base, void* arg);
  static void on_timer(evutil_socket_t, short, void* arg);
  static void on_close(evhttp_connection* evcon, void* arg);
  static void on_complete(evhttp_request* req, void* arg);
  static void on_reap(evutil_socket_t, short, void* arg);
  // `may_refuse`: false when called from evhttp's own request path, where
  // the connection must not be freed under it.
  void adopt(Conn* c, bool may_refuse);
  void expire(Conn* c);
  void arm(Conn* c);
  void drop(Conn* c);

  event_base* base_;
  int64_t timeout_ms_;
  std::string what_;
  ConnectionLimiter* limiter_;
  EventPtr reaper_;
  std::vector<std::unique_ptr<Maker>> makers_;
  std::unordered_map<bufferevent*, std::unique_ptr<Conn>> by_bev_;
  std::unordered_map<evhttp_connection*, Conn*> by_evcon_;
  std::vector<std::unique_ptr<Conn>> graveyard_;  // dropped from a callback of their own
};

}  // namespace sp
