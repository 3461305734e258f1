// Static files of the HTTP stream service (see stream_static.h). The decoded
// path is checked by http_static.h; here realpath() must stay inside the
// root (symlinks), only regular files are served, with one byte range at
// most, by sendfile.
#include "http/stream_static.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "http/http_static.h"
#include "http/stream_request.h"
#include "http/stream_service.h"

namespace sp {

void serve_static_file(StreamRequest& req, const HttpRequestHead& head) {
  const std::string& root = req.svc().real_root();
  const std::string& path = req.path();
  if (root.empty()) return req.fail(404, "no stream or file at " + path);
  auto rel = static_relative_path(path);
  if (!rel.ok()) return req.fail(403, "refused path: " + rel.error());
  std::string full = root + "/" + *rel;
  char real[PATH_MAX];
  if (!realpath(full.c_str(), real)) return req.fail(404, "no stream or file at " + path);
  std::string resolved = real;
  if (resolved.compare(0, root.size() + 1, root + "/") != 0) return req.fail(403, "refused path: outside root");
  int fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) close(fd);
    return req.fail(404, "no stream or file at " + path);
  }
  uint64_t size = uint64_t(st.st_size);
  HttpHeaders h;
  h.add("Content-Type", std::string(mime_type_for(resolved)));
  h.add("Accept-Ranges", "bytes");
  req.add_cors(&h);
  ByteRange range;
  if (auto r = head.headers.get("Range")) range = parse_byte_range(*r, size);
  HttpConn& conn = req.conn();
  if (range.kind == ByteRange::kUnsatisfiable) {
    close(fd);
    h.add("Content-Range", "bytes */" + std::to_string(size));
    conn.respond(416, h, "");
    return req.end("");
  }
  uint64_t first = 0, length = size;
  int status = 200;
  if (range.kind == ByteRange::kRange) {
    status = 206;
    first = range.first;
    length = range.last - range.first + 1;
    h.add("Content-Range", "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" +
                               std::to_string(size));
  }
  conn.begin_response(status, h, length);
  if (length > 0) {
    conn.write_file(fd, first, length);
  } else {
    close(fd);
  }
  conn.end_response();
  req.end("");
}

}  // namespace sp
