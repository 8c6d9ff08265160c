// amd_certs_test.cc: VCEK/VLEK extension decoding on real certificates (Milan, Genoa, Turin,
// VLEK, trustee's two hwID encodings) and TCB/hwID cross-checks per product layout.
#include "snp/amd_certs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::snp {
namespace {

using ::testing::HasSubstr;

AmdCertInfo InfoOf(const std::string& path) {
  auto cert = crypto::Certificate::Parse(testdata::ReadVector(path));
  EXPECT_TRUE(cert.ok()) << cert.status().ToString();
  auto info = ParseAmdCertInfo(*cert);
  EXPECT_TRUE(info.ok()) << info.status().ToString();
  return info.value_or(AmdCertInfo{});
}

TEST(AmdCertsTest, MilanVcek) {
  VHSM_REQUIRE_SNP_VECTORS();
  AmdCertInfo i = InfoOf("vectors/milan-v2-vcek-virtee/vcek.der");
  EXPECT_EQ(i.struct_version, 0u);
  EXPECT_EQ(i.product_name, "Milan-B0");
  EXPECT_EQ(i.bl_spl, 3);
  EXPECT_EQ(i.tee_spl, 0);
  EXPECT_EQ(i.snp_spl, 8);
  EXPECT_EQ(i.ucode_spl, 115);
  EXPECT_EQ(i.spl_4, 0);
  EXPECT_FALSE(i.fmc_spl.has_value());
  ASSERT_TRUE(i.hw_id.has_value());
  EXPECT_EQ(HexEncode(*i.hw_id),
            "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6");
  EXPECT_FALSE(i.hw_id_was_octet_string);
  // Milan layout: bl byte 0, tee 1, snp 6, ucode 7.
  EXPECT_OK(CheckTcbMatchesCert(i, 0x7308000000000003ull, Product::kMilan));
  EXPECT_THAT(CheckTcbMatchesCert(i, 0x7308000000000004ull, Product::kMilan),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("leaf.blSPL: certificate says 3, REPORTED_TCB byte 0 has 4")));
  EXPECT_THAT(CheckTcbMatchesCert(i, 0x7308000000010003ull, Product::kMilan),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("spl_4")));
  EXPECT_OK(CheckHwIdMatchesChipId(i, *i.hw_id, Product::kMilan));
  Bytes other = *i.hw_id;
  other[5] ^= 1;
  EXPECT_THAT(CheckHwIdMatchesChipId(i, other, Product::kMilan), StatusIs(StatusCode::kPermissionDenied, HasSubstr("chip_id")));
}

TEST(AmdCertsTest, TwoByteUcodeAndVlek) {
  VHSM_REQUIRE_SNP_VECTORS();
  AmdCertInfo i = InfoOf("vectors/milan-v3-vlek-vmpl1-trustee/vlek.der");
  EXPECT_EQ(i.product_name, "Milan");
  EXPECT_EQ(i.ucode_spl, 217);  // INTEGER 02 02 00 D9
  EXPECT_EQ(i.snp_spl, 24);
  EXPECT_EQ(i.csp_id, "CN=cc-us-east-2.amazonaws.com");
  EXPECT_FALSE(i.hw_id.has_value());
  EXPECT_THAT(CheckHwIdMatchesChipId(i, Bytes(64, 0), Product::kMilan), StatusIs(StatusCode::kPermissionDenied, HasSubstr("missing")));
}

TEST(AmdCertsTest, TurinVcekHasFmcAndEightByteHwId) {
  VHSM_REQUIRE_SNP_VECTORS();
  AmdCertInfo i = InfoOf("vectors/turin-vcek-cert-only-virtee/vcek.der");
  EXPECT_EQ(i.struct_version, 1u);
  EXPECT_EQ(i.product_name, "Turin");
  EXPECT_EQ(i.fmc_spl, 0);
  EXPECT_FALSE(i.spl_4.has_value());
  EXPECT_EQ(i.ucode_spl, 9);
  ASSERT_TRUE(i.hw_id.has_value());
  EXPECT_EQ(HexEncode(*i.hw_id), "1e550a8ee5cf9f4d");
  // The manifest's matching Turin report: TCB bytes 00 00 00 00 00 00 00 09, CHIP_ID hwID + 56 zeros.
  EXPECT_OK(CheckTcbMatchesCert(i, 0x0900000000000000ull, Product::kTurin));
  Bytes chip = *i.hw_id;
  chip.resize(64, 0);
  EXPECT_OK(CheckHwIdMatchesChipId(i, chip, Product::kTurin));
  chip[8] = 1;
  EXPECT_FALSE(CheckHwIdMatchesChipId(i, chip, Product::kTurin).ok());
  // Read as Milan, the certificate lacks spl_4 but has fmc: refused.
  EXPECT_FALSE(CheckTcbMatchesCert(i, 0x0900000000000000ull, Product::kMilan).ok());
}

TEST(AmdCertsTest, HwIdEncodings) {
  VHSM_REQUIRE_SNP_VECTORS();
  AmdCertInfo raw = InfoOf("vectors/neg-fake-vcek-hwid-encodings-trustee/vcek_hwid_raw64.der");
  AmdCertInfo wrapped = InfoOf("vectors/neg-fake-vcek-hwid-encodings-trustee/vcek_hwid_octetstring.der");
  ASSERT_TRUE(raw.hw_id && wrapped.hw_id);
  EXPECT_EQ(*raw.hw_id, *wrapped.hw_id);
  EXPECT_EQ((*raw.hw_id)[63], 0x3f);
  EXPECT_FALSE(raw.hw_id_was_octet_string);
  EXPECT_TRUE(wrapped.hw_id_was_octet_string);
}

TEST(AmdCertsTest, MalformedExtensions) {
  const std::string arc = kAmdOidArc;
  auto parse = [&](const std::string& suffix, Bytes value) {
    return ParseAmdExtensions({crypto::Extension{arc + suffix, false, std::move(value)}});
  };
  EXPECT_THAT(parse(".3.1", {0x02, 0x02, 0x01, 0x00}), StatusIs(StatusCode::kInvalidArgument, HasSubstr("leaf.blSPL")));
  EXPECT_THAT(parse(".3.8", {0x04, 0x01, 0x01}), StatusIs(StatusCode::kInvalidArgument, HasSubstr("ucodeSPL")));
  EXPECT_THAT(parse(".4", Bytes(63, 0)), StatusIs(StatusCode::kInvalidArgument, HasSubstr("hwID: 63 bytes")));
  EXPECT_THAT(parse(".2", {0x16, 0x01, 0x07}), StatusIs(StatusCode::kInvalidArgument, HasSubstr("non-printable")));
  EXPECT_THAT(parse(".2", {0x0c, 0x01, 0x41}), StatusIs(StatusCode::kInvalidArgument, HasSubstr("productName")));
  auto dup = ParseAmdExtensions({{arc + ".3.1", false, {0x02, 0x01, 0x01}}, {arc + ".3.1", false, {0x02, 0x01, 0x01}}});
  EXPECT_THAT(dup, StatusIs(StatusCode::kInvalidArgument, HasSubstr("more than once")));
  // Unknown arc members and foreign OIDs are ignored.
  EXPECT_OK(ParseAmdExtensions({{arc + ".99", false, {0xff}}, {"2.5.29.19", true, {0x30, 0x00}}, {arc + "0.1", false, {}}}));
  AmdCertInfo empty;
  EXPECT_THAT(CheckTcbMatchesCert(empty, 0, Product::kGenoa), StatusIs(StatusCode::kPermissionDenied, HasSubstr("missing")));
}

}  // namespace
}  // namespace vhsm::snp
