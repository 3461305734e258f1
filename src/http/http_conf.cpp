// The HTTP module's configuration: directives of the `http_stream { }`
// (HTTP-FLV/TS, HLS, static files) and `http_api { }` (WHIP/WHEP signalling)
// blocks, their PROXY_* overrides, listeners and checks (a certificate pair
// that does not load fails at -t / reload, not at worker start). The two
// blocks share most directives; the setters are templates over which block
// they fill.
#include "http/http_conf.h"

#include "core/access_log.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "core/conf_checks.h"

namespace sp {

namespace {

template <class Block>
Status set_listen(Config& c, const ConfDirective& d) {
  return add_listen(d, kListenSsl | kListenBacklog, &c.module<Block>().listen);
}
template <class Block>
Status set_cert(Config& c, const ConfDirective& d) {
  return set_string(d, &c.module<Block>().ssl_certificate);
}
template <class Block>
Status set_cert_key(Config& c, const ConfDirective& d) {
  return set_string(d, &c.module<Block>().ssl_certificate_key);
}
template <class Block>
Status set_cors(Config& c, const ConfDirective& d) {
  return set_flag(d, &c.module<Block>().cors);
}
template <class Block>
Status set_connect_timeout(Config& c, const ConfDirective& d) {
  return set_time(d, &c.module<Block>().connect_timeout_ms);
}
template <class Block>
Status set_idle_timeout(Config& c, const ConfDirective& d) {
  return set_time(d, &c.module<Block>().idle_timeout_ms);
}

using kStream = HttpStreamConf;
using kApi = HttpApiConf;

const Directive kHttpDirectives[] = {
    SP_ACCESS_LOG_DIRECTIVE(kCtxHttpStream, c.module<HttpStreamConf>().access_log),
    {"http_stream", kCtxMain, 0, 0, kCtxHttpStream, false, nullptr, "http_stream { ... }", "",
     "The HTTP stream listener: HTTP-FLV, HTTP-TS, HLS and static files."},
    {"listen", kCtxHttpStream, 1, 3, 0, true, set_listen<kStream>, "listen ADDRESS [ssl] [backlog=NUMBER];", "",
     "TCP address (standard port 8080); \"ssl\" serves HTTPS. May be repeated."},
    {"ssl_certificate", kCtxHttpStream, 1, 1, 0, false, set_cert<kStream>, "ssl_certificate PATH;", "",
     "PEM certificate (chain) for ssl listens."},
    {"ssl_certificate_key", kCtxHttpStream, 1, 1, 0, false, set_cert_key<kStream>,
     "ssl_certificate_key PATH;", "", "PEM private key for ssl listens."},
    {"root", kCtxHttpStream, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.module<HttpStreamConf>().root); }, "root PATH;", "",
     "Directory of static files served for paths that are not streams."},
    {"cors", kCtxHttpStream, 1, 1, 0, false, set_cors<kStream>, "cors on|off;", "on",
     "Send Access-Control-Allow-* headers and answer OPTIONS pre-flights."},
    {"connect_timeout", kCtxHttpStream, 1, 1, 0, false, set_connect_timeout<kStream>, "connect_timeout TIME;",
     "5s", "Time allowed to connect to the origin and get its response headers."},
    {"idle_timeout", kCtxHttpStream, 1, 1, 0, false, set_idle_timeout<kStream>, "idle_timeout TIME;", "30s",
     "Time allowed without data from the client (request) or the origin (body)."},

    {"http_api", kCtxMain, 0, 0, kCtxHttpApi, false, nullptr, "http_api { ... }", "",
     "The HTTP API listener: WHIP/WHEP and SRS WebRTC signalling."},
    {"listen", kCtxHttpApi, 1, 3, 0, true, set_listen<kApi>, "listen ADDRESS [ssl] [backlog=NUMBER];", "",
     "TCP address (standard port 1985); \"ssl\" serves HTTPS. May be repeated."},
    {"ssl_certificate", kCtxHttpApi, 1, 1, 0, false, set_cert<kApi>, "ssl_certificate PATH;", "",
     "PEM certificate (chain) for ssl listens."},
    {"ssl_certificate_key", kCtxHttpApi, 1, 1, 0, false, set_cert_key<kApi>, "ssl_certificate_key PATH;", "",
     "PEM private key for ssl listens."},
    {"cors", kCtxHttpApi, 1, 1, 0, false, set_cors<kApi>, "cors on|off;", "on",
     "Send Access-Control-Allow-* headers and answer OPTIONS pre-flights."},
    {"connect_timeout", kCtxHttpApi, 1, 1, 0, false, set_connect_timeout<kApi>, "connect_timeout TIME;", "5s",
     "Time allowed to connect to the origin and get its answer."},
    {"idle_timeout", kCtxHttpApi, 1, 1, 0, false, set_idle_timeout<kApi>, "idle_timeout TIME;", "30s",
     "Time allowed without data from the client."},
};

}  // namespace

namespace {

template <class Block>
Status set_listen_env(Config& c, const std::string& v) {
  return set_listen_from_env(&c.module<Block>().listen, v,
                             std::is_same_v<Block, HttpStreamConf> ? "PROXY_HTTP_SERVER" : "PROXY_HTTP_API");
}

const EnvOverride kHttpEnvironment[] = {
    {"PROXY_HTTP_SERVER", set_listen_env<HttpStreamConf>, "http_stream { listen }"},
    {"PROXY_HTTP_API", set_listen_env<HttpApiConf>, "http_api { listen }"},
    {"PROXY_STATIC_FILES",
     [](Config& c, const std::string& v) {
       c.module<HttpStreamConf>().root = v;
       return Status::Ok();
     },
     "http_stream { root }"},
};

void http_listens(const Config& c, std::vector<ConfListen>* out) {
  for (const ListenConf& l : c.module<HttpStreamConf>().listen) out->push_back(ConfListen{"http_stream", false, false, &l});
  for (const ListenConf& l : c.module<HttpApiConf>().listen) out->push_back(ConfListen{"http_api", false, false, &l});
}

// Loads the PEM certificate and key the way a worker will, so a bad or
// mismatched pair fails at -t / reload instead of at worker start.
Status check_cert_pair(const char* block, const std::string& cert, const std::string& key) {
  auto fail = [&](const std::string& file, const char* what) {
    unsigned long code = ERR_get_error();
    ERR_clear_error();
    char reason[256] = "";
    if (code) ERR_error_string_n(code, reason, sizeof reason);
    return Status::Error(std::string(what) + " \"" + file + "\" in \"" + block + "\"" +
                         (code ? std::string(": ") + reason : std::string()));
  };
  ERR_clear_error();
  std::unique_ptr<BIO, decltype(&BIO_free)> cbio(BIO_new_file(cert.c_str(), "r"), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> x509(cbio ? PEM_read_bio_X509(cbio.get(), nullptr, nullptr, nullptr)
                                                        : nullptr, X509_free);
  if (!x509) return fail(cert, "cannot load certificate");
  std::unique_ptr<BIO, decltype(&BIO_free)> kbio(BIO_new_file(key.c_str(), "r"), BIO_free);
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(
      kbio ? PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr) : nullptr, EVP_PKEY_free);
  if (!pkey) return fail(key, "cannot load private key");
  if (X509_check_private_key(x509.get(), pkey.get()) != 1) return fail(key, "private key does not match certificate for");
  return Status::Ok();
}

Status check_ssl(const char* block, const std::vector<ListenConf>& listen, std::string* cert, std::string* key,
                 const std::string& dir) {
  bool any_ssl = false;
  for (const ListenConf& l : listen) any_ssl |= l.ssl;
  if (!cert->empty()) *cert = resolve_against(dir, *cert);
  if (!key->empty()) *key = resolve_against(dir, *key);
  if (!any_ssl) return Status::Ok();
  if (cert->empty() || key->empty()) {
    return Status::Error(std::string("\"") + block +
                         "\" has an ssl listen but no \"ssl_certificate\" and \"ssl_certificate_key\"");
  }
  for (const std::string* f : {cert, key}) {
    if (access(f->c_str(), R_OK) != 0) {
      return Status::Error(std::string("cannot read \"") + *f + "\" in \"" + block + "\": " + strerror(errno));
    }
  }
  return check_cert_pair(block, *cert, *key);
}

Status validate_http(Config& c) {
  HttpStreamConf& stream = c.module<HttpStreamConf>();
  HttpApiConf& api = c.module<HttpApiConf>();
  // Relative paths are relative to the configuration file's directory.
  const std::string dir = conf_dir(c);
  if (!stream.root.empty()) stream.root = resolve_against(dir, stream.root);
  Status st = check_ssl("http_stream", stream.listen, &stream.ssl_certificate, &stream.ssl_certificate_key, dir);
  if (!st.ok()) return st;
  return check_ssl("http_api", api.listen, &api.ssl_certificate, &api.ssl_certificate_key, dir);
}

// The certificates of ssl listeners and the static root, read by the workers.
void http_reads(const Config& c, std::vector<ConfRead>* out) {
  auto ssl = [&](const char* block, const std::vector<ListenConf>& listen, const std::string& cert,
                 const std::string& key) {
    bool any = false;
    for (const ListenConf& l : listen) any |= l.ssl;
    if (!any) return;
    out->push_back({std::string("ssl_certificate in \"") + block + "\"", cert, false});
    out->push_back({std::string("ssl_certificate_key in \"") + block + "\"", key, false});
  };
  const HttpStreamConf& stream = c.module<HttpStreamConf>();
  const HttpApiConf& api = c.module<HttpApiConf>();
  ssl("http_stream", stream.listen, stream.ssl_certificate, stream.ssl_certificate_key);
  ssl("http_api", api.listen, api.ssl_certificate, api.ssl_certificate_key);
  if (!stream.root.empty() && !stream.listen.empty()) out->push_back({"root in \"http_stream\"", stream.root, true});
}

}  // namespace

extern const ConfModule kHttpConfModule = {"http",        kHttpDirectives, kHttpEnvironment, http_listens,
                                           validate_http, nullptr,         http_reads};

}  // namespace sp
