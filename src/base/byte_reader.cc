#include "base/byte_reader.h"

namespace vhsm {

Status ByteReader::Need(size_t n, std::string_view what) const {
  if (n > remaining()) {
    return InvalidArgumentError(std::string(what) + ": need " + std::to_string(n) + " bytes at offset " +
                                std::to_string(pos_) + ", only " + std::to_string(remaining()) + " left");
  }
  return OkStatus();
}

Result<uint8_t> ByteReader::ReadU8(std::string_view what) {
  VHSM_RETURN_IF_ERROR(Need(1, what));
  return data_[pos_++];
}
Result<uint16_t> ByteReader::ReadU16Le(std::string_view what) {
  VHSM_RETURN_IF_ERROR(Need(2, what));
  uint16_t v = LoadU16Le(data_.data() + pos_);
  pos_ += 2;
  return v;
}
Result<uint32_t> ByteReader::ReadU32Le(std::string_view what) {
  VHSM_RETURN_IF_ERROR(Need(4, what));
  uint32_t v = LoadU32Le(data_.data() + pos_);
  pos_ += 4;
  return v;
}
Result<uint64_t> ByteReader::ReadU64Le(std::string_view what) {
  VHSM_RETURN_IF_ERROR(Need(8, what));
  uint64_t v = LoadU64Le(data_.data() + pos_);
  pos_ += 8;
  return v;
}
Result<uint16_t> ByteReader::ReadU16Be(std::string_view what) {
  VHSM_RETURN_IF_ERROR(Need(2, what));
  uint16_t v = static_cast<uint16_t>((data_[pos_] << 8) | data_[pos_ + 1]);
  pos_ += 2;
  return v;
}
Result<uint32_t> ByteReader::ReadU32Be(std::string_view what) {
  VHSM_RETURN_IF_ERROR(Need(4, what));
  uint32_t v = (uint32_t{data_[pos_]} << 24) | (uint32_t{data_[pos_ + 1]} << 16) |
               (uint32_t{data_[pos_ + 2]} << 8) | data_[pos_ + 3];
  pos_ += 4;
  return v;
}
Result<ByteSpan> ByteReader::ReadBytes(size_t n, std::string_view what) {
  VHSM_RETURN_IF_ERROR(Need(n, what));
  ByteSpan out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}
Status ByteReader::Skip(size_t n, std::string_view what) {
  VHSM_RETURN_IF_ERROR(Need(n, what));
  pos_ += n;
  return OkStatus();
}
Status ByteReader::Seek(size_t offset) {
  if (offset > data_.size()) return InvalidArgumentError("seek past end: " + std::to_string(offset));
  pos_ = offset;
  return OkStatus();
}

void ByteWriter::WriteU16Le(uint16_t v) {
  uint8_t b[2];
  StoreU16Le(b, v);
  WriteBytes(b);
}
void ByteWriter::WriteU32Le(uint32_t v) {
  uint8_t b[4];
  StoreU32Le(b, v);
  WriteBytes(b);
}
void ByteWriter::WriteU64Le(uint64_t v) {
  uint8_t b[8];
  StoreU64Le(b, v);
  WriteBytes(b);
}
void ByteWriter::WriteU16Be(uint16_t v) {
  WriteU8(static_cast<uint8_t>(v >> 8));
  WriteU8(static_cast<uint8_t>(v));
}
void ByteWriter::WriteU32Be(uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) WriteU8(static_cast<uint8_t>(v >> s));
}

uint16_t LoadU16Le(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t LoadU32Le(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
uint64_t LoadU64Le(const uint8_t* p) { return uint64_t{LoadU32Le(p)} | (uint64_t{LoadU32Le(p + 4)} << 32); }
void StoreU16Le(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
}
void StoreU32Le(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
void StoreU64Le(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

}  // namespace vhsm
