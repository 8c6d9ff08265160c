// secret_bytes.h: the only container for key material. Move-only, cleansed on destruction,
// never printed. Expose() is the one greppable way to read the bytes.
// The bytes live in the process's secret arena when it set one up (InitSecureHeap: vhsmd does):
// a separate mapping that is mlock'ed (never swapped) and MADV_DONTDUMP (not in core dumps).
// Without an arena, for a secret above 64 KiB, or when the arena is full, the ordinary heap is
// used (a full arena is counted, so the daemon can say so).
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <ostream>
#include <span>
#include <string>
#include <vector>

namespace vhsm {

// Raw allocation behind SecretBytes; SecureFree cleanses before it frees.
void* SecureAllocate(size_t bytes);
void SecureFree(void* p, size_t bytes) noexcept;

template <class T>
struct SecureAllocator {
  using value_type = T;
  SecureAllocator() = default;
  template <class U>
  SecureAllocator(const SecureAllocator<U>&) noexcept {}  // NOLINT(google-explicit-constructor)
  T* allocate(size_t n) { return static_cast<T*>(SecureAllocate(n * sizeof(T))); }
  void deallocate(T* p, size_t n) noexcept { SecureFree(p, n * sizeof(T)); }
  friend bool operator==(const SecureAllocator&, const SecureAllocator&) { return true; }
};

struct SecureHeapStatus {
  bool initialised = false;
  bool locked = false;         // mlock succeeded
  size_t size = 0;             // bytes
  size_t used = 0;             // bytes handed out (rounded to the heap's block sizes)
  uint64_t fallbacks = 0;      // secret allocations that found the secure heap full
};

// Sets up the secret arena of `bytes` (rounded up to a power of two, at least 64 KiB) for the
// whole process; call once, early, before any key material exists. False (with *error) when the
// mapping cannot be made. Afterwards GetSecureHeapStatus().locked is false when mlock failed
// (RLIMIT_MEMLOCK without CAP_IPC_LOCK): the arena is then still a separate mapping excluded
// from core dumps, but may be swapped.
bool InitSecureHeap(size_t bytes, std::string* error);
SecureHeapStatus GetSecureHeapStatus();
// True when `p` points into the secret arena.
bool InSecureHeap(const void* p);

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
  std::vector<uint8_t, SecureAllocator<uint8_t>> data_;
};

inline std::ostream& operator<<(std::ostream& os, const SecretBytes& s) {
  return os << "SecretBytes(" << s.size() << " bytes)";
}

}  // namespace vhsm
