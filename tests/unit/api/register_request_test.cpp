// Tests for registration-body validation: SRS's real heartbeat bodies (from
// ../shared/fixtures) are accepted, and every bad field is named. The second
// half (RegisterRequestHttp) sends the same bodies to the system API over
// real loopback sockets: status codes, JSON answers, token, networks, limits.
#include "api/register_request.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <sstream>

#include "api/system_api.h"
#include "core/clock.h"
#include "core/event_ptr.h"
#include "api/api_conf.h"
#include "http/http_conf.h"
#include "registry/registry_conf.h"
#include "rtc/webrtc_conf.h"
#include "rtmp/rtmp_conf.h"
#include "srt/srt_conf.h"
#include "registry/deferred_registry_client.h"

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
  EXPECT_EQ(r.kind(), ErrorKind::bad_input) << body;  // answered 400
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
    EXPECT_EQ(r.kind(), ErrorKind::bad_input) << bad;
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

TEST(RegisterRequest, IpMustBeAnAddressToConnectTo) {
  for (const char* bad : {"localhost", "0.0.0.0", "0.1.2.3", "255.255.255.255", "1.2.3.4; rm -rf", "224.0.0.1",
                          "239.255.255.250", "::", "ff02::1", "::ffff:0.0.0.0", "::ffff:224.0.0.1", "example.com",
                          "1.2.3.4 ", "[::1]", "1.2.3"}) {
    auto r = parse_register_request(body_with("ip", "\"" + std::string(bad) + "\""));
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().find("field \"ip\""), 0u) << r.error();
  }
  EXPECT_NE(parse_register_request(body_with("ip", "\"255.255.255.255\"")).error().find("broadcast"),
            std::string::npos);
  EXPECT_NE(parse_register_request(body_with("ip", "\"localhost\"")).error().find("numeric"), std::string::npos);
  for (const char* good : {"127.0.0.1", "10.0.0.5", "192.168.3.10", "::1", "2001:db8::7", "223.255.255.255",
                           "255.255.255.254"}) {
    auto r = parse_register_request(body_with("ip", "\"" + std::string(good) + "\""));
    ASSERT_TRUE(r.ok()) << good << ": " << r.error();
    EXPECT_EQ(r->ip, good);
  }
}

TEST(RegisterRequest, SpecificEndpointHostFollowsTheIpRule) {
  expect_error_names(body_with("rtmp", "[\"tcp://255.255.255.255:1935\"]"), "rtmp");
  expect_error_names(body_with("http", "[\"224.0.0.1:8080\"]"), "http");
  expect_error_names(body_with("srt", "[\"udp://0.1.2.3:10080\"]"), "srt");
  expect_error_names(body_with("rtc", "[\"udp://[ff02::1]:8000\"]"), "rtc");
  // A wildcard host still means "the origin's ip".
  auto r = parse_register_request(body_with("rtmp", "[\"tcp://0.0.0.0:1935\", \"[::]:1936\", \"10.0.0.9:1937\"]"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->endpoints[int(Proto::rtmp)][0], (Endpoint{"", 1935}));
  EXPECT_EQ(r->endpoints[int(Proto::rtmp)][1], (Endpoint{"", 1936}));
  EXPECT_EQ(r->endpoints[int(Proto::rtmp)][2], (Endpoint{"10.0.0.9", 1937}));
}

TEST(RegisterRequest, NulInAnyStringIsRefusedNamingTheField) {
  for (const char* field : {"server", "service", "pid", "device_id", "ip"}) {
    auto r = parse_register_request(body_with(field, "\"fz\\u0000evil\""));
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.error(), std::string("field \"") + field + "\" contains a NUL character");
  }
  expect_error_names(body_with("rtmp", "[\"1935\\u0000\"]"), "rtmp");
  // A raw NUL byte inside a string, not only the escape.
  std::string raw = body_with("server", std::string("\"fz\0evil\"", 9));
  expect_error_names(raw, "server");
  // An escaped backslash before "u0000" is no NUL.
  auto r = parse_register_request(body_with("server", "\"a\\\\u0000\""));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->server, "a\\u0000");
  // Keys too: "ip\u0000x" would otherwise read as "ip".
  r = parse_register_request(
      "{\"ip\\u0000x\":\"10.0.0.1\",\"server\":\"s\",\"service\":\"v\",\"pid\":\"1\",\"rtmp\":[\"1935\"]}");
  ASSERT_FALSE(r.ok());
  // Even in a member the proxy ignores.
  expect_error_names(body_with("summaries", "{\"x\":[\"a\\u0000\"]}"), "summaries");
}

TEST(RegisterRequest, ControlCharactersAndBadUtf8AreRefused) {
  const char* bad_texts[] = {
      "\"a\\u0001b\"", "\"tab\\there\"", "\"nl\\n\"", "\"del\\u007f\"", "\"c1\\u0085\"",
      "\"\xff\"",                  // never valid
      "\"\xc3\"",                  // truncated
      "\"\xc0\x80\"",              // overlong NUL
      "\"\xe0\x80\xaf\"",          // overlong '/'
      "\"\xed\xa0\x80\"",          // UTF-16 surrogate
      "\"\xf4\x90\x80\x80\"",      // above U+10FFFF
      "\"\xe4\xb8\"",              // truncated 3-byte
      "\"a\x01" "b\"",             // raw control byte
  };
  for (const char* field : {"server", "service", "pid", "device_id", "ip"}) {
    for (const char* text : bad_texts) {
      auto r = parse_register_request(body_with(field, text));
      ASSERT_FALSE(r.ok()) << field << " " << text;
      EXPECT_EQ(r.error().find(std::string("field \"") + field + "\""), 0u) << r.error();
    }
  }
  for (const char* text : bad_texts) expect_error_names(body_with("http", std::string("[") + text + "]"), "http");
  EXPECT_NE(parse_register_request(body_with("server", "\"\xff\"")).error().find("UTF-8"), std::string::npos);
  EXPECT_NE(parse_register_request(body_with("server", "\"a\\u0001\"")).error().find("control"), std::string::npos);
}

TEST(RegisterRequest, ValidUtf8IsKept) {
  auto r = parse_register_request(body_with("server", "\"vid-\xc3\xa9\xe6\xba\x90\xf0\x9f\x8e\xa5\""));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->server, "vid-\xc3\xa9\xe6\xba\x90\xf0\x9f\x8e\xa5");
  r = parse_register_request(body_with("device_id", "\"caf\\u00e9 \\u6e90\""));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->device_id, "caf\xc3\xa9 \xe6\xba\x90");
}

TEST(RegisterRequest, OptionalArraysMayBeEmptyOrNull) {
  auto r = parse_register_request(body_with("http", "[]"));
  EXPECT_TRUE(r.ok()) << r.error();
  r = parse_register_request(body_with("srt", "null"));
  EXPECT_TRUE(r.ok()) << r.error();
}

}  // namespace
}  // namespace sp

// ---- The same registrations through the system API over real sockets. ----

namespace sp {
namespace {

int listen_loopback(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(listen(fd, 16), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// Sends one raw request (the server closes after answering) and returns the
// whole response.
std::string raw_exchange(uint16_t port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return "connect failed";
  }
  (void)!write(fd, request.data(), request.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, size_t(n));
  close(fd);
  return out;
}

class RegisterRequestHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    base_.reset(event_base_new());
    fd_ = listen_loopback(&port_);
    auto r = Registry::create(256 * 1024, {});
    ASSERT_TRUE(r.ok()) << r.error();
    registry_ = std::move(*r);
    client_ = std::make_unique<MemoryRegistryClient>(*registry_);
  }
  void TearDown() override {
    api_.reset();
    close(fd_);
  }
  void start() {
    api_ = std::make_unique<SystemApi>(base_.get(), conf_, *client_);
    ASSERT_TRUE(api_->start({fd_}).ok());
  }
  // Runs the loop until the client thread has its answer.
  std::string exchange(const std::string& request) {
    auto answer = std::async(std::launch::async, raw_exchange, port_, request);
    while (answer.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      usleep(1000);
    }
    return answer.get();
  }
  std::string get(const std::string& target, const std::string& headers = "") {
    return exchange("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + "\r\n");
  }
  std::string post(const std::string& target, const std::string& body, const std::string& headers = "") {
    return exchange("POST " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n" +
                    headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  }

  Config conf_;
  EventBasePtr base_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::unique_ptr<Registry> registry_;
  std::unique_ptr<MemoryRegistryClient> client_;
  std::unique_ptr<SystemApi> api_;
};

bool status_is(const std::string& response, int code) {
  return response.rfind("HTTP/1.1 " + std::to_string(code) + " ", 0) == 0;
}

std::string body_of(const std::string& response) {
  size_t at = response.find("\r\n\r\n");
  return at == std::string::npos ? "" : response.substr(at + 4);
}

TEST_F(RegisterRequestHttp, RegisterFixtureAndList) {
  start();
  std::string r = post("/api/v1/srs/register", fixture("srs-heartbeat.json"));
  EXPECT_TRUE(status_is(r, 200)) << r;
  EXPECT_NE(r.find("Content-Type: application/json"), std::string::npos) << r;
  EXPECT_EQ(body_of(r), "{\"code\":0,\"pid\":\"" + std::to_string(getpid()) + "\"}");
  auto origins = registry_->origins(monotonic_ms());
  ASSERT_EQ(origins.size(), 1u);
  EXPECT_EQ(origins[0].server, "vid-682yv42");

  ASSERT_TRUE(registry_->pick("__defaultVhost__/live/s", Proto::rtmp, monotonic_ms()).ok());
  registry_->add_client("__defaultVhost__/live/s", Proto::rtmp, 2);
  r = get("/api/v1/origins");
  ASSERT_TRUE(status_is(r, 200)) << r;
  std::string b = body_of(r);
  EXPECT_EQ(b.rfind("{\"code\":0,\"origins\":[", 0), 0u) << b;
  EXPECT_NE(b.find("\"server\":\"vid-682yv42\""), std::string::npos) << b;
  EXPECT_NE(b.find("\"alive\":true"), std::string::npos) << b;
  EXPECT_NE(b.find("\"srt\":[\"10081\"]"), std::string::npos) << b;
  EXPECT_NE(b.find("\"streams\":[\"__defaultVhost__/live/s\"]"), std::string::npos) << b;
  EXPECT_NE(b.find("\"heartbeat_age_seconds\":"), std::string::npos) << b;

  r = get("/api/v1/streams");
  ASSERT_TRUE(status_is(r, 200)) << r;
  // The stream list, then the registry's fill (a pin with clients is on
  // neither eviction list).
  b = body_of(r);
  EXPECT_EQ(b.rfind("{\"code\":0,\"streams\":[{\"key\":\"__defaultVhost__/live/s\",\"origin\":\"vid-682yv42\","
                    "\"clients\":{\"rtmp\":2,\"http\":0,\"api\":0,\"srt\":0,\"rtc\":0,\"hls\":0}}],",
                    0),
            0u)
      << b;
  EXPECT_NE(b.find("\"registry\":{\"streams\":1,\"pending_streams\":0,\"idle_streams\":0,"), std::string::npos)
      << b;

  r = get("/api/v1/versions");
  ASSERT_TRUE(status_is(r, 200)) << r;
  EXPECT_NE(body_of(r).find("\"server\":\"srs-proxy\""), std::string::npos) << r;
  EXPECT_NE(body_of(r).find("\"code\":0"), std::string::npos) << r;
}

TEST_F(RegisterRequestHttp, OriginsShowDownAndHeartbeatInterval) {
  start();
  ASSERT_TRUE(status_is(post("/api/v1/srs/register", fixture("srs-heartbeat.json")), 200));
  std::string b = body_of(get("/api/v1/origins"));
  EXPECT_NE(b.find("\"heartbeat_interval_s\":null"), std::string::npos) << b;  // one registration: no interval yet
  EXPECT_NE(b.find("\"down\":false"), std::string::npos) << b;
  EXPECT_EQ(b.find("\"down_reason\""), std::string::npos) << b;
  // Two more heartbeats at once (the first gap is not a sample): the interval is the 1 s floor.
  for (int i = 0; i < 2; i++) ASSERT_TRUE(status_is(post("/api/v1/srs/register", fixture("srs-heartbeat.json")), 200));
  registry_->report_failure("vid-682yv42", "rtmp connect to 127.0.0.1:1936: Connection refused", monotonic_ms());
  b = body_of(get("/api/v1/origins"));
  EXPECT_NE(b.find("\"alive\":false"), std::string::npos) << b;
  EXPECT_NE(b.find("\"heartbeat_alive\":true"), std::string::npos) << b;
  EXPECT_NE(b.find("\"down\":true"), std::string::npos) << b;
  EXPECT_NE(b.find("\"down_reason\":\"rtmp connect to 127.0.0.1:1936: Connection refused\""), std::string::npos) << b;
  EXPECT_NE(b.find("\"down_for_s\":"), std::string::npos) << b;
  EXPECT_NE(b.find("\"heartbeat_interval_s\":1"), std::string::npos) << b;
}

TEST_F(RegisterRequestHttp, BadBodyIs400NamingTheField) {
  start();
  std::string r = post("/api/v1/srs/register", "{\"ip\":\"1.2.3.4\",\"server\":\"s\",\"service\":\"x\",\"pid\":\"1\"}");
  EXPECT_TRUE(status_is(r, 400)) << r;
  EXPECT_NE(body_of(r).find("\"code\":400"), std::string::npos) << r;
  EXPECT_NE(body_of(r).find("rtmp"), std::string::npos) << r;
  r = post("/api/v1/srs/register", "{oops");
  EXPECT_TRUE(status_is(r, 400)) << r;
  EXPECT_TRUE(registry_->origins(0).empty());
}

TEST_F(RegisterRequestHttp, SelfLoopIs400AndInvalidTextNeverReachesTheList) {
  conf_.module<RtmpConf>().listen.push_back(ListenConf{*parse_listen_address("127.0.0.1:19350"), "127.0.0.1:19350"});
  start();
  ASSERT_TRUE(status_is(post("/api/v1/srs/register", fixture("srs-heartbeat.json")), 200));
  std::string r = post("/api/v1/srs/register",
                       "{\"ip\":\"127.0.0.1\",\"server\":\"loop\",\"service\":\"s\",\"pid\":\"1\",\"rtmp\":[\"19350\"]}");
  EXPECT_TRUE(status_is(r, 400)) << r;
  EXPECT_NE(body_of(r).find("field \\\"rtmp\\\""), std::string::npos) << r;
  EXPECT_NE(body_of(r).find("self-loop"), std::string::npos) << r;
  r = post("/api/v1/srs/register",
           "{\"ip\":\"127.0.0.1\",\"server\":\"vid-682yv42\\u0000x\",\"service\":\"s\",\"pid\":\"1\",\"rtmp\":[\"1\"]}");
  EXPECT_TRUE(status_is(r, 400)) << r;
  r = post("/api/v1/srs/register",
           "{\"ip\":\"127.0.0.1\",\"server\":\"bad\xff\",\"service\":\"s\",\"pid\":\"1\",\"rtmp\":[\"1\"]}");
  EXPECT_TRUE(status_is(r, 400)) << r;
  auto origins = registry_->origins(monotonic_ms());
  ASSERT_EQ(origins.size(), 1u);
  EXPECT_EQ(origins[0].server, "vid-682yv42");
  EXPECT_EQ(origins[0].service, "bf752306");
}

TEST_F(RegisterRequestHttp, FullRegistryIs503AndTooLongIs400) {
  start();
  OriginSpec filler;
  filler.ip = "10.0.0.1";
  filler.endpoints[int(Proto::rtmp)] = {Endpoint{"", 1935}};
  for (uint32_t i = 0; i < registry_->capacity().origins; i++) {
    filler.server = "filler-" + std::to_string(i);
    ASSERT_TRUE(registry_->register_origin(filler, monotonic_ms()).ok());
  }
  std::string r = post("/api/v1/srs/register", fixture("srs-heartbeat.json"));
  EXPECT_TRUE(status_is(r, 503)) << r;
  EXPECT_NE(body_of(r).find("registry full"), std::string::npos) << r;
  std::string long_id = "{\"ip\":\"1.2.3.4\",\"server\":\"" + std::string(100, 'x') +
                        "\",\"service\":\"x\",\"pid\":\"1\",\"rtmp\":[\"1935\"]}";
  r = post("/api/v1/srs/register", long_id);
  EXPECT_TRUE(status_is(r, 400)) << r;
  EXPECT_NE(body_of(r).find("too long"), std::string::npos) << r;
}

TEST_F(RegisterRequestHttp, RoutesAndMethods) {
  start();
  std::string r = get("/api/v1/nothing");
  EXPECT_TRUE(status_is(r, 404)) << r;
  EXPECT_NE(body_of(r).find("\"code\":404"), std::string::npos) << r;
  r = get("/api/v1/srs/register");
  EXPECT_TRUE(status_is(r, 405)) << r;
  EXPECT_NE(r.find("Allow: POST"), std::string::npos) << r;
  r = post("/api/v1/versions", "{}");
  EXPECT_TRUE(status_is(r, 405)) << r;
  r = exchange("DELETE /api/v1/origins HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_TRUE(status_is(r, 405)) << r;
}

TEST_F(RegisterRequestHttp, BodyOverLimitIs413) {
  conf_.module<SystemApiConf>().max_body_size = 100;
  start();
  std::string r = post("/api/v1/srs/register", fixture("srs-heartbeat-summaries.json"));
  EXPECT_TRUE(status_is(r, 413)) << r;
  EXPECT_TRUE(registry_->origins(0).empty());
}

TEST_F(RegisterRequestHttp, Token) {
  conf_.module<SystemApiConf>().token = "s3cret";
  start();
  EXPECT_TRUE(status_is(get("/api/v1/versions"), 401));
  EXPECT_TRUE(status_is(get("/api/v1/versions", "Authorization: Bearer wrong\r\n"), 401));
  EXPECT_TRUE(status_is(get("/api/v1/versions?token=s3cre"), 401));
  EXPECT_TRUE(status_is(get("/api/v1/versions", "Authorization: Bearer s3cret\r\n"), 200));
  std::string r = post("/api/v1/srs/register?token=s3cret", fixture("srs-heartbeat.json"));
  EXPECT_TRUE(status_is(r, 200)) << r;
  EXPECT_NE(body_of(get("/api/v1/origins")).find("error"), std::string::npos);
}

TEST_F(RegisterRequestHttp, AccessRulesFirstMatchWins) {
  AccessRule deny_local{false, *parse_cidr("127.0.0.0/8"), "127.0.0.0/8"};
  AccessRule allow_all{true, *parse_cidr("all"), "all"};
  conf_.module<SystemApiConf>().access = {deny_local, allow_all};
  start();
  std::string r = get("/api/v1/versions");
  EXPECT_TRUE(status_is(r, 403)) << r;
  EXPECT_NE(body_of(r).find("\"code\":403"), std::string::npos) << r;
}

TEST_F(RegisterRequestHttp, AccessRulesAllowFirst) {
  AccessRule allow_one{true, *parse_cidr("127.0.0.1"), "127.0.0.1"};
  AccessRule deny_all{false, *parse_cidr("all"), "all"};
  conf_.module<SystemApiConf>().access = {allow_one, deny_all};
  start();
  EXPECT_TRUE(status_is(get("/api/v1/versions"), 200));
}

TEST_F(RegisterRequestHttp, StopAcceptingLeavesTheCallersSocket) {
  start();
  EXPECT_TRUE(status_is(get("/api/v1/versions"), 200));
  api_->stop_accepting();
  EXPECT_NE(fcntl(fd_, F_GETFD), -1);  // still open: we own it
  // A new server (e.g. after a reload) can serve on the same socket.
  start();
  EXPECT_TRUE(status_is(get("/api/v1/versions"), 200));
}

// With a backend that answers later (Redis), each request waits for its
// registry answer: nothing is sent before it, then the answer or the error
// kind's status; a listing needs two look-ups in turn (sessions, streams).
TEST_F(RegisterRequestHttp, AnswersWaitForTheRegistry) {
  test::DeferredRegistryClient deferred(*registry_);
  api_ = std::make_unique<SystemApi>(base_.get(), conf_, deferred);
  ASSERT_TRUE(api_->start({fd_}).ok());
  auto drive = [&](const std::string& request, const std::function<void()>& release) {
    auto answer = std::async(std::launch::async, raw_exchange, port_, request);
    int64_t deadline = monotonic_ms() + 5000;
    while (answer.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready && monotonic_ms() < deadline) {
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      if (deferred.waiting() > 0) release();
      usleep(1000);
    }
    return answer.get();
  };
  const std::string body = fixture("srs-heartbeat.json");
  const std::string reg = "POST /api/v1/srs/register HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n\r\n" + body;
  int released = 0;
  std::string r = drive(reg, [&] {
    EXPECT_TRUE(registry_->origins(monotonic_ms()).empty());  // not applied before the answer
    released += int(deferred.deliver_all());
  });
  EXPECT_TRUE(status_is(r, 200)) << r;
  EXPECT_EQ(released, 1);
  EXPECT_EQ(registry_->origins(monotonic_ms()).size(), 1u);

  r = drive(reg, [&] { deferred.fail_all(ErrorKind::timeout, "redis call timed out"); });
  EXPECT_FALSE(status_is(r, 200)) << r;
  EXPECT_NE(r.find("redis call timed out"), std::string::npos) << r;

  released = 0;
  r = drive("GET /api/v1/streams HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            [&] { released += int(deferred.deliver_all()); });
  EXPECT_TRUE(status_is(r, 200)) << r;
  EXPECT_EQ(released, 2);
  r = drive("GET /api/v1/origins HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            [&] { deferred.fail_all(ErrorKind::unavailable, "redis unreachable"); });
  EXPECT_TRUE(status_is(r, 503)) << r;
}

}  // namespace
}  // namespace sp
