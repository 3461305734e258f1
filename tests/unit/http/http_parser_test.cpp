// HTTP/1.x head parser and chunked decoder: real client requests (curl,
// ffmpeg, a browser), real origin answers (nginx, SRS) and hostile bytes.
#include "http/http_parser.h"

#include <gtest/gtest.h>

#include <string>

using namespace sp;

namespace {

const char kCurlRequest[] =
    "GET /live/livestream.flv?token=abc HTTP/1.1\r\n"
    "Host: 127.0.0.1:8080\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "\r\n";

const char kFfmpegRequest[] =
    "GET /live/s.m3u8 HTTP/1.1\r\n"
    "User-Agent: Lavf/59.27.100\r\n"
    "Accept: */*\r\n"
    "Range: bytes=0-\r\n"
    "Connection: close\r\n"
    "Host: 127.0.0.1:41235\r\n"
    "Icy-MetaData: 1\r\n"
    "\r\n";

// nginx's answer to an HLS playlist request.
const char kNginxResponse[] =
    "HTTP/1.1 200 OK\r\n"
    "Server: nginx/1.22.1\r\n"
    "Date: Tue, 24 Nov 2026 00:10:00 GMT\r\n"
    "Content-Type: application/vnd.apple.mpegurl\r\n"
    "Content-Length: 123\r\n"
    "Last-Modified: Tue, 24 Nov 2026 00:09:59 GMT\r\n"
    "Connection: close\r\n"
    "ETag: \"6561e9a7-7b\"\r\n"
    "Accept-Ranges: bytes\r\n"
    "\r\n";

// SRS's HTTP-FLV answer: chunked, no length.
const char kSrsFlvResponse[] =
    "HTTP/1.1 200 OK\r\n"
    "Access-Control-Allow-Origin: *\r\n"
    "Content-Type: video/x-flv\r\n"
    "Server: SRS/5.0.213(Bee)\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n";

}  // namespace

TEST(HttpParserTest, CurlRequest) {
  auto p = parse_http_request_head(kCurlRequest);
  ASSERT_EQ(p.state, HttpParseState::kComplete) << p.error;
  EXPECT_EQ(p.consumed, sizeof(kCurlRequest) - 1);
  EXPECT_EQ(p.head.method, "GET");
  EXPECT_EQ(p.head.target, "/live/livestream.flv?token=abc");
  EXPECT_EQ(p.head.path, "/live/livestream.flv");
  EXPECT_EQ(p.head.query, "token=abc");
  EXPECT_EQ(p.head.version_minor, 1);
  EXPECT_EQ(p.head.host(), "127.0.0.1:8080");
  EXPECT_EQ(*p.head.headers.get("user-agent"), "curl/7.88.1");
  EXPECT_TRUE(p.head.keep_alive());
  EXPECT_FALSE(p.head.content_length);
}

TEST(HttpParserTest, FfmpegRequestAsksClose) {
  auto p = parse_http_request_head(kFfmpegRequest);
  ASSERT_EQ(p.state, HttpParseState::kComplete) << p.error;
  EXPECT_FALSE(p.head.keep_alive());
  EXPECT_EQ(p.head.query, "");
  EXPECT_EQ(p.head.headers.fields().size(), 6u);
}

TEST(HttpParserTest, IncompleteUntilEmptyLine) {
  std::string req = kCurlRequest;
  for (size_t n = 0; n < req.size(); n++) {
    auto p = parse_http_request_head(std::string_view(req).substr(0, n));
    EXPECT_EQ(p.state, HttpParseState::kIncomplete) << n;
  }
  // Pipelined: the second request stays unconsumed.
  auto p = parse_http_request_head(req + req);
  ASSERT_EQ(p.state, HttpParseState::kComplete);
  EXPECT_EQ(p.consumed, req.size());
}

TEST(HttpParserTest, BareLfAndHttp10) {
  auto p = parse_http_request_head("GET /a.flv HTTP/1.0\nHost: x\n\n");
  ASSERT_EQ(p.state, HttpParseState::kComplete) << p.error;
  EXPECT_EQ(p.head.version_minor, 0);
  EXPECT_FALSE(p.head.keep_alive());
  auto k = parse_http_request_head("GET /a.flv HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
  EXPECT_TRUE(k.head.keep_alive());
}

TEST(HttpParserTest, AbsoluteForm) {
  auto p = parse_http_request_head("GET http://example.com:8080/live/s.flv?a=1 HTTP/1.1\r\nHost: other\r\n\r\n");
  ASSERT_EQ(p.state, HttpParseState::kComplete) << p.error;
  EXPECT_EQ(p.head.target, "/live/s.flv?a=1");
  EXPECT_EQ(p.head.host(), "example.com:8080");
}

TEST(HttpParserTest, ContentLengthAndChunked) {
  auto p = parse_http_request_head("POST /x HTTP/1.1\r\nContent-Length: 12\r\n\r\n");
  ASSERT_EQ(p.state, HttpParseState::kComplete);
  EXPECT_EQ(*p.head.content_length, 12u);
  auto c = parse_http_request_head("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_EQ(c.state, HttpParseState::kComplete);
  EXPECT_TRUE(c.head.chunked);
}

struct BadRequest {
  const char* bytes;
  int status;
};

TEST(HttpParserTest, RefusesMalformedRequests) {
  const BadRequest kBad[] = {
      {"GARBAGE\r\n\r\n", 400},
      {"GET /a HTTP/1.1 extra\r\n\r\n", 400},
      {"GET  /a HTTP/1.1\r\n\r\n", 400},
      {"GET /a\r\n\r\n", 400},
      {"GET /a HTTP/2.0\r\n\r\n", 505},
      {"GET /a FTP/1.0\r\n\r\n", 400},
      {"G(T /a HTTP/1.1\r\n\r\n", 400},
      {"GET a.flv HTTP/1.1\r\n\r\n", 400},
      {"GET /a\x01 HTTP/1.1\r\n\r\n", 400},
      {"GET /a HTTP/1.1\r\nNoColon\r\n\r\n", 400},
      {"GET /a HTTP/1.1\r\nHost : x\r\n\r\n", 400},
      {"GET /a HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400},
      {"GET /a HTTP/1.1\r\nX: a\x7f\r\n\r\n", 400},
      {"GET /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 400},
      {"GET /a HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
      {"GET /a HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"GET /a HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
  };
  for (const auto& b : kBad) {
    auto p = parse_http_request_head(b.bytes);
    EXPECT_EQ(p.state, HttpParseState::kError) << b.bytes;
    EXPECT_EQ(p.error_status, b.status) << b.bytes;
    EXPECT_FALSE(p.error.empty());
  }
  // NUL inside a header value.
  std::string nul("GET /a HTTP/1.1\r\nX: a\0b\r\n\r\n", 27);
  EXPECT_EQ(parse_http_request_head(nul).state, HttpParseState::kError);
}

TEST(HttpParserTest, Limits) {
  std::string long_line = "GET /" + std::string(kHttpMaxRequestLine, 'a');
  auto p = parse_http_request_head(long_line);
  EXPECT_EQ(p.state, HttpParseState::kError);
  EXPECT_EQ(p.error_status, 414);

  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(kHttpMaxHeaderBytes, 'b');
  auto q = parse_http_request_head(big);
  EXPECT_EQ(q.state, HttpParseState::kError);
  EXPECT_EQ(q.error_status, 431);

  std::string many = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i <= kHttpMaxHeaders; i++) many += "X" + std::to_string(i) + ": y\r\n";
  many += "\r\n";
  auto r = parse_http_request_head(many);
  EXPECT_EQ(r.state, HttpParseState::kError);
  EXPECT_EQ(r.error_status, 431);

  std::string ok = "GET / HTTP/1.1\r\n";
  for (size_t i = 0; i < kHttpMaxHeaders; i++) ok += "X" + std::to_string(i) + ": y\r\n";
  ok += "\r\n";
  EXPECT_EQ(parse_http_request_head(ok).state, HttpParseState::kComplete);
}

TEST(HttpParserTest, NginxResponse) {
  auto p = parse_http_response_head(kNginxResponse);
  ASSERT_EQ(p.state, HttpParseState::kComplete) << p.error;
  EXPECT_EQ(p.head.status, 200);
  EXPECT_EQ(p.head.reason, "OK");
  auto f = http_response_framing("GET", p.head);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->kind, HttpBodyFraming::kLength);
  EXPECT_EQ(f->length, 123u);
  EXPECT_EQ(http_response_framing("HEAD", p.head)->kind, HttpBodyFraming::kNone);
}

TEST(HttpParserTest, SrsChunkedResponse) {
  auto p = parse_http_response_head(kSrsFlvResponse);
  ASSERT_EQ(p.state, HttpParseState::kComplete) << p.error;
  EXPECT_EQ(http_response_framing("GET", p.head)->kind, HttpBodyFraming::kChunked);
  auto close = parse_http_response_head("HTTP/1.0 200 OK\r\nContent-Type: video/x-flv\r\n\r\n");
  ASSERT_EQ(close.state, HttpParseState::kComplete);
  EXPECT_EQ(http_response_framing("GET", close.head)->kind, HttpBodyFraming::kClose);
  auto nc = parse_http_response_head("HTTP/1.1 304 Not Modified\r\n\r\n");
  EXPECT_EQ(http_response_framing("GET", nc.head)->kind, HttpBodyFraming::kNone);
  auto noreason = parse_http_response_head("HTTP/1.1 404\r\n\r\n");
  ASSERT_EQ(noreason.state, HttpParseState::kComplete);
  EXPECT_EQ(noreason.head.status, 404);
}

TEST(HttpParserTest, RefusesMalformedResponses) {
  for (const char* bad : {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 abc OK\r\n\r\n", "ICY 200 OK\r\n\r\n",
                          "HTTP/1.1 200OK\r\n\r\n", "HTTP/1.1 200 OK\r\nBad Header\r\n\r\n"}) {
    auto p = parse_http_response_head(bad);
    EXPECT_EQ(p.state, HttpParseState::kError) << bad;
    EXPECT_EQ(p.error_status, 502) << bad;
  }
  auto p = parse_http_response_head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n");
  ASSERT_EQ(p.state, HttpParseState::kComplete);
  EXPECT_FALSE(http_response_framing("GET", p.head).ok());
}

TEST(HttpParserTest, HopByHop) {
  EXPECT_TRUE(http_is_hop_by_hop("connection"));
  EXPECT_TRUE(http_is_hop_by_hop("Transfer-Encoding"));
  EXPECT_TRUE(http_is_hop_by_hop("Keep-Alive"));
  EXPECT_FALSE(http_is_hop_by_hop("Content-Type"));
  EXPECT_FALSE(http_is_hop_by_hop("Cache-Control"));
}

TEST(HttpParserTest, HeaderTokens) {
  HttpHeaders h;
  h.add("Connection", "keep-alive, Upgrade");
  EXPECT_TRUE(h.has_token("connection", "upgrade"));
  EXPECT_FALSE(h.has_token("connection", "close"));
  EXPECT_EQ(h.count("CONNECTION"), 1u);
}

TEST(HttpChunkedTest, DecodesWholeBodies) {
  EXPECT_EQ(*http_dechunk("5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n"), "hello world");
  EXPECT_EQ(*http_dechunk("A\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n"), "0123456789");
  EXPECT_EQ(*http_dechunk("0\r\n\r\n"), "");
}

TEST(HttpChunkedTest, RefusesBadFraming) {
  EXPECT_FALSE(http_dechunk("zz\r\nhello\r\n0\r\n\r\n").ok());
  EXPECT_FALSE(http_dechunk("3\r\nhello\r\n0\r\n\r\n").ok());  // data longer than size
  EXPECT_FALSE(http_dechunk("5\r\nhello\r\n").ok());            // truncated
  EXPECT_FALSE(http_dechunk("\r\n").ok());
  EXPECT_FALSE(http_dechunk(std::string(5000, '1')).ok());      // endless size line
}

TEST(HttpChunkedTest, ByteByByte) {
  // As the origin client sees it: framing parsed from what is there, data
  // taken as it comes.
  std::string body = "4\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
  ChunkedDecoder d;
  std::string out, pending;
  for (char c : body) {
    pending.push_back(c);
    while (!pending.empty() && !d.done()) {
      if (uint64_t n = d.data_pending()) {
        size_t take = std::min<size_t>(n, pending.size());
        out += pending.substr(0, take);
        pending.erase(0, take);
        d.take_data(take);
        continue;
      }
      auto s = d.parse_framing(pending);
      ASSERT_NE(s.kind, ChunkedDecoder::Step::kError) << s.error;
      if (s.kind == ChunkedDecoder::Step::kNeedMore) break;
      pending.erase(0, s.consumed);
    }
  }
  EXPECT_TRUE(d.done());
  EXPECT_EQ(out, "Wikipedia in\r\n\r\nchunks.");
}

TEST(HttpParserTest, ReasonPhrasesOfWhatWeSend) {
  EXPECT_STREQ(http_reason(404), "Not Found");
  EXPECT_STREQ(http_reason(508), "Loop Detected");  // the proxy-loop refusal (core/proxy_loop.h)
  EXPECT_STREQ(http_reason(599), "Unknown");
}

TEST(HttpParserTest, ExpectContinue) {
  auto p = parse_http_request_head("POST /api HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n");
  ASSERT_EQ(p.state, HttpParseState::kComplete);
  EXPECT_TRUE(p.head.expects_continue());
  // HTTP/1.0 clients do not wait for an interim answer.
  p = parse_http_request_head("POST /api HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n");
  ASSERT_EQ(p.state, HttpParseState::kComplete);
  EXPECT_FALSE(p.head.expects_continue());
  p = parse_http_request_head("POST /api HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n");
  EXPECT_FALSE(p.head.expects_continue());
}

TEST(HttpParserTest, JoinedHeaderLines) {
  auto p = parse_http_request_head(
      "POST /rtc HTTP/1.1\r\nHost: x\r\nvia: 1.1 a\r\nAccept: */*\r\nVia: 1.1 b, 1.1 c\r\n\r\n");
  ASSERT_EQ(p.state, HttpParseState::kComplete);
  EXPECT_EQ(p.head.headers.joined("Via"), "1.1 a, 1.1 b, 1.1 c");
  EXPECT_EQ(p.head.headers.joined("X-None"), "");
}

TEST(HttpParserTest, ReasonPhrases) {
  EXPECT_STREQ(http_reason(201), "Created");
  EXPECT_STREQ(http_reason(401), "Unauthorized");
  EXPECT_STREQ(http_reason(413), "Content Too Large");
  EXPECT_STREQ(http_reason(508), "Loop Detected");
  EXPECT_STREQ(http_reason(599), "Unknown");
}

TEST(HttpParserTest, ResponseOverLimitIsToldFromMalformed) {
  auto big = parse_http_response_head("HTTP/1.1 200 OK\r\nX-A: " + std::string(20 * 1024, 'a') + "\r\n\r\n");
  EXPECT_EQ(big.state, HttpParseState::kError);
  EXPECT_EQ(big.error_status, 502);
  EXPECT_TRUE(big.over_limit);
  auto line = parse_http_response_head("HTTP/1.1 200 " + std::string(9 * 1024, 'r'));
  EXPECT_EQ(line.state, HttpParseState::kError);
  EXPECT_TRUE(line.over_limit);
  auto bad = parse_http_response_head("HTTP/1.1 2x0 OK\r\n\r\n");
  EXPECT_EQ(bad.state, HttpParseState::kError);
  EXPECT_FALSE(bad.over_limit);
}
