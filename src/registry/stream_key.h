// The one stream-key normalisation every protocol uses: VHOST/APP/STREAM, with
// no extension and no query. VHOST is the host when it is a domain name, else
// "__defaultVhost__" (IP addresses, "localhost", no host); a `vhost=` query
// parameter overrides it. Query parameters are never part of the key.
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"

namespace sp {

constexpr std::string_view kDefaultVhost = "__defaultVhost__";

// The vhost for a host name (port, if any, stripped) and an optional query.
std::string normalize_vhost(std::string_view host, std::string_view query);

// Builds the key from parts: host (may carry ":port"), app, stream (may carry
// ".flv"/".m3u8"/... and "?query"), and extra query text (e.g. the tcUrl's).
// Error when app or stream is empty or contains characters that cannot be part
// of a key.
Result<std::string> make_stream_key(std::string_view host, std::string_view app,
                                    std::string_view stream, std::string_view extra_query = "");

// RTMP: from tcUrl ("rtmp://host:port/app?vhost=x") and the play/publish name
// ("stream?token=1").
Result<std::string> stream_key_from_rtmp(std::string_view tc_url, std::string_view stream_name);

// HTTP: from the Host header and request path+query ("/live/stream.flv?x=1").
Result<std::string> stream_key_from_http(std::string_view host_header, std::string_view path_and_query);

}  // namespace sp
