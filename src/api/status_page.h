// The status page of the system API (GET / and /status): one self-contained
// HTML document, kept readable as src/api/status.html and embedded in the
// binary at build time (cmake/embed_file.cmake generates its definition).
#pragma once

#include <string_view>

namespace sp {

// The page's bytes (UTF-8 HTML).
std::string_view status_page_html();

// The Content-Security-Policy the page is served with: inline script and
// style only, fetches to the API itself, no framing; images only from data:
// URLs (the page's empty favicon).
inline constexpr std::string_view kStatusPageCsp =
    "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'; "
    "img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

}  // namespace sp
