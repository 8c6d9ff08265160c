// release_policy_test.cc: policy parsing (strictness, limits), every operator both ways, JSON
// Pointer (RFC 6901) and glob matching; resource path validation; KEK loading.
#include "services/provisioning/release_policy.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "services/provisioning/provisioning_store.h"
#include "services/provisioning/resource_path.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::provisioning {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const json& Claims() {
  static const json c = json::parse(R"({
    "iss": "vhsm-attestd",
    "submods": {"cpu0": {
      "ear.status": "affirming",
      "ear.veraison.annotated-evidence": {
        "measurement": "A1B2c3d4e5",
        "chip_id": "00ff",
        "vmpl": 0,
        "reported_tcb": {"snp": 22, "microcode": 213},
        "policy": {"debug": false},
        "tags": ["x", "y"],
        "a/b": 1, "m~n": 2
      }}}})");
  return c;
}

PolicyDecision Eval(const std::string& policy) {
  Result<ReleasePolicy> p = ReleasePolicy::Parse(policy);
  EXPECT_TRUE(p.ok()) << p.status().ToString() << " for " << policy;
  if (!p.ok()) return {};
  return p->Evaluate(Claims());
}

std::string ClaimTest(const std::string& ptr, const std::string& op, const std::string& value) {
  return R"({"claim":")" + ptr + R"(",")" + op + R"(":)" + value + "}";
}

const std::string kEv = "/submods/cpu0/ear.veraison.annotated-evidence";

struct OpCase {
  std::string op, ptr, pass, fail;
};

class OperatorTest : public ::testing::TestWithParam<OpCase> {};

TEST_P(OperatorTest, HoldsAndFails) {
  const OpCase& c = GetParam();
  PolicyDecision yes = Eval(ClaimTest(c.ptr, c.op, c.pass));
  EXPECT_TRUE(yes.allowed) << c.op << " " << c.pass << ": " << yes.detail;
  PolicyDecision no = Eval(ClaimTest(c.ptr, c.op, c.fail));
  EXPECT_FALSE(no.allowed) << c.op << " " << c.fail;
  EXPECT_EQ(no.rule, "$");
  EXPECT_THAT(no.detail, HasSubstr(c.ptr));
  EXPECT_THAT(no.detail, HasSubstr(c.op));
}

INSTANTIATE_TEST_SUITE_P(
    AllOperators, OperatorTest,
    ::testing::Values(OpCase{"equals", "/submods/cpu0/ear.status", R"("affirming")", R"("warning")"},
                      OpCase{"equals", kEv + "/policy", R"({"debug":false})", R"({"debug":true})"},
                      OpCase{"notEquals", kEv + "/vmpl", "1", "0"},
                      OpCase{"in", kEv + "/chip_id", R"(["aa","00ff"])", R"(["aa","bb"])"},
                      OpCase{"greaterOrEquals", kEv + "/reported_tcb/snp", "22", "23"},
                      OpCase{"lessOrEquals", kEv + "/reported_tcb/microcode", "213", "212"},
                      OpCase{"exists", kEv + "/measurement", "true", "false"},
                      OpCase{"exists", kEv + "/no_such", "false", "true"},
                      OpCase{"matches", kEv + "/measurement", R"("a1b2*")", R"("a1b3*")"},
                      OpCase{"matches", kEv + "/chip_id", R"("00?f")", R"("0?f")"}),
    [](const ::testing::TestParamInfo<OpCase>& p) { return p.param.op + std::to_string(p.index); });

TEST(ReleasePolicyTest, MissingClaimFailsEveryOperatorButExistsFalse) {
  for (const std::string& t : {ClaimTest("/nope", "equals", "1"), ClaimTest("/nope", "notEquals", "1"),
                               ClaimTest("/nope", "in", "[1]"), ClaimTest("/nope", "greaterOrEquals", "0"),
                               ClaimTest("/nope", "lessOrEquals", "0"), ClaimTest("/nope", "matches", R"("*")")}) {
    PolicyDecision d = Eval(t);
    EXPECT_FALSE(d.allowed) << t;
    EXPECT_THAT(d.detail, HasSubstr("no such claim")) << t;
  }
}

TEST(ReleasePolicyTest, NumericOperatorsRejectNonNumbersAndMatchesNonStrings) {
  EXPECT_FALSE(Eval(ClaimTest(kEv + "/measurement", "greaterOrEquals", "0")).allowed);
  EXPECT_FALSE(Eval(ClaimTest(kEv + "/vmpl", "matches", R"("*")")).allowed);
}

TEST(ReleasePolicyTest, AllOfNamesTheFirstFailingTest) {
  PolicyDecision d = Eval(R"({"allOf":[)" + ClaimTest("/submods/cpu0/ear.status", "equals", R"("affirming")") + "," +
                          R"({"anyOf":[)" + ClaimTest(kEv + "/vmpl", "equals", "1") + "," +
                          ClaimTest(kEv + "/vmpl", "equals", "2") + "]}]}");
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.rule, "allOf[1].anyOf");
  EXPECT_THAT(d.detail, HasSubstr("none of 2"));
  d = Eval(R"({"allOf":[)" + ClaimTest("/iss", "equals", R"("vhsm-attestd")") + "," + ClaimTest(kEv + "/vmpl", "equals", "3") +
           "]}");
  EXPECT_EQ(d.rule, "allOf[1]");
  EXPECT_THAT(d.detail, HasSubstr("found 0"));
}

TEST(ReleasePolicyTest, AnyOfHoldsWhenOneAlternativeHolds) {
  EXPECT_TRUE(Eval(R"({"anyOf":[)" + ClaimTest(kEv + "/vmpl", "equals", "1") + "," + ClaimTest(kEv + "/vmpl", "equals", "0") +
                   "]}")
                  .allowed);
}

TEST(ReleasePolicyTest, RejectsMalformedPolicies) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"[]", "object"},
      {R"({"allOf":[]})", "empty"},
      {R"({"anyOf":{}})", "array"},
      {R"({"allOf":[1]})", "allOf[0]"},
      {R"({"claim":"/a"})", "no operator"},
      {R"({"claim":"/a","equals":1,"in":[1]})", "more than one"},
      {R"({"claim":"/a","like":1})", "unknown member"},
      {R"({"claim":"a","equals":1})", "start with '/'"},
      {R"({"claim":"/a~2","equals":1})", "~"},
      {R"({"claim":"/a","in":[]})", "non-empty array"},
      {R"({"claim":"/a","greaterOrEquals":"5"})", "number"},
      {R"({"claim":"/a","exists":1})", "true or false"},
      {R"({"claim":"/a","matches":""})", "pattern"},
      {R"({"allOf":[{"claim":"/a","equals":1}],"x":1})", "no other member"},
      {R"({"claim":"/a","equals":1,"equals":2})", "duplicate"},
      {R"({"claim":5,"equals":1})", "claim"},
  };
  for (const auto& [text, want] : bad) {
    Result<ReleasePolicy> p = ReleasePolicy::Parse(text);
    EXPECT_FALSE(p.ok()) << text;
    EXPECT_THAT(p.status().message(), HasSubstr(want)) << text;
  }
}

TEST(ReleasePolicyTest, EnforcesSizeDepthAndNodeLimits) {
  std::string deep = ClaimTest("/a", "equals", "1");
  for (int i = 0; i < kMaxPolicyDepth + 1; ++i) deep = R"({"allOf":[)" + deep + "]}";
  EXPECT_THAT(ReleasePolicy::Parse(deep), StatusIs(StatusCode::kInvalidArgument, HasSubstr("deeper")));
  std::string wide = R"({"anyOf":[)";
  for (size_t i = 0; i < kMaxPolicyNodes; ++i) wide += (i ? "," : "") + ClaimTest("/a", "equals", "1");
  wide += "]}";
  EXPECT_THAT(ReleasePolicy::Parse(wide), StatusIs(StatusCode::kResourceExhausted, HasSubstr("nodes")));
  EXPECT_THAT(ReleasePolicy::Parse(std::string(kMaxPolicyBytes + 1, ' ')),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("limit")));
}

TEST(ReleasePolicyTest, CanonicalTextIsStable) {
  ASSERT_OK_AND_ASSIGN(ReleasePolicy p, ReleasePolicy::Parse(R"({ "anyOf" : [ {"equals": 1, "claim": "/a"} ] })"));
  EXPECT_EQ(p.canonical_text(), R"({"anyOf":[{"claim":"/a","equals":1}]})");
  ASSERT_OK_AND_ASSIGN(ReleasePolicy q, ReleasePolicy::Parse(p.canonical_text()));
  EXPECT_EQ(q.canonical_text(), p.canonical_text());
}

TEST(JsonPointerTest, FollowsRfc6901) {
  // RFC 6901 section 5 examples.
  json doc = json::parse(R"({"foo":["bar","baz"],"":0,"a/b":1,"c%d":2,"e^f":3,"g|h":4,"i\\j":5,"k\"l":6," ":7,"m~n":8})");
  auto at = [&](std::string_view p) -> const json* {
    auto t = ParseJsonPointer(p);
    EXPECT_TRUE(t.ok()) << p;
    return t.ok() ? ResolveJsonPointer(doc, *t) : nullptr;
  };
  EXPECT_EQ(*at(""), doc);
  EXPECT_EQ(*at("/foo"), json::parse(R"(["bar","baz"])"));
  EXPECT_EQ(*at("/foo/0"), "bar");
  EXPECT_EQ(*at("/"), 0);
  EXPECT_EQ(*at("/a~1b"), 1);
  EXPECT_EQ(*at("/c%d"), 2);
  EXPECT_EQ(*at("/i\\j"), 5);
  EXPECT_EQ(*at("/ "), 7);
  EXPECT_EQ(*at("/m~0n"), 8);
  EXPECT_EQ(at("/foo/01"), nullptr);  // leading zero
  EXPECT_EQ(at("/foo/-"), nullptr);
  EXPECT_EQ(at("/foo/2"), nullptr);
  EXPECT_EQ(at("/foo/0/x"), nullptr);
}

TEST(GlobTest, Matches) {
  EXPECT_TRUE(GlobMatches("ab*", "ABcdef"));
  EXPECT_TRUE(GlobMatches("*", ""));
  EXPECT_TRUE(GlobMatches("a*c*e", "abcde"));
  EXPECT_TRUE(GlobMatches("a?c", "abc"));
  EXPECT_FALSE(GlobMatches("a?c", "ac"));
  EXPECT_FALSE(GlobMatches("abc", "abcd"));
  EXPECT_FALSE(GlobMatches("*x", "abc"));
  EXPECT_TRUE(GlobMatches(std::string(50, '*') + "b", std::string(10000, 'a') + "b"));
}

TEST(ResourcePathTest, AcceptsValidAndRejectsTraversal) {
  ASSERT_OK_AND_ASSIGN(ResourcePath p, ParseResourcePath("repo-1/key.type/tag_2"));
  EXPECT_EQ(p.ToString(), "repo-1/key.type/tag_2");
  EXPECT_EQ(p.PolicyKeys(), (std::vector<std::string>{"repo-1/key.type/tag_2", "repo-1/key.type/", "repo-1/"}));
  for (const char* bad : {"a/../b", "../a/b", "a/b/..", "a/./b", "a/b", "a/b/c/d", "a//b", "a/b/c/", "/a/b/c",
                          "a/b/c%2f", "a/b/c d", "a/b/\xc3\xa9", "a\\b/c/d"}) {
    EXPECT_THAT(ParseResourcePath(bad), StatusIs(StatusCode::kInvalidArgument, HasSubstr("resource path"))) << bad;
  }
  EXPECT_THAT(ParseResourcePath("a/b/" + std::string(kMaxSegmentBytes + 1, 'x')),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("limit")));
}

TEST(ResourcePathTest, PolicyTargets) {
  EXPECT_EQ(ParsePolicyTarget("repo").value_or(""), "repo/");
  EXPECT_EQ(ParsePolicyTarget("repo/").value_or(""), "repo/");
  EXPECT_EQ(ParsePolicyTarget("repo/type").value_or(""), "repo/type/");
  EXPECT_EQ(ParsePolicyTarget("repo/type/").value_or(""), "repo/type/");
  EXPECT_EQ(ParsePolicyTarget("repo/type/tag").value_or(""), "repo/type/tag");
  for (const char* bad : {"", "/", "..", "repo/..", "a/b/c/d", "a/b/c/"}) {
    EXPECT_FALSE(ParsePolicyTarget(bad).ok()) << bad;
  }
}

TEST(KekTest, LoadsRawAndHexFilesAndRejectsOthers) {
  testdata::TempDir dir;
  auto write = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir.Join(name), std::ios::binary) << content;
    return dir.Join(name);
  };
  ASSERT_OK_AND_ASSIGN(Kek raw, LoadKek(write("raw", std::string(32, '\x07'))));
  ASSERT_OK_AND_ASSIGN(Kek hex, LoadKek(write("hex", std::string(32, '0') + std::string(32, '7') + "\n")));
  EXPECT_EQ(raw.id.size(), 16u);
  EXPECT_NE(raw.id, hex.id);
  EXPECT_THAT(LoadKek(write("short", "abc")), StatusIs(StatusCode::kInvalidArgument, HasSubstr("32 raw bytes")));
  EXPECT_THAT(LoadKek(write("badhex", std::string(64, 'z'))), StatusIs(StatusCode::kInvalidArgument, HasSubstr("hex")));
  // A pkcs11: URI without a module to load (token KEKs: provisioning_kek_test).
  EXPECT_THAT(LoadKek("pkcs11:token=x;object=kek"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("--kek")));
  EXPECT_THAT(LoadKek(dir.Join("absent")), StatusIs(StatusCode::kNotFound, ::testing::_));
}

}  // namespace
}  // namespace vhsm::provisioning
