// provisiond_http_test.cc: vhsm-provisiond over real HTTP on 127.0.0.1:0 (SQLite store): release
// to P-256/P-384/P-521/RSA TEE keys with the JWE decrypted here by the matching private key,
// every bad-token case, traversal, oversized uploads, 404 only after a valid token, policy
// selection and denial naming the rule, the admin API, metrics, JWKS refresh on an unknown kid,
// and audit records per release/denial with tamper detection (library and `vhsm audit verify`).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <sys/wait.h>

#include "base/bytes.h"
#include "base/file.h"
#include "jose/json_util.h"
#include "jose/jwe.h"
#include "jose/jwt.h"
#include "provisiond_fixture.h"
#include "services/provisioning/audit_verify.h"
#include "testing/status_matchers.h"

namespace vhsm::provisioning::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const std::string kAllowAffirming = R"({"allOf":[{"claim":"/submods/cpu0/ear.status","equals":"affirming"}]})";
const std::string kRes = "/kbs/v0/resource/";

crypto::PrivateKey TeeKey(const std::string& kind) {
  Result<crypto::PrivateKey> k = kind == "RSA"     ? crypto::PrivateKey::GenerateRsa(2048)
                                 : kind == "P-384" ? crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP384)
                                 : kind == "P-521" ? crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP521)
                                                   : crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256);
  VHSM_CHECK(k.ok(), "tee key");
  return std::move(*k);
}

int64_t AuditCount(Instance& inst) {
  auto v = inst.db().QueryOne("SELECT COUNT(*) FROM prov_audit");
  return v.ok() ? v->Int(0).value_or(-1) : -1;
}

class ReleaseTest : public ProvisiondTest, public ::testing::WithParamInterface<std::string> {};

TEST_P(ReleaseTest, ReleasesJweThatOnlyTheTeeKeyOpens) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  PutResource(*inst, "repo/key/aes", "the secret value \x01\x02");
  PutPolicy(*inst, "repo", kAllowAffirming);
  crypto::PrivateKey tee = TeeKey(GetParam());
  http::ClientResponse r = Get(*inst, kRes + "repo/key/aes", issuer_->MintEar(tee.Public()));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_OK_AND_ASSIGN(jose::JweDecrypted d, jose::DecryptFlattened(r.body, tee));
  EXPECT_EQ(AsStringView(d.plaintext.Expose()), "the secret value \x01\x02");
  EXPECT_EQ(d.enc, jose::JweEnc::kA256Gcm);
  EXPECT_EQ(d.alg, GetParam() == "RSA" ? jose::JweAlg::kRsaOaep256 : jose::JweAlg::kEcdhEsA256Kw);
  // Another key of the same type cannot open it.
  crypto::PrivateKey other = TeeKey(GetParam());
  EXPECT_THAT(jose::DecryptFlattened(r.body, other), StatusIs(StatusCode::kUnauthenticated, ::testing::_));
  EXPECT_EQ(r.body.find("the secret"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(TeeKeys, ReleaseTest, ::testing::Values("P-256", "P-384", "P-521", "RSA"),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           return p.param == "RSA" ? std::string("RSA") : "P" + p.param.substr(2);
                         });

class BadTokenTest : public ProvisiondTest {
 protected:
  void SetUp() override {
    ProvisiondTest::SetUp();
    inst_ = Start();
    ASSERT_TRUE(inst_);
    PutResource(*inst_, "repo/key/aes", "secret");
    PutPolicy(*inst_, "repo", kAllowAffirming);
    tee_ = TeeKey("P-256");
    audit_before_ = AuditCount(*inst_);
  }
  void Expect(int status, const std::string& token, const std::string& want, const std::string& path = "repo/key/aes") {
    http::ClientResponse r = Get(*inst_, kRes + path, token);
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_THAT(r.body, HasSubstr(want));
    EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
    EXPECT_EQ(AuditCount(*inst_), audit_before_) << "bad tokens leave no audit record";
  }
  std::unique_ptr<Instance> inst_;
  std::optional<crypto::PrivateKey> tee_;
  int64_t audit_before_ = 0;
};

TEST_F(BadTokenTest, MissingOrMalformed) {
  Expect(401, "", "Authorization");
  Expect(401, "not.a.token", "token");
  Expect(401, "abc", "token");
}

TEST_F(BadTokenTest, Expired) {
  json c = issuer_->Claims(tee_->Public());
  c["exp"] = kNow - 3600;
  Expect(401, issuer_->Sign(c), "exp");
}

TEST_F(BadTokenTest, NotYetValid) {
  json c = issuer_->Claims(tee_->Public());
  c["nbf"] = kNow + 3600;
  Expect(401, issuer_->Sign(c), "nbf");
}

TEST_F(BadTokenTest, AlgNone) {
  json c = issuer_->Claims(tee_->Public());
  std::string t = Base64UrlEncode(AsBytes(R"({"alg":"none","typ":"JWT"})")) + "." +
                  Base64UrlEncode(AsBytes(jose::DumpJson(c))) + ".";
  Expect(401, t, "none");
}

TEST_F(BadTokenTest, WrongSignature) {
  std::string good = issuer_->MintEar(tee_->Public());
  // Same header (kid) and payload, signature from another key.
  auto other = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256);
  ASSERT_TRUE(other.ok());
  jose::JwsSignOptions o;
  o.kid = issuer_->kid();
  ASSERT_OK_AND_ASSIGN(std::string forged, jose::SignJwt(*other, jose::JwsAlg::kEs256, issuer_->Claims(tee_->Public()), o));
  Expect(401, forged, "signature");
  // One flipped payload bit.
  std::string flipped = good;
  flipped[flipped.find('.') + 5] ^= 1;
  Expect(401, flipped, "token");
}

TEST_F(BadTokenTest, UnknownKidAfterRefresh) {
  auto other = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256);
  ASSERT_TRUE(other.ok());
  jose::JwsSignOptions o;
  o.kid = "no-such-kid";
  ASSERT_OK_AND_ASSIGN(std::string t, jose::SignJwt(*other, jose::JwsAlg::kEs256, issuer_->Claims(tee_->Public()), o));
  const int before = issuer_->jwks_fetches();
  Expect(401, t, "unknown");
  EXPECT_GT(issuer_->jwks_fetches(), before) << "an unknown kid triggers a JWKS refresh";
}

TEST_F(BadTokenTest, ForeignIssuer) {
  json c = issuer_->Claims(tee_->Public());
  c["iss"] = "evil-attestd";
  Expect(401, issuer_->Sign(c), "iss");
}

TEST_F(BadTokenTest, NoTeeKey) {
  json c = issuer_->Claims(tee_->Public());
  c["submods"]["cpu0"]["ear.veraison.annotated-evidence"].erase("runtime_data_claims");
  Expect(401, issuer_->Sign(c), "TEE key");
  json c2 = issuer_->Claims(tee_->Public());
  c2.erase("submods");
  Expect(401, issuer_->Sign(c2), "submods");
}

TEST_F(BadTokenTest, PrivateTeeKeyIsRejected) {
  json c = issuer_->Claims(tee_->Public());
  auto priv = jose::Jwk::FromPrivateKey(tee_->Clone()).ToPrivateJsonText();
  ASSERT_TRUE(priv.ok());
  c["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["runtime_data_claims"]["tee-pubkey"] =
      json::parse(AsStringView(priv->Expose()));
  Expect(401, issuer_->Sign(c), "tee-pubkey");
}

TEST_F(BadTokenTest, UnsupportedTeeKeyTypeIs400) {
  auto ed = crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(ed.ok());
  Expect(400, issuer_->MintEar(ed->Public()), "unsupported TEE key type");
  json c = issuer_->Claims(tee_->Public());
  c["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["runtime_data_claims"]["tee-pubkey"] =
      json{{"kty", "oct"}, {"k", "AAAA"}};
  Expect(400, issuer_->Sign(c), "unsupported TEE key type");
}

TEST_F(BadTokenTest, BadTokenOnUnknownResourceIs401Not404) {
  Expect(401, "garbage", "token", "repo/key/missing");
}

TEST_F(ProvisiondTest, UnknownResourceIs404OnlyWithValidToken) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  PutPolicy(*inst, "repo", kAllowAffirming);
  auto tee = TeeKey("P-256");
  http::ClientResponse r = Get(*inst, kRes + "repo/key/missing", issuer_->MintEar(tee.Public()));
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_THAT(r.body, HasSubstr("repo/key/missing"));
}

TEST_F(ProvisiondTest, PathTraversalAndBadSegmentsAre400) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  PutPolicy(*inst, "repo", kAllowAffirming);
  auto tee = TeeKey("P-256");
  const std::string token = issuer_->MintEar(tee.Public());
  for (const std::string& p : std::vector<std::string>{"repo/../etc", "repo/key/..", "../repo/key/aes", "repo/key/a%2F..%2F..",
                               "repo/key/%2e%2e", "repo/key", "repo/key/aes/more", "repo/key/a%20b",
                               "repo/key/" + std::string(200, 'x')}) {
    http::ClientResponse r = Get(*inst, kRes + p, token);
    EXPECT_TRUE(r.status == 400 || r.status == 404) << p << " -> " << r.status << " " << r.body;
    EXPECT_NE(r.status, 200) << p;
    if (r.status == 404) {
      EXPECT_THAT(r.body, ::testing::Not(HasSubstr("resource repo"))) << p;
    }
  }
  // Admin writes are validated the same way.
  EXPECT_EQ(Admin(*inst, "PUT", kRes + "repo/..%2F../x", "v").status, 400);
  EXPECT_EQ(Admin(*inst, "PUT", kRes + "repo/a%00b/x", "v").status, 400);
  EXPECT_EQ(Admin(*inst, "PUT", "/kbs/v0/resource-policy/repo/..", kAllowAffirming).status, 400);
}

TEST_F(ProvisiondTest, OversizedUploadIs413) {
  auto inst = Start("", 1024);
  ASSERT_TRUE(inst);
  http::ClientResponse r = Admin(*inst, "PUT", kRes + "repo/key/big", std::string(1025, 'x'));
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_THAT(r.body, HasSubstr("1025"));
  r = Admin(*inst, "PUT", kRes + "repo/key/huge", std::string(64 * 1024, 'x'));  // over the server body limit
  EXPECT_EQ(r.status, 413) << r.body;
  r = Admin(*inst, "PUT", kRes + "repo/key/ok", std::string(1024, 'x'));
  EXPECT_EQ(r.status, 201) << r.body;
  r = Admin(*inst, "GET", "/kbs/v0/resources");
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("repo/key/big")));
}

TEST_F(ProvisiondTest, PolicyDenialNamesTheRuleAndMostSpecificPolicyWins) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  PutResource(*inst, "repo/key/a", "A");
  PutResource(*inst, "repo/key/b", "B");
  PutResource(*inst, "other/key/c", "C");
  PutPolicy(*inst, "repo", kAllowAffirming);
  PutPolicy(*inst, "repo/key/b",
            R"({"allOf":[{"claim":"/submods/cpu0/ear.status","equals":"affirming"},)"
            R"({"claim":"/submods/cpu0/ear.veraison.annotated-evidence/reported_tcb/snp","greaterOrEquals":23}]})");
  auto tee = TeeKey("P-256");
  const std::string token = issuer_->MintEar(tee.Public());
  EXPECT_EQ(Get(*inst, kRes + "repo/key/a", token).status, 200);
  http::ClientResponse r = Get(*inst, kRes + "repo/key/b", token);
  EXPECT_EQ(r.status, 403);
  json p = json::parse(r.body, nullptr, false);
  EXPECT_EQ(p.value("rule", ""), "policy:repo/key/b#allOf[1]");
  EXPECT_THAT(p.value("detail", ""), HasSubstr("greaterOrEquals 23, found 22"));
  r = Get(*inst, kRes + "other/key/c", token);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("default-deny"));
  // A type-level policy beats the repo one.
  PutPolicy(*inst, "repo/key", R"({"claim":"/submods/cpu0/ear.veraison.annotated-evidence/vmpl","equals":1})");
  EXPECT_EQ(Get(*inst, kRes + "repo/key/a", token).status, 403);
  // With all three levels present, the resource's own policy still decides.
  r = Get(*inst, kRes + "repo/key/b", token);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(json::parse(r.body, nullptr, false).value("rule", ""), "policy:repo/key/b#allOf[1]");
  EXPECT_EQ(Admin(*inst, "DELETE", "/kbs/v0/resource-policy/repo/key").status, 204);
  EXPECT_EQ(Get(*inst, kRes + "repo/key/a", token).status, 200);
}

TEST_F(ProvisiondTest, NonAffirmingEarIsDenied) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  PutResource(*inst, "repo/key/a", "A");
  PutPolicy(*inst, "repo", R"({"claim":"/iss","equals":"vhsm-attestd"})");
  auto tee = TeeKey("P-256");
  json c = issuer_->Claims(tee.Public());
  c["submods"]["cpu0"]["ear.status"] = "contraindicated";
  http::ClientResponse r = Get(*inst, kRes + "repo/key/a", issuer_->Sign(c));
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("\"rule\":\"ear.status\""));
}

TEST_F(ProvisiondTest, EveryOperatorOverHttp) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  PutResource(*inst, "r/t/x", "X");
  auto tee = TeeKey("P-256");
  const std::string token = issuer_->MintEar(tee.Public());
  const std::string ev = "/submods/cpu0/ear.veraison.annotated-evidence";
  struct Case {
    std::string test;
    int want;
  };
  const std::vector<Case> cases = {
      {R"("claim":")" + ev + R"(/vmpl","equals":0)", 200},
      {R"("claim":")" + ev + R"(/vmpl","equals":1)", 403},
      {R"("claim":")" + ev + R"(/vmpl","notEquals":1)", 200},
      {R"("claim":")" + ev + R"(/vmpl","notEquals":0)", 403},
      {R"("claim":")" + ev + R"(/guest_svn","in":[1,2])", 200},
      {R"("claim":")" + ev + R"(/guest_svn","in":[3])", 403},
      {R"("claim":")" + ev + R"(/reported_tcb/microcode","greaterOrEquals":200)", 200},
      {R"("claim":")" + ev + R"(/reported_tcb/microcode","greaterOrEquals":214)", 403},
      {R"("claim":")" + ev + R"(/reported_tcb/bootloader","lessOrEquals":4)", 200},
      {R"("claim":")" + ev + R"(/reported_tcb/bootloader","lessOrEquals":3)", 403},
      {R"("claim":")" + ev + R"(/policy/debug","exists":true)", 200},
      {R"("claim":")" + ev + R"(/policy/migrate_ma","exists":true)", 403},
      {R"("claim":")" + ev + R"(/measurement","matches":"aaaa*")", 200},
      {R"("claim":")" + ev + R"(/measurement","matches":"bbbb*")", 403},
  };
  for (const Case& c : cases) {
    PutPolicy(*inst, "r/t/x", "{" + c.test + "}");
    EXPECT_EQ(Get(*inst, kRes + "r/t/x", token).status, c.want) << c.test;
  }
}

TEST_F(ProvisiondTest, AdminApiRequiresAFreshAdminToken) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  auto c = ClientFor(inst->url());
  EXPECT_EQ(Send(*c, "PUT", kRes + "a/b/c", "", "v").status, 401);
  // Signed by another key.
  auto other = crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(Send(*c, "PUT", kRes + "a/b/c", AdminToken(*other, clock_), "v").status, 401);
  // exp more than one hour ahead.
  EXPECT_EQ(Send(*c, "PUT", kRes + "a/b/c", AdminToken(*admin_, clock_, 7200), "v").status, 401);
  // An EAR is not an admin token.
  auto tee = TeeKey("P-256");
  EXPECT_EQ(Send(*c, "GET", "/kbs/v0/resources", issuer_->MintEar(tee.Public())).status, 401);
  EXPECT_EQ(Send(*c, "PUT", kRes + "a/b/c", AdminToken(*admin_, clock_, 3600), "v").status, 201);
}

TEST_F(ProvisiondTest, AdminListsMetadataOnlyAndReadsPoliciesAndAudit) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  PutResource(*inst, "repo/key/one", "VALUE-ONE-SECRET");
  PutResource(*inst, "repo/key/one", "VALUE-ONE-SECRET-v2");
  EXPECT_EQ(Admin(*inst, "POST", kRes + "repo/key/two", "VALUE-TWO-SECRET").status, 201);
  http::ClientResponse r = Admin(*inst, "GET", "/kbs/v0/resources");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("SECRET")));
  json list = json::parse(r.body);
  ASSERT_EQ(list["resources"].size(), 2u);
  EXPECT_EQ(list["resources"][0]["path"], "repo/key/one");
  EXPECT_EQ(list["resources"][0]["version"], 2);
  EXPECT_EQ(list["resources"][0]["size_bytes"], 19);
  // Values are encrypted at rest.
  ASSERT_OK_AND_ASSIGN(store::Row row, inst->db().QueryOne("SELECT value FROM prov_resources WHERE path = 'repo/key/two'"));
  ASSERT_OK_AND_ASSIGN(Bytes stored, row.Blob(0));
  EXPECT_EQ(AsStringView(stored).find("VALUE-TWO"), std::string::npos);

  PutPolicy(*inst, "repo/key/", R"({"claim": "/iss", "equals": "vhsm-attestd"})");
  r = Admin(*inst, "GET", "/kbs/v0/resource-policy/repo/key");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"claim":"/iss","equals":"vhsm-attestd"})");
  EXPECT_EQ(Admin(*inst, "GET", "/kbs/v0/resource-policy/repo").status, 404);
  EXPECT_EQ(Admin(*inst, "PUT", "/kbs/v0/resource-policy/repo", R"({"claim":"/iss"})").status, 400);

  EXPECT_EQ(Admin(*inst, "DELETE", kRes + "repo/key/two").status, 204);
  EXPECT_EQ(Admin(*inst, "DELETE", kRes + "repo/key/two").status, 404);

  r = Admin(*inst, "GET", "/kbs/v0/audit?after=1&limit=2");
  ASSERT_EQ(r.status, 200) << r.body;
  json audit = json::parse(r.body);
  ASSERT_EQ(audit["entries"].size(), 2u);
  EXPECT_EQ(audit["entries"][0]["seq"], 2);
  EXPECT_EQ(audit["entries"][0]["record"]["event"], "admin.put_resource");
  EXPECT_EQ(audit["head"]["seq"], 5);
  EXPECT_EQ(Admin(*inst, "GET", "/kbs/v0/audit?limit=0").status, 400);
}

TEST_F(ProvisiondTest, AuditRecordsEachReleaseAndDenialAndMetricsCountThem) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  PutResource(*inst, "repo/key/a", "A");
  PutPolicy(*inst, "repo/key/a", R"({"claim":"/submods/cpu0/ear.veraison.annotated-evidence/vmpl","equals":0})");
  auto tee = TeeKey("P-256");
  json c = issuer_->Claims(tee.Public());
  const std::string good = issuer_->Sign(c);
  c["submods"]["cpu0"]["ear.veraison.annotated-evidence"]["vmpl"] = 2;
  c["jti"] = "jti-denied";
  const std::string denied = issuer_->Sign(c);
  EXPECT_EQ(Get(*inst, kRes + "repo/key/a", good).status, 200);
  EXPECT_EQ(Get(*inst, kRes + "repo/key/a", denied).status, 403);
  ASSERT_OK_AND_ASSIGN(store::ChainVerification v, VerifyAuditStore(inst->store_url(), clock_));
  EXPECT_TRUE(v.intact());
  ASSERT_OK_AND_ASSIGN(auto entries, inst->db().Query("SELECT record FROM prov_audit ORDER BY seq"));
  ASSERT_EQ(entries.size(), 4u);
  json rel = json::parse(entries[2].Text(0).value_or("{}"));
  EXPECT_EQ(rel["event"], "release");
  EXPECT_EQ(rel["decision"], "release");
  EXPECT_EQ(rel["jti"], "jti-test-1");
  EXPECT_EQ(rel["measurement"], std::string(96, 'a'));
  EXPECT_EQ(rel["chip_id"], std::string(128, 'c'));
  EXPECT_EQ(rel["resource"], "repo/key/a");
  EXPECT_EQ(rel["rule"], "policy:repo/key/a");
  json den = json::parse(entries[3].Text(0).value_or("{}"));
  EXPECT_EQ(den["decision"], "deny");
  EXPECT_EQ(den["jti"], "jti-denied");
  EXPECT_EQ(den["rule"], "policy:repo/key/a#$");

  auto mc = ClientFor(inst->url());
  http::ClientResponse m = Send(*mc, "GET", "/metrics", "");
  EXPECT_THAT(m.body, HasSubstr(R"(vhsm_provisiond_releases_total{resource="repo/key/a",policy="repo/key/a"} 1)"));
  EXPECT_THAT(m.body, HasSubstr(R"(vhsm_provisiond_denials_total{resource="repo/key/a",rule="policy:repo/key/a#$"} 1)"));
  EXPECT_EQ(Send(*mc, "GET", "/healthz", "").status, 200);
}

int RunCli(const std::string& args) {
  const std::string cmd = testdata::BuildDir() + "/bin/vhsm " + args + " >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST_F(ProvisiondTest, AuditTamperingIsDetectedByVhsmAuditVerify) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  PutResource(*inst, "repo/key/a", "A");
  PutPolicy(*inst, "repo", kAllowAffirming);
  auto tee = TeeKey("P-256");
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get(*inst, kRes + "repo/key/a", issuer_->MintEar(tee.Public())).status, 200);
  const std::string url = inst->store_url();
  const bool have_cli = FileExists(testdata::BuildDir() + "/bin/vhsm");
  if (have_cli) {
    EXPECT_EQ(RunCli("audit verify --store " + url), 0);
  }
  ASSERT_OK_AND_ASSIGN(auto ok, VerifyAuditStore(url, clock_));
  EXPECT_TRUE(ok.intact());
  EXPECT_EQ(ok.entries, 5);

  // Edit the decision of record 4 (a release) in place.
  ASSERT_OK(inst->db().Exec("UPDATE prov_audit SET record = replace(record, '\"release\"', '\"deny\"') WHERE seq = 4")
                .status());
  ASSERT_OK_AND_ASSIGN(auto bad, VerifyAuditStore(url, clock_));
  EXPECT_EQ(bad.first_bad_seq, 4);
  if (have_cli) {
    EXPECT_EQ(RunCli("audit verify --store " + url), 1);
  }

  // Deleting a record is reported at the gap.
  ASSERT_OK(inst->db().Exec("UPDATE prov_audit SET record = replace(record, '\"deny\"', '\"release\"') WHERE seq = 4")
                .status());
  ASSERT_OK_AND_ASSIGN(auto restored, VerifyAuditStore(url, clock_));
  EXPECT_TRUE(restored.intact()) << restored.problem;
  ASSERT_OK(inst->db().Exec("DELETE FROM prov_audit WHERE seq = 3").status());
  ASSERT_OK_AND_ASSIGN(auto gap, VerifyAuditStore(url, clock_));
  EXPECT_EQ(gap.first_bad_seq, 3) << gap.problem;
  EXPECT_THAT(gap.problem, HasSubstr("missing"));
  if (have_cli) {
    EXPECT_EQ(RunCli("audit verify --store " + url), 1);
    EXPECT_EQ(RunCli("audit verify --store sqlite:/nonexistent/dir/x.db"), 2);
    EXPECT_EQ(RunCli("audit verify"), 2);
  } else {
    GTEST_SKIP() << "vhsm CLI not built (build target vhsm); library checks ran";
  }
}

TEST_F(ProvisiondTest, JwksRotationIsPickedUpOnUnknownKid) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  PutResource(*inst, "repo/key/a", "A");
  PutPolicy(*inst, "repo", kAllowAffirming);
  auto tee = TeeKey("P-256");
  EXPECT_EQ(Get(*inst, kRes + "repo/key/a", issuer_->MintEar(tee.Public())).status, 200);
  const int fetches = issuer_->jwks_fetches();
  EXPECT_EQ(Get(*inst, kRes + "repo/key/a", issuer_->MintEar(tee.Public())).status, 200);
  EXPECT_EQ(issuer_->jwks_fetches(), fetches) << "known kid: served from the cache";
  issuer_->Rotate();
  EXPECT_EQ(Get(*inst, kRes + "repo/key/a", issuer_->MintEar(tee.Public())).status, 200);
  EXPECT_EQ(issuer_->jwks_fetches(), fetches + 1);
}

TEST(JwksSourceTest, RefreshIsRateLimited) {
  FakeIssuer issuer;
  SystemClock clock;
  JwksSourceOptions o;
  o.location = issuer.jwks_url();
  o.min_refresh_interval_ms = 60000;
  ASSERT_OK_AND_ASSIGN(auto src, JwksSource::Create(o, clock));
  EXPECT_EQ(issuer.jwks_fetches(), 1);
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(src->MaybeRefresh());
  EXPECT_EQ(issuer.jwks_fetches(), 1);
  EXPECT_EQ(src->Current()->size(), 1u);
}

TEST(JwksSourceTest, FileSourceMustParse) {
  testdata::TempDir dir;
  SystemClock clock;
  JwksSourceOptions o;
  o.location = dir.Join("absent.json");
  EXPECT_THAT(JwksSource::Create(o, clock), StatusIs(StatusCode::kNotFound, HasSubstr("absent.json")));
}

}  // namespace
}  // namespace vhsm::provisioning::testing
