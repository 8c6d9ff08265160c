// report_json_test.cc: ReportToJson / ReportToText against the real vectors' manifest fields and
// synthetic Turin/v5 reports.
#include "snp/report_json.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "report_test_util.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::snp {
namespace {

using ::testing::HasSubstr;

void ExpectTcbJson(const nlohmann::json& got, const nlohmann::json& want) {
  EXPECT_EQ(got["raw_le_bytes"], want["raw_le_bytes"]);
  for (const char* k : {"bootloader", "tee", "snp", "microcode"}) EXPECT_EQ(got[k], want[k]) << k;
  EXPECT_FALSE(got.contains("fmc"));
}

TEST(ReportJsonTest, MatchesManifestForEveryRealReport) {
  VHSM_REQUIRE_SNP_VECTORS();
  int compared = 0;
  for (const auto& v : testutil::LoadReportVectors()) {
    if (!v.fields.contains("version")) continue;
    SCOPED_TRACE(v.name);
    ASSERT_OK_AND_ASSIGN(AttestationReport r, ParseReport(testdata::ReadVector(v.path)));
    ASSERT_OK_AND_ASSIGN(Product product, ParseProduct(v.fields["product"].get<std::string>()));
    nlohmann::json j = ReportToJson(r, product);
    const nlohmann::json& f = v.fields;
    EXPECT_EQ(j["version"], f["version"]);
    EXPECT_EQ(j["product"], f["product"]);
    EXPECT_EQ(j["guest_svn"], f["guest_svn"]);
    EXPECT_EQ(j["vmpl"], f["vmpl"]);
    EXPECT_EQ(j["signature_algo"], f["signature_algo"]);
    EXPECT_EQ(j["signature_algo_name"], f["signature_algo_name"]);
    EXPECT_EQ(j["policy"]["raw"], f["policy_hex"]);
    EXPECT_EQ(j["policy"]["abi_major"], f["policy_decoded"]["abi_major"]);
    EXPECT_EQ(j["policy"]["abi_minor"], f["policy_decoded"]["abi_minor"]);
    EXPECT_EQ(j["policy"]["flags"], f["policy_decoded"]["flags_set"]);
    EXPECT_EQ(j["platform_info"]["raw"], f["platform_info_hex"]);
    EXPECT_EQ(j["platform_info"]["flags"], f["platform_info_flags_set"]);
    EXPECT_EQ(j["signer_info"]["raw"], f["signer_info_0x48"]["raw_hex"]);
    EXPECT_EQ(j["signer_info"]["signing_key"], f["signer_info_0x48"]["signing_key"]);
    EXPECT_EQ(j["signer_info"]["author_key_en"].get<bool>(), f["signer_info_0x48"]["author_key_en"] != 0);
    EXPECT_EQ(j["signer_info"]["mask_chip_key"].get<bool>(), f["signer_info_0x48"]["mask_chip_key"] != 0);
    for (const char* k : {"family_id", "image_id", "report_data", "measurement", "host_data", "id_key_digest",
                          "author_key_digest", "report_id", "report_id_ma", "chip_id"}) {
      EXPECT_EQ(j[k], f[std::string(k) + "_hex"]) << k;
    }
    for (const char* k : {"current_tcb", "reported_tcb", "committed_tcb", "launch_tcb"}) {
      SCOPED_TRACE(k);
      ExpectTcbJson(j[k], f[k]);
    }
    EXPECT_EQ(j["current_version"], f["current_fw_major_minor_build"]);
    EXPECT_EQ(j["committed_version"], f["committed_fw_major_minor_build"]);
    if (f.contains("cpuid")) {
      EXPECT_EQ(j["cpuid"]["family_hex"], f["cpuid"]["fam_id"]);
      EXPECT_EQ(j["cpuid"]["model_hex"], f["cpuid"]["mod_id"]);
      EXPECT_EQ(j["cpuid"]["stepping_hex"], f["cpuid"]["step"]);
    } else {
      EXPECT_FALSE(j.contains("cpuid"));
    }
    if (f.contains("launch_mit_vector_hex")) {
      EXPECT_EQ(j["launch_mit_vector"], f["launch_mit_vector_hex"]);
      EXPECT_EQ(j["current_mit_vector"], f["current_mit_vector_hex"]);
    } else {
      EXPECT_FALSE(j.contains("launch_mit_vector"));
    }
    EXPECT_EQ(j["signature"]["r"].get<std::string>().substr(0, 96), f["signature_r_low48_le_hex"]);
    EXPECT_EQ(j["signature"]["s"].get<std::string>().substr(0, 96), f["signature_s_low48_le_hex"]);

    std::string text = ReportToText(r, product);
    EXPECT_THAT(text, HasSubstr(f["measurement_hex"].get<std::string>()));
    EXPECT_THAT(text, HasSubstr(f["current_fw_major_minor_build"].get<std::string>()));
    ++compared;
  }
  EXPECT_GE(compared, 5);
}

TEST(ReportJsonTest, TurinTcbsCarryFmc) {
  AttestationReport r = testutil::MakeTurinReport();
  nlohmann::json j = ReportToJson(r, Product::kTurin);
  EXPECT_EQ(j["product"], "Turin");
  const auto& tcb = j["reported_tcb"];
  EXPECT_EQ(tcb["raw"], "0x5000000004030201");
  EXPECT_EQ(tcb["raw_le_bytes"], "0102030400000050");
  EXPECT_EQ(tcb["fmc"], 1);
  EXPECT_EQ(tcb["bootloader"], 2);
  EXPECT_EQ(tcb["tee"], 3);
  EXPECT_EQ(tcb["snp"], 4);
  EXPECT_EQ(tcb["microcode"], 0x50);
  EXPECT_EQ(j["cpuid"]["family"], 0x1A);
  EXPECT_EQ(j["cpuid"]["model"], 0x02);
  EXPECT_THAT(j["platform_info"]["flags"].get<std::vector<std::string>>(), ::testing::Contains("BIT_6"));
  EXPECT_THAT(ReportToText(r, Product::kTurin), HasSubstr("fmc=1 bl=2 tee=3 snp=4 ucode=80"));
}

TEST(ReportJsonTest, V2UnknownProductUsesMilanLayoutAndOmitsV3Fields) {
  AttestationReport r = testutil::MakeReport(2);
  r.reported_tcb = 0x5000000004030201ull;
  nlohmann::json j = ReportToJson(r, Product::kUnknown);
  EXPECT_EQ(j["product"], "unknown");
  EXPECT_EQ(j["reported_tcb"]["bootloader"], 1);
  EXPECT_EQ(j["reported_tcb"]["tee"], 2);
  EXPECT_FALSE(j["reported_tcb"].contains("fmc"));
  EXPECT_FALSE(j.contains("cpuid"));
  EXPECT_FALSE(j.contains("launch_mit_vector"));
  EXPECT_THAT(ReportToText(r, Product::kUnknown), HasSubstr("unknown (TCB decoded with the Milan/Genoa layout)"));
}

TEST(ReportJsonTest, V5MitigationVectorsAndPolicyBits) {
  AttestationReport r = testutil::MakeReport(5);
  r.policy = 0x020B1F02ull;  // abi 31.2, SMT, bit17, DEBUG, PAGE_SWAP_DISABLE
  r.launch_mit_vector = 0x10;
  r.current_mit_vector = 0x30;
  r.signer_info = 0x1F & ~0x10u;  // author key, mask chip key, signing key 3 (reserved) -- display only
  nlohmann::json j = ReportToJson(r, Product::kGenoa);
  EXPECT_EQ(j["launch_mit_vector"], "0x0000000000000010");
  EXPECT_EQ(j["current_mit_vector"], "0x0000000000000030");
  EXPECT_EQ(j["policy"]["abi_major"], 31);
  EXPECT_EQ(j["policy"]["abi_minor"], 2);
  EXPECT_EQ(j["policy"]["debug"], true);
  EXPECT_EQ(j["policy"]["page_swap_disable"], true);
  EXPECT_EQ(j["policy"]["migrate_ma"], false);
  EXPECT_EQ(j["policy"]["flags"], nlohmann::json({"SMT", "RESERVED_MUST_BE_1", "DEBUG", "PAGE_SWAP_DISABLE"}));
  EXPECT_EQ(j["signer_info"]["signing_key"], "RESERVED(3)");
  EXPECT_EQ(j["signer_info"]["author_key_en"], true);
  EXPECT_EQ(j["signer_info"]["mask_chip_key"], true);
  EXPECT_EQ(j["current_version"], "1.55.43");
  std::string text = ReportToText(r, Product::kGenoa);
  EXPECT_THAT(text, HasSubstr("launch_mit_vector:   0x0000000000000010"));
  EXPECT_THAT(text, HasSubstr("abi 31.2"));
}

TEST(ReportJsonTest, FirmwareVersionString) {
  EXPECT_EQ(FirmwareVersionString({4, 52, 1}), "1.52.4");
}

}  // namespace
}  // namespace vhsm::snp
