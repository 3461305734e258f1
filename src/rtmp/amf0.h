// AMF0, the value encoding of RTMP command and data messages (connect,
// publish, onStatus, onMetaData, ...). Pure code: bytes in, a Value or an
// error out, and back. message.h builds RTMP commands on top of it; nothing
// here knows about chunks or sockets.
//
// Decoding never trusts a length: every string, array count and nesting level
// is checked against the bytes that remain and against kMaxDepth, so a hostile
// peer gets an error, never an over-read or a stack overflow.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace sp::rtmp::amf0 {

// Type markers as they appear on the wire.
enum class Type : uint8_t {
  number = 0x00,
  boolean = 0x01,
  string = 0x02,
  object = 0x03,
  null = 0x05,
  undefined = 0x06,
  reference = 0x07,     // decoded as an opaque index; never produced by builders
  ecma_array = 0x08,
  object_end = 0x09,    // only valid as the terminator inside objects/arrays
  strict_array = 0x0a,
  date = 0x0b,
  long_string = 0x0c,
};

// Deeper nesting than this is refused (no legitimate RTMP peer nests deeply).
inline constexpr int kMaxDepth = 64;

struct Property;

// One AMF0 value. A plain tagged struct: only the fields of `type` matter.
// Objects and ECMA arrays keep their properties in wire order, because some
// origins (and humans reading logs) care about the order of connect fields.
struct Value {
  Type type = Type::undefined;
  double number = 0;               // number; date: milliseconds since epoch
  bool boolean = false;
  std::string str;                 // string, long_string
  std::vector<Property> props;     // object, ecma_array
  std::vector<Value> items;        // strict_array
  int16_t timezone = 0;            // date (always 0 from modern encoders)
  uint16_t reference = 0;          // reference

  static Value Number(double v);
  static Value Boolean(bool v);
  // Encoded as a long string automatically when longer than 65535 bytes.
  static Value String(std::string v);
  static Value Null();
  static Value Undefined();
  // Overloads rather than `= {}` defaults: Property is still incomplete here
  // and clang (the fuzz build) refuses to instantiate a default for it.
  static Value Object();
  static Value Object(std::vector<Property> props);
  static Value EcmaArray();
  static Value EcmaArray(std::vector<Property> props);
  static Value StrictArray();
  static Value StrictArray(std::vector<Value> items);
  static Value Date(double ms, int16_t timezone = 0);

  bool is_number() const { return type == Type::number; }
  bool is_string() const { return type == Type::string || type == Type::long_string; }
  bool is_object() const { return type == Type::object || type == Type::ecma_array; }
  bool is_null_or_undefined() const { return type == Type::null || type == Type::undefined; }

  // Property lookup on objects / ECMA arrays; nullptr when absent or not an object.
  const Value* find(std::string_view key) const;
  // Convenience for the common "string field of the connect object" case:
  // the string, or `fallback` when absent or of another type.
  std::string get_string(std::string_view key, std::string_view fallback = {}) const;
  double get_number(std::string_view key, double fallback = 0) const;
  // Replaces the value of `key` (or appends it) in an object / ECMA array.
  void set(std::string_view key, Value v);

  bool operator==(const Value& other) const;
};

struct Property {
  std::string key;
  Value value;
  bool operator==(const Property& other) const = default;
};

// Decodes one value from the front of *in and advances *in past it.
Result<Value> decode(std::span<const uint8_t>* in);
// Decodes values until the input is exhausted (command and data payloads).
Result<std::vector<Value>> decode_all(std::span<const uint8_t> in);

// Appends the encoding of `v` to *out.
void encode(const Value& v, std::vector<uint8_t>* out);
std::vector<uint8_t> encode(const Value& v);

// A short human-readable rendering for logs and test failure messages.
std::string to_string(const Value& v);

// About how many bytes of memory `v` holds once decoded, itself included. A
// decoded value can be much bigger than its encoding (a 1-byte null becomes a
// whole Value), so a session that keeps decoded commands counts this.
size_t footprint(const Value& v);

}  // namespace sp::rtmp::amf0
