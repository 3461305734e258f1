// Query-string helpers: see query.h.
#include "http/query.h"

#include <algorithm>

namespace sp {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_unreserved(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::string_view piece_name(std::string_view piece) { return piece.substr(0, piece.find('=')); }

// Calls visit(piece) for every non-empty '&'-separated piece, in order.
template <class Visit>
void for_each_piece(std::string_view query, Visit visit) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view piece = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (!piece.empty()) visit(piece);
  }
}

void append_piece(std::string* out, std::string_view piece) {
  if (!out->empty()) out->push_back('&');
  out->append(piece);
}

}  // namespace

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    int hi = text[i] == '%' && i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
    int lo = hi >= 0 ? hex_value(text[i + 2]) : -1;
    if (lo >= 0) {
      out.push_back(char(hi << 4 | lo));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::string percent_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (is_unreserved(c)) {
      out.push_back(c);
      continue;
    }
    auto u = static_cast<unsigned char>(c);
    out.push_back('%');
    out.push_back(kHex[u >> 4]);
    out.push_back(kHex[u & 0xF]);
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  std::optional<std::string> found;
  for_each_piece(query, [&](std::string_view piece) {
    if (found || piece_name(piece) != name) return;
    size_t eq = piece.find('=');
    found = eq == std::string_view::npos ? std::string() : percent_decode(piece.substr(eq + 1));
  });
  return found;
}

std::string query_without_param(std::string_view query, std::string_view name) {
  std::string out;
  for_each_piece(query, [&](std::string_view piece) {
    if (piece_name(piece) != name) append_piece(&out, piece);
  });
  return out;
}

std::string query_with_param(std::string_view query, std::string_view name, std::string_view value) {
  std::string wanted = std::string(name) + "=" + percent_encode(value);
  std::string out;
  out.reserve(query.size() + wanted.size() + 1);
  bool placed = false;
  // Piece by piece, separators included, so every other byte stays as it was.
  for (size_t at = 0; at <= query.size();) {
    size_t amp = std::min(query.find('&', at), query.size());
    std::string_view piece = query.substr(at, amp - at);
    if (piece.empty() || piece_name(piece) != name) {
      out.append(piece);
      if (amp < query.size()) out.push_back('&');
    } else if (!placed) {
      out.append(wanted);
      if (amp < query.size()) out.push_back('&');
      placed = true;
    }  // a later `name`: dropped with the '&' after it
    at = amp + 1;
  }
  if (!placed) {
    if (!out.empty() && out.back() != '&') out.push_back('&');
    out.append(wanted);
  } else if (!query.empty() && query.back() != '&' && !out.empty() && out.back() == '&') {
    out.pop_back();  // the dropped `name` was last: no '&' it did not have
  }
  return out;
}

}  // namespace sp
