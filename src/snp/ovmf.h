// ovmf.h: reads what the SEV-SNP launch digest needs from an OVMF firmware image: the footer
// GUIDed table (SEV-ES AP reset EIP, kernel-hashes table GPA) and the SEV metadata sections
// (memory QEMU/KVM adds with SNP_LAUNCH_UPDATE besides the image itself). The image is untrusted
// input: every offset is bounds-checked and every error says which structure was wrong.
// Spec: shared/docs/snp-facts.md section 11 (OVMF image parsing); edk2 OvmfPkg ResetVector.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"

namespace vhsm::snp {

using Guid = std::array<uint8_t, 16>;

namespace internal {
constexpr uint8_t HexNibble(char c) {
  return static_cast<uint8_t>(c >= '0' && c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
}
}  // namespace internal

// "aabbccdd-eeff-0011-2233-445566778899" in EFI byte order (first three fields little-endian),
// as GUIDs appear in OVMF images and QEMU's hash table. Compile-time only, on literals.
consteval Guid EfiGuid(std::string_view text) {
  // Byte i of the result comes from text byte pair at kSrc[i].
  constexpr size_t kSrc[16] = {6, 4, 2, 0, 11, 9, 16, 14, 19, 21, 24, 26, 28, 30, 32, 34};
  Guid g{};
  if (text.size() != 36) throw "EfiGuid: want 36 characters";
  for (size_t i = 0; i < 16; ++i) {
    g[i] = static_cast<uint8_t>(internal::HexNibble(text[kSrc[i]]) << 4 |
                                internal::HexNibble(text[kSrc[i] + 1]));
  }
  return g;
}

inline constexpr size_t kPageSize = 4096;
// Largest image accepted. Real OVMF builds are 1-4 MiB; the image must sit below 4 GiB.
inline constexpr size_t kMaxOvmfBytes = 64u << 20;
// Largest number of SEV metadata sections accepted (edk2 emits at most a handful).
inline constexpr uint32_t kMaxSevMetadataSections = 64;
// Largest single metadata section (each 4 KiB costs one SHA-384 in the digest).
inline constexpr uint32_t kMaxSevSectionBytes = 256u << 20;

// OVMF SEV metadata section types (edk2 OvmfPkg/ResetVector, "ASEV" descriptor types).
enum class SevSectionType : uint32_t {
  kSnpSecMem = 1,        // pre-validated memory: ZERO pages (UNMEASURED on GCE)
  kSnpSecrets = 2,       // one SECRETS page
  kCpuid = 3,            // one CPUID page
  kSvsmCaa = 4,          // ZERO pages
  kSnpKernelHashes = 0x10,  // one NORMAL page with the direct-boot hash table
};
std::string_view SevSectionTypeName(SevSectionType type);

struct SevMetadataSection {
  uint32_t gpa = 0;
  uint32_t size = 0;
  SevSectionType type = SevSectionType::kSnpSecMem;
};

// What ParseOvmf found. Views nothing: safe to keep after the image is gone.
struct OvmfInfo {
  size_t image_size = 0;
  uint64_t gpa_base = 0;  // the image is mapped to end at 4 GiB
  std::optional<uint32_t> sev_es_reset_eip;          // AP reset EIP (footer GUID 00f771de-...)
  std::optional<uint32_t> sev_hash_table_gpa;        // footer GUID 7255371f-...
  std::optional<uint32_t> sev_hash_table_size;       // u16 after the GPA, when present
  std::vector<SevMetadataSection> sections;          // table order

  // True when the build measures a kernel/initrd/cmdline hash table for SNP direct boot: it has
  // an SNP_KERNEL_HASHES metadata section and tells where the table sits in that page.
  bool HasSnpKernelHashes() const;
};

// Parses an OVMF image. Errors (all kInvalidArgument unless noted):
//  - "OVMF image: ..." for a size that is zero, not a multiple of 4 KiB or over kMaxOvmfBytes
//    (kResourceExhausted);
//  - "OVMF footer: ..." when the GUIDed table footer is missing (not OVMF) or its size is bad;
//  - "OVMF footer table: ..." for an entry that runs outside the table (truncated/corrupt);
//  - "OVMF SEV metadata: ..." when the metadata GUID is absent (a build without SEV support),
//    or the "ASEV" header or its descriptors are out of bounds, have an unknown type or overlap
//    the 4 GiB boundary.
// An image without the SEV-ES reset block parses, but measuring more than one vCPU then fails.
Result<OvmfInfo> ParseOvmf(ByteSpan image);

}  // namespace vhsm::snp
