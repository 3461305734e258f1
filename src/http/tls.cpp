// TLS server contexts: see tls.h.
#include "http/tls.h"

#include <openssl/err.h>

namespace sp {

std::string tls_error_text(unsigned long code) {
  if (code == 0) code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

Result<SslCtxPtr> make_tls_server_context(const std::string& cert_path, const std::string& key_path) {
  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return Result<SslCtxPtr>::Error("SSL_CTX_new failed: " + tls_error_text());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  // Renegotiation and compression only widen the attack surface here.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert_path.c_str()) != 1) {
    return Result<SslCtxPtr>::Error("cannot load certificate \"" + cert_path + "\": " + tls_error_text());
  }
  if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_path.c_str(), SSL_FILETYPE_PEM) != 1) {
    return Result<SslCtxPtr>::Error("cannot load private key \"" + key_path + "\": " + tls_error_text());
  }
  if (SSL_CTX_check_private_key(ctx.get()) != 1) {
    return Result<SslCtxPtr>::Error("private key \"" + key_path + "\" does not match certificate \"" + cert_path +
                                    "\": " + tls_error_text());
  }
  return ctx;
}

}  // namespace sp
