// TLS for the HTTP listeners: one server SSL_CTX per listener block, built at
// worker start from the configured PEM certificate (chain) and key. TLS 1.2
// is the oldest version offered. Handles are RAII-owned like the libevent
// ones in core/event_ptr.h.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "core/result.h"

namespace sp {

struct SslCtxDeleter {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslDeleter {
  void operator()(SSL* s) const { SSL_free(s); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;

// Loads and checks (key matches certificate) a server context. The error
// names the file and OpenSSL's reason.
Result<SslCtxPtr> make_tls_server_context(const std::string& cert_path, const std::string& key_path);

// The oldest queued OpenSSL error as text ("" when none); clears the queue.
std::string tls_error_text(unsigned long code = 0);

}  // namespace sp
