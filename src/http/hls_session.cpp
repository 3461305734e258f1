// HLS session records and path mapping (see hls_session.h).
#include "http/hls_session.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <vector>

#include "core/net_addr.h"

namespace sp {

std::string url_dir_of(std::string_view path) {
  path = path.substr(0, path.find('?'));
  return std::string(path.substr(0, path.rfind('/') + 1));
}

HlsSessionRoute make_hls_session_route(std::string host, uint16_t port, std::string_view client_path,
                                       std::string_view origin_target, bool redirected) {
  HlsSessionRoute r{std::move(host), port, {}, {}};
  if (redirected && url_dir_of(origin_target) != url_dir_of(client_path)) {
    r.client_path = std::string(client_path.substr(0, client_path.find('?')));
    r.origin_dir = url_dir_of(origin_target);
  }
  return r;
}

std::string hls_session_data(const HlsSessionRoute& r) {
  std::string d = r.host + " " + std::to_string(r.port);
  if (!r.origin_dir.empty()) d += " " + r.client_path + " " + r.origin_dir;
  return d;
}

Result<HlsSessionRoute> parse_hls_session_data(std::string_view data) {
  std::vector<std::string_view> f;
  for (;;) {
    size_t sp = data.find(' ');
    f.push_back(data.substr(0, sp));
    if (sp == std::string_view::npos) break;
    data.remove_prefix(sp + 1);
  }
  if (f.size() != 2 && f.size() != 4) return Result<HlsSessionRoute>::Error("not HOST PORT [CLIENT_PATH ORIGIN_DIR]");
  HlsSessionRoute r;
  if (f[0].empty()) return Result<HlsSessionRoute>::Error("empty host");
  // No leading zero either: the record must print back as it was read.
  if (!parse_port(f[1], &r.port) || f[1].front() == '0') return Result<HlsSessionRoute>::Error("bad port");
  r.host = std::string(f[0]);
  if (f.size() == 4) {
    if (f[2].empty() || f[2].front() != '/' || f[3].empty() || f[3].front() != '/') {
      return Result<HlsSessionRoute>::Error("paths must be absolute");
    }
    r.client_path = std::string(f[2]);
    r.origin_dir = std::string(f[3]);
  }
  return r;
}

std::string map_hls_session_path(const HlsSessionRoute& r, const std::string& path) {
  if (r.origin_dir.empty() || path == r.client_path) return path;  // the playlist itself: redirected again
  std::string cdir = url_dir_of(r.client_path);
  if (path.compare(0, cdir.size(), cdir) != 0) return path;
  return r.origin_dir + path.substr(cdir.size());
}

std::string hex_string(const unsigned char* bytes, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; i++) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 15]);
  }
  return out;
}

std::string hls_client_fingerprint(std::string_view secret, std::string_view peer_ip, std::string_view user_agent,
                                   std::string_view stream_key) {
  std::string msg = std::string(peer_ip) + '\n' + std::string(user_agent) + '\n' + std::string(stream_key);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), int(secret.size()), reinterpret_cast<const unsigned char*>(msg.data()),
       msg.size(), mac, &mac_len);
  return hex_string(mac, std::min(mac_len, 16u));
}

}  // namespace sp
