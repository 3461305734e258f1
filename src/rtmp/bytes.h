// Bounds-checked big-endian byte reading and writing shared by the RTMP wire
// code (AMF0, chunk headers, control messages). RTMP is big-endian everywhere
// except the message stream id in a type-0 chunk header, which is little-endian.
//
// ByteReader never reads past its span: every getter reports failure instead,
// and the caller turns that into a parse error.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

namespace sp::rtmp {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  std::span<const uint8_t> rest() const { return data_.subspan(pos_); }
  bool empty() const { return remaining() == 0; }

  bool peek_u8(uint8_t* v) const {
    if (remaining() < 1) return false;
    *v = data_[pos_];
    return true;
  }
  bool u8(uint8_t* v) { return be(1, v); }
  bool u16(uint16_t* v) { return be(2, v); }
  bool u24(uint32_t* v) { return be(3, v); }
  bool u32(uint32_t* v) { return be(4, v); }
  bool u32_le(uint32_t* v) {
    if (remaining() < 4) return false;
    *v = uint32_t(data_[pos_]) | uint32_t(data_[pos_ + 1]) << 8 | uint32_t(data_[pos_ + 2]) << 16 |
         uint32_t(data_[pos_ + 3]) << 24;
    pos_ += 4;
    return true;
  }
  bool f64(double* v) {
    uint64_t bits;
    if (!be(8, &bits)) return false;
    std::memcpy(v, &bits, sizeof bits);
    return true;
  }
  bool bytes(size_t n, std::span<const uint8_t>* out) {
    if (remaining() < n) return false;
    *out = data_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  bool text(size_t n, std::string_view* out) {
    std::span<const uint8_t> b;
    if (!bytes(n, &b)) return false;
    *out = std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
    return true;
  }

 private:
  template <class T>
  bool be(size_t n, T* v) {
    if (remaining() < n) return false;
    T acc = 0;
    for (size_t i = 0; i < n; ++i) acc = T(acc << 8) | T(data_[pos_ + i]);
    *v = acc;
    pos_ += n;
    return true;
  }

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

inline void put_u8(std::vector<uint8_t>* out, uint8_t v) { out->push_back(v); }
inline void put_be(std::vector<uint8_t>* out, uint64_t v, size_t n) {
  for (size_t i = n; i-- > 0;) out->push_back(uint8_t(v >> (8 * i)));
}
inline void put_u16(std::vector<uint8_t>* out, uint16_t v) { put_be(out, v, 2); }
inline void put_u24(std::vector<uint8_t>* out, uint32_t v) { put_be(out, v, 3); }
inline void put_u32(std::vector<uint8_t>* out, uint32_t v) { put_be(out, v, 4); }
inline void put_u32_le(std::vector<uint8_t>* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(uint8_t(v >> (8 * i)));
}
inline void put_f64(std::vector<uint8_t>* out, double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  put_be(out, bits, 8);
}
inline void put_bytes(std::vector<uint8_t>* out, std::span<const uint8_t> b) {
  out->insert(out->end(), b.begin(), b.end());
}
inline void put_text(std::vector<uint8_t>* out, std::string_view s) {
  out->insert(out->end(), s.begin(), s.end());
}

}  // namespace sp::rtmp
