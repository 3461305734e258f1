// Tests for registration-body validation: SRS's real heartbeat bodies (from
// ../shared/fixtures) are accepted, and every bad field is named.
#include "api/register_request.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace sp {
namespace {

std::string fixture(const char* name) {
  std::ifstream in(std::string(SP_FIXTURES_DIR) + "/" + name);
  EXPECT_TRUE(in.good()) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A valid body with one field replaced by raw JSON (or removed when empty).
std::string body_with(const std::string& field, const std::string& json_value) {
  std::string out = "{";
  const std::pair<std::string, std::string> base[] = {
      {"ip", "\"10.0.0.5\""}, {"server", "\"vid-1\""}, {"service", "\"svc\""}, {"pid", "\"42\""},
      {"rtmp", "[\"1935\"]"}};
  bool seen = false;
  for (auto [k, v] : base) {
    if (k == field) {
      seen = true;
      if (json_value.empty()) continue;
      v = json_value;
    }
    if (out.size() > 1) out += ",";
    out += "\"" + k + "\":" + v;
  }
  if (!seen && !json_value.empty()) out += ",\"" + field + "\":" + json_value;
  return out + "}";
}

void expect_error_names(const std::string& body, const std::string& field) {
  auto r = parse_register_request(body);
  ASSERT_FALSE(r.ok()) << body;
  EXPECT_NE(r.error().find("\"" + field + "\""), std::string::npos) << r.error();
}

TEST(RegisterRequest, SrsHeartbeatFixture) {
  auto r = parse_register_request(fixture("srs-heartbeat.json"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->ip, "127.0.0.1");
  EXPECT_EQ(r->server, "vid-682yv42");
  EXPECT_EQ(r->service, "bf752306");
  EXPECT_EQ(r->pid, "22330");
  EXPECT_EQ(r->device_id, "origin1");
  ASSERT_EQ(r->endpoints[int(Proto::rtmp)].size(), 1u);
  EXPECT_EQ(r->endpoints[int(Proto::rtmp)][0], (Endpoint{"", 19351}));
  EXPECT_EQ(r->endpoints[int(Proto::http)][0], (Endpoint{"", 8081}));
  EXPECT_EQ(r->endpoints[int(Proto::api)][0], (Endpoint{"", 19851}));
  EXPECT_EQ(r->endpoints[int(Proto::srt)][0], (Endpoint{"", 10081}));
  EXPECT_EQ(r->endpoints[int(Proto::rtc)][0], (Endpoint{"", 8001}));
}

TEST(RegisterRequest, SummariesFixtureIsAccepted) {
  auto r = parse_register_request(fixture("srs-heartbeat-summaries.json"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->server, "vid-9nqk930");
  EXPECT_EQ(r->pid, "22413");
  EXPECT_EQ(r->endpoints[int(Proto::rtmp)][0].port, 19351);
}

TEST(RegisterRequest, MinimalBody) {
  auto r = parse_register_request(body_with("", ""));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->device_id, "");
  EXPECT_TRUE(r->endpoints[int(Proto::http)].empty());
  EXPECT_TRUE(r->endpoints[int(Proto::srt)].empty());
}

TEST(RegisterRequest, NumbersAreAcceptedAsPorts) {
  auto r = parse_register_request(body_with("rtmp", "[1935, \"tcp://10.0.0.9:1936\"]"));
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_EQ(r->endpoints[int(Proto::rtmp)].size(), 2u);
  EXPECT_EQ(r->endpoints[int(Proto::rtmp)][0], (Endpoint{"", 1935}));
  EXPECT_EQ(r->endpoints[int(Proto::rtmp)][1], (Endpoint{"10.0.0.9", 1936}));
}

TEST(RegisterRequest, ExtraFieldsAreIgnored) {
  auto r = parse_register_request(body_with("whatever", "{\"a\":[1,2,{}]}"));
  EXPECT_TRUE(r.ok()) << r.error();
}

TEST(RegisterRequest, BadJson) {
  for (const char* bad : {"", "{", "not json", "{\"ip\":}", "[]", "\"str\"", "42", "null"}) {
    auto r = parse_register_request(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
  EXPECT_NE(parse_register_request("{").error().find("JSON"), std::string::npos);
}

TEST(RegisterRequest, MissingMandatoryFields) {
  for (const char* field : {"ip", "server", "service", "pid", "rtmp"}) expect_error_names(body_with(field, ""), field);
}

TEST(RegisterRequest, WrongTypes) {
  expect_error_names(body_with("ip", "5"), "ip");
  expect_error_names(body_with("server", "[\"a\"]"), "server");
  expect_error_names(body_with("service", "\"\""), "service");
  expect_error_names(body_with("pid", "22330"), "pid");
  expect_error_names(body_with("device_id", "7"), "device_id");
  expect_error_names(body_with("rtmp", "\"1935\""), "rtmp");
  expect_error_names(body_with("rtmp", "[]"), "rtmp");
  expect_error_names(body_with("http", "\"8080\""), "http");
  expect_error_names(body_with("srt", "[true]"), "srt");
  expect_error_names(body_with("rtc", "[{}]"), "rtc");
}

TEST(RegisterRequest, EmptyRtmpErrorText) {
  auto r = parse_register_request(body_with("rtmp", "[]"));
  EXPECT_EQ(r.error(), "field \"rtmp\" must be a non-empty array of endpoints");
}

TEST(RegisterRequest, BadEndpointNamesFieldAndText) {
  auto r = parse_register_request(body_with("api", "[\"1985\", \"http://x:1\"]"));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("\"api\""), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("http://x:1"), std::string::npos) << r.error();
  expect_error_names(body_with("rtmp", "[0]"), "rtmp");
  expect_error_names(body_with("rtmp", "[65536]"), "rtmp");
  expect_error_names(body_with("rtmp", "[19.5]"), "rtmp");
  expect_error_names(body_with("http", "[\"99999\"]"), "http");
}

TEST(RegisterRequest, OptionalArraysMayBeEmptyOrNull) {
  auto r = parse_register_request(body_with("http", "[]"));
  EXPECT_TRUE(r.ok()) << r.error();
  r = parse_register_request(body_with("srt", "null"));
  EXPECT_TRUE(r.ok()) << r.error();
}

}  // namespace
}  // namespace sp
