// report_test.cc: ParseReport / SerializeReport against every real report vector in
// shared/snp-vectors (fields compared to MANIFEST.json) and against synthetic reports for each
// rule the parser enforces.
#include "snp/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>

#include "base/byte_reader.h"
#include "report_test_util.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::snp {
namespace {

using ::testing::HasSubstr;
using testutil::MakeReport;
using testutil::MakeTurinReport;

std::string Off(size_t offset) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%03zx", offset);
  return buf;
}

std::string HexU64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string LeHex(uint64_t v) {
  uint8_t b[8];
  StoreU64Le(b, v);
  return HexEncode(b);
}

void ExpectTcb(const nlohmann::json& want, uint64_t raw, Product product, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(LeHex(raw), want.at("raw_le_bytes").get<std::string>());
  TcbParts p = DecodeTcb(raw, product);
  EXPECT_EQ(p.bootloader, want.at("bootloader").get<int>());
  EXPECT_EQ(p.tee, want.at("tee").get<int>());
  EXPECT_EQ(p.snp, want.at("snp").get<int>());
  EXPECT_EQ(p.microcode, want.at("microcode").get<int>());
}

uint8_t ParseHexByte(const std::string& s) {
  auto b = HexDecode(s);
  EXPECT_TRUE(b.ok() && b->size() == 1) << s;
  return b.ok() && !b->empty() ? (*b)[0] : 0;
}

TEST(ReportVectorsTest, EveryManifestReportParsesAndMatchesFields) {
  VHSM_REQUIRE_SNP_VECTORS();
  auto vectors = testutil::LoadReportVectors();
  ASSERT_GE(vectors.size(), 6u);
  int compared = 0;
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.name);
    Bytes bytes = testdata::ReadVector(v.path);
    ASSERT_OK_AND_ASSIGN(AttestationReport r, ParseReport(bytes));
    EXPECT_EQ(SerializeReport(r), bytes) << "round trip is not byte-exact";
    const nlohmann::json& f = v.fields;
    if (f.contains("report_data_hex")) {
      EXPECT_EQ(HexEncode(r.report_data), f["report_data_hex"].get<std::string>());
    }
    if (!f.contains("version")) continue;  // derived negatives list only what they changed
    ++compared;
    EXPECT_EQ(r.version, f["version"].get<uint32_t>());
    EXPECT_EQ(r.guest_svn, f["guest_svn"].get<uint32_t>());
    EXPECT_EQ(HexU64(r.policy), f["policy_hex"].get<std::string>());
    EXPECT_EQ((r.policy >> 8) & 0xFF, f["policy_decoded"]["abi_major"].get<uint64_t>());
    EXPECT_EQ(r.policy & 0xFF, f["policy_decoded"]["abi_minor"].get<uint64_t>());
    EXPECT_EQ(PolicyFlagNames(r.policy), f["policy_decoded"]["flags_set"].get<std::vector<std::string>>());
    EXPECT_EQ(HexEncode(r.family_id), f["family_id_hex"].get<std::string>());
    EXPECT_EQ(HexEncode(r.image_id), f["image_id_hex"].get<std::string>());
    EXPECT_EQ(r.vmpl, f["vmpl"].get<uint32_t>());
    EXPECT_EQ(r.signature_algo, f["signature_algo"].get<uint32_t>());
    EXPECT_EQ(HexU64(r.platform_info), f["platform_info_hex"].get<std::string>());
    EXPECT_EQ(PlatformInfoFlagNames(r.platform_info),
              f["platform_info_flags_set"].get<std::vector<std::string>>());
    const auto& si = f["signer_info_0x48"];
    char si_hex[16];
    std::snprintf(si_hex, sizeof(si_hex), "0x%08x", r.signer_info);
    EXPECT_EQ(si_hex, si["raw_hex"].get<std::string>());
    EXPECT_EQ(r.author_key_en(), si["author_key_en"].get<int>() != 0);
    EXPECT_EQ(r.mask_chip_key(), si["mask_chip_key"].get<int>() != 0);
    EXPECT_EQ(SigningKeyName(r.signing_key_raw()), si["signing_key"].get<std::string>());
    EXPECT_EQ(HexEncode(r.measurement), f["measurement_hex"].get<std::string>());
    EXPECT_EQ(HexEncode(r.host_data), f["host_data_hex"].get<std::string>());
    EXPECT_EQ(HexEncode(r.id_key_digest), f["id_key_digest_hex"].get<std::string>());
    EXPECT_EQ(HexEncode(r.author_key_digest), f["author_key_digest_hex"].get<std::string>());
    EXPECT_EQ(HexEncode(r.report_id), f["report_id_hex"].get<std::string>());
    EXPECT_EQ(HexEncode(r.report_id_ma), f["report_id_ma_hex"].get<std::string>());
    EXPECT_EQ(HexEncode(r.chip_id), f["chip_id_hex"].get<std::string>());

    ASSERT_OK_AND_ASSIGN(Product manifest_product, ParseProduct(f["product"].get<std::string>()));
    if (r.has_cpuid()) {
      ASSERT_TRUE(f.contains("cpuid"));
      EXPECT_EQ(r.cpuid_fam_id, ParseHexByte(f["cpuid"]["fam_id"].get<std::string>()));
      EXPECT_EQ(r.cpuid_mod_id, ParseHexByte(f["cpuid"]["mod_id"].get<std::string>()));
      EXPECT_EQ(r.cpuid_step, ParseHexByte(f["cpuid"]["step"].get<std::string>()));
      EXPECT_EQ(ReportProduct(r), manifest_product);
    } else {
      EXPECT_FALSE(f.contains("cpuid"));
      EXPECT_EQ(ReportProduct(r), std::nullopt);
      EXPECT_EQ(r.cpuid_fam_id | r.cpuid_mod_id | r.cpuid_step, 0);
    }
    ExpectTcb(f["current_tcb"], r.current_tcb, manifest_product, "current_tcb");
    ExpectTcb(f["reported_tcb"], r.reported_tcb, manifest_product, "reported_tcb");
    ExpectTcb(f["committed_tcb"], r.committed_tcb, manifest_product, "committed_tcb");
    ExpectTcb(f["launch_tcb"], r.launch_tcb, manifest_product, "launch_tcb");
    auto fw = [](const FirmwareVersion& fv) {
      return std::to_string(fv.major) + "." + std::to_string(fv.minor) + "." + std::to_string(fv.build);
    };
    EXPECT_EQ(fw(r.current_version), f["current_fw_major_minor_build"].get<std::string>());
    EXPECT_EQ(fw(r.committed_version), f["committed_fw_major_minor_build"].get<std::string>());
    if (r.has_mitigation_vectors()) {
      EXPECT_EQ(HexU64(r.launch_mit_vector), f["launch_mit_vector_hex"].get<std::string>());
      EXPECT_EQ(HexU64(r.current_mit_vector), f["current_mit_vector_hex"].get<std::string>());
    } else {
      EXPECT_FALSE(f.contains("launch_mit_vector_hex"));
      EXPECT_EQ(r.launch_mit_vector | r.current_mit_vector, 0u);
    }
    EXPECT_EQ(HexEncode(ByteSpan(r.signature_r).first(48)), f["signature_r_low48_le_hex"].get<std::string>());
    EXPECT_EQ(HexEncode(ByteSpan(r.signature_s).first(48)), f["signature_s_low48_le_hex"].get<std::string>());
  }
  EXPECT_GE(compared, 5);
}

TEST(ReportVectorsTest, RecipeNegativeOverwrittenSignatureAreaIsRejected) {
  VHSM_REQUIRE_SNP_VECTORS();
  Bytes bytes = testdata::ReadVector("vectors/milan-v2-vcek-virtee/report.bin");
  ASSERT_EQ(bytes.size(), kReportSize);
  std::fill(bytes.begin() + 0x2A0, bytes.end(), 0x57);
  EXPECT_THAT(ParseReport(bytes), StatusIs(StatusCode::kInvalidArgument, HasSubstr("signature_r")));
}

TEST(ReportVectorsTest, RejectsTruncatedAndOversizedRealReport) {
  VHSM_REQUIRE_SNP_VECTORS();
  Bytes bytes = testdata::ReadVector("vectors/genoa-v5-vcek-oak/report.bin");
  Bytes shorter(bytes.begin(), bytes.end() - 1);
  EXPECT_THAT(ParseReport(shorter), StatusIs(StatusCode::kInvalidArgument, HasSubstr("got 1183 bytes, want 1184")));
  Bytes longer = bytes;
  longer.push_back(0);
  EXPECT_THAT(ParseReport(longer), StatusIs(StatusCode::kInvalidArgument, HasSubstr("got 1185 bytes")));
  EXPECT_THAT(ParseReport({}), StatusIs(StatusCode::kInvalidArgument, HasSubstr("got 0 bytes")));
}

TEST(ReportTest, SyntheticReportsRoundTripForEveryVersion) {
  for (uint32_t version : {2u, 3u, 4u, 5u, 6u, 0xFFFFFFFFu}) {
    SCOPED_TRACE(version);
    AttestationReport r = MakeReport(version);
    Bytes bytes = SerializeReport(r);
    ASSERT_EQ(bytes.size(), kReportSize);
    ASSERT_OK_AND_ASSIGN(AttestationReport parsed, ParseReport(bytes));
    EXPECT_EQ(SerializeReport(parsed), bytes);
    EXPECT_EQ(parsed.version, version);
    EXPECT_EQ(parsed.report_data, r.report_data);
    EXPECT_EQ(parsed.chip_id, r.chip_id);
  }
}

TEST(ReportTest, FieldsLandAtSpecOffsets) {
  AttestationReport r = MakeReport(5);
  r.guest_svn = 0x01020304;
  r.policy = 0x0000000000031F05ull;
  r.vmpl = 2;
  r.signer_info = 0x5;  // VLEK + author key
  r.current_version = {0x1D, 0x37, 0x01};
  r.committed_version = {0x1C, 0x36, 0x01};
  r.launch_mit_vector = 0x1122334455667788ull;
  Bytes b = SerializeReport(r);
  EXPECT_EQ(LoadU32Le(&b[0x004]), 0x01020304u);
  EXPECT_EQ(LoadU64Le(&b[0x008]), 0x31F05u);
  EXPECT_EQ(LoadU32Le(&b[0x030]), 2u);
  EXPECT_EQ(LoadU32Le(&b[0x034]), 1u);
  EXPECT_EQ(LoadU64Le(&b[0x040]), 0x25u);
  EXPECT_EQ(LoadU32Le(&b[0x048]), 5u);
  EXPECT_EQ(b[0x050], 1);          // report_data[0]
  EXPECT_EQ(b[0x090], 0x80);       // measurement[0]
  EXPECT_EQ(b[0x140], 0x40);       // report_id[0]
  EXPECT_EQ(b[0x160], 0xFF);       // report_id_ma
  EXPECT_EQ(b[0x188], 0x19);
  EXPECT_EQ(b[0x189], 0x11);
  EXPECT_EQ(b[0x18A], 0x01);
  EXPECT_EQ(b[0x1A0], 0xC0);       // chip_id[0]
  EXPECT_EQ(b[0x1E8], 0x1D);
  EXPECT_EQ(b[0x1E9], 0x37);
  EXPECT_EQ(b[0x1EA], 0x01);
  EXPECT_EQ(b[0x1EC], 0x1C);
  EXPECT_EQ(b[0x1ED], 0x36);
  EXPECT_EQ(LoadU64Le(&b[0x1F8]), 0x1122334455667788ull);
  EXPECT_EQ(LoadU64Le(&b[0x200]), 3u);
  EXPECT_EQ(b[0x2A0], 0x11);       // R low byte
  EXPECT_EQ(b[0x2E8], 0x99);       // S low byte
  ASSERT_OK_AND_ASSIGN(AttestationReport parsed, ParseReport(b));
  EXPECT_TRUE(parsed.author_key_en());
  EXPECT_FALSE(parsed.mask_chip_key());
  EXPECT_EQ(parsed.signing_key_raw(), 1);
  EXPECT_EQ(parsed.current_version, (FirmwareVersion{0x1D, 0x37, 0x01}));
}

struct ReservedRange {
  uint32_t version;
  size_t begin;
  size_t end;  // exclusive
  const char* field;
};

// Every byte of every range the report's version reserves must be zero.
TEST(ReportTest, RejectsEveryNonZeroReservedByte) {
  const ReservedRange ranges[] = {
      {2, 0x04C, 0x050, "reserved_04c"},  {5, 0x04C, 0x050, "reserved_04c"},
      {2, 0x188, 0x1A0, "reserved_188"},  {3, 0x18B, 0x1A0, "reserved_18b"},
      {5, 0x18B, 0x1A0, "reserved_18b"},  {2, 0x1EB, 0x1EC, "reserved_1eb"},
      {3, 0x1EF, 0x1F0, "reserved_1ef"},  {2, 0x1F8, 0x200, "launch_mit_vector"},
      {3, 0x1F8, 0x200, "launch_mit_vector"}, {4, 0x200, 0x208, "current_mit_vector"},
      {2, 0x208, 0x2A0, "reserved_208"},  {4, 0x208, 0x2A0, "reserved_208"},
      {5, 0x208, 0x2A0, "reserved_208"},  {6, 0x208, 0x2A0, "reserved_208"},
      {3, 0x2D0, 0x2E8, "signature_r"},   {3, 0x318, 0x330, "signature_s"},
      {2, 0x330, 0x4A0, "reserved_330"},  {5, 0x330, 0x4A0, "reserved_330"},
  };
  int checked = 0;
  for (const ReservedRange& range : ranges) {
    Bytes good = SerializeReport(MakeReport(range.version));
    ASSERT_THAT(ParseReport(good), IsOk());
    for (size_t off = range.begin; off < range.end; ++off) {
      SCOPED_TRACE("version " + std::to_string(range.version) + " offset " + Off(off));
      Bytes bad = good;
      bad[off] = 0x5A;
      EXPECT_THAT(ParseReport(bad), StatusIs(StatusCode::kInvalidArgument,
                                             ::testing::AllOf(HasSubstr(range.field), HasSubstr(Off(off)))));
      ++checked;
    }
  }
  EXPECT_GT(checked, 1000);
}

TEST(ReportTest, V3CpuidBytesAndV5MitigationVectorsAreNotReserved) {
  AttestationReport v3 = MakeReport(3);
  v3.cpuid_step = 0x02;
  EXPECT_OK(ParseReport(SerializeReport(v3)));
  AttestationReport v5 = MakeReport(5);
  v5.launch_mit_vector = 0xFFFFFFFFFFFFFFFFull;
  v5.current_mit_vector = 0x8000000000000001ull;
  ASSERT_OK_AND_ASSIGN(AttestationReport parsed, ParseReport(SerializeReport(v5)));
  EXPECT_EQ(parsed.launch_mit_vector, 0xFFFFFFFFFFFFFFFFull);
  EXPECT_EQ(parsed.current_mit_vector, 0x8000000000000001ull);
  EXPECT_TRUE(parsed.has_mitigation_vectors());
}

TEST(ReportTest, Version4UsesV3Layout) {
  AttestationReport r = MakeReport(4);
  ASSERT_OK_AND_ASSIGN(AttestationReport parsed, ParseReport(SerializeReport(r)));
  EXPECT_TRUE(parsed.has_cpuid());
  EXPECT_FALSE(parsed.has_mitigation_vectors());
  EXPECT_EQ(ReportProduct(parsed), Product::kGenoa);
}

TEST(ReportTest, UnknownHigherVersionParsesWithV5Layout) {
  AttestationReport r = MakeReport(6);
  r.launch_mit_vector = 0x7;
  ASSERT_OK_AND_ASSIGN(AttestationReport parsed, ParseReport(SerializeReport(r)));
  EXPECT_EQ(parsed.version, 6u);
  EXPECT_TRUE(parsed.has_mitigation_vectors());
  EXPECT_EQ(parsed.launch_mit_vector, 0x7u);
  EXPECT_EQ(ReportProduct(parsed), Product::kGenoa);
}

TEST(ReportTest, RejectsVersionsBelowTwo) {
  for (uint32_t version : {0u, 1u}) {
    AttestationReport r = MakeReport(2);
    r.version = version;
    EXPECT_THAT(ParseReport(SerializeReport(r)),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("report.version (0x000): got " +
                                                                 std::to_string(version))));
  }
}

TEST(ReportTest, RejectsVmplAboveThree) {
  for (uint32_t vmpl : {0u, 1u, 2u, 3u}) {
    AttestationReport r = MakeReport(3);
    r.vmpl = vmpl;
    EXPECT_OK(ParseReport(SerializeReport(r)));
  }
  for (uint32_t vmpl : {4u, 0xFFFFFFFFu}) {
    AttestationReport r = MakeReport(3);
    r.vmpl = vmpl;
    EXPECT_THAT(ParseReport(SerializeReport(r)),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("report.vmpl (0x030): got " + std::to_string(vmpl))));
  }
}

TEST(ReportTest, RejectsUnknownSignatureAlgorithm) {
  for (uint32_t algo : {0u, 2u, 0x100u}) {
    AttestationReport r = MakeReport(2);
    r.signature_algo = algo;
    EXPECT_THAT(ParseReport(SerializeReport(r)),
                StatusIs(StatusCode::kInvalidArgument,
                         HasSubstr("report.signature_algo (0x034): got " + std::to_string(algo) + ", want 1")));
  }
}

TEST(ReportTest, SigningKeyValues) {
  for (uint32_t key : {0u, 1u, 7u}) {
    AttestationReport r = MakeReport(3);
    r.signer_info = key << 2;
    ASSERT_OK_AND_ASSIGN(AttestationReport parsed, ParseReport(SerializeReport(r)));
    EXPECT_EQ(parsed.signing_key_raw(), key);
  }
  for (uint32_t key = 2; key <= 6; ++key) {
    AttestationReport r = MakeReport(3);
    r.signer_info = key << 2;
    EXPECT_THAT(ParseReport(SerializeReport(r)),
                StatusIs(StatusCode::kInvalidArgument,
                         HasSubstr("signing_key (0x048 bits 4:2): got reserved value " + std::to_string(key))));
  }
  for (int bit = 5; bit < 32; ++bit) {
    AttestationReport r = MakeReport(3);
    r.signer_info = 1u << bit;
    EXPECT_THAT(ParseReport(SerializeReport(r)),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("report.signer_info (0x048): bits 31:5")));
  }
  EXPECT_EQ(SigningKeyName(0), "VCEK");
  EXPECT_EQ(SigningKeyName(1), "VLEK");
  EXPECT_EQ(SigningKeyName(7), "NONE");
  EXPECT_EQ(SigningKeyName(3), "RESERVED(3)");
}

TEST(ReportTest, PolicyBit17MustBeSet) {
  AttestationReport r = MakeReport(3);
  r.policy = 0x10000;  // SMT only
  EXPECT_THAT(ParseReport(SerializeReport(r)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("report.policy (0x008): bit 17")));
}

TEST(ReportTest, PolicyHighBitsReservedUpToV5ButNotAfter) {
  for (int bit = 26; bit < 64; ++bit) {
    AttestationReport r = MakeReport(5);
    r.policy |= 1ull << bit;
    EXPECT_THAT(ParseReport(SerializeReport(r)),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("bits 63:26")));
    r.version = 6;
    EXPECT_OK(ParseReport(SerializeReport(r)));
  }
  AttestationReport all_known = MakeReport(2);
  all_known.policy = 0x03FFFFFFull;  // every defined bit incl. PAGE_SWAP_DISABLE
  EXPECT_OK(ParseReport(SerializeReport(all_known)));
}

TEST(ReportTest, UnknownPlatformInfoBitsAreAccepted) {
  for (int bit = 0; bit < 64; ++bit) {
    AttestationReport r = MakeReport(3);
    r.platform_info = 1ull << bit;
    EXPECT_OK(ParseReport(SerializeReport(r))) << "bit " << bit;
  }
  EXPECT_THAT(PlatformInfoFlagNames(0x1E1),
              ::testing::ElementsAre("SMT_EN", "ALIAS_CHECK_COMPLETE", "BIT_6", "SEV_TIO_EN", "BIT_8"));
  EXPECT_THAT(PolicyFlagNames(0x03FF0000ull | (1ull << 40)),
              ::testing::ElementsAre("SMT", "RESERVED_MUST_BE_1", "MIGRATE_MA", "DEBUG", "SINGLE_SOCKET",
                                     "CXL_ALLOW", "MEM_AES_256_XTS", "RAPL_DIS", "CIPHERTEXT_HIDING",
                                     "PAGE_SWAP_DISABLE", "BIT_40"));
}

TEST(ReportTest, TcbReservedBytesCheckedPerLayout) {
  // Genoa (v3 CPUID): bytes 2-5 reserved.
  for (int byte = 2; byte <= 5; ++byte) {
    AttestationReport r = MakeReport(3);
    r.reported_tcb |= 1ull << (8 * byte);
    EXPECT_THAT(ParseReport(SerializeReport(r)),
                StatusIs(StatusCode::kInvalidArgument,
                         ::testing::AllOf(HasSubstr("report.reported_tcb (0x180)"), HasSubstr(Off(0x180 + static_cast<size_t>(byte))))));
  }
  // Turin: byte 2 is TEE, byte 3 SNP; bytes 4-6 reserved.
  AttestationReport turin = MakeTurinReport();
  EXPECT_OK(ParseReport(SerializeReport(turin)));
  for (int byte = 4; byte <= 6; ++byte) {
    AttestationReport r = MakeTurinReport();
    r.launch_tcb |= 1ull << (8 * byte);
    EXPECT_THAT(ParseReport(SerializeReport(r)),
                StatusIs(StatusCode::kInvalidArgument, HasSubstr("report.launch_tcb (0x1f0)")));
  }
  // v2: layout unknown, only bytes 4-5 (reserved in both layouts) are checked.
  AttestationReport v2 = MakeReport(2);
  v2.current_tcb = 0x5000000004030201ull;  // a Turin-layout value is plausible
  EXPECT_OK(ParseReport(SerializeReport(v2)));
  v2.committed_tcb |= 1ull << 40;
  EXPECT_THAT(ParseReport(SerializeReport(v2)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("report.committed_tcb (0x1e0)")));
  // Unrecognised CPUID: layout unknown, nothing checked.
  AttestationReport future = MakeReport(5);
  future.cpuid_fam_id = 0x1B;
  future.current_tcb = 0xFFFFFFFFFFFFFFFFull;
  EXPECT_OK(ParseReport(SerializeReport(future)));
}

TEST(ReportTest, TurinReportFromFactSheet) {
  AttestationReport r = MakeTurinReport();
  Bytes bytes = SerializeReport(r);
  const uint8_t want_tcb[] = {0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x50};
  EXPECT_TRUE(std::equal(std::begin(want_tcb), std::end(want_tcb), bytes.begin() + 0x180));
  ASSERT_OK_AND_ASSIGN(AttestationReport parsed, ParseReport(bytes));
  ASSERT_EQ(ReportProduct(parsed), Product::kTurin);
  TcbParts tcb = DecodeTcb(parsed.reported_tcb, Product::kTurin);
  EXPECT_EQ(tcb.fmc, 1);
  EXPECT_EQ(tcb.bootloader, 2);
  EXPECT_EQ(tcb.tee, 3);
  EXPECT_EQ(tcb.snp, 4);
  EXPECT_EQ(tcb.microcode, 0x50);
  EXPECT_EQ(GuessProductFromChipId(parsed.chip_id), Product::kTurin);
  EXPECT_THAT(PlatformInfoFlagNames(parsed.platform_info), ::testing::Contains("BIT_6"));
}

TEST(ReportTest, ReportProductAndChipIdHint) {
  EXPECT_EQ(ReportProduct(MakeReport(2)), std::nullopt);
  AttestationReport milan = MakeReport(3);
  milan.cpuid_mod_id = 0x01;
  EXPECT_EQ(ReportProduct(milan), Product::kMilan);
  AttestationReport bergamo = MakeReport(5);
  bergamo.cpuid_mod_id = 0xA0;
  EXPECT_EQ(ReportProduct(bergamo), Product::kGenoa);
  AttestationReport unknown = MakeReport(3);
  unknown.cpuid_fam_id = 0x17;
  EXPECT_EQ(ReportProduct(unknown), std::nullopt);

  std::array<uint8_t, 64> chip{};
  EXPECT_EQ(GuessProductFromChipId(chip), Product::kUnknown);  // masked
  chip[0] = 1;
  EXPECT_EQ(GuessProductFromChipId(chip), Product::kTurin);
  chip[7] = 1;
  EXPECT_EQ(GuessProductFromChipId(chip), Product::kTurin);
  chip[8] = 1;
  EXPECT_EQ(GuessProductFromChipId(chip), Product::kUnknown);
  chip.fill(0);
  chip[63] = 1;
  EXPECT_EQ(GuessProductFromChipId(chip), Product::kUnknown);
  EXPECT_EQ(GuessProductFromChipId(MakeReport(2).chip_id), Product::kUnknown);
}

}  // namespace
}  // namespace vhsm::snp
