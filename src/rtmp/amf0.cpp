// AMF0 decode/encode (see amf0.h). The decoder is a small recursive-descent
// parser over a ByteReader; depth is passed down explicitly so a deeply nested
// hostile payload fails cleanly long before the stack is at risk.
#include "rtmp/amf0.h"

#include <cmath>
#include <cstdio>

#include "rtmp/bytes.h"

namespace sp::rtmp::amf0 {

// ---- Value helpers -------------------------------------------------------

Value Value::Number(double v) {
  Value x;
  x.type = Type::number;
  x.number = v;
  return x;
}
Value Value::Boolean(bool v) {
  Value x;
  x.type = Type::boolean;
  x.boolean = v;
  return x;
}
Value Value::String(std::string v) {
  Value x;
  x.type = v.size() > 0xffff ? Type::long_string : Type::string;
  x.str = std::move(v);
  return x;
}
Value Value::Null() {
  Value x;
  x.type = Type::null;
  return x;
}
Value Value::Undefined() { return Value(); }
Value Value::Object(std::vector<Property> props) {
  Value x;
  x.type = Type::object;
  x.props = std::move(props);
  return x;
}
Value Value::EcmaArray(std::vector<Property> props) {
  Value x;
  x.type = Type::ecma_array;
  x.props = std::move(props);
  return x;
}
Value Value::Object() { return Object(std::vector<Property>{}); }
Value Value::EcmaArray() { return EcmaArray(std::vector<Property>{}); }
Value Value::StrictArray() { return StrictArray(std::vector<Value>{}); }
Value Value::StrictArray(std::vector<Value> items) {
  Value x;
  x.type = Type::strict_array;
  x.items = std::move(items);
  return x;
}
Value Value::Date(double ms, int16_t timezone) {
  Value x;
  x.type = Type::date;
  x.number = ms;
  x.timezone = timezone;
  return x;
}

const Value* Value::find(std::string_view key) const {
  if (!is_object()) return nullptr;
  for (const Property& p : props)
    if (p.key == key) return &p.value;
  return nullptr;
}

std::string Value::get_string(std::string_view key, std::string_view fallback) const {
  const Value* v = find(key);
  return v && v->is_string() ? v->str : std::string(fallback);
}

double Value::get_number(std::string_view key, double fallback) const {
  const Value* v = find(key);
  return v && v->is_number() ? v->number : fallback;
}

void Value::set(std::string_view key, Value v) {
  for (Property& p : props) {
    if (p.key == key) {
      p.value = std::move(v);
      return;
    }
  }
  props.push_back(Property{std::string(key), std::move(v)});
}

bool Value::operator==(const Value& o) const {
  if (type != o.type) return false;
  switch (type) {
    case Type::number:
      // NaN == NaN for round-trip purposes: same bits in, same bits out.
      return number == o.number || (std::isnan(number) && std::isnan(o.number));
    case Type::boolean: return boolean == o.boolean;
    case Type::string:
    case Type::long_string: return str == o.str;
    case Type::object:
    case Type::ecma_array: return props == o.props;
    case Type::strict_array: return items == o.items;
    case Type::date:
      // Same NaN rule as numbers: a date is a double on the wire too.
      return (number == o.number || (std::isnan(number) && std::isnan(o.number))) && timezone == o.timezone;
    case Type::reference: return reference == o.reference;
    default: return true;
  }
}

// ---- decode --------------------------------------------------------------

namespace {

Result<Value> decode_value(ByteReader* r, int depth);

Status truncated(const char* what) {
  return Status::Error(ErrorKind::bad_input, std::string("amf0: truncated ") + what);
}

Result<std::string> read_utf8(ByteReader* r, bool long_form) {
  uint32_t len = 0;
  if (long_form) {
    if (!r->u32(&len)) return truncated("long string length");
  } else {
    uint16_t len16;
    if (!r->u16(&len16)) return truncated("string length");
    len = len16;
  }
  std::string_view s;
  if (!r->text(len, &s)) {
    return Result<std::string>::Error(ErrorKind::bad_input, "amf0: string length " + std::to_string(len) +
                                                                " exceeds the " + std::to_string(r->remaining()) +
                                                                " bytes left");
  }
  return std::string(s);
}

// True (and consumes it) when the next three bytes are the empty key plus the
// object-end marker that closes an object or ECMA array.
bool take_object_end(ByteReader* r) {
  std::span<const uint8_t> rest = r->rest();
  if (rest.size() < 3 || rest[0] != 0 || rest[1] != 0 || rest[2] != uint8_t(Type::object_end))
    return false;
  std::span<const uint8_t> skip;
  r->bytes(3, &skip);
  return true;
}

// Properties until the object-end marker. Used by objects and ECMA arrays
// (whose leading count is only a hint and is not trusted).
Status read_properties(ByteReader* r, int depth, std::vector<Property>* out) {
  while (!take_object_end(r)) {
    if (r->empty()) return truncated("object (no end marker)");
    Result<std::string> key = read_utf8(r, false);
    if (!key.ok()) return key.status();
    Result<Value> v = decode_value(r, depth + 1);
    if (!v.ok()) return v.status();
    out->push_back(Property{std::move(*key), std::move(*v)});
  }
  return Status::Ok();
}

Result<Value> read_strict_array(ByteReader* r, int depth) {
  uint32_t count;
  if (!r->u32(&count)) return truncated("strict array count");
  // Every element takes at least one byte, so a larger count is a lie.
  if (count > r->remaining()) {
    return Result<Value>::Error(ErrorKind::bad_input,
                                "amf0: strict array count " + std::to_string(count) + " exceeds the bytes left");
  }
  Value v = Value::StrictArray();
  v.items.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    Result<Value> item = decode_value(r, depth + 1);
    if (!item.ok()) return item.status();
    v.items.push_back(std::move(*item));
  }
  return v;
}

Result<Value> decode_value(ByteReader* r, int depth) {
  if (depth > kMaxDepth)
    return Result<Value>::Error(ErrorKind::bad_input, "amf0: nesting deeper than " + std::to_string(kMaxDepth));
  uint8_t marker;
  if (!r->u8(&marker)) return truncated("value (no type marker)");

  switch (Type(marker)) {
    case Type::number: {
      double d;
      if (!r->f64(&d)) return truncated("number");
      return Value::Number(d);
    }
    case Type::boolean: {
      uint8_t b;
      if (!r->u8(&b)) return truncated("boolean");
      return Value::Boolean(b != 0);
    }
    case Type::string:
    case Type::long_string: {
      Result<std::string> s = read_utf8(r, Type(marker) == Type::long_string);
      if (!s.ok()) return s.status();
      Value v;
      v.type = Type(marker);  // keep the wire form so re-encoding is byte-exact
      v.str = std::move(*s);
      return v;
    }
    case Type::object: {
      Value v = Value::Object();
      Status st = read_properties(r, depth, &v.props);
      if (!st.ok()) return st;
      return v;
    }
    case Type::ecma_array: {
      uint32_t count_hint;
      if (!r->u32(&count_hint)) return truncated("ECMA array count");
      Value v = Value::EcmaArray();
      Status st = read_properties(r, depth, &v.props);
      if (!st.ok()) return st;
      return v;
    }
    case Type::strict_array: return read_strict_array(r, depth);
    case Type::null: return Value::Null();
    case Type::undefined: return Value::Undefined();
    case Type::reference: {
      Value v;
      v.type = Type::reference;
      if (!r->u16(&v.reference)) return truncated("reference");
      return v;
    }
    case Type::date: {
      double ms;
      uint16_t tz;
      if (!r->f64(&ms) || !r->u16(&tz)) return truncated("date");
      return Value::Date(ms, int16_t(tz));
    }
    case Type::object_end:
      return Result<Value>::Error(ErrorKind::bad_input, "amf0: object end marker outside an object");
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "amf0: unsupported type marker 0x%02x", marker);
  return Result<Value>::Error(ErrorKind::bad_input, buf);
}

}  // namespace

Result<Value> decode(std::span<const uint8_t>* in) {
  ByteReader r(*in);
  Result<Value> v = decode_value(&r, 0);
  if (v.ok()) *in = r.rest();
  return v;
}

Result<std::vector<Value>> decode_all(std::span<const uint8_t> in) {
  std::vector<Value> out;
  while (!in.empty()) {
    Result<Value> v = decode(&in);
    if (!v.ok()) return v.status();
    out.push_back(std::move(*v));
  }
  return out;
}

// ---- encode --------------------------------------------------------------

namespace {

void put_key(std::vector<uint8_t>* out, const std::string& key) {
  // Keys have a 16-bit length; longer ones cannot be represented, so clip.
  size_t n = key.size() > 0xffff ? 0xffff : key.size();
  put_u16(out, uint16_t(n));
  put_text(out, std::string_view(key).substr(0, n));
}

void put_properties(std::vector<uint8_t>* out, const std::vector<Property>& props) {
  for (const Property& p : props) {
    put_key(out, p.key);
    encode(p.value, out);
  }
  put_u16(out, 0);
  put_u8(out, uint8_t(Type::object_end));
}

void put_string(std::vector<uint8_t>* out, const std::string& s, Type wanted) {
  if (wanted == Type::string && s.size() <= 0xffff) {
    put_u8(out, uint8_t(Type::string));
    put_u16(out, uint16_t(s.size()));
  } else {
    put_u8(out, uint8_t(Type::long_string));
    put_u32(out, uint32_t(s.size()));
  }
  put_text(out, s);
}

}  // namespace

void encode(const Value& v, std::vector<uint8_t>* out) {
  switch (v.type) {
    case Type::number:
      put_u8(out, uint8_t(Type::number));
      put_f64(out, v.number);
      return;
    case Type::boolean:
      put_u8(out, uint8_t(Type::boolean));
      put_u8(out, v.boolean ? 1 : 0);
      return;
    case Type::string:
    case Type::long_string: put_string(out, v.str, v.type); return;
    case Type::object:
      put_u8(out, uint8_t(Type::object));
      put_properties(out, v.props);
      return;
    case Type::ecma_array:
      put_u8(out, uint8_t(Type::ecma_array));
      put_u32(out, uint32_t(v.props.size()));
      put_properties(out, v.props);
      return;
    case Type::strict_array:
      put_u8(out, uint8_t(Type::strict_array));
      put_u32(out, uint32_t(v.items.size()));
      for (const Value& item : v.items) encode(item, out);
      return;
    case Type::date:
      put_u8(out, uint8_t(Type::date));
      put_f64(out, v.number);
      put_u16(out, uint16_t(v.timezone));
      return;
    case Type::reference:
      put_u8(out, uint8_t(Type::reference));
      put_u16(out, v.reference);
      return;
    case Type::null: put_u8(out, uint8_t(Type::null)); return;
    case Type::object_end:  // not a value on its own; write the closest valid thing
    case Type::undefined: put_u8(out, uint8_t(Type::undefined)); return;
  }
}

std::vector<uint8_t> encode(const Value& v) {
  std::vector<uint8_t> out;
  encode(v, &out);
  return out;
}

// ---- footprint -------------------------------------------------------------

namespace {

// Heap bytes of a string (short ones live inside the object).
size_t heap_bytes(const std::string& s) {
  return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
}

}  // namespace

size_t footprint(const Value& v) {
  size_t n = sizeof(Value) + heap_bytes(v.str);
  n += v.props.capacity() * sizeof(Property);
  for (const Property& p : v.props) n += heap_bytes(p.key) + footprint(p.value) - sizeof(Value);
  n += v.items.capacity() * sizeof(Value);
  for (const Value& item : v.items) n += footprint(item) - sizeof(Value);
  return n;
}

// ---- to_string -----------------------------------------------------------

namespace {

std::string number_text(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", d);
  return buf;
}

std::string props_text(const std::vector<Property>& props) {
  std::string s = "{";
  for (size_t i = 0; i < props.size(); ++i) {
    if (i) s += ", ";
    s += props[i].key + ": " + to_string(props[i].value);
  }
  return s + "}";
}

}  // namespace

std::string to_string(const Value& v) {
  switch (v.type) {
    case Type::number: return number_text(v.number);
    case Type::boolean: return v.boolean ? "true" : "false";
    case Type::string:
    case Type::long_string: return "\"" + v.str + "\"";
    case Type::object: return props_text(v.props);
    case Type::ecma_array: return "ecma" + props_text(v.props);
    case Type::strict_array: {
      std::string s = "[";
      for (size_t i = 0; i < v.items.size(); ++i) s += (i ? ", " : "") + to_string(v.items[i]);
      return s + "]";
    }
    case Type::date: return "date(" + number_text(v.number) + ")";
    case Type::reference: return "ref(" + std::to_string(v.reference) + ")";
    case Type::null: return "null";
    case Type::object_end: return "object_end";
    case Type::undefined: return "undefined";
  }
  return "?";
}

}  // namespace sp::rtmp::amf0
