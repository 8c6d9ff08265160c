// vmsa.h: builds the initial VMSA (VM save area) page of a vCPU exactly as a VMM hands it to
// SNP_LAUNCH_UPDATE, so the launch digest can include it. Covers the QEMU/KVM, AWS EC2 and
// Google GCE defaults, and the QEMU EPYC vCPU models by name (their CPUID(1).EAX signature).
// Spec: shared/docs/snp-facts.md section 11 (VMSA page); AMD APM vol. 2 (24593) save-area
// table; AMD CPUID specification (25481) for the signature encoding.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace vhsm::snp {

enum class VmmType { kQemu, kEc2, kGce };

// "qemu" | "ec2" | "gce" (case-sensitive); InvalidArgument names the accepted values.
Result<VmmType> ParseVmmType(std::string_view name);
std::string_view VmmTypeName(VmmType vmm);

// A QEMU vCPU model and the family/model/stepping it reports.
struct VcpuType {
  std::string_view name;  // "EPYC-v4"
  uint32_t family;        // 23 = Zen/Zen2, 25 = Zen3/Zen4, 26 = Zen5
  uint32_t model;
  uint32_t stepping;
};
std::span<const VcpuType> KnownVcpuTypes();

// CPUID Fn0000_0001_EAX: ext_family<<20 | ext_model<<16 | base_family<<8 | model_low<<4 |
// stepping, base_family 0xF and ext_family = family - 0xF above family 0xF.
uint32_t CpuidSignature(uint32_t family, uint32_t model, uint32_t stepping);

// Signature of a named vCPU model. InvalidArgument "unknown vCPU type" listing the known names.
Result<uint32_t> VcpuSignatureForType(std::string_view name);

inline constexpr size_t kVmsaPageSize = 4096;
// The boot CPU starts at the architectural reset vector.
inline constexpr uint32_t kBootCpuResetEip = 0xFFFFFFF0;

// The VMSA page for a vCPU starting at `eip` (kBootCpuResetEip for the boot CPU, the OVMF
// SEV-ES reset-block EIP for APs). `vcpu_sig` goes into RDX (QEMU/EC2 reset value); GCE ignores
// it. `sev_features` is the SEV_FEATURES field (bit 0 SNPActive).
Bytes BuildVmsaPage(VmmType vmm, uint32_t eip, uint32_t vcpu_sig, uint64_t sev_features);

}  // namespace vhsm::snp
