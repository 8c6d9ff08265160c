// Tests for the appraisal policy loader and rules (services/attestation/policy.h) on simulated
// reports; the HTTP-level rule tests are in service_test.cc.
#include "services/attestation/policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/bytes.h"
#include "base/file.h"
#include "sim/sim_firmware.h"
#include "sim_test_util.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::attestation {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

TEST(PolicyParseTest, JsonAndTomlGiveTheSamePolicy) {
  const std::string m = std::string(96, 'a');
  const std::string js = R"({"id":"p1","products":["Genoa","milan"],"report_versions":[3,5],
    "measurements":[{"label":"img","measurement":")" + m + R"("}],
    "min_tcb":{"bootloader":7,"snp":22,"microcode":72},"tcb_checks":["reported","launch"],"vmpls":[0,1],
    "guest_policy":{"allow_debug":false,"migrate_ma":"forbid","smt":true,"single_socket":"any","min_abi":"1.51"},
    "min_guest_svn":2,"host_data":[")" + std::string(64, '0') + R"("],
    "platform_info":{"require":["TSME_EN"],"forbid":["SMT_EN"]},"min_mitigation_vector":"0x3",
    "warn_only":["tcb.launch"]})";
  const std::string toml = R"(id = "p1"
products = ["Genoa", "milan"]
report_versions = [3, 5]
tcb_checks = ["reported", "launch"]
vmpls = [0, 1]
min_guest_svn = 2
host_data = [")" + std::string(64, '0') + R"("]
min_mitigation_vector = "0x3"
warn_only = ["tcb.launch"]
[[measurements]]
label = "img"
measurement = ")" + m + R"("
[min_tcb]
bootloader = 7
snp = 22
microcode = 72
[guest_policy]
allow_debug = false
migrate_ma = "forbid"
smt = true
single_socket = "any"
min_abi = "1.51"
[platform_info]
require = ["TSME_EN"]
forbid = ["SMT_EN"]
)";
  ASSERT_OK_AND_ASSIGN(AppraisalPolicy a, ParsePolicyJson(js));
  ASSERT_OK_AND_ASSIGN(AppraisalPolicy b, ParsePolicyToml(toml));
  EXPECT_EQ(PolicyHash(a), PolicyHash(b));
  EXPECT_EQ(a.products.size(), 2u);
  EXPECT_EQ(a.smt, BitRule::kRequire);
  EXPECT_EQ(a.min_abi, std::make_pair(uint8_t{1}, uint8_t{51}));
  EXPECT_EQ(a.platform_info_required, snp::platform_bits::kTsmeEn);
  EXPECT_EQ(a.min_mitigation_vector, 3u);
  // Round trip through the canonical JSON.
  ASSERT_OK_AND_ASSIGN(AppraisalPolicy c, PolicyFromJson(PolicyToJson(a)));
  EXPECT_EQ(PolicyHash(a), PolicyHash(c));
  a.min_guest_svn = 3;
  EXPECT_NE(PolicyHash(a), PolicyHash(c));
}

TEST(PolicyParseTest, RejectsBadPoliciesNamingTheMember) {
  struct Case {
    std::string json, want;
  };
  std::vector<Case> cases = {
      {R"({"vmpl":[0]})", "vmpl"},
      {R"({"vmpls":[4]})", "vmpls"},
      {R"({"products":["Bergamo2"]})", "Bergamo2"},
      {R"({"measurements":[{"measurement":"abcd"}]})", "measurements[0].measurement"},
      {R"({"measurements":[{"measurement":")" + std::string(96, 'a') + R"(","x":1}]})", "x"},
      {R"({"min_tcb":{"snp":256}})", "min_tcb.snp"},
      {R"({"min_tcb":{"sn":1}})", "sn"},
      {R"({"tcb_checks":["future"]})", "tcb_checks"},
      {R"({"guest_policy":{"smt":"maybe"}})", "smt"},
      {R"({"guest_policy":{"min_abi":"1"}})", "min_abi"},
      {R"({"platform_info":{"require":["NOPE"]}})", "NOPE"},
      {R"({"platform_info":{"require":["SMT_EN"],"forbid":["SMT_EN"]}})", "both"},
      {R"({"warn_only":["no.such.rule"]})", "no.such.rule"},
      {R"({"chip_ids":["00"]})", "chip_ids[0]"},
      {R"({"id":""})", "id"},
      {R"([1])", "object"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ParsePolicyJson(c.json), StatusIs(StatusCode::kInvalidArgument, HasSubstr(c.want))) << c.json;
  }
  EXPECT_THAT(ParsePolicyJson("{"), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(ParsePolicyToml("id = "), StatusIs(StatusCode::kInvalidArgument, HasSubstr("TOML")));
  // toml++ 3.3.0 reaches __builtin_unreachable() on some non-ASCII code points (fuzzer finding:
  // U+FEEF), so TOML must be ASCII; the error says where, and escapes still carry any character.
  EXPECT_THAT(ParsePolicyToml("id = \"p\"\n\xEF\xBB\xAF = 1\n"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("non-ASCII byte at line 2, column 1")));
  EXPECT_THAT(ParsePolicyToml("id = \"pr\xC3\xBC" "fung\"\n"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("line 1, column 9")));
  ASSERT_OK_AND_ASSIGN(AppraisalPolicy escaped, ParsePolicyToml("id = \"pr\\u00fcfung\"\n"));
  EXPECT_EQ(escaped.id, "pr\xC3\xBC" "fung");
  EXPECT_THAT(ParsePolicyJson(std::string(kMaxPolicyBytes + 1, ' ')), StatusIs(StatusCode::kResourceExhausted, ::testing::_));
}

TEST(PolicyParseTest, AcceptsVhsmMeasureJsonAndTurinShortChipId) {
  json measure = {{"version", 1},
                  {"type", "snp-launch-measurement"},
                  {"measurement", std::string(96, 'b')},
                  {"inputs", {{"ovmf", {{"path", "/srv/OVMF-2026.fd"}, {"sha256", std::string(64, '1')}}}}}};
  ASSERT_OK_AND_ASSIGN(std::vector<ReferenceValue> rv, ParseReferenceValues(measure));
  ASSERT_EQ(rv.size(), 1u);
  EXPECT_EQ(rv[0].label, "OVMF-2026.fd");
  EXPECT_EQ(rv[0].measurement[0], 0xbb);
  json p = {{"measurements", json::array({measure})}, {"chip_ids", {std::string(16, 'c')}}};
  ASSERT_OK_AND_ASSIGN(AppraisalPolicy pol, PolicyFromJson(p));
  EXPECT_EQ(pol.chip_ids[0][7], 0xcc);
  EXPECT_EQ(pol.chip_ids[0][8], 0);
  measure["type"] = "other";
  EXPECT_THAT(ParseReferenceValues(measure), StatusIs(StatusCode::kInvalidArgument, HasSubstr("type")));
}

TEST(PolicyParseTest, LoadsFilesByExtension) {
  testdata::TempDir dir;
  ASSERT_OK(WriteFileAtomic(dir.Join("p.toml"), AsBytes("id = \"t\"\n")));
  ASSERT_OK(WriteFileAtomic(dir.Join("p.json"), AsBytes(R"({"id":"j"})")));
  ASSERT_OK_AND_ASSIGN(AppraisalPolicy t, LoadPolicyFile(dir.Join("p.toml")));
  ASSERT_OK_AND_ASSIGN(AppraisalPolicy j, LoadPolicyFile(dir.Join("p.json")));
  EXPECT_EQ(t.id, "t");
  EXPECT_EQ(j.id, "j");
  EXPECT_THAT(LoadPolicyFile(dir.Join("p.toml") + "x"), StatusIs(StatusCode::kNotFound, ::testing::_));
}

class AppraiseTest : public ::testing::Test {
 protected:
  snp::AttestationReport Report(const std::function<void(sim::SimConfig&)>& edit = nullptr) {
    sim::SimConfig cfg = sim::testing::Defaults(snp::Product::kGenoa, 3);
    if (edit) edit(cfg);
    sim::SimState st = sim::testing::MakeState(dir_.Join("s" + std::to_string(n_++)), cfg);
    auto fw = sim::SimFirmware::Create(std::move(st));
    EXPECT_OK(fw.status());
    auto rep = (*fw)->GetReport(sim::testing::Nonce(1), cfg.vmpl);
    EXPECT_OK(rep.status());
    auto parsed = snp::ParseReport(rep->report);
    EXPECT_OK(parsed.status());
    return *parsed;
  }
  testdata::TempDir dir_;
  int n_ = 0;
};

TEST_F(AppraiseTest, EveryRuleIsRecordedAndDefaultPolicyDeniesUnknownMeasurement) {
  snp::AttestationReport r = Report();
  Appraisal a = Appraise(AppraisalPolicy{}, r, snp::Product::kGenoa);
  ASSERT_EQ(a.rules.size(), RuleNames().size());
  for (size_t i = 0; i < a.rules.size(); ++i) EXPECT_EQ(a.rules[i].name, RuleNames()[i]);
  EXPECT_EQ(a.status, EarStatus::kContraindicated);
  EXPECT_EQ(a.failed, std::vector<std::string>{"measurement"});
  EXPECT_EQ(a.trust_vector["executables"], 96);
  EXPECT_EQ(a.trust_vector["hardware"], 2);
}

TEST_F(AppraiseTest, TcbMinimumIsPerComponentOnTheConfiguredTcbs) {
  snp::AttestationReport r = Report([](sim::SimConfig& c) {
    // launch TCB older than reported: snp 1 below.
    snp::TcbParts t = snp::DecodeTcb(c.reported_tcb, snp::Product::kGenoa);
    t.snp = static_cast<uint8_t>(t.snp - 1);
    c.launch_tcb = snp::EncodeTcb(t, snp::Product::kGenoa);
  });
  AppraisalPolicy p = DevDefaultPolicy();
  const snp::TcbParts reported = snp::DecodeTcb(r.reported_tcb, snp::Product::kGenoa);
  p.min_tcb.snp = reported.snp;
  p.min_tcb.microcode = reported.microcode;
  p.tcb_checks = {"reported"};
  EXPECT_EQ(Appraise(p, r, snp::Product::kGenoa).status, EarStatus::kAffirming);
  p.tcb_checks = {"reported", "launch"};
  Appraisal a = Appraise(p, r, snp::Product::kGenoa);
  EXPECT_EQ(a.failed, std::vector<std::string>{"tcb.launch"});
  EXPECT_EQ(a.trust_vector["hardware"], 97);
  // A higher microcode does not compensate for a lower SNP SPL (no integer comparison).
  p.tcb_checks = {"reported"};
  p.min_tcb.snp = static_cast<uint8_t>(reported.snp + 1);
  p.min_tcb.microcode = 0;
  EXPECT_EQ(Appraise(p, r, snp::Product::kGenoa).failed, std::vector<std::string>{"tcb.reported"});
}

TEST_F(AppraiseTest, MitigationVectorRequiresV5) {
  snp::AttestationReport r = Report();
  AppraisalPolicy p = DevDefaultPolicy();
  p.min_mitigation_vector = 1;
  Appraisal a = Appraise(p, r, snp::Product::kGenoa);
  EXPECT_EQ(a.failed, std::vector<std::string>{"mitigation_vector"});
  EXPECT_THAT(a.rules.back().detail, HasSubstr("v5"));
}

}  // namespace
}  // namespace vhsm::attestation
