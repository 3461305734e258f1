// Fuzz target: HLS session records (http/hls_session.h). Input:
// "session-data\nclient-path\norigin-target\nrequest-path". Checks that an
// accepted record prints back byte for byte, that every route the playlist
// fetch can build (from a request path and a redirect target that passed
// location.h) prints a record that parses back to it, and that mapping
// never turns an absolute path into a relative one.
#include "fuzz_util.h"
#include "http/hls_session.h"
#include "http/location.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = sp::fuzz::split_lines(sp::fuzz::as_text(data, size), 4);

  auto parsed = sp::parse_hls_session_data(p[0]);
  if (parsed.ok()) {
    FUZZ_CHECK(sp::hls_session_data(*parsed) == p[0]);
    std::string path(p[3]);
    std::string mapped = sp::map_hls_session_path(*parsed, path);
    if (!path.empty() && path.front() == '/') FUZZ_CHECK(!mapped.empty() && mapped.front() == '/');
  }

  // A route as the playlist fetch builds it: the client's path is a request
  // path (absolute, no space), the origin target one resolve_location gave.
  std::string_view client = p[1];
  if (client.empty() || client.front() != '/' || client.find_first_of(" \t\r\n?") != std::string_view::npos ||
      client.find('\0') != std::string_view::npos) {
    return 0;
  }
  sp::OriginTarget cur{"127.0.0.1", 8080, std::string(client)};
  auto next = sp::resolve_location(p[2], cur);
  if (!next.ok()) return 0;
  for (bool redirected : {false, true}) {
    auto route = sp::make_hls_session_route(next->host, next->port, client, next->target, redirected);
    auto back = sp::parse_hls_session_data(sp::hls_session_data(route));
    FUZZ_CHECK(back.ok());
    FUZZ_CHECK(*back == route);
    // The playlist itself keeps its path (the origin redirects it again).
    FUZZ_CHECK(sp::map_hls_session_path(route, std::string(client)) == client);
  }
  (void)sp::url_dir_of(p[3]);
  return 0;
}
