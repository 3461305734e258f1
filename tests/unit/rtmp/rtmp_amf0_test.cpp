// AMF0 encode/decode: exact bytes for each type, round trips, property order,
// and hostile input (truncation at every byte, lying lengths, deep nesting).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "rtmp/amf0.h"

namespace sp::rtmp::amf0 {
namespace {

std::vector<uint8_t> bytes(std::initializer_list<int> b) {
  std::vector<uint8_t> v;
  for (int x : b) v.push_back(uint8_t(x));
  return v;
}

Result<Value> decode_one(const std::vector<uint8_t>& in) {
  std::span<const uint8_t> s(in);
  return decode(&s);
}

Value round_trip(const Value& v) {
  std::vector<uint8_t> enc = encode(v);
  std::span<const uint8_t> s(enc);
  Result<Value> back = decode(&s);
  EXPECT_TRUE(back.ok()) << back.error();
  EXPECT_TRUE(s.empty());
  return back.ok() ? *back : Value();
}

// A value with every type inside, used for round trips and truncation.
Value everything() {
  return Value::Object({
      {"num", Value::Number(-12.5)},
      {"yes", Value::Boolean(true)},
      {"str", Value::String("rtmp://127.0.0.1/live")},
      {"nil", Value::Null()},
      {"undef", Value::Undefined()},
      {"ecma", Value::EcmaArray({{"duration", Value::Number(4)}, {"stereo", Value::Boolean(false)}})},
      {"list", Value::StrictArray({Value::Number(1), Value::String("two"), Value::Object()})},
      {"when", Value::Date(1700000000000.0, 0)},
      {"inner", Value::Object({{"deeper", Value::Object({{"x", Value::Number(0)}})}})},
  });
}

TEST(RtmpAmf0, EncodesNumberAsBigEndianDouble) {
  EXPECT_EQ(encode(Value::Number(1.0)), bytes({0x00, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0}));
}

TEST(RtmpAmf0, EncodesStringBooleanNullUndefined) {
  EXPECT_EQ(encode(Value::String("app")), bytes({0x02, 0x00, 0x03, 'a', 'p', 'p'}));
  EXPECT_EQ(encode(Value::Boolean(true)), bytes({0x01, 0x01}));
  EXPECT_EQ(encode(Value::Null()), bytes({0x05}));
  EXPECT_EQ(encode(Value::Undefined()), bytes({0x06}));
}

TEST(RtmpAmf0, EncodesObjectWithEndMarker) {
  Value o = Value::Object({{"a", Value::Boolean(false)}});
  EXPECT_EQ(encode(o), bytes({0x03, 0x00, 0x01, 'a', 0x01, 0x00, 0x00, 0x00, 0x09}));
}

TEST(RtmpAmf0, EncodesEcmaArrayWithCount) {
  Value o = Value::EcmaArray({{"a", Value::Null()}});
  EXPECT_EQ(encode(o), bytes({0x08, 0, 0, 0, 1, 0x00, 0x01, 'a', 0x05, 0x00, 0x00, 0x09}));
}

TEST(RtmpAmf0, LongStringsSwitchToLongForm) {
  std::string big(70000, 'x');
  std::vector<uint8_t> enc = encode(Value::String(big));
  ASSERT_EQ(enc.size(), 1 + 4 + big.size());
  EXPECT_EQ(enc[0], 0x0c);
  EXPECT_EQ(enc[1], 0x00);
  EXPECT_EQ(enc[2], 0x01);  // 70000 = 0x00011170
  Value back = round_trip(Value::String(big));
  EXPECT_EQ(back.type, Type::long_string);
  EXPECT_EQ(back.str, big);
}

TEST(RtmpAmf0, ShortLongStringKeepsItsWireForm) {
  std::vector<uint8_t> in = bytes({0x0c, 0, 0, 0, 2, 'h', 'i'});
  Result<Value> v = decode_one(in);
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(v->type, Type::long_string);
  EXPECT_EQ(v->str, "hi");
  EXPECT_EQ(encode(*v), in);
}

TEST(RtmpAmf0, RoundTripsEveryType) {
  Value v = everything();
  Value back = round_trip(v);
  EXPECT_EQ(back, v) << to_string(back);
}

TEST(RtmpAmf0, PreservesPropertyOrder) {
  Value v = Value::Object({{"z", Value::Number(1)}, {"a", Value::Number(2)}, {"m", Value::Number(3)}});
  Value back = round_trip(v);
  ASSERT_EQ(back.props.size(), 3u);
  EXPECT_EQ(back.props[0].key, "z");
  EXPECT_EQ(back.props[1].key, "a");
  EXPECT_EQ(back.props[2].key, "m");
}

TEST(RtmpAmf0, RoundTripsSpecialNumbers) {
  for (double d : {0.0, -0.0, 1e308, -1e-308, std::numeric_limits<double>::infinity(),
                   std::numeric_limits<double>::quiet_NaN(), 4294967296.0}) {
    Value back = round_trip(Value::Number(d));
    EXPECT_EQ(back, Value::Number(d)) << d;
    EXPECT_EQ(std::signbit(back.number), std::signbit(d));
  }
}

// Found by tests/fuzz (fuzz_rtmp_chunk, regressions/rtmp_chunk/date_nan.bin):
// a NaN date decoded from the wire compared unequal to itself.
TEST(RtmpAmf0, RoundTripsNanDate) {
  Value d = Value::Date(std::numeric_limits<double>::quiet_NaN(), 5);
  EXPECT_EQ(round_trip(d), d);
  EXPECT_NE(round_trip(d), Value::Date(std::numeric_limits<double>::quiet_NaN(), 6));
}

TEST(RtmpAmf0, DateKeepsTimezone) {
  Value back = round_trip(Value::Date(1234.0, -60));
  EXPECT_EQ(back.type, Type::date);
  EXPECT_EQ(back.number, 1234.0);
  EXPECT_EQ(back.timezone, -60);
}

TEST(RtmpAmf0, DecodesReferenceAsOpaqueIndex) {
  Result<Value> v = decode_one(bytes({0x07, 0x00, 0x05}));
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_EQ(v->type, Type::reference);
  EXPECT_EQ(v->reference, 5);
}

TEST(RtmpAmf0, EcmaArrayCountIsOnlyAHint) {
  // Count says 100 but only one property follows; encoders do get this wrong.
  Result<Value> v =
      decode_one(bytes({0x08, 0, 0, 0, 100, 0x00, 0x01, 'k', 0x05, 0x00, 0x00, 0x09}));
  ASSERT_TRUE(v.ok()) << v.error();
  ASSERT_EQ(v->props.size(), 1u);
  EXPECT_EQ(v->props[0].key, "k");
}

TEST(RtmpAmf0, DecodeAdvancesPastOneValue) {
  std::vector<uint8_t> in = encode(Value::Number(7));
  std::vector<uint8_t> second = encode(Value::String("x"));
  in.insert(in.end(), second.begin(), second.end());
  std::span<const uint8_t> s(in);
  ASSERT_TRUE(decode(&s).ok());
  EXPECT_EQ(s.size(), second.size());
  Result<std::vector<Value>> all = decode_all(in);
  ASSERT_TRUE(all.ok()) << all.error();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[1].str, "x");
}

TEST(RtmpAmf0, LookupHelpers) {
  Value o = everything();
  EXPECT_EQ(o.get_string("str"), "rtmp://127.0.0.1/live");
  EXPECT_EQ(o.get_string("num", "fallback"), "fallback");
  EXPECT_EQ(o.get_number("num"), -12.5);
  EXPECT_EQ(o.find("missing"), nullptr);
  o.set("num", Value::Number(3));
  o.set("added", Value::Null());
  EXPECT_EQ(o.get_number("num"), 3);
  EXPECT_EQ(o.props.back().key, "added");
  EXPECT_EQ(Value::Number(1).find("x"), nullptr);
}

TEST(RtmpAmf0, EveryTruncationIsAnError) {
  std::vector<uint8_t> enc = encode(everything());
  for (size_t n = 0; n < enc.size(); ++n) {
    std::vector<uint8_t> cut(enc.begin(), enc.begin() + n);
    Result<Value> v = decode_one(cut);
    EXPECT_FALSE(v.ok()) << "prefix of " << n << " bytes decoded";
  }
}

TEST(RtmpAmf0, RejectsLengthsBeyondTheInput) {
  EXPECT_FALSE(decode_one(bytes({0x02, 0xff, 0xff, 'a'})).ok());
  Result<Value> ls = decode_one(bytes({0x0c, 0xff, 0xff, 0xff, 0xff, 'a'}));
  ASSERT_FALSE(ls.ok());
  EXPECT_NE(ls.error().find("exceeds"), std::string::npos) << ls.error();
  // A strict array claiming four billion elements fails at once, without allocating.
  EXPECT_FALSE(decode_one(bytes({0x0a, 0xff, 0xff, 0xff, 0xff, 0x05})).ok());
  // Object key longer than what is left.
  EXPECT_FALSE(decode_one(bytes({0x03, 0x10, 0x00, 'k'})).ok());
}

TEST(RtmpAmf0, RejectsUnknownAndMisplacedMarkers) {
  EXPECT_FALSE(decode_one(bytes({0x09})).ok());  // object end on its own
  EXPECT_FALSE(decode_one(bytes({0x0d})).ok());  // unsupported
  EXPECT_FALSE(decode_one(bytes({0x11, 0x01})).ok());  // AMF3 switch
  EXPECT_FALSE(decode_one(bytes({0xff})).ok());
  EXPECT_FALSE(decode_one({}).ok());
  // Object whose end marker never comes.
  EXPECT_FALSE(decode_one(bytes({0x03, 0x00, 0x01, 'a', 0x05})).ok());
}

std::vector<uint8_t> nested_objects(int depth) {
  std::vector<uint8_t> out;
  for (int i = 0; i < depth; ++i) out.insert(out.end(), {0x03, 0x00, 0x01, 'a'});
  out.push_back(0x05);
  for (int i = 0; i < depth; ++i) out.insert(out.end(), {0x00, 0x00, 0x09});
  return out;
}

TEST(RtmpAmf0, AcceptsNestingUpToTheLimit) {
  Result<Value> v = decode_one(nested_objects(kMaxDepth));
  ASSERT_TRUE(v.ok()) << v.error();
}

TEST(RtmpAmf0, RejectsDeepNesting) {
  Result<Value> v = decode_one(nested_objects(kMaxDepth + 1));
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().find("nesting"), std::string::npos) << v.error();
  // A hundred thousand nested strict arrays must fail cleanly, not overflow the stack.
  std::vector<uint8_t> arrays;
  for (int i = 0; i < 100000; ++i) arrays.insert(arrays.end(), {0x0a, 0, 0, 0, 1});
  arrays.push_back(0x05);
  EXPECT_FALSE(decode_one(arrays).ok());
}

TEST(RtmpAmf0, RandomBytesNeverCrash) {
  std::mt19937 rng(1);
  for (int round = 0; round < 2000; ++round) {
    std::vector<uint8_t> junk(rng() % 64);
    // Bias toward valid markers so decoding gets past the first byte.
    for (uint8_t& x : junk) x = rng() % 4 ? uint8_t(rng() % 13) : uint8_t(rng());
    (void)decode_all(junk);
  }
}

TEST(RtmpAmf0, ToStringIsReadable) {
  Value v = Value::Object({{"code", Value::String("NetStream.Play.Start")}, {"n", Value::Number(2)}});
  EXPECT_EQ(to_string(v), "{code: \"NetStream.Play.Start\", n: 2}");
}

TEST(RtmpAmf0, FootprintCountsWhatDecodingExpands) {
  // Scalars: the Value itself; long strings add their bytes.
  EXPECT_EQ(footprint(Value::Null()), sizeof(Value));
  EXPECT_EQ(footprint(Value::String("short")), sizeof(Value));
  EXPECT_GE(footprint(Value::String(std::string(1000, 'x'))), sizeof(Value) + 1000);
  // A strict array of 60000 nulls is 60005 bytes on the wire, but every null
  // is a whole Value once decoded: what a session keeping it must count.
  std::vector<uint8_t> wire = {0x0a, 0x00, 0x00, 0xea, 0x60};
  wire.insert(wire.end(), 60000, 0x05);
  std::span<const uint8_t> in(wire);
  Result<Value> v = decode(&in);
  ASSERT_TRUE(v.ok()) << v.error();
  EXPECT_GE(footprint(*v), 60001 * sizeof(Value));
  EXPECT_GT(footprint(*v), 50 * wire.size());
  // Objects count their properties, keys and values.
  Value o = Value::Object({{"tcUrl", Value::String("rtmp://127.0.0.1/live")}, {"k", Value::Number(1)}});
  EXPECT_GE(footprint(o), sizeof(Value) + 2 * sizeof(Property) + 21);  // the long string on the heap
  EXPECT_LT(footprint(o), 1024u);
}

}  // namespace
}  // namespace sp::rtmp::amf0
