#include "base/secret_bytes.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace vhsm {
namespace {

// The secret arena: one mapping, mlock'ed (best effort) and MADV_DONTDUMP, carved into power-of-two
// blocks of 32 B .. 64 KiB with a free list per size class. Blocks are cleansed when freed and
// never returned to the system. OpenSSL's own secure heap is not used: once initialised, OpenSSL
// also puts private-key BIGNUMs there and fails (rather than falls back) when it is full, which
// would make signing depend on how many keys a token holds.
constexpr size_t kMinBlock = 32;
constexpr size_t kMaxBlock = size_t{64} << 10;
constexpr int kClasses = 12;  // 32 B .. 64 KiB

struct Arena {
  std::mutex mu;
  uint8_t* base = nullptr;
  size_t size = 0;
  size_t bump = 0;                     // guarded by mu
  size_t used = 0;                     // guarded by mu
  void* free_list[kClasses] = {};      // guarded by mu
  bool locked = false;
};

Arena g_arena;
std::atomic<bool> g_arena_ready{false};
std::atomic<uint64_t> g_fallbacks{0};

int ClassOf(size_t bytes) {
  int c = 0;
  size_t block = kMinBlock;
  while (block < bytes) {
    block <<= 1;
    ++c;
  }
  return c;
}

// VmLck of this process in KiB (/proc/self/status), or -1 when it cannot be read.
long LockedKb() {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::sscanf(line, "VmLck: %ld kB", &kb) == 1) break;
  }
  std::fclose(f);
  return kb;
}

void* ArenaAllocate(size_t bytes) {
  if (bytes > kMaxBlock) return nullptr;
  const int c = ClassOf(bytes);
  const size_t block = kMinBlock << c;
  std::lock_guard<std::mutex> lock(g_arena.mu);
  void* p = g_arena.free_list[c];
  if (p != nullptr) {
    std::memcpy(&g_arena.free_list[c], p, sizeof(void*));
    std::memset(p, 0, sizeof(void*));
  } else {
    const size_t at = (g_arena.bump + block - 1) & ~(block - 1);  // blocks aligned to their size
    if (at + block > g_arena.size) return nullptr;
    p = g_arena.base + at;
    g_arena.bump = at + block;
  }
  g_arena.used += block;
  return p;
}

bool InArena(const void* p) {
  const auto* b = static_cast<const uint8_t*>(p);
  return g_arena_ready.load(std::memory_order_acquire) && b >= g_arena.base && b < g_arena.base + g_arena.size;
}

void ArenaFree(void* p, size_t bytes) {
  const int c = ClassOf(bytes == 0 ? 1 : bytes);
  OPENSSL_cleanse(p, kMinBlock << c);
  std::lock_guard<std::mutex> lock(g_arena.mu);
  std::memcpy(p, &g_arena.free_list[c], sizeof(void*));
  g_arena.free_list[c] = p;
  g_arena.used -= kMinBlock << c;
}

}  // namespace

void* SecureAllocate(size_t bytes) {
  if (bytes == 0) bytes = 1;
  void* p = nullptr;
  if (g_arena_ready.load(std::memory_order_acquire)) {
    p = ArenaAllocate(bytes);
    if (p == nullptr) g_fallbacks.fetch_add(1, std::memory_order_relaxed);
  }
  if (p == nullptr) p = OPENSSL_malloc(bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

void SecureFree(void* p, size_t bytes) noexcept {
  if (p == nullptr) return;
  if (InArena(p)) {
    ArenaFree(p, bytes);
  } else {
    OPENSSL_clear_free(p, bytes);
  }
}

bool InitSecureHeap(size_t bytes, std::string* error) {
  std::lock_guard<std::mutex> lock(g_arena.mu);
  if (g_arena_ready.load()) {
    *error = "secure heap already initialised";
    return false;
  }
  size_t size = size_t{64} << 10;
  while (size < bytes && size < (size_t{1} << 40)) size <<= 1;
  void* m = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    *error = "mmap of " + std::to_string(size) + " bytes: " + std::strerror(errno);
    return false;
  }
  if (::madvise(m, size, MADV_DONTDUMP) != 0) {
    *error = std::string("madvise(MADV_DONTDUMP): ") + std::strerror(errno);
    ::munmap(m, size);
    return false;
  }
  // Locked only if the kernel says so: VmLck must grow by the arena's size. (mlock can succeed
  // without locking anything: ASan's runtime, for one, turns it into a no-op returning 0.)
  const long before_kb = LockedKb();
  g_arena.locked = ::mlock(m, size) == 0 && before_kb >= 0 && LockedKb() - before_kb >= static_cast<long>(size >> 10);
  g_arena.base = static_cast<uint8_t*>(m);
  g_arena.size = size;
  g_arena_ready.store(true, std::memory_order_release);
  return true;
}

SecureHeapStatus GetSecureHeapStatus() {
  SecureHeapStatus s;
  s.initialised = g_arena_ready.load(std::memory_order_acquire);
  if (s.initialised) {
    std::lock_guard<std::mutex> lock(g_arena.mu);
    s.locked = g_arena.locked;
    s.size = g_arena.size;
    s.used = g_arena.used;
  }
  s.fallbacks = g_fallbacks.load(std::memory_order_relaxed);
  return s;
}

bool InSecureHeap(const void* p) { return InArena(p); }

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    Clear();
    data_ = std::move(other.data_);
    other.data_.clear();
  }
  return *this;
}

void SecretBytes::Clear() {
  // Releasing the buffer cleanses it (SecureFree), so the bytes are wiped exactly once; swapping
  // with an empty vector guarantees the release (shrink_to_fit is only a request).
  decltype(data_)().swap(data_);
}

}  // namespace vhsm
