// Tests for src/core/metrics and src/core/access_log: the Prometheus text
// writer (label escaping, cumulative histogram buckets, sums over slots and
// the retired accumulator), the fold of a reaped child's slot, per-origin
// figures reset when a registry slot changes origin, the end-reason mapping,
// the access-log lines (JSON that parses, text fields) and the directive.
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/mman.h>

#include <map>
#include <sstream>

#include "core/access_log.h"
#include "core/config.h"
#include "core/json_ptr.h"
#include "core/metrics.h"
#include "rtmp/rtmp_conf.h"

namespace sp::metrics {
namespace {

// Every sample line "name{labels} value" of an exposition, by "name{labels}".
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t sp = line.rfind(' ');
    out[line.substr(0, sp)] = std::stod(line.substr(sp + 1));
  }
  return out;
}

sockaddr_in v4(const char* ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}

// An area of its own for each test; this process's slot is restored after.
struct MetricsArea : ::testing::Test {
  Area* a = nullptr;
  void SetUp() override {
    auto r = Area::create(4);
    ASSERT_TRUE(r.ok());
    a = *r;
    set_area(a);
    sockaddr_in l = v4("0.0.0.0", 1935);
    a->add_listener(Protocol::rtmp, "0.0.0.0:1935", &l);
  }
  void TearDown() override {
    set_area(nullptr);
    munmap(a, Area::bytes_for(a->slot_count));
  }
};

TEST(MetricsExposition, EscapesLabelValues) {
  std::string out;
  escape_label(out, "a\\b\"c\nd");
  EXPECT_EQ(out, "a\\\\b\\\"c\\nd");
  ExpoInput in;
  in.version = "1.0";
  in.origins.push_back(OriginInfo{-1, "we\"ird\\id\nx", true, false, 1.5});
  std::string text = exposition(nullptr, in);
  EXPECT_NE(text.find("srsproxy_origin_up{origin=\"we\\\"ird\\\\id\\nx\",state=\"alive\"} 1\n"), std::string::npos)
      << text;
  // No raw newline inside any sample line: every line is a comment or "name{...} value".
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_EQ(line.rfind("srsproxy_", 0), 0u) << line;
  }
}

TEST_F(MetricsArea, SumsSlotsAndRetiredAndFoldsOnReap) {
  int s1 = a->claim(), s2 = a->claim();
  ASSERT_EQ(s1, 1);
  ASSERT_EQ(s2, 2);
  a->set_owner(s1, 100);
  a->set_owner(s2, 200);
  {
    set_local_slot(s1);
    SessionMeter m;
    m.begin(Protocol::rtmp, 0);
    m.client_out(1000);
    set_local_slot(s2);
    SessionMeter n;  // counts into slot 2 from here on
    n.begin(Protocol::rtmp, 0);
    n.client_out(500);
    auto v = samples(exposition(a, ExpoInput{}));
    EXPECT_EQ(v["srsproxy_sessions_active{protocol=\"rtmp\",listener=\"0.0.0.0:1935\"}"], 2);
    EXPECT_EQ(v["srsproxy_client_bytes_total{protocol=\"rtmp\",listener=\"0.0.0.0:1935\",direction=\"out\"}"], 1500);
    // Slot 1's process dies with its session open: its counters move to the
    // retired accumulator, its gauge goes, the slot is free again.
    set_local_slot(s2);
    a->release(s1, [](int) { return uint64_t(0); });
    EXPECT_EQ(a->slots[s1].owner.load(), 0);
    v = samples(exposition(a, ExpoInput{}));
    EXPECT_EQ(v["srsproxy_sessions_active{protocol=\"rtmp\",listener=\"0.0.0.0:1935\"}"], 1);
    EXPECT_EQ(v["srsproxy_client_bytes_total{protocol=\"rtmp\",listener=\"0.0.0.0:1935\",direction=\"out\"}"], 1500);
    EXPECT_EQ(v["srsproxy_sessions_started_total{protocol=\"rtmp\",listener=\"0.0.0.0:1935\"}"], 2);
    EXPECT_EQ(get(a->retired.bytes[0][0][1]), 1000u);
    EXPECT_EQ(get(a->slots[s1].bytes[0][0][1]), 0u);
    EXPECT_EQ(a->claim(), s1);  // reused
    n.end(End::client_closed);
    m.begin(Protocol::rtmp, 0);  // no-op: already begun in a slot now gone
  }
  auto v = samples(exposition(a, ExpoInput{}));
  EXPECT_EQ(v["srsproxy_sessions_ended_total{protocol=\"rtmp\",listener=\"0.0.0.0:1935\",reason=\"client_closed\"}"], 1);
}

TEST_F(MetricsArea, HistogramBucketsAreCumulative) {
  set_local_slot(1);
  SessionMeter m;
  m.begin(Protocol::rtmp, 0);
  m.set_origin(3, "o1");
  m.origin_connect(ConnectResult::ok, 500);        // 0.5 ms: first bucket
  m.origin_connect(ConnectResult::ok, 30000);      // 30 ms: le 0.05
  m.origin_connect(ConnectResult::ok, 9000000);    // 9 s: +Inf only
  m.origin_connect(ConnectResult::refused, 0);
  ExpoInput in;
  in.origins.push_back(OriginInfo{3, "o1", true, false, 0});
  auto v = samples(exposition(a, in));
  EXPECT_EQ(v["srsproxy_origin_connect_seconds_bucket{origin=\"o1\",le=\"0.001\"}"], 1);
  EXPECT_EQ(v["srsproxy_origin_connect_seconds_bucket{origin=\"o1\",le=\"0.025\"}"], 1);
  EXPECT_EQ(v["srsproxy_origin_connect_seconds_bucket{origin=\"o1\",le=\"0.05\"}"], 2);
  EXPECT_EQ(v["srsproxy_origin_connect_seconds_bucket{origin=\"o1\",le=\"5\"}"], 2);
  EXPECT_EQ(v["srsproxy_origin_connect_seconds_bucket{origin=\"o1\",le=\"+Inf\"}"], 3);
  EXPECT_EQ(v["srsproxy_origin_connect_seconds_count{origin=\"o1\"}"], 3);
  EXPECT_NEAR(v["srsproxy_origin_connect_seconds_sum{origin=\"o1\"}"], 9.0305, 1e-6);
  EXPECT_EQ(v["srsproxy_origin_connects_total{origin=\"o1\",result=\"refused\"}"], 1);
  EXPECT_EQ(v["srsproxy_origin_clients{origin=\"o1\",protocol=\"rtmp\"}"], 1);
  m.end(End::normal);
  v = samples(exposition(a, in));
  EXPECT_EQ(v["srsproxy_origin_clients{origin=\"o1\",protocol=\"rtmp\"}"], 0);
}

TEST_F(MetricsArea, ReusedRegistrySlotStartsAfresh) {
  set_local_slot(1);
  {
    SessionMeter m;
    m.begin(Protocol::rtmp, 0);
    m.set_origin(5, "old");
    m.origin_in(700);
    m.end(End::normal);
  }
  // The registry slot 5 now holds "new": nothing of "old" shows under it.
  ExpoInput in;
  in.origins.push_back(OriginInfo{5, "new", true, false, 0});
  auto v = samples(exposition(a, in));
  EXPECT_EQ(v["srsproxy_origin_bytes_total{origin=\"new\",direction=\"in\"}"], 0);
  {
    SessionMeter m;
    m.begin(Protocol::rtmp, 0);
    m.set_origin(5, "new");
    m.origin_in(10);
    m.end(End::normal);
  }
  v = samples(exposition(a, in));
  EXPECT_EQ(v["srsproxy_origin_bytes_total{origin=\"new\",direction=\"in\"}"], 10);
  // A reap keeps the figures of the origin still in the slot...
  a->release(1, [](int i) { return i == 5 ? origin_serial("new") : uint64_t(0); });
  v = samples(exposition(a, in));
  EXPECT_EQ(v["srsproxy_origin_bytes_total{origin=\"new\",direction=\"in\"}"], 10);
  // ...and drops those of an origin gone from it.
  set_local_slot(2);
  {
    SessionMeter m;
    m.begin(Protocol::rtmp, 0);
    m.set_origin(6, "gone");
    m.origin_in(99);
    m.end(End::normal);
  }
  a->release(2, [](int) { return uint64_t(0); });
  EXPECT_EQ(get(a->retired.origins[6].bytes[0]), 0u);
}

TEST(MetricsEndReason, MapsProtocolWords) {
  EXPECT_EQ(classify_end(""), End::normal);
  EXPECT_EQ(classify_end("client connection closed"), End::client_closed);
  EXPECT_EQ(classify_end("origin connection closed"), End::origin_closed);
  EXPECT_EQ(classify_end("idle_timeout"), End::idle_timeout);
  EXPECT_EQ(classify_end("idle timeout"), End::idle_timeout);
  EXPECT_EQ(classify_end("bad handshake: C0 version 4 is not 3"), End::handshake_failed);
  EXPECT_EQ(classify_end("no origin: no alive origin can serve"), End::no_origin);
  EXPECT_EQ(classify_end("origin unreachable: Connection refused"), End::origin_connect_failed);
  EXPECT_EQ(classify_end("origin connect_timeout"), End::origin_connect_failed);
  EXPECT_EQ(classify_end("bad chunk stream: x"), End::bad_input);
  EXPECT_EQ(classify_end("the client does not read its replies"), End::stalled);
  EXPECT_EQ(classify_end("worker exiting"), End::shutdown);
  EXPECT_EQ(connect_result_of("Connection refused"), ConnectResult::refused);
  EXPECT_EQ(connect_result_of("timed out"), ConnectResult::timeout);
  EXPECT_EQ(connect_result_of("Connection reset by peer"), ConnectResult::reset);
}

}  // namespace
}  // namespace sp::metrics

namespace sp {
namespace {

SessionRecord sample_record() {
  SessionRecord r;
  r.unix_ms = 1764763200123;  // 2025-12-03T12:00:00.123Z
  r.ctx = "k3v9x2qa";
  r.protocol = metrics::Protocol::http_flv;
  r.listener = "0.0.0.0:8080";
  r.client = "127.0.0.1:5555";
  r.stream_key = "__defaultVhost__/live/a \"b\"\n";
  r.origin = "origin-1";
  r.bytes_in = 12;
  r.bytes_out = 3456;
  r.duration_ms = 1500;
  r.reason = metrics::End::client_closed;
  r.reason_text = "client closed";
  r.http_status = 200;
  return r;
}

TEST(AccessLog, JsonLineParses) {
  std::string line = access_log_json(sample_record());
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  JsonPtr j(cJSON_Parse(line.c_str()));
  ASSERT_TRUE(j);
  EXPECT_STREQ(cJSON_GetObjectItem(j.get(), "time")->valuestring, "2025-12-03T12:00:00.123Z");
  EXPECT_STREQ(cJSON_GetObjectItem(j.get(), "protocol")->valuestring, "http_flv");
  EXPECT_STREQ(cJSON_GetObjectItem(j.get(), "stream")->valuestring, "__defaultVhost__/live/a \"b\"\n");
  EXPECT_STREQ(cJSON_GetObjectItem(j.get(), "reason")->valuestring, "client_closed");
  EXPECT_EQ(cJSON_GetObjectItem(j.get(), "bytes_out")->valuedouble, 3456);
  EXPECT_EQ(cJSON_GetObjectItem(j.get(), "duration")->valuedouble, 1.5);
  EXPECT_EQ(cJSON_GetObjectItem(j.get(), "status")->valueint, 200);
}

TEST(AccessLog, TextLineHasFixedFields) {
  std::string line = access_log_text(sample_record());
  EXPECT_EQ(line,
            "2025-12-03T12:00:00.123Z k3v9x2qa http_flv 0.0.0.0:8080 127.0.0.1:5555 "
            "__defaultVhost__/live/a\\x20\\x22b\\x22\\x0a origin-1 12 3456 1.500 client_closed 200\n");
  SessionRecord empty;
  empty.unix_ms = 1000;
  std::string e = access_log_text(empty);
  EXPECT_EQ(e, "1970-01-01T00:00:01.000Z - rtmp - - - - 0 0 0.000 normal 0\n");
}

TEST(AccessLog, DirectiveGlobalAndPerBlock) {
  auto c = load_config_text("access_log /tmp/a.log json;\nrtmp { listen 1935; access_log off; }\n", "/etc/sp/t.conf",
                            LoadOptions{});
  ASSERT_TRUE(c.ok()) << c.error();
  EXPECT_TRUE(c->access_log.set);
  EXPECT_TRUE(c->access_log.json);
  EXPECT_EQ(c->access_log.path, "/tmp/a.log");
  EXPECT_TRUE(c->module<RtmpConf>().access_log.off);
  auto rel = load_config_text("access_log logs/x.log;\n", "/etc/sp/t.conf", LoadOptions{});
  ASSERT_TRUE(rel.ok()) << rel.error();
  EXPECT_EQ(rel->access_log.path, "/etc/sp/logs/x.log");
  EXPECT_FALSE(rel->access_log.json);
  auto bad = load_config_text("access_log /tmp/a.log xml;\n", "/etc/sp/t.conf", LoadOptions{});
  EXPECT_FALSE(bad.ok());
}

}  // namespace
}  // namespace sp
