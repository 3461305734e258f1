// A tiny helper for URL query strings ("a=1&b=2", without the '?'), enough for
// the HLS session parameter: read one parameter, set it, or strip it before a
// request is forwarded to an origin. Pieces are split on '&' only; names are
// compared as written (not decoded); every piece other than the one touched is
// kept byte for byte, in order.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sp {

// RFC 3986 percent-decoding. A '%' not followed by two hex digits is kept as
// is; '+' stays '+' (form encoding is not assumed, so tokens survive).
std::string percent_decode(std::string_view text);

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string percent_encode(std::string_view text);

// The percent-decoded value of the first `name` parameter; "" for a bare
// "name" or "name="; nullopt when absent.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

// The query without any `name` parameter and without empty pieces (so no
// "&&", no leading or trailing '&').
std::string query_without_param(std::string_view query, std::string_view name);

// The query with `name` set to `value` (percent-encoded here): the first
// existing `name` is replaced in place, later ones removed, else it is
// appended (after a '&' unless the query is empty or already ends with one).
// Every other byte stays as it was, empty pieces included, so setting the
// same value again changes nothing.
std::string query_with_param(std::string_view query, std::string_view name, std::string_view value);

}  // namespace sp
