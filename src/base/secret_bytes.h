// secret_bytes.h: the only container for key material. Move-only, cleansed on destruction,
// never printed. Expose() is the one greppable way to read the bytes.
#pragma once

#include <cstdint>
#include <ostream>
#include <span>
#include <vector>

namespace vhsm {

class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(size_t size) : data_(size, 0) {}
  explicit SecretBytes(std::span<const uint8_t> data) : data_(data.begin(), data.end()) {}
  ~SecretBytes() { Clear(); }

  SecretBytes(SecretBytes&& other) noexcept : data_(std::move(other.data_)) { other.data_.clear(); }
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;

  SecretBytes Clone() const { return SecretBytes(Expose()); }
  std::span<const uint8_t> Expose() const { return data_; }
  std::span<uint8_t> MutableExpose() { return data_; }
  size_t size() const { return data_.size(); }
  bool empty() const { return data_.empty(); }
  // Cleanses and empties.
  void Clear();

 private:
  std::vector<uint8_t> data_;
};

inline std::ostream& operator<<(std::ostream& os, const SecretBytes& s) {
  return os << "SecretBytes(" << s.size() << " bytes)";
}

}  // namespace vhsm
