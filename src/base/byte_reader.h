// byte_reader.h: bounds-checked little-endian reading of untrusted bytes, and the matching
// writer. Every read past the end is a Status naming the field, never UB.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace vhsm {

class ByteReader {
 public:
  explicit ByteReader(ByteSpan data) : data_(data) {}

  size_t offset() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return remaining() == 0; }

  Result<uint8_t> ReadU8(std::string_view what = "u8");
  Result<uint16_t> ReadU16Le(std::string_view what = "u16");
  Result<uint32_t> ReadU32Le(std::string_view what = "u32");
  Result<uint64_t> ReadU64Le(std::string_view what = "u64");
  Result<uint16_t> ReadU16Be(std::string_view what = "u16");
  Result<uint32_t> ReadU32Be(std::string_view what = "u32");
  // Returns a view into the underlying buffer (valid while it is).
  Result<ByteSpan> ReadBytes(size_t n, std::string_view what = "bytes");
  Status Skip(size_t n, std::string_view what = "bytes");
  Status Seek(size_t offset);

 private:
  Status Need(size_t n, std::string_view what) const;
  ByteSpan data_;
  size_t pos_ = 0;
};

class ByteWriter {
 public:
  ByteWriter() = default;
  void WriteU8(uint8_t v) { out_.push_back(v); }
  void WriteU16Le(uint16_t v);
  void WriteU32Le(uint32_t v);
  void WriteU64Le(uint64_t v);
  void WriteU16Be(uint16_t v);
  void WriteU32Be(uint32_t v);
  void WriteBytes(ByteSpan b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void WriteZeros(size_t n) { out_.insert(out_.end(), n, 0); }
  size_t size() const { return out_.size(); }
  const Bytes& bytes() const { return out_; }
  Bytes Take() { return std::move(out_); }

 private:
  Bytes out_;
};

// Little-endian loads/stores on spans whose size the caller has already checked.
uint16_t LoadU16Le(const uint8_t* p);
uint32_t LoadU32Le(const uint8_t* p);
uint64_t LoadU64Le(const uint8_t* p);
void StoreU16Le(uint8_t* p, uint16_t v);
void StoreU32Le(uint8_t* p, uint32_t v);
void StoreU64Le(uint8_t* p, uint64_t v);

}  // namespace vhsm
