// Tests for the embedded status page (api/status_page.h): the bytes in the
// binary are exactly src/api/status.html (the build-time embedding loses or
// mangles nothing), and the page loads nothing from anywhere else, which its
// Content-Security-Policy would refuse anyway.
#include "api/status_page.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace sp {
namespace {

std::string read_source(const char* path) {
  std::ifstream f(std::string(SP_SOURCE_DIR) + "/" + path, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(StatusPage, EmbeddedBytesAreTheSourceFile) {
  std::string source = read_source("src/api/status.html");
  ASSERT_GT(source.size(), 1000u);
  EXPECT_EQ(status_page_html(), source);
  EXPECT_EQ(status_page_html().find('\0'), std::string_view::npos);
}

TEST(StatusPage, SelfContained) {
  std::string_view page = status_page_html();
  EXPECT_EQ(page.substr(0, 15), "<!DOCTYPE html>");
  for (std::string_view external : {"src=", "@import", "url(", "http://", "https://", "innerHTML"}) {
    EXPECT_EQ(page.find(external), std::string_view::npos) << external;
  }
  // The one link is the empty favicon, a data: URL.
  for (size_t at = page.find("href="); at != std::string_view::npos; at = page.find("href=", at + 1)) {
    EXPECT_EQ(page.substr(at, 12), "href=\"data:,") << at;
  }
  EXPECT_NE(page.find("window.spParseMetrics"), std::string_view::npos);
}

TEST(StatusPage, PolicyAllowsOnlyInlineCodeAndTheApiItself) {
  constexpr std::string_view kBrief = "default-src 'self'; script-src 'unsafe-inline' 'self'; style-src 'unsafe-inline'; ";
  EXPECT_EQ(kStatusPageCsp.substr(0, kBrief.size()), kBrief);
  EXPECT_NE(kStatusPageCsp.find("frame-ancestors 'none'"), std::string_view::npos);
}

}  // namespace
}  // namespace sp
