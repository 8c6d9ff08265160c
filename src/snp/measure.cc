#include "snp/measure.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <thread>
#include <vector>

#include "base/byte_reader.h"
#include "crypto/digest.h"
#include "crypto/error.h"

namespace vhsm::snp {
namespace {

constexpr size_t kPageInfoSize = 0x70;
constexpr uint64_t kFourGiB = uint64_t{1} << 32;

// QEMU's SEV hash table (hw/i386/x86-common.c / sev.c layout), GUIDs in EFI byte order.
constexpr Guid kHashTableHeaderGuid = EfiGuid("9438d606-4f22-4cc9-b479-a793d411fd21");
constexpr Guid kCmdlineEntryGuid = EfiGuid("97d02dd8-bd20-4c94-aa78-e7714d36ab2a");
constexpr Guid kInitrdEntryGuid = EfiGuid("44baf731-3a2f-4bd7-9af1-41e29169781d");
constexpr Guid kKernelEntryGuid = EfiGuid("4de79437-abd2-427f-b835-d5b172d2045b");
constexpr uint16_t kHashEntrySize = 16 + 2 + 32;                   // 50
constexpr uint16_t kHashTableSize = 16 + 2 + 3 * kHashEntrySize;  // 168
constexpr size_t kHashTablePaddedSize = (kHashTableSize + 15) / 16 * 16;

Sha256Digest ToSha256(ByteSpan b) {
  Sha256Digest d{};
  std::memcpy(d.data(), b.data(), d.size());
  return d;
}

LaunchDigest ToLaunchDigest(ByteSpan b) {
  LaunchDigest d{};
  std::memcpy(d.data(), b.data(), d.size());
  return d;
}

std::string HexU(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

// ---- LaunchDigestBuilder ----------------------------------------------------------------------

Result<LaunchDigestBuilder> LaunchDigestBuilder::Create(const LaunchDigest& seed) {
  crypto::EvpMdPtr md(EVP_MD_fetch(nullptr, "SHA384", nullptr));
  if (!md) return crypto::OpenSslError("launch digest: fetch SHA-384");
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return crypto::OpenSslError("launch digest: EVP_MD_CTX_new");
  return LaunchDigestBuilder(std::move(md), std::move(ctx), seed);
}

Status LaunchDigestBuilder::Sha384(ByteSpan data, uint8_t* out) {
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(ctx_.get(), md_.get(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx_.get(), out, &len) != 1 || len != kLaunchDigestSize) {
    return crypto::OpenSslError("launch digest: SHA-384");
  }
  return OkStatus();
}

Status LaunchDigestBuilder::AddPageInfo(PageType type, uint64_t gpa, const LaunchDigest& contents) {
  // PAGE_INFO: digest_cur(48) contents(48) length u16 page_type u8 imi_page u8 vmpl3..1 perms
  // (3 bytes) reserved u8, gpa u64.
  std::array<uint8_t, kPageInfoSize> info{};
  std::memcpy(info.data(), digest_.data(), kLaunchDigestSize);
  std::memcpy(info.data() + 0x30, contents.data(), kLaunchDigestSize);
  StoreU16Le(info.data() + 0x60, static_cast<uint16_t>(kPageInfoSize));
  info[0x62] = static_cast<uint8_t>(type);
  StoreU64Le(info.data() + 0x68, gpa);
  return Sha384(info, digest_.data());
}

Status LaunchDigestBuilder::AddMeasuredPage(PageType type, uint64_t gpa, ByteSpan page) {
  if (page.size() != kPageSize) {
    return InvalidArgumentError("launch digest: page at " + HexU(gpa) + " has " +
                                std::to_string(page.size()) + " bytes, want 4096");
  }
  LaunchDigest contents;
  VHSM_RETURN_IF_ERROR(Sha384(page, contents.data()));
  return AddPageInfo(type, gpa, contents);
}

Status LaunchDigestBuilder::AddNormalPages(uint64_t gpa, ByteSpan data, unsigned max_threads) {
  if (data.size() % kPageSize != 0) {
    return InvalidArgumentError("launch digest: " + std::to_string(data.size()) +
                                " bytes of NORMAL pages is not a multiple of 4096");
  }
  const size_t pages = data.size() / kPageSize;
  unsigned threads = max_threads != 0 ? max_threads : std::thread::hardware_concurrency();
  threads = std::clamp(threads, 1u, kMaxHashThreads);
  if (threads == 1 || data.size() < kMinParallelHashBytes) {
    for (size_t off = 0; off < data.size(); off += kPageSize) {
      VHSM_RETURN_IF_ERROR(AddMeasuredPage(PageType::kNormal, gpa + off, data.subspan(off, kPageSize)));
    }
    return OkStatus();
  }
  // Page hashes are independent: split them over threads (each with its own context), then run
  // the sequential PAGE_INFO chain. This thread takes the first share itself.
  std::vector<LaunchDigest> hashes(pages);
  std::vector<Status> results(threads);
  auto work = [&](unsigned t) {
    Result<LaunchDigestBuilder> local = Create();
    if (!local.ok()) {
      results[t] = local.status();
      return;
    }
    for (size_t i = pages * t / threads; i < pages * (t + 1) / threads; ++i) {
      Status s = local->Sha384(data.subspan(i * kPageSize, kPageSize), hashes[i].data());
      if (!s.ok()) {
        results[t] = s;
        return;
      }
    }
  };
  {
    std::vector<std::jthread> workers;
    workers.reserve(threads - 1);
    for (unsigned t = 1; t < threads; ++t) workers.emplace_back(work, t);
    work(0);
  }  // jthreads join here
  for (const Status& s : results) VHSM_RETURN_IF_ERROR(s);
  for (size_t i = 0; i < pages; ++i) {
    VHSM_RETURN_IF_ERROR(AddPageInfo(PageType::kNormal, gpa + i * kPageSize, hashes[i]));
  }
  return OkStatus();
}

Status LaunchDigestBuilder::AddUnhashedPages(PageType type, uint64_t gpa, uint64_t size_bytes) {
  if (size_bytes % kPageSize != 0) {
    return InvalidArgumentError("launch digest: region at " + HexU(gpa) + " of " +
                                HexU(size_bytes) + " bytes is not a multiple of 4096");
  }
  static constexpr LaunchDigest kZero{};
  for (uint64_t off = 0; off < size_bytes; off += kPageSize) {
    VHSM_RETURN_IF_ERROR(AddPageInfo(type, gpa + off, kZero));
  }
  return OkStatus();
}

// ---- direct boot ------------------------------------------------------------------------------

DirectBootHashes MakeDirectBootHashes(const Sha256Digest& kernel_sha256,
                                      const std::optional<Sha256Digest>& initrd_sha256,
                                      std::optional<std::string_view> append) {
  DirectBootHashes h;
  h.kernel = kernel_sha256;
  h.initrd = initrd_sha256.has_value() ? *initrd_sha256 : ToSha256(crypto::Sha256({}));
  // QEMU hashes the command line with its terminating NUL; no -append means the empty string.
  std::string cmdline(append.value_or(""));
  cmdline.push_back('\0');
  h.cmdline = ToSha256(crypto::Sha256(AsBytes(cmdline)));
  return h;
}

Result<Bytes> BuildKernelHashesPage(const DirectBootHashes& hashes, uint32_t table_gpa) {
  const size_t offset = table_gpa & (kPageSize - 1);
  if (offset + kHashTablePaddedSize > kPageSize) {
    return InvalidArgumentError("OVMF SEV hash table: GPA " + HexU(table_gpa) +
                                " leaves no room for the " + std::to_string(kHashTablePaddedSize) +
                                "-byte table before the page end");
  }
  ByteWriter w;
  w.WriteBytes(kHashTableHeaderGuid);
  w.WriteU16Le(kHashTableSize);
  auto entry = [&w](const Guid& guid, const Sha256Digest& hash) {
    w.WriteBytes(guid);
    w.WriteU16Le(kHashEntrySize);
    w.WriteBytes(hash);
  };
  entry(kCmdlineEntryGuid, hashes.cmdline);
  entry(kInitrdEntryGuid, hashes.initrd);
  entry(kKernelEntryGuid, hashes.kernel);
  Bytes page(kPageSize, 0);
  std::memcpy(page.data() + offset, w.bytes().data(), w.size());  // padding stays zero
  return page;
}

// ---- the launch digest ------------------------------------------------------------------------

Result<LaunchDigest> ComputeOvmfHash(ByteSpan image, unsigned max_threads) {
  if (image.empty() || image.size() % kPageSize != 0) {
    return InvalidArgumentError("OVMF image: size " + std::to_string(image.size()) +
                                " is not a non-zero multiple of 4096");
  }
  if (image.size() > kMaxOvmfBytes) {
    return ResourceExhaustedError("OVMF image: " + std::to_string(image.size()) +
                                  " bytes, limit " + std::to_string(kMaxOvmfBytes));
  }
  VHSM_ASSIGN_OR_RETURN(LaunchDigestBuilder b, LaunchDigestBuilder::Create());
  VHSM_RETURN_IF_ERROR(b.AddNormalPages(kFourGiB - image.size(), image, max_threads));
  return b.digest();
}

namespace {

Status AddMetadataSection(LaunchDigestBuilder& b, const SevMetadataSection& s,
                          const MeasureOptions& opt, const OvmfInfo& info) {
  switch (s.type) {
    case SevSectionType::kSnpSecMem:
      return b.AddUnhashedPages(opt.vmm == VmmType::kGce ? PageType::kUnmeasured : PageType::kZero,
                                s.gpa, s.size);
    case SevSectionType::kSnpSecrets:
      return b.AddUnhashedPages(PageType::kSecrets, s.gpa, kPageSize);
    case SevSectionType::kCpuid:
      return b.AddUnhashedPages(PageType::kCpuid, s.gpa, kPageSize);
    case SevSectionType::kSvsmCaa:
      return b.AddUnhashedPages(PageType::kZero, s.gpa, s.size);
    case SevSectionType::kSnpKernelHashes:
      if (opt.direct_boot.has_value()) {
        VHSM_ASSIGN_OR_RETURN(Bytes page,
                              BuildKernelHashesPage(*opt.direct_boot, *info.sev_hash_table_gpa));
        return b.AddMeasuredPage(PageType::kNormal, s.gpa, page);
      }
      return b.AddUnhashedPages(PageType::kZero, s.gpa, s.size);
  }
  return InternalError("launch digest: unhandled metadata section type");
}

}  // namespace

Result<LaunchDigest> ComputeLaunchDigest(ByteSpan image, const OvmfInfo& info,
                                         const MeasureOptions& opt) {
  if (opt.vcpus < kMinVcpus || opt.vcpus > kMaxVcpus) {
    return InvalidArgumentError("vcpus: got " + std::to_string(opt.vcpus) + ", want " +
                                std::to_string(kMinVcpus) + ".." + std::to_string(kMaxVcpus));
  }
  if (opt.direct_boot.has_value() && !info.HasSnpKernelHashes()) {
    return FailedPreconditionError(
        "kernel: this OVMF build has no SNP kernel-hashes support (no SNP_KERNEL_HASHES "
        "metadata section and SEV hash-table GUID), so a -kernel/-initrd/-append boot is not "
        "measured and cannot be verified; use an AmdSev OVMF build or boot without --kernel");
  }
  if (opt.vcpus > 1 && !info.sev_es_reset_eip.has_value()) {
    return FailedPreconditionError(
        "vcpus: " + std::to_string(opt.vcpus) +
        " vCPUs need the OVMF SEV-ES reset block (GUID 00f771de-...) for the AP start address, "
        "and this image has none");
  }
  if (image.size() != info.image_size) {
    return InvalidArgumentError("OVMF image: " + std::to_string(image.size()) +
                                " bytes, but it was parsed as " + std::to_string(info.image_size));
  }

  VHSM_ASSIGN_OR_RETURN(LaunchDigestBuilder b, LaunchDigestBuilder::Create(opt.ovmf_hash.value_or(LaunchDigest{})));
  if (!opt.ovmf_hash.has_value()) {
    VHSM_RETURN_IF_ERROR(b.AddNormalPages(info.gpa_base, image, opt.max_threads));
  }
  // EC2 measures the CPUID page after every other metadata section.
  const SevMetadataSection* deferred_cpuid = nullptr;
  for (const SevMetadataSection& s : info.sections) {
    if (opt.vmm == VmmType::kEc2 && s.type == SevSectionType::kCpuid) {
      deferred_cpuid = &s;
      continue;
    }
    VHSM_RETURN_IF_ERROR(AddMetadataSection(b, s, opt, info));
  }
  if (deferred_cpuid != nullptr) VHSM_RETURN_IF_ERROR(AddMetadataSection(b, *deferred_cpuid, opt, info));

  // VMSAs: boot CPU first, then identical AP pages. Hash each distinct page once.
  Bytes bsp = BuildVmsaPage(opt.vmm, kBootCpuResetEip, opt.vcpu_sig, opt.guest_features);
  LaunchDigest bsp_hash = ToLaunchDigest(crypto::Sha384(bsp));
  VHSM_RETURN_IF_ERROR(b.AddPageInfo(PageType::kVmsa, kVmsaGpa, bsp_hash));
  if (opt.vcpus > 1) {
    Bytes ap = BuildVmsaPage(opt.vmm, *info.sev_es_reset_eip, opt.vcpu_sig, opt.guest_features);
    LaunchDigest ap_hash = ToLaunchDigest(crypto::Sha384(ap));
    for (uint32_t i = 1; i < opt.vcpus; ++i) {
      VHSM_RETURN_IF_ERROR(b.AddPageInfo(PageType::kVmsa, kVmsaGpa, ap_hash));
    }
  }
  return b.digest();
}

// ---- files ------------------------------------------------------------------------------------

Result<Sha256Digest> Sha256File(const std::string& path, uint64_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError(path + ": cannot open");
  crypto::Hasher h(crypto::HashAlg::kSha256);
  std::vector<uint8_t> buf(1u << 20);
  uint64_t total = 0;
  while (in) {
    in.read(reinterpret_cast<char*>(buf.data()), static_cast<std::streamsize>(buf.size()));
    const auto got = static_cast<size_t>(in.gcount());
    total += got;
    if (total > max_bytes) {
      return ResourceExhaustedError(path + ": larger than the limit of " +
                                    std::to_string(max_bytes) + " bytes");
    }
    h.Update(ByteSpan(buf.data(), got));
  }
  if (in.bad()) return UnavailableError(path + ": read error");
  return ToSha256(h.Finish());
}

}  // namespace vhsm::snp
