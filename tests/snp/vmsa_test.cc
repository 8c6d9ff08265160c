#include "snp/vmsa.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/byte_reader.h"
#include "testing/status_matchers.h"

namespace vhsm::snp {
namespace {

using ::testing::HasSubstr;

TEST(VcpuTypeTest, KnownSignatures) {
  const std::pair<const char*, uint32_t> cases[] = {
      {"EPYC", 0x800F12},       {"EPYC-v2", 0x800F12},    {"EPYC-v3", 0x800F12},
      {"EPYC-v4", 0x800F12},    {"EPYC-Rome", 0x830F10},  {"EPYC-Milan", 0xA00F11},
      {"EPYC-Milan-v2", 0xA00F11}, {"EPYC-Genoa", 0xA10F10}, {"EPYC-Turin", 0xB00F00},
  };
  for (const auto& [name, sig] : cases) {
    ASSERT_OK_AND_ASSIGN(uint32_t got, VcpuSignatureForType(name));
    EXPECT_EQ(got, sig) << name;
  }
}

TEST(VcpuTypeTest, RejectsUnknownType) {
  EXPECT_THAT(VcpuSignatureForType("Skylake-Server"),
              StatusIs(StatusCode::kInvalidArgument,
                       HasSubstr("unknown vCPU type \"Skylake-Server\"; known: EPYC,")));
  EXPECT_THAT(VcpuSignatureForType("epyc-v4"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown")));
}

TEST(VcpuTypeTest, SignatureEncoding) {
  EXPECT_EQ(CpuidSignature(0x6, 0x55, 4), 0x50654u);  // Intel-style family below 0xF
  EXPECT_EQ(CpuidSignature(0x19, 0x11, 1), 0xA10F11u);
}

TEST(VmmTypeTest, ParsesNames) {
  EXPECT_THAT(ParseVmmType("qemu"), IsOk());
  EXPECT_THAT(ParseVmmType("ec2"), IsOk());
  EXPECT_THAT(ParseVmmType("gce"), IsOk());
  EXPECT_THAT(ParseVmmType("xen"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("want qemu, ec2 or gce")));
}

TEST(VmsaTest, QemuBootCpuFields) {
  Bytes p = BuildVmsaPage(VmmType::kQemu, kBootCpuResetEip, 0x800F12, 0x21);
  ASSERT_EQ(p.size(), kVmsaPageSize);
  // CS at 0x10: selector 0xF000, attrib 0x9B, limit 0xFFFF, base 0xFFFF0000.
  EXPECT_EQ(LoadU16Le(&p[0x10]), 0xF000);
  EXPECT_EQ(LoadU16Le(&p[0x12]), 0x9B);
  EXPECT_EQ(LoadU32Le(&p[0x14]), 0xFFFFu);
  EXPECT_EQ(LoadU64Le(&p[0x18]), 0xFFFF0000u);
  EXPECT_EQ(LoadU64Le(&p[0x178]), 0xFFF0u);  // RIP
  EXPECT_EQ(LoadU64Le(&p[0x310]), 0x800F12u);  // RDX
  EXPECT_EQ(LoadU64Le(&p[0x3B0]), 0x21u);   // SEV_FEATURES
  EXPECT_EQ(LoadU32Le(&p[0x408]), 0x1F80u);  // MXCSR
  EXPECT_EQ(LoadU16Le(&p[0x410]), 0x37F);    // FCW
  EXPECT_TRUE(IsAllZero(ByteSpan(p).subspan(0x418)));
}

TEST(VmsaTest, ApUsesResetEip) {
  Bytes p = BuildVmsaPage(VmmType::kQemu, 0x0080B004, 0x800F12, 0x1);
  EXPECT_EQ(LoadU64Le(&p[0x18]), 0x00800000u);
  EXPECT_EQ(LoadU64Le(&p[0x178]), 0xB004u);
}

TEST(VmsaTest, CloudDefaults) {
  Bytes ec2 = BuildVmsaPage(VmmType::kEc2, kBootCpuResetEip, 0x800F12, 0x1);
  EXPECT_EQ(LoadU16Le(&ec2[0x12]), 0x9A);
  Bytes ec2_ap = BuildVmsaPage(VmmType::kEc2, 0xFFFFF004, 0x800F12, 0x1);
  EXPECT_EQ(LoadU16Le(&ec2_ap[0x12]), 0x9B);
  Bytes gce = BuildVmsaPage(VmmType::kGce, kBootCpuResetEip, 0xA00F11, 0x1);
  EXPECT_EQ(LoadU64Le(&gce[0x310]), 0x600u);
  EXPECT_EQ(LoadU64Le(&gce[0x268]), 0x00070106u);
  EXPECT_EQ(LoadU32Le(&gce[0x408]), 0u);
}

}  // namespace
}  // namespace vhsm::snp
