// Directives of the `http_stream { }` (HTTP-FLV/TS, HLS, static files) and
// `http_api { }` (WHIP/WHEP signalling) blocks. The two blocks share most
// directives; the setters are templates over which block they fill.
#include "core/config.h"

namespace sp {

namespace {

template <auto Block>
Status set_listen(Config& c, const ConfDirective& d) {
  return add_listen(d, true, &(c.*Block).listen);
}
template <auto Block>
Status set_cert(Config& c, const ConfDirective& d) {
  return set_string(d, &(c.*Block).ssl_certificate);
}
template <auto Block>
Status set_cert_key(Config& c, const ConfDirective& d) {
  return set_string(d, &(c.*Block).ssl_certificate_key);
}
template <auto Block>
Status set_cors(Config& c, const ConfDirective& d) {
  return set_flag(d, &(c.*Block).cors);
}
template <auto Block>
Status set_connect_timeout(Config& c, const ConfDirective& d) {
  return set_time(d, &(c.*Block).connect_timeout_ms);
}
template <auto Block>
Status set_idle_timeout(Config& c, const ConfDirective& d) {
  return set_time(d, &(c.*Block).idle_timeout_ms);
}

constexpr auto kStream = &Config::http_stream;
constexpr auto kApi = &Config::http_api;

const Directive kHttpDirectives[] = {
    {"http_stream", kCtxMain, 0, 0, kCtxHttpStream, false, nullptr, "http_stream { ... }", "",
     "The HTTP stream listener: HTTP-FLV, HTTP-TS, HLS and static files."},
    {"listen", kCtxHttpStream, 1, 2, 0, true, set_listen<kStream>, "listen ADDRESS [ssl];", "",
     "TCP address (standard port 8080); \"ssl\" serves HTTPS. May be repeated."},
    {"ssl_certificate", kCtxHttpStream, 1, 1, 0, false, set_cert<kStream>, "ssl_certificate PATH;", "",
     "PEM certificate (chain) for ssl listens."},
    {"ssl_certificate_key", kCtxHttpStream, 1, 1, 0, false, set_cert_key<kStream>,
     "ssl_certificate_key PATH;", "", "PEM private key for ssl listens."},
    {"root", kCtxHttpStream, 1, 1, 0, false,
     [](Config& c, const ConfDirective& d) { return set_string(d, &c.http_stream.root); }, "root PATH;", "",
     "Directory of static files served for paths that are not streams."},
    {"cors", kCtxHttpStream, 1, 1, 0, false, set_cors<kStream>, "cors on|off;", "on",
     "Send Access-Control-Allow-* headers and answer OPTIONS pre-flights."},
    {"connect_timeout", kCtxHttpStream, 1, 1, 0, false, set_connect_timeout<kStream>, "connect_timeout TIME;",
     "5s", "Time allowed to connect to the origin and get its response headers."},
    {"idle_timeout", kCtxHttpStream, 1, 1, 0, false, set_idle_timeout<kStream>, "idle_timeout TIME;", "30s",
     "Time allowed without data from the client (request) or the origin (body)."},

    {"http_api", kCtxMain, 0, 0, kCtxHttpApi, false, nullptr, "http_api { ... }", "",
     "The HTTP API listener: WHIP/WHEP and SRS WebRTC signalling."},
    {"listen", kCtxHttpApi, 1, 2, 0, true, set_listen<kApi>, "listen ADDRESS [ssl];", "",
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

extern const ConfModule kHttpConfModule = {"http", kHttpDirectives};

}  // namespace sp
