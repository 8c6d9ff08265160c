// Tests for the simulator state directory: config round trip, strict parsing with errors that
// name the file, line and field, file permissions, and corrupt or missing files.
#include "sim/sim_state.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "base/file.h"
#include "sim_test_util.h"
#include "snp/tcb.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::sim {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testdata::TempDir;

std::string ValidText() { return SerializeSimConfig(testing::Defaults(snp::Product::kGenoa, 3)); }

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  size_t pos = text.find(from);
  VHSM_CHECK(pos != std::string::npos, from);
  return text.replace(pos, from.size(), to);
}

std::string LineStartingWith(const std::string& text, const std::string& prefix) {
  size_t pos = text.find("\n" + prefix);
  VHSM_CHECK(pos != std::string::npos, prefix);
  size_t end = text.find('\n', pos + 1);
  return text.substr(pos + 1, end - pos - 1);
}

TEST(SimConfigTest, RoundTripsEveryField) {
  SimConfig c = testing::Defaults(snp::Product::kTurin, 5);
  c.vmpl = 2;
  c.guest_svn = 9;
  c.policy = 0x3001F;
  c.measurement[0] = 0xAB;
  c.host_data[31] = 0xCD;
  c.family_id[1] = 1;
  c.image_id[2] = 2;
  c.id_key_digest[3] = 3;
  c.author_key_digest[4] = 4;
  c.author_key_en = true;
  c.mask_chip_key = true;
  c.platform_info = 0xE5;
  c.reported_tcb = 0x4800000003010101ull - 0x100;  // lower bl than current
  c.committed_version = {0x20, 55, 1};
  c.current_mit_vector = 3;
  c.csp_id = "CN=example";
  std::string text = SerializeSimConfig(c);
  ASSERT_OK_AND_ASSIGN(SimConfig back, ParseSimConfig(text));
  EXPECT_EQ(SerializeSimConfig(back), text);
  EXPECT_EQ(back.product, snp::Product::kTurin);
  EXPECT_EQ(back.vmpl, 2u);
  EXPECT_EQ(back.measurement, c.measurement);
  EXPECT_EQ(back.committed_version, c.committed_version);
  EXPECT_EQ(back.reported_tcb, c.reported_tcb);
  EXPECT_TRUE(back.author_key_en && back.mask_chip_key);
  EXPECT_EQ(back.csp_id, "CN=example");
}

TEST(SimConfigTest, DefaultsAreRealistic) {
  SimConfig g = testing::Defaults(snp::Product::kGenoa, 3);
  EXPECT_EQ(g.policy, 0x30000u);
  EXPECT_EQ(g.current_version.major, 1);
  EXPECT_EQ(g.current_version.minor, 55);
  EXPECT_EQ(snp::ProductFromCpuid(g.cpuid_fam_id, g.cpuid_mod_id), snp::Product::kGenoa);
  for (uint8_t b : g.report_id_ma) EXPECT_EQ(b, 0xFF);
  EXPECT_FALSE(IsAllZero(g.chip_id));
  SimConfig t = testing::Defaults(snp::Product::kTurin, 5);
  EXPECT_TRUE(IsAllZero(ByteSpan(t.chip_id).subspan(8)));
  EXPECT_FALSE(IsAllZero(ByteSpan(t.chip_id).first(8)));
  EXPECT_EQ(t.launch_mit_vector, 1u);
  EXPECT_EQ(snp::DecodeTcb(t.reported_tcb, snp::Product::kTurin).fmc, 1);
  EXPECT_OK(ValidateSimConfig(t));
}

TEST(SimConfigTest, ErrorsNameFileLineAndField) {
  const std::string ok = ValidText();
  struct Case {
    std::string text;
    std::string want;
  };
  const std::string policy_line = LineStartingWith(ok, "policy =");
  const std::string meas_line = LineStartingWith(ok, "measurement =");
  const std::vector<Case> cases = {
      {Replace(ok, policy_line + "\n", ""), "field 'policy' is missing"},
      {ok + "bogus = 1\n", "unknown field 'bogus'"},
      {ok + policy_line + "\n", "duplicate key 'policy'"},
      {Replace(ok, meas_line, "measurement = \"abcd\""), "field 'measurement': expected 96 hex characters"},
      {Replace(ok, meas_line, "measurement = 12"), "field 'measurement': expected a \"string\""},
      {Replace(ok, policy_line, "policy = \"0x30000\""), "field 'policy': expected an integer"},
      {Replace(ok, policy_line, "policy = 0x30000zz"), "field 'policy': bad integer"},
      {Replace(ok, policy_line, "policy = 0x10000"), "policy: bit 17"},
      {Replace(ok, policy_line, "policy = 0x4030000"), "bits 63:26"},
      {Replace(ok, "format_version = 1", "format_version = 2"), "this build reads 1"},
      {Replace(ok, "product = \"Genoa\"", "product = \"Rome\""), "field 'product'"},
      {Replace(ok, "report_version = 3", "report_version = 9"), "report_version: got 9"},
      {Replace(ok, "vmpl = 0", "vmpl = 4"), "field 'vmpl': got 4, want at most 3"},
      {Replace(ok, "cpuid = \"191101\"", "cpuid = \"190101\""), "is not a Genoa CPU"},
      {Replace(ok, "signing_key = \"vcek\"", "signing_key = \"ark\""), "field 'signing_key'"},
      {Replace(ok, "current_version = \"1.55.43\"", "current_version = \"1.556.43\""), "current_version"},
      {Replace(ok, "csp_id = \"\"", "csp_id = \"a\\b\""), "without escapes"},
      {Replace(ok, "csp_id = \"\"", "csp_id = \"unterminated"), "unterminated string"},
      {ok + "no equals sign\n", "expected `key = value`"},
      {ok + std::string(2000, '#') + "\n", "exceeds the limit of 1024"},
      {ok + "# " + std::string(70000, 'x'), "exceeds the limit of 65536"},
  };
  for (const Case& c : cases) {
    Result<SimConfig> r = ParseSimConfig(c.text, "dir/sim.toml");
    EXPECT_THAT(r, StatusIs(StatusCode::kInvalidArgument, AllOf(HasSubstr("dir/sim.toml"), HasSubstr(c.want))))
        << c.want;
  }
  // Line numbers point at the offending line.
  std::string dup = ok + "vmpl = 1\n";
  size_t lines = static_cast<size_t>(std::count(dup.begin(), dup.end(), '\n'));
  EXPECT_THAT(ParseSimConfig(dup, "s.toml"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("s.toml:" + std::to_string(lines) + ":")));
}

TEST(SimConfigTest, TcbReservedBytesAndTurinChipIdChecked) {
  SimConfig c = testing::Defaults(snp::Product::kGenoa, 3);
  c.reported_tcb |= 1ull << 16;  // byte 2 is reserved on Genoa
  EXPECT_THAT(ValidateSimConfig(c), StatusIs(StatusCode::kInvalidArgument, HasSubstr("reported_tcb")));
  SimConfig t = testing::Defaults(snp::Product::kTurin, 3);
  t.chip_id[20] = 1;
  EXPECT_THAT(ValidateSimConfig(t), StatusIs(StatusCode::kInvalidArgument, HasSubstr("chip_id")));
  SimConfig v3 = testing::Defaults(snp::Product::kGenoa, 3);
  v3.launch_mit_vector = 1;
  EXPECT_THAT(ValidateSimConfig(v3), StatusIs(StatusCode::kInvalidArgument, HasSubstr("mit_vector")));
}

TEST(SimSecretsTest, StrictAndRoundTrips) {
  SimSecrets s;
  s.chip_secret = SecretBytes(Bytes(32, 0x11));
  s.vmrk_secret = SecretBytes(Bytes(32, 0x22));
  ASSERT_OK_AND_ASSIGN(SimSecrets back, ParseSimSecrets(SerializeSimSecrets(s)));
  EXPECT_TRUE(ConstantTimeEquals(back.chip_secret.Expose(), s.chip_secret.Expose()));
  std::string short_secret = "format_version = 1\nchip_secret = \"11\"\nvmrk_secret = \"" + std::string(64, '2') + "\"\n";
  Result<SimSecrets> bad = ParseSimSecrets(short_secret, "secrets.toml");
  EXPECT_THAT(bad, StatusIs(StatusCode::kInvalidArgument, HasSubstr("field 'chip_secret': expected 64 hex")));
  // The secret itself never appears in an error.
  EXPECT_THAT(bad.status().message(), ::testing::Not(HasSubstr("\"11\"")));
}

TEST(SimStateTest, InitWritesPrivateFilesAndLoads) {
  TempDir dir;
  const std::string d = dir.Join("state");
  SimState made = testing::MakeState(d, testing::Defaults(snp::Product::kMilan, 2), /*with_vlek=*/true);
  for (const char* f : {"sim.toml", "secrets.toml", "ark.pem", "ark.key.pem", "ask.pem", "ask.key.pem", "vcek.pem",
                        "vcek.key.pem", "asvk.pem", "asvk.key.pem", "vlek.pem", "vlek.key.pem"}) {
    struct stat st{};
    ASSERT_EQ(::stat((d + "/" + f).c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
  struct stat st{};
  ASSERT_EQ(::stat(d.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_OK_AND_ASSIGN(std::string text, ReadFileText(d + "/sim.toml"));
  EXPECT_THAT(text, HasSubstr("TEST keys"));
  ASSERT_OK_AND_ASSIGN(SimState loaded, LoadSimState(d));
  EXPECT_EQ(loaded.ark_der, made.ark_der);
  EXPECT_EQ(loaded.vlek_der, made.vlek_der);
  EXPECT_EQ(loaded.config.signing_key, snp::SigningKey::kVlek);
  EXPECT_TRUE(ConstantTimeEquals(loaded.secrets.vmrk_secret.Expose(), made.secrets.vmrk_secret.Expose()));
  // A second init into the same directory is refused.
  InitOptions again;
  EXPECT_THAT(InitSimState(d, made.config, again), StatusIs(StatusCode::kAlreadyExists, HasSubstr("sim.toml")));
}

TEST(SimStateTest, MissingAndCorruptFilesAreNamed) {
  TempDir dir;
  EXPECT_THAT(LoadSimState(dir.Join("nope")), StatusIs(StatusCode::kNotFound, HasSubstr("vhsm sim init")));
  const std::string d = dir.Join("state");
  testing::MakeState(d, testing::Defaults(snp::Product::kGenoa, 3));
  ASSERT_OK(WriteFileAtomic(d + "/vcek.key.pem", AsBytes("-----BEGIN PRIVATE KEY-----\ngarbage\n"), 0600));
  EXPECT_THAT(LoadSimState(d), StatusIs(StatusCode::kDataLoss, HasSubstr("vcek.key.pem")));
  // A valid key that does not match the certificate.
  ASSERT_OK_AND_ASSIGN(std::string ask_key, ReadFileText(d + "/ask.key.pem"));
  ASSERT_OK(WriteFileAtomic(d + "/ark.key.pem", AsBytes(ask_key), 0600));
  ::unlink((d + "/vcek.key.pem").c_str());
  EXPECT_THAT(LoadSimState(d), StatusIs(StatusCode::kNotFound, HasSubstr("vcek.key.pem")));
  ASSERT_OK(WriteFileAtomic(d + "/secrets.toml", AsBytes("format_version = 1\n"), 0600));
  EXPECT_THAT(LoadSimState(d), StatusIs(StatusCode::kInvalidArgument, HasSubstr("secrets.toml: field 'chip_secret' is missing")));
}

TEST(SimStateTest, KeyCertificateMismatchIsDataLoss) {
  TempDir dir;
  const std::string d = dir.Join("state");
  testing::MakeState(d, testing::Defaults(snp::Product::kGenoa, 3));
  ASSERT_OK_AND_ASSIGN(std::string ask_key, ReadFileText(d + "/ask.key.pem"));
  ASSERT_OK(WriteFileAtomic(d + "/ark.key.pem", AsBytes(ask_key), 0600));
  EXPECT_THAT(LoadSimState(d), StatusIs(StatusCode::kDataLoss, HasSubstr("ark.pem does not hold the public key")));
}

}  // namespace
}  // namespace vhsm::sim
