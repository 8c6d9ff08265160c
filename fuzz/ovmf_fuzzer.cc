// ovmf_fuzzer.cc: OVMF footer GUIDed table + SEV metadata parser (snp/ovmf.h) on arbitrary bytes.
// Properties: never crashes or reads out of bounds; a parsed image satisfies the invariants the
// digest relies on (aligned sections below 4 GiB, bounded count); parsing is deterministic; and
// small parsed images can be measured without error for 1 and 2 vCPUs.
#include <cstdint>
#include <cstdlib>

#include "snp/measure.h"
#include "snp/ovmf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  vhsm::ByteSpan in(data, size);
  vhsm::Result<vhsm::snp::OvmfInfo> info = vhsm::snp::ParseOvmf(in);
  if (!info.ok()) return 0;
  if (info->sections.size() > vhsm::snp::kMaxSevMetadataSections) std::abort();
  for (const auto& s : info->sections) {
    if (s.gpa % vhsm::snp::kPageSize != 0 || s.size == 0 || s.size % vhsm::snp::kPageSize != 0 ||
        uint64_t{s.gpa} + s.size > (uint64_t{1} << 32)) {
      std::abort();
    }
  }
  vhsm::Result<vhsm::snp::OvmfInfo> again = vhsm::snp::ParseOvmf(in);
  if (!again.ok() || again->sections.size() != info->sections.size() ||
      again->sev_es_reset_eip != info->sev_es_reset_eip) {
    std::abort();
  }
  if (size <= 64 * 1024) {
    vhsm::snp::MeasureOptions opt;
    opt.vcpus = info->sev_es_reset_eip.has_value() ? 2 : 1;
    if (info->HasSnpKernelHashes()) {
      opt.direct_boot = vhsm::snp::MakeDirectBootHashes({}, std::nullopt, "x");
    }
    auto d = vhsm::snp::ComputeLaunchDigest(in, *info, opt);
    // The only acceptable failure: a hash-table GPA whose table would cross the page end.
    if (!d.ok() && !opt.direct_boot.has_value()) std::abort();
  }
  return 0;
}
