// snp_show_test.cc: drives the built `vhsm snp show` binary (build/bin/vhsm) on real vectors and
// on broken files, checking exit codes (0 ok, 1 rejected, 2 usage/I-O), the one-line reasons and
// the --json output.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "testing/testdata.h"

namespace vhsm {
namespace {

using ::testing::HasSubstr;

struct CliRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string Vhsm() { return testdata::BuildDir() + "/bin/vhsm"; }

// Runs `vhsm snp show <args>` with stdout/stderr captured to files in `dir`.
CliRun Show(const testdata::TempDir& dir, const std::string& args) {
  std::string cmd = "'" + Vhsm() + "' snp show " + args + " >'" + dir.Join("out") + "' 2>'" + dir.Join("err") + "'";
  int status = std::system(cmd.c_str());
  CliRun r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = ReadFileText(dir.Join("out")).value_or("");
  r.err = ReadFileText(dir.Join("err")).value_or("");
  return r;
}

class SnpShowTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(Vhsm())) GTEST_SKIP() << Vhsm() << " not built";
  }
  std::string Vec(const std::string& rel) { return "'" + testdata::SnpVectorsDir() + "/" + rel + "'"; }
  testdata::TempDir dir_;
};

TEST_F(SnpShowTest, V2ReportWithoutProductIsUnknownWithMilanLayout) {
  VHSM_REQUIRE_SNP_VECTORS();
  CliRun r = Show(dir_, Vec("vectors/milan-v2-vcek-virtee/report.bin"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("product:             unknown"));
  EXPECT_THAT(r.out, HasSubstr("reported_tcb:        bl=3 tee=0 snp=8 ucode=115"));
  EXPECT_THAT(r.out, HasSubstr("current_version:     1.52.4"));
}

TEST_F(SnpShowTest, JsonForV5Report) {
  VHSM_REQUIRE_SNP_VECTORS();
  CliRun r = Show(dir_, Vec("vectors/genoa-v5-vcek-oak/report.bin") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.out;
  EXPECT_EQ(j["product"], "Genoa");
  EXPECT_EQ(j["product_source"], "cpuid");
  EXPECT_EQ(j["version"], 5);
  EXPECT_EQ(j["launch_mit_vector"], "0x0000000000000001");
  EXPECT_EQ(j["reported_tcb"]["snp"], 25);
  EXPECT_EQ(j["current_version"], "1.55.43");
}

TEST_F(SnpShowTest, ProductFlagSelectsLayoutForV2) {
  VHSM_REQUIRE_SNP_VECTORS();
  CliRun r = Show(dir_, Vec("vectors/milan-v2-vcek-debugpolicy-gosevguest/report.bin") + " --json --product milan");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(j["product"], "Milan");
  EXPECT_EQ(j["product_source"], "--product");
  EXPECT_EQ(j["policy"]["debug"], true);
  CliRun bad = Show(dir_, Vec("vectors/milan-v2-vcek-virtee/report.bin") + " --product rome");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("rome"));
}

TEST_F(SnpShowTest, WrongLengthIsRejectedNamingTheLength) {
  ASSERT_TRUE(WriteFileAtomic(dir_.Join("short.bin"), Bytes(1000, 0)).ok());
  CliRun r = Show(dir_, "'" + dir_.Join("short.bin") + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("got 1000 bytes, want 1184"));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  ASSERT_TRUE(WriteFileAtomic(dir_.Join("huge.bin"), Bytes(200000, 0)).ok());
  CliRun huge = Show(dir_, "'" + dir_.Join("huge.bin") + "' --json");
  EXPECT_EQ(huge.exit_code, 1);
  EXPECT_THAT(huge.err, HasSubstr("200000 bytes"));
  nlohmann::json j = nlohmann::json::parse(huge.out, nullptr, false);
  EXPECT_THAT(j.value("reason", ""), HasSubstr("want 1184"));
}

TEST_F(SnpShowTest, MissingFileIsIoError) {
  CliRun r = Show(dir_, "'" + dir_.Join("absent.bin") + "'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("absent.bin"));
}

TEST_F(SnpShowTest, StructurallyBadReportIsRejectedNamingTheField) {
  VHSM_REQUIRE_SNP_VECTORS();
  Bytes b = testdata::ReadVector("vectors/milan-v3-vlek-vmpl1-trustee/report.bin");
  ASSERT_EQ(b.size(), 1184u);
  b[0x30] = 4;
  ASSERT_TRUE(WriteFileAtomic(dir_.Join("vmpl4.bin"), b).ok());
  CliRun r = Show(dir_, "'" + dir_.Join("vmpl4.bin") + "'");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("report.vmpl (0x030): got 4, want 0-3"));
}

}  // namespace
}  // namespace vhsm
