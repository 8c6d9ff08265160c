// measure.h: computes the SEV-SNP launch digest (the report's MEASUREMENT) a VM will have when
// QEMU/KVM (or EC2/GCE) launches a given OVMF image with a given vCPU count, vCPU model, guest
// features and optional kernel/initrd/cmdline, so operators can register the expected value
// before the VM exists. Pure computation: no I/O apart from Sha256File. Thread-compatible.
// Spec: shared/docs/snp-facts.md section 11; AMD SEV-SNP Firmware ABI 56860, SNP_LAUNCH_UPDATE
// PAGE_INFO. Cross-checked against virtee/sev-snp-measure's published answers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ossl_ptr.h"
#include "snp/ovmf.h"
#include "snp/vmsa.h"

namespace vhsm::snp {

inline constexpr size_t kLaunchDigestSize = 48;
using LaunchDigest = std::array<uint8_t, kLaunchDigestSize>;
using Sha256Digest = std::array<uint8_t, 32>;

inline constexpr uint32_t kMinVcpus = 1;
inline constexpr uint32_t kMaxVcpus = 512;
// GPA recorded for VMSA pages.
inline constexpr uint64_t kVmsaGpa = 0x0000FFFFFFFFF000;
// Upper bound on hashing threads, and the input size below which threads are not worth it.
inline constexpr unsigned kMaxHashThreads = 8;
inline constexpr size_t kMinParallelHashBytes = 512 * 1024;
// Default SEV_FEATURES (SNPActive) and vCPU model when the caller gives none.
inline constexpr uint64_t kDefaultGuestFeatures = 0x1;
inline constexpr std::string_view kDefaultVcpuType = "EPYC-v4";

// PAGE_INFO.PAGE_TYPE (SNP ABI, SNP_LAUNCH_UPDATE).
enum class PageType : uint8_t {
  kNormal = 1, kVmsa = 2, kZero = 3, kUnmeasured = 4, kSecrets = 5, kCpuid = 6,
};

// The running digest: each page replaces it with SHA-384 of a 0x70-byte PAGE_INFO. Reuses one
// digest context, so a whole image costs two SHA-384 calls per 4 KiB page and nothing else.
class LaunchDigestBuilder {
 public:
  // Starts from 48 zero bytes, or from `seed` (a precomputed OVMF hash). Internal on an OpenSSL
  // failure to fetch SHA-384.
  static Result<LaunchDigestBuilder> Create(const LaunchDigest& seed = {});

  // `data` must be a whole number of pages (InvalidArgument otherwise); page i sits at gpa+i*4K.
  // Page contents are hashed on up to `max_threads` threads (0 = one per core, at most
  // kMaxHashThreads; small inputs always use one); the PAGE_INFO chain stays sequential, so the
  // result never depends on the thread count.
  Status AddNormalPages(uint64_t gpa, ByteSpan data, unsigned max_threads = 1);
  // One page whose CONTENTS is SHA-384(page) (NORMAL or VMSA pages).
  Status AddMeasuredPage(PageType type, uint64_t gpa, ByteSpan page);
  // `size_bytes`/4K pages of a type whose CONTENTS is zero (ZERO, UNMEASURED, SECRETS, CPUID).
  Status AddUnhashedPages(PageType type, uint64_t gpa, uint64_t size_bytes);
  // One page whose CONTENTS hash is already known.
  Status AddPageInfo(PageType type, uint64_t gpa, const LaunchDigest& contents);

  const LaunchDigest& digest() const { return digest_; }

 private:
  LaunchDigestBuilder(crypto::EvpMdPtr md, crypto::EvpMdCtxPtr ctx, const LaunchDigest& seed)
      : md_(std::move(md)), ctx_(std::move(ctx)), digest_(seed) {}
  Status Sha384(ByteSpan data, uint8_t* out);

  crypto::EvpMdPtr md_;
  crypto::EvpMdCtxPtr ctx_;
  LaunchDigest digest_;
};

// SHA-256s QEMU puts in the direct-boot hash table.
struct DirectBootHashes {
  Sha256Digest kernel{};
  Sha256Digest initrd{};   // of the initrd, or of empty input when there is none
  Sha256Digest cmdline{};  // of the command line plus its NUL (a lone NUL when none)
};
// Builds DirectBootHashes from file digests and the command line.
DirectBootHashes MakeDirectBootHashes(const Sha256Digest& kernel_sha256,
                                      const std::optional<Sha256Digest>& initrd_sha256,
                                      std::optional<std::string_view> append);
// The 4 KiB page QEMU measures for SNP_KERNEL_HASHES: the table at (table_gpa & 0xFFF), padded to
// 16 bytes, zeros elsewhere. InvalidArgument if the table would cross the page end.
Result<Bytes> BuildKernelHashesPage(const DirectBootHashes& hashes, uint32_t table_gpa);

struct MeasureOptions {
  uint32_t vcpus = 1;
  uint32_t vcpu_sig = 0x800F12;  // EPYC-v4
  uint64_t guest_features = kDefaultGuestFeatures;
  VmmType vmm = VmmType::kQemu;
  std::optional<LaunchDigest> ovmf_hash;       // skip step 1 and start from this digest
  std::optional<DirectBootHashes> direct_boot; // -kernel/-initrd/-append
  unsigned max_threads = 0;                    // for hashing image pages; 0 = per core
};

// Step 1 only: the digest after every image page (the seed for --ovmf-hash).
// InvalidArgument for an image that is empty, over kMaxOvmfBytes or not whole pages.
Result<LaunchDigest> ComputeOvmfHash(ByteSpan image, unsigned max_threads = 0);

// The full launch digest. Errors: InvalidArgument "vcpus: ..." outside 1..512; FailedPrecondition
// when direct boot is asked of a build without SNP kernel hashes, or more than one vCPU of a
// build without an SEV-ES reset block.
Result<LaunchDigest> ComputeLaunchDigest(ByteSpan image, const OvmfInfo& info,
                                         const MeasureOptions& options);

// SHA-256 of a file, streamed (kernels and initrds can be large). NotFound / Unavailable /
// ResourceExhausted (over max_bytes) as base/file.h.
inline constexpr uint64_t kMaxBootFileBytes = uint64_t{4} << 30;
Result<Sha256Digest> Sha256File(const std::string& path, uint64_t max_bytes = kMaxBootFileBytes);

}  // namespace vhsm::snp
