// The secret arena behind SecretBytes, in its own process (the arena is process-wide): secrets go
// into a separate mapping that /proc/self/smaps shows as locked ("lo") and not dumped ("dd"); a
// full heap falls back to the ordinary heap without losing the secret, and counts it.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "base/secret_bytes.h"

namespace vhsm {
namespace {

// VmFlags of the mapping of exactly `size` bytes that contains `p`, or "" if there is none.
std::string MappingFlags(const void* p, size_t size) {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  const auto addr = reinterpret_cast<uintptr_t>(p);
  bool in_it = false;
  while (std::getline(in, line)) {
    unsigned long lo = 0, hi = 0;
    // Mapping header lines start "lo-hi perms ..."; attribute lines start with a name and ':'.
    if (line.find(':') > line.find(' ') && std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2) {
      in_it = addr >= lo && addr < hi && hi - lo == size;
      continue;
    }
    if (in_it && line.rfind("VmFlags:", 0) == 0) return line;
  }
  return "";
}

TEST(SecureHeapTest, SecretsLiveInALockedUndumpedHeapAndAFullHeapFallsBack) {
  {
    SecretBytes before(32);
    EXPECT_EQ(InSecureHeap(before.Expose().data()), false) << "no secure heap yet";
    EXPECT_FALSE(GetSecureHeapStatus().initialised);
  }
  std::string err;
  ASSERT_TRUE(InitSecureHeap(100 << 10, &err)) << err;
  SecureHeapStatus st = GetSecureHeapStatus();
  EXPECT_TRUE(st.initialised);
  EXPECT_EQ(st.size, size_t{128} << 10) << "rounded up to a power of two";
  EXPECT_FALSE(InitSecureHeap(1 << 20, &err));
  EXPECT_NE(err.find("already"), std::string::npos) << err;

  std::vector<SecretBytes> held;
  held.emplace_back(32);
  const uint8_t* first = held[0].Expose().data();
  EXPECT_EQ(InSecureHeap(first), true);
  EXPECT_GT(GetSecureHeapStatus().used, 0u);

  rlimit ml{};
  ASSERT_EQ(getrlimit(RLIMIT_MEMLOCK, &ml), 0);
  bool can_lock = ::geteuid() == 0 || ml.rlim_cur == RLIM_INFINITY || ml.rlim_cur >= (size_t{1} << 20);
#if defined(__SANITIZE_ADDRESS__)
  can_lock = false;  // ASan's runtime makes mlock a no-op that returns 0
  std::printf("ASan build: mlock is a no-op here, so only the honesty of the status is checked\n");
#endif
  const std::string flags = MappingFlags(first, st.size);
  ASSERT_FALSE(flags.empty()) << "no " << st.size << "-byte mapping holds the secret";
  EXPECT_NE(flags.find(" dd"), std::string::npos) << "not excluded from core dumps: " << flags;
  // The status never claims a lock the kernel does not show, whatever the build.
  EXPECT_EQ(st.locked, flags.find(" lo") != std::string::npos) << flags;
  if (can_lock) {
    EXPECT_TRUE(st.locked) << "not locked: " << flags;
  } else {
    std::printf("lock not asserted (RLIMIT_MEMLOCK %lu, euid %u)\n", static_cast<unsigned long>(ml.rlim_cur),
                static_cast<unsigned>(::geteuid()));
  }

  // Fill the heap with 8 KiB secrets; the ones that do not fit go to the ordinary heap, intact.
  const uint64_t fallbacks_before = GetSecureHeapStatus().fallbacks;
  bool fell_back = false;
  for (int i = 0; i < 40 && !fell_back; ++i) {
    SecretBytes s(8192);
    s.MutableExpose()[8191] = static_cast<uint8_t>(i + 1);
    fell_back = !InSecureHeap(s.Expose().data());
    if (fell_back) {
      EXPECT_EQ(s.Expose()[8191], static_cast<uint8_t>(i + 1));
    }
    held.push_back(std::move(s));
  }
  EXPECT_TRUE(fell_back) << "128 KiB arena never filled";
  EXPECT_GT(GetSecureHeapStatus().fallbacks, fallbacks_before);

  held.clear();
  EXPECT_EQ(GetSecureHeapStatus().used, 0u) << "every secret returned to the arena";
  // A freed block is cleansed (past the free-list link in its first 8 bytes; the arena stays
  // mapped, so its bytes can be read) and reused for the same size class.
  const uint8_t* freed = nullptr;
  {
    SecretBytes s(8192);
    std::fill(s.MutableExpose().begin(), s.MutableExpose().end(), uint8_t{0xab});
    freed = s.Expose().data();
    ASSERT_TRUE(InSecureHeap(freed));
  }
  size_t left = 0;
  for (size_t i = 8; i < 8192; ++i) left += freed[i] != 0;
  EXPECT_EQ(left, 0u) << "secret bytes left in a freed block";
  SecretBytes again(8192);
  EXPECT_EQ(again.Expose().data(), freed);
  // Above the largest block: the ordinary heap, not a failure.
  SecretBytes big(size_t{1} << 17);
  EXPECT_FALSE(InSecureHeap(big.Expose().data()));
}

}  // namespace
}  // namespace vhsm
