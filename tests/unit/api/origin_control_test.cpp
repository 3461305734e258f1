// Tests for the pure parts of origin control on the system API (issue 16):
// the /api/v1/origins/{server}[/action] matcher (server ids checked like a
// registration's), the weight request, and the registration's optional
// `weight` and SRS `summaries` (the real heartbeat in tests/fixtures/srs).
#include "api/origin_control.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "api/register_request.h"

namespace sp {
namespace {

TEST(OriginPath, MatchesServerAndActions) {
  auto m = match_origin_path("/api/v1/origins/vid-9nqk930");
  ASSERT_TRUE(m && m->ok());
  EXPECT_EQ((*m)->server, "vid-9nqk930");
  EXPECT_FALSE((*m)->op);
  m = match_origin_path("/api/v1/origins/o1/drain");
  ASSERT_TRUE(m && m->ok());
  EXPECT_EQ((*m)->op, OriginOp::drain);
  m = match_origin_path("/api/v1/origins/o1/undrain");
  ASSERT_TRUE(m && m->ok());
  EXPECT_EQ((*m)->op, OriginOp::undrain);
  m = match_origin_path("/api/v1/origins/o1/weight");
  ASSERT_TRUE(m && m->ok());
  EXPECT_EQ((*m)->op, OriginOp::set_weight);
  // Percent-encoded ids are decoded, then checked like a registration's.
  m = match_origin_path("/api/v1/origins/my%20origin/drain");
  ASSERT_TRUE(m && m->ok());
  EXPECT_EQ((*m)->server, "my origin");
}

TEST(OriginPath, RefusesBadPaths) {
  EXPECT_FALSE(match_origin_path("/api/v1/origins"));
  EXPECT_FALSE(match_origin_path("/api/v1/origins/"));
  EXPECT_FALSE(match_origin_path("/api/v1/originsx/a"));
  EXPECT_FALSE(match_origin_path("/api/v1/streams/a"));
  EXPECT_FALSE(match_origin_path("/api/v1/origins/a/drain/more"));
  auto bad = [](std::string_view p) {
    auto m = match_origin_path(p);
    return m && !m->ok() && m->kind() == ErrorKind::bad_input;
  };
  EXPECT_TRUE(bad("/api/v1/origins/a/explode"));
  EXPECT_TRUE(bad("/api/v1/origins/a/"));
  EXPECT_TRUE(bad("/api/v1/origins//drain"));
  EXPECT_TRUE(bad("/api/v1/origins/%00evil/drain"));     // NUL
  EXPECT_TRUE(bad("/api/v1/origins/a%0Ab/drain"));       // control character
  EXPECT_TRUE(bad("/api/v1/origins/%ff%fe/drain"));      // not UTF-8
  EXPECT_TRUE(bad("/api/v1/origins/" + std::string(64, 'x')));  // longer than kServerIdMax
  auto ok = match_origin_path("/api/v1/origins/" + std::string(63, 'x'));
  EXPECT_TRUE(ok && ok->ok());
}

TEST(OriginPath, WeightRequest) {
  EXPECT_EQ(*parse_weight_request(R"({"weight":3})", ""), 3);
  EXPECT_EQ(*parse_weight_request(R"({"weight":0})", ""), 0);  // clears the override
  EXPECT_EQ(*parse_weight_request("", "weight=100"), 100);
  EXPECT_EQ(*parse_weight_request(" \r\n", "token=x&weight=7"), 7);
  for (const char* body : {R"({"weight":101})", R"({"weight":-1})", R"({"weight":1.5})", R"({"weight":"3"})",
                           R"({"w":3})", "[3]", "{", "3"}) {
    auto r = parse_weight_request(body, "");
    EXPECT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.kind(), ErrorKind::bad_input) << body;
  }
  EXPECT_FALSE(parse_weight_request("", "").ok());
  EXPECT_FALSE(parse_weight_request("", "weight=abc").ok());
  EXPECT_FALSE(parse_weight_request("", "weight=").ok());
  EXPECT_FALSE(parse_weight_request("", "weight=1000").ok());
}

std::string base(const std::string& extra) {
  return R"({"ip":"127.0.0.1","server":"s1","service":"v","pid":"1","rtmp":["1935"])" + extra + "}";
}

TEST(RegisterWeight, GoodAndBad) {
  EXPECT_EQ(parse_register_request(base(""))->weight, 1);
  EXPECT_EQ(parse_register_request(base(R"(,"weight":3)"))->weight, 3);
  EXPECT_EQ(parse_register_request(base(R"(,"weight":"100")"))->weight, 100);
  EXPECT_EQ(parse_register_request(base(R"(,"weight":null)"))->weight, 1);
  for (const char* w : {"0", "101", "-3", "2.5", "\"x\"", "\"\"", "true", "[1]", "{}", "1e9", "\"3 \""}) {
    auto r = parse_register_request(base(std::string(",\"weight\":") + w));
    ASSERT_FALSE(r.ok()) << w;
    EXPECT_EQ(r.kind(), ErrorKind::bad_input) << w;
    EXPECT_NE(r.error().find("weight"), std::string::npos) << r.error();
  }
}

TEST(RegisterSummaries, RealSrsHeartbeat) {
  std::ifstream in(std::string(SP_FIXTURES_DIR) + "/srs-heartbeat-summaries.json");
  ASSERT_TRUE(in) << "fixture missing";
  std::stringstream ss;
  ss << in.rdbuf();
  auto r = parse_register_request(ss.str());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_DOUBLE_EQ(r->cpu_percent, 0.03);  // data.system.cpu_percent
  EXPECT_DOUBLE_EQ(r->load_1m, 0.35);
  EXPECT_EQ(r->weight, 1);
}

TEST(RegisterSummaries, ShapesAndBadBytes) {
  auto cpu = [](const std::string& summaries) {
    auto r = parse_register_request(base(",\"summaries\":" + summaries));
    EXPECT_TRUE(r.ok()) << summaries << ": " << (r.ok() ? "" : r.error());  // never refused for summaries
    return r.ok() ? r->cpu_percent : -2;
  };
  EXPECT_DOUBLE_EQ(cpu(R"({"data":{"system":{"cpu_percent":95}}})"), 95);
  EXPECT_DOUBLE_EQ(cpu(R"({"data":{"self":{"cpu_percent":42.5}}})"), 42.5);  // fallback
  EXPECT_DOUBLE_EQ(cpu(R"({"data":{"system":{"cpu_percent":50},"self":{"cpu_percent":99}}})"), 50);
  EXPECT_LT(cpu(R"({"data":{"system":{"cpu_percent":"95"}}})"), 0);  // not a number: unknown
  EXPECT_LT(cpu(R"({"data":{"system":{"cpu_percent":-5}}})"), 0);
  EXPECT_LT(cpu(R"({"data":{"system":[]}})"), 0);
  EXPECT_LT(cpu(R"({"data":7})"), 0);
  EXPECT_LT(cpu("[]"), 0);
  EXPECT_LT(cpu("null"), 0);
  EXPECT_LT(cpu(R"("x")"), 0);
  EXPECT_LT(cpu(R"({"data":{"system":{"cpu_percent":1e999}}})"), 0);  // inf
  // Bad bytes inside summaries are still refused like in any field.
  EXPECT_FALSE(parse_register_request(base(",\"summaries\":{\"x\":\"a\\u0000b\"}")).ok());
  EXPECT_FALSE(parse_register_request(base(",\"summaries\":{\"data\":{")).ok());
}

}  // namespace
}  // namespace sp
