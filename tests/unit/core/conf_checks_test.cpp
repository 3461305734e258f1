// Configuration value checks (core/conf_checks): path resolution against the
// configuration's directory, the webrtc candidate, log redaction.
#include <gtest/gtest.h>

#include <map>

#include "core/conf_checks.h"

namespace sp {
namespace {

TEST(ConfChecks, ConfDirAndResolve) {
  EXPECT_EQ(conf_dir_of("/etc/srs-proxy/srs-proxy.conf"), "/etc/srs-proxy");
  EXPECT_EQ(conf_dir_of("/a.conf"), "/");
  EXPECT_EQ(conf_dir_of("a.conf"), ".");
  EXPECT_EQ(resolve_against("/etc/srs-proxy", "cert.pem"), "/etc/srs-proxy/cert.pem");
  EXPECT_EQ(resolve_against("/etc/srs-proxy", "/abs/cert.pem"), "/abs/cert.pem");
  EXPECT_EQ(resolve_against("/etc/srs-proxy", "stderr"), "stderr");
  EXPECT_EQ(resolve_against("/", "x.pid"), "/x.pid");
}

TEST(ConfChecks, CandidateHosts) {
  for (const char* ok : {"203.0.113.10", "2001:db8::1", "[2001:db8::1]", "media.example.com", "localhost", "a-b.c"}) {
    EXPECT_TRUE(check_candidate_host(ok).ok()) << ok;
  }
  for (const char* bad : {"", "*", "0.0.0.0", "::", "bad host!", "203.0.113.10:9000", "host.example:80", "-a.b",
                          "a..b", "1.2.3", "999.1.1.1"}) {
    EXPECT_FALSE(check_candidate_host(bad).ok()) << bad;
  }
  EXPECT_NE(check_candidate_host("203.0.113.10:9000").message().find("port"), std::string::npos);
}

TEST(ConfChecks, CandidateFromTheEnvironment) {
  std::map<std::string, std::string> env = {{"CANDIDATE", "192.0.2.9"}, {"EMPTY", ""}, {"STAR", "*"}};
  EnvLookup lookup = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  EXPECT_EQ(*expand_candidate("$CANDIDATE", lookup), "192.0.2.9");
  EXPECT_EQ(*expand_candidate("${CANDIDATE}", lookup), "192.0.2.9");
  EXPECT_EQ(*expand_candidate("198.51.100.1", lookup), "198.51.100.1");
  EXPECT_NE(expand_candidate("$NOPE", lookup).error().find("NOPE is not set"), std::string::npos);
  EXPECT_NE(expand_candidate("$EMPTY", lookup).error().find("EMPTY is not set"), std::string::npos);
  EXPECT_NE(expand_candidate("$STAR", lookup).error().find("from $STAR"), std::string::npos);
  EXPECT_FALSE(expand_candidate("$", lookup).ok());
  EXPECT_FALSE(expand_candidate("$A-B", lookup).ok());
}

TEST(ConfChecks, RedactsSecretQueryValues) {
  const auto& w = default_redact_words();
  EXPECT_EQ(redact_query_values("GET /live/a.flv?token=abc123&x=1 HTTP/1.1", w),
            "GET /live/a.flv?token=***&x=1 HTTP/1.1");
  EXPECT_EQ(redact_query_values("rtmp://h/app?authKey=Z9&sign=ff&vhost=v stream", w),
            "rtmp://h/app?authKey=***&sign=***&vhost=v stream");
  EXPECT_EQ(redact_query_values("url \"/a?secret=s3\" end", w), "url \"/a?secret=***\" end");
  EXPECT_EQ(redact_query_values("a?Access_Token=1;b", w), "a?Access_Token=***;b");
  EXPECT_EQ(redact_query_values("a?token=", w), "a?token=");
  EXPECT_EQ(redact_query_values("no query token=abc", w), "no query token=abc");
  EXPECT_EQ(redact_query_values("a?token=abc", {}), "a?token=abc");
  EXPECT_EQ(redact_query_values("a?psk=1&token=2", {"psk"}), "a?psk=***&token=2");
}

}  // namespace
}  // namespace sp
