// BodyReader: identity and chunked bodies fed in every split, good and bad
// framing, and where the body ends.
#include "http/body_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace sp;

namespace {

HttpBodyFraming framing(HttpBodyFraming::Kind kind, uint64_t length = 0) {
  HttpBodyFraming f;
  f.kind = kind;
  f.length = length;
  return f;
}

struct Outcome {
  std::string data;
  bool done = false;
  std::string error;
  std::string carry;       // bytes kept for the next call when the input ran out
  size_t max_carry = 0;    // the largest carry along the way
};

// Feeds `pieces` as a socket would deliver them: each call sees the carry
// of the previous one followed by the next piece.
Outcome feed(BodyReader& r, const std::vector<std::string>& pieces) {
  Outcome o;
  for (const std::string& piece : pieces) {
    std::string buf = o.carry + piece;
    std::string_view in(buf);
    o.carry.clear();
    for (;;) {
      BodyReader::Piece p = r.next(in);
      if (p.kind == BodyReader::Piece::kData) {
        EXPECT_GT(p.consumed, 0u);
        o.data.append(p.data);
        in.remove_prefix(p.consumed);
        continue;
      }
      if (p.kind == BodyReader::Piece::kError) o.error = p.error;
      if (p.kind == BodyReader::Piece::kDone) o.done = true;
      if (p.kind == BodyReader::Piece::kNeedMore) o.carry.assign(in);
      break;
    }
    o.max_carry = std::max(o.max_carry, o.carry.size());
    if (o.done || !o.error.empty()) break;
  }
  return o;
}

// Every way of cutting `whole` in two, and byte by byte.
std::vector<std::vector<std::string>> splits(const std::string& whole) {
  std::vector<std::vector<std::string>> all;
  for (size_t i = 0; i <= whole.size(); i++) all.push_back({whole.substr(0, i), whole.substr(i)});
  std::vector<std::string> bytes;
  for (char c : whole) bytes.emplace_back(1, c);
  all.push_back(bytes);
  return all;
}

}  // namespace

TEST(BodyReader, ChunkedInEverySplit) {
  const std::string wire =
      "5\r\nhello\r\n"
      "6;ext=1\r\n world\r\n"
      "1A\r\nabcdefghijklmnopqrstuvwxyz\r\n"
      "0\r\nX-Trailer: 1\r\n\r\n";
  for (const auto& pieces : splits(wire)) {
    BodyReader r(framing(HttpBodyFraming::kChunked));
    Outcome o = feed(r, pieces);
    EXPECT_EQ(o.error, "");
    EXPECT_TRUE(o.done);
    EXPECT_EQ(o.data, "hello worldabcdefghijklmnopqrstuvwxyz");
    EXPECT_LE(o.max_carry, 16u) << "only a framing line is ever carried";
  }
}

TEST(BodyReader, ChunkedBytesAfterTheEndAreNotBody) {
  BodyReader r(framing(HttpBodyFraming::kChunked));
  Outcome o = feed(r, {"3\r\nabc\r\n0\r\n\r\nGARBAGE"});
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.data, "abc");
  EXPECT_TRUE(r.done());
}

TEST(BodyReader, ChunkedIncompleteIsNeitherDoneNorError) {
  BodyReader r(framing(HttpBodyFraming::kChunked));
  Outcome o = feed(r, {"5\r\nhel"});
  EXPECT_FALSE(o.done);
  EXPECT_EQ(o.error, "");
  EXPECT_EQ(o.data, "hel");
  EXPECT_FALSE(r.done());
}

TEST(BodyReader, ChunkedBadFraming) {
  struct Case {
    const char* wire;
    const char* error;
  } cases[] = {
      {"zz\r\nabc\r\n", "bad chunk size"},
      {"\r\n", "bad chunk size"},
      {"3\r\nabcd\r\n", "chunk data longer than its size"},
      {"-1\r\n", "bad chunk size"},
      {"FFFFFFFFFFFFFFFFFFFF\r\n", "bad chunk size"},
  };
  for (const Case& c : cases) {
    for (const auto& pieces : splits(c.wire)) {
      BodyReader r(framing(HttpBodyFraming::kChunked));
      Outcome o = feed(r, pieces);
      EXPECT_EQ(o.error, c.error) << c.wire;
      EXPECT_FALSE(o.done);
    }
  }
}

TEST(BodyReader, ChunkedFramingLineTooLongIsAnErrorNotAnEndlessCarry) {
  BodyReader r(framing(HttpBodyFraming::kChunked));
  Outcome o = feed(r, {"5;" + std::string(5000, 'x')});
  EXPECT_EQ(o.error, "chunk framing line too long");
}

TEST(BodyReader, LengthStopsAtTheLength) {
  for (const auto& pieces : splits("0123456789tail")) {
    BodyReader r(framing(HttpBodyFraming::kLength, 10));
    EXPECT_TRUE(r.identity());
    Outcome o = feed(r, pieces);
    EXPECT_TRUE(o.done);
    EXPECT_EQ(o.data, "0123456789");
    EXPECT_EQ(o.max_carry, 0u);
    EXPECT_EQ(r.remaining(), 0u);
  }
}

TEST(BodyReader, LengthSkippedBytesCount) {
  BodyReader r(framing(HttpBodyFraming::kLength, 10));
  r.skip(7);
  EXPECT_EQ(r.remaining(), 3u);
  Outcome o = feed(r, {"abcdef"});
  EXPECT_EQ(o.data, "abc");
  EXPECT_TRUE(o.done);
  r.skip(5);  // never below zero
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(BodyReader, CloseDelimitedNeverEndsByItself) {
  BodyReader r(framing(HttpBodyFraming::kClose));
  EXPECT_TRUE(r.identity());
  Outcome o = feed(r, {"abc", "", "0\r\n\r\n"});
  EXPECT_FALSE(o.done);
  EXPECT_EQ(o.data, "abc0\r\n\r\n");
  EXPECT_FALSE(r.done());
}

TEST(BodyReader, NoBodyIsDoneAtOnce) {
  BodyReader r(framing(HttpBodyFraming::kNone));
  EXPECT_TRUE(r.done());
  EXPECT_FALSE(r.identity());
  EXPECT_EQ(r.next("xyz").kind, BodyReader::Piece::kDone);
  BodyReader empty(framing(HttpBodyFraming::kLength, 0));
  EXPECT_EQ(empty.next("").kind, BodyReader::Piece::kDone);
}
