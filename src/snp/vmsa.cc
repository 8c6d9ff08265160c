#include "snp/vmsa.h"

#include <array>
#include <string>

#include "base/byte_reader.h"

namespace vhsm::snp {
namespace {

// QEMU's EPYC models (target/i386/cpu.c): versions of one model share family/model/stepping.
constexpr std::array<VcpuType, 22> kVcpuTypes = {{
    {"EPYC", 23, 1, 2},           {"EPYC-v1", 23, 1, 2},        {"EPYC-v2", 23, 1, 2},
    {"EPYC-v3", 23, 1, 2},        {"EPYC-v4", 23, 1, 2},        {"EPYC-v5", 23, 1, 2},
    {"EPYC-IBPB", 23, 1, 2},      {"EPYC-Rome", 23, 49, 0},     {"EPYC-Rome-v1", 23, 49, 0},
    {"EPYC-Rome-v2", 23, 49, 0},  {"EPYC-Rome-v3", 23, 49, 0},  {"EPYC-Rome-v4", 23, 49, 0},
    {"EPYC-Rome-v5", 23, 49, 0},  {"EPYC-Milan", 25, 1, 1},     {"EPYC-Milan-v1", 25, 1, 1},
    {"EPYC-Milan-v2", 25, 1, 1},  {"EPYC-Milan-v3", 25, 1, 1},  {"EPYC-Genoa", 25, 17, 0},
    {"EPYC-Genoa-v1", 25, 17, 0}, {"EPYC-Genoa-v2", 25, 17, 0}, {"EPYC-Turin", 26, 0, 0},
    {"EPYC-Turin-v1", 26, 0, 0},
}};

// VMSA layout (APM vol. 2 save area; offsets used by SNP launch).
constexpr size_t kSegmentBytes = 16;  // {u16 selector, u16 attrib, u32 limit, u64 base}
enum Segment : size_t { kEs, kCs, kSs, kDs, kFs, kGs, kGdtr, kLdtr, kIdtr, kTr };
constexpr size_t kEferOff = 0xD0;
constexpr size_t kCr4Off = 0x148;
constexpr size_t kCr0Off = 0x158;
constexpr size_t kDr7Off = 0x160;
constexpr size_t kDr6Off = 0x168;
constexpr size_t kRflagsOff = 0x170;
constexpr size_t kRipOff = 0x178;
constexpr size_t kGPatOff = 0x268;
constexpr size_t kRdxOff = 0x310;
constexpr size_t kSevFeaturesOff = 0x3B0;
constexpr size_t kXcr0Off = 0x3E8;
constexpr size_t kMxcsrOff = 0x408;
constexpr size_t kX87FcwOff = 0x410;

void PutSegment(Bytes& page, Segment seg, uint16_t selector, uint16_t attrib, uint32_t limit,
                uint64_t base) {
  uint8_t* p = page.data() + seg * kSegmentBytes;
  StoreU16Le(p, selector);
  StoreU16Le(p + 2, attrib);
  StoreU32Le(p + 4, limit);
  StoreU64Le(p + 8, base);
}

// Per-VMM reset values that differ between QEMU/KVM, EC2 and GCE.
struct VmmDefaults {
  uint16_t cs_attrib;
  uint16_t ss_attrib;
  uint16_t tr_attrib;
  uint64_t rdx;
  uint64_t g_pat;
  uint32_t mxcsr;
  uint16_t fcw;
};

VmmDefaults DefaultsFor(VmmType vmm, uint32_t eip, uint32_t vcpu_sig) {
  switch (vmm) {
    case VmmType::kEc2:
      // EC2 marks the boot CPU's CS as not yet accessed; APs keep 0x9B.
      return {static_cast<uint16_t>(eip == kBootCpuResetEip ? 0x9A : 0x9B), 0x92, 0x83, 0x600,
              0x0007040600070406, 0, 0};
    case VmmType::kGce:
      return {0x9B, 0x93, 0x8B, 0x600, 0x00070106, 0, 0};
    case VmmType::kQemu:
      break;
  }
  return {0x9B, 0x93, 0x8B, vcpu_sig, 0x0007040600070406, 0x1F80, 0x37F};
}

}  // namespace

Result<VmmType> ParseVmmType(std::string_view name) {
  if (name == "qemu") return VmmType::kQemu;
  if (name == "ec2") return VmmType::kEc2;
  if (name == "gce") return VmmType::kGce;
  return InvalidArgumentError("vmm: got \"" + std::string(name) + "\", want qemu, ec2 or gce");
}

std::string_view VmmTypeName(VmmType vmm) {
  switch (vmm) {
    case VmmType::kQemu: return "qemu";
    case VmmType::kEc2: return "ec2";
    case VmmType::kGce: return "gce";
  }
  return "?";
}

std::span<const VcpuType> KnownVcpuTypes() { return kVcpuTypes; }

uint32_t CpuidSignature(uint32_t family, uint32_t model, uint32_t stepping) {
  uint32_t base_family = family;
  uint32_t ext_family = 0;
  if (family > 0xF) {
    base_family = 0xF;
    ext_family = (family - 0xF) & 0xFF;
  }
  return ext_family << 20 | ((model >> 4) & 0xF) << 16 | base_family << 8 | (model & 0xF) << 4 |
         (stepping & 0xF);
}

Result<uint32_t> VcpuSignatureForType(std::string_view name) {
  for (const VcpuType& t : kVcpuTypes) {
    if (t.name == name) return CpuidSignature(t.family, t.model, t.stepping);
  }
  std::string known;
  for (const VcpuType& t : kVcpuTypes) {
    if (!known.empty()) known += ", ";
    known += t.name;
  }
  return InvalidArgumentError("vcpu-type: unknown vCPU type \"" + std::string(name) +
                              "\"; known: " + known + " (or give --vcpu-sig)");
}

Bytes BuildVmsaPage(VmmType vmm, uint32_t eip, uint32_t vcpu_sig, uint64_t sev_features) {
  const VmmDefaults d = DefaultsFor(vmm, eip, vcpu_sig);
  Bytes page(kVmsaPageSize, 0);
  // Real-mode start: CS base holds the upper 16 bits of the EIP, RIP the lower 16.
  const uint64_t cs_base = eip & 0xFFFF0000u;
  const uint64_t rip = eip & 0x0000FFFFu;
  PutSegment(page, kEs, 0, 0x93, 0xFFFF, 0);
  PutSegment(page, kCs, 0xF000, d.cs_attrib, 0xFFFF, cs_base);
  PutSegment(page, kSs, 0, d.ss_attrib, 0xFFFF, 0);
  PutSegment(page, kDs, 0, 0x93, 0xFFFF, 0);
  PutSegment(page, kFs, 0, 0x93, 0xFFFF, 0);
  PutSegment(page, kGs, 0, 0x93, 0xFFFF, 0);
  PutSegment(page, kGdtr, 0, 0, 0xFFFF, 0);
  PutSegment(page, kLdtr, 0, 0x82, 0xFFFF, 0);
  PutSegment(page, kIdtr, 0, 0, 0xFFFF, 0);
  PutSegment(page, kTr, 0, d.tr_attrib, 0xFFFF, 0);
  uint8_t* p = page.data();
  StoreU64Le(p + kEferOff, 0x1000);  // SVME
  StoreU64Le(p + kCr4Off, 0x40);     // MCE
  StoreU64Le(p + kCr0Off, 0x10);     // ET
  StoreU64Le(p + kDr7Off, 0x400);
  StoreU64Le(p + kDr6Off, 0xFFFF0FF0);
  StoreU64Le(p + kRflagsOff, 0x2);
  StoreU64Le(p + kRipOff, rip);
  StoreU64Le(p + kGPatOff, d.g_pat);
  StoreU64Le(p + kRdxOff, d.rdx);
  StoreU64Le(p + kSevFeaturesOff, sev_features);
  StoreU64Le(p + kXcr0Off, 0x1);
  StoreU32Le(p + kMxcsrOff, d.mxcsr);
  StoreU16Le(p + kX87FcwOff, d.fcw);
  return page;
}

}  // namespace vhsm::snp
