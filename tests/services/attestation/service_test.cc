// End-to-end tests of vhsm-attestd's handlers over real HTTP on 127.0.0.1 (port 0) with a
// simulated SEV-SNP guest: the RCAR exchange, every rejection reason, every policy rule both
// ways, tokens verified against the served JWKS, admin API, /metrics and audit lines.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attestd_fixture.h"
#include "base/bytes.h"
#include "base/file.h"
#include "jose/jwt.h"
#include "testing/status_matchers.h"

namespace vhsm::attestation::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

AppraisalPolicy AnyMeasurement() {
  AppraisalPolicy p;
  p.id = "test";
  p.accept_any_measurement = true;
  return p;
}

class RcarTest : public AttestdFixture {};

TEST_F(RcarTest, FullExchangeIssuesEarVerifiableWithJwks) {
  StartService(AnyMeasurement());
  auto [cookie, nonce] = Auth();
  ASSERT_FALSE(cookie.empty());
  ASSERT_OK_AND_ASSIGN(Bytes nonce_bytes, Base64Decode(nonce));
  EXPECT_EQ(nonce_bytes.size(), 32u);
  RcarResult r = AttestWith(cookie, nonce);
  ASSERT_EQ(r.status, 200) << r.raw;
  const std::string token = r.body["token"].get<std::string>();
  // The token is sent as "Authorization: Bearer <token>": it must fit an 8 KiB header line.
  EXPECT_LT(token.size(), 6144u);

  RcarResult jwks = Send("GET", "/.well-known/jwks.json", "");
  ASSERT_EQ(jwks.status, 200);
  ASSERT_OK_AND_ASSIGN(jose::JwkSet set, jose::JwkSet::Parse(jwks.body));
  jose::JwtValidationOptions vo;
  vo.issuer = "vhsm-attestd-test";
  vo.jws.allowed_algs = {jose::JwsAlg::kEs256};
  ASSERT_OK_AND_ASSIGN(jose::VerifiedJwt v, jose::VerifyJwt(token, set, vo, clock_));
  const json& c = v.claims;
  EXPECT_EQ(c["eat_profile"], "tag:github.com,2023:veraison/ear");
  EXPECT_TRUE(c.contains("jti") && c.contains("iat") && c.contains("exp"));
  const json& cpu0 = c["submods"]["cpu0"];
  EXPECT_EQ(cpu0["ear.status"], "affirming");
  EXPECT_EQ(cpu0["ear.appraisal-policy-id"], "policy:test");
  EXPECT_EQ(cpu0["ear.trustworthiness-vector"]["executables"], 2);
  EXPECT_EQ(cpu0["ear.veraison.annotated-evidence"]["runtime_data_claims"]["tee-pubkey"], TeePubJwk());
  EXPECT_EQ(cpu0["ear.veraison.annotated-evidence"]["measurement"], HexEncode(fw_->config().measurement));
  EXPECT_EQ(cpu0["vhsm.appraisal"].size(), RuleNames().size());
  EXPECT_EQ(v.kid, set.keys()[0].kid());
  // An audit line with the jti and no nonce/token.
  bool found = false;
  for (const std::string& l : audit_.lines()) {
    if (l.find(c["jti"].get<std::string>()) != std::string::npos) {
      found = true;
      EXPECT_THAT(l, HasSubstr("evidence_sha256"));
      EXPECT_EQ(l.find(token), std::string::npos);
      EXPECT_EQ(l.find(nonce), std::string::npos);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(RcarTest, EvidenceAsJsonStringAndAdditionalEvidenceBound) {
  StartService(AnyMeasurement());
  GuestOptions g;
  g.evidence_as_string = true;
  g.additional_evidence = R"({"tpm":"quote"})";
  RcarResult r = Attest(g);
  EXPECT_EQ(r.status, 200) << r.raw;
}

TEST_F(RcarTest, CookieIsSecureHttpOnlySameSiteWhenNotDev) {
  StartService(AnyMeasurement(), nullptr, [](ServiceOptions& o) { o.secure_cookie = true; });
  Result<http::ClientResponse> r =
      client_->Post("/kbs/v0/auth", R"({"version":"0.4.0","tee":"snp","extra-params":""})", "application/json");
  ASSERT_OK(r.status());
  const std::string sc = r->header("Set-Cookie");
  EXPECT_THAT(sc, HasSubstr("Secure"));
  EXPECT_THAT(sc, HasSubstr("HttpOnly"));
  EXPECT_THAT(sc, HasSubstr("SameSite=Strict"));
  json body = json::parse(r->body);
  EXPECT_EQ(body["extra-params"], "");
}

TEST_F(RcarTest, RejectsReplayedNonce) {
  StartService(AnyMeasurement());
  auto [cookie, nonce] = Auth();
  ASSERT_EQ(AttestWith(cookie, nonce).status, 200);
  RcarResult again = AttestWith(cookie, nonce);
  EXPECT_EQ(again.status, 401);
  EXPECT_THAT(again.raw, HasSubstr("already used"));
}

TEST_F(RcarTest, RejectsExpiredNonce) {
  StartService(AnyMeasurement());
  auto [cookie, nonce] = Auth();
  clock_.Advance(301);
  RcarResult r = AttestWith(cookie, nonce);
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.raw, HasSubstr("expired"));
}

TEST_F(RcarTest, RejectsAttestWithoutAuthOrUnknownSession) {
  StartService(AnyMeasurement());
  RcarResult r = AttestWith("", "AAAA");
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.raw, HasSubstr("kbs-session-id"));
}

TEST_F(RcarTest, RejectsUnknownSessionCookie) {
  StartService(AnyMeasurement());
  RcarResult r = AttestWith("bm90LWEtc2Vzc2lvbg", "AAAA");
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.raw, HasSubstr("unknown session"));
}

TEST_F(RcarTest, RejectsNonceNotIssuedForSession) {
  StartService(AnyMeasurement());
  auto [cookie, nonce] = Auth();
  auto [cookie2, nonce2] = Auth();
  RcarResult r = AttestWith(cookie, nonce2);
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.raw, HasSubstr("runtime-data.nonce"));
}

TEST_F(RcarTest, RejectsBindingMismatch) {
  StartService(AnyMeasurement());
  GuestOptions g;
  g.edit_report_data = [](std::array<uint8_t, 64>& rd) { rd[0] ^= 1; };
  RcarResult r = Attest(g);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.raw, HasSubstr("report_data.binding"));
  // A different tee-pubkey than the one the report binds.
  GuestOptions g2;
  g2.edit = [](json& b) { b["runtime-data"]["tee-pubkey"]["kid"] = "swapped"; };
  RcarResult r2 = Attest(g2);
  EXPECT_EQ(r2.status, 403);
  EXPECT_THAT(r2.raw, HasSubstr("report_data.binding"));
}

TEST_F(RcarTest, RejectsTamperedReport) {
  StartService(AnyMeasurement());
  GuestOptions g;
  g.tamper = [](Bytes& report) { report[0x90] ^= 0x01; };  // MEASUREMENT, inside the signed region
  RcarResult r = Attest(g);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.raw, HasSubstr("evidence rejected"));
  EXPECT_THAT(r.raw, HasSubstr("signature"));
}

TEST_F(RcarTest, RejectsMissingVcekWithoutCollateral) {
  StartService(AnyMeasurement());
  GuestOptions g;
  g.send_cert_chain = false;
  RcarResult r = Attest(g);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.raw, HasSubstr("VCEK"));
}

TEST_F(RcarTest, CertificatesFromOfflineCollateralCache) {
  std::unique_ptr<snp::CollateralCache> cache;
  std::unique_ptr<snp::CollateralProvider> provider;
  cache = std::make_unique<snp::CollateralCache>(dir_.Join("kds-cache"));
  snp::CollateralProviderOptions po;
  po.offline = true;
  provider = std::make_unique<snp::CollateralProvider>(*cache, nullptr, clock_, po);
  StartService(AnyMeasurement(), nullptr, [&](ServiceOptions& o) {
    o.collateral = provider.get();
    o.fetch_chain = true;  // the simulator's ASK/ARK are not AMD's pinned ones
  });
  // Cache miss offline: rejected, naming the cache file looked for.
  GuestOptions g;
  g.send_cert_chain = false;
  RcarResult miss = Attest(g);
  EXPECT_EQ(miss.status, 403);
  EXPECT_THAT(miss.raw, HasSubstr("collateral"));
  // Put the VCEK where a KDS download would land, then it verifies.
  const sim::SimConfig& cfg = fw_->config();
  ASSERT_OK_AND_ASSIGN(std::string file,
                       cache->VcekFile(snp::Product::kGenoa, cfg.chip_id,
                                       snp::DecodeTcb(cfg.reported_tcb, snp::Product::kGenoa)));
  ASSERT_OK_AND_ASSIGN(snp::CertificateSet certs, fw_->GetCertificates());
  ASSERT_OK(cache->Write(file, certs.vcek));
  ASSERT_EQ(Attest(g).status, 403);  // VCEK alone: AMD's pinned Genoa ASK did not sign it
  auto pem = [](const Bytes& der) {
    std::string b64 = Base64Encode(der), out = "-----BEGIN CERTIFICATE-----\n";
    for (size_t i = 0; i < b64.size(); i += 64) out += b64.substr(i, 64) + "\n";
    return out + "-----END CERTIFICATE-----\n";
  };
  ASSERT_OK_AND_ASSIGN(std::string chain_file, cache->ChainFile(snp::Product::kGenoa, snp::KdsSigner::kVcek));
  ASSERT_OK(cache->Write(chain_file, AsBytes(pem(certs.ask) + pem(certs.ark))));
  RcarResult hit = Attest(g);
  EXPECT_EQ(hit.status, 200) << hit.raw;
}

TEST_F(RcarTest, RejectsMalformedJsonOversizedWrongVersionUnknownTee) {
  StartService(AnyMeasurement());
  RcarResult bad = Send("POST", "/kbs/v0/auth", "{\"version\":");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.body["status"], 400);
  RcarResult ver = Send("POST", "/kbs/v0/auth", R"({"version":"0.3.0","tee":"snp","extra-params":""})");
  EXPECT_EQ(ver.status, 400);
  EXPECT_THAT(ver.raw, HasSubstr("0.4.0"));
  RcarResult tee = Send("POST", "/kbs/v0/auth", R"({"version":"0.4.0","tee":"sgx","extra-params":""})");
  EXPECT_EQ(tee.status, 400);
  EXPECT_THAT(tee.raw, HasSubstr("sgx"));
  auto [cookie, nonce] = Auth();
  RcarResult mal = Send("POST", "/kbs/v0/attest", "{\"runtime-data\":", {{"Cookie", "kbs-session-id=" + cookie}});
  EXPECT_EQ(mal.status, 400);
  // The server answers 413 from Content-Length and closes; under load the client may still be
  // writing the body and lose the answer to a reset, so retry: every answer must be 413.
  int big_status = 0;
  for (int attempt = 0; attempt < 5 && big_status == 0; ++attempt) {
    Result<http::ClientResponse> big =
        client_->Post("/kbs/v0/attest", std::string(300 * 1024, 'x'), "application/json");
    if (big.ok()) big_status = big->status;
  }
  EXPECT_EQ(big_status, 413);
  // Malformed evidence does not consume the session: a correct retry works.
  EXPECT_EQ(AttestWith(cookie, nonce).status, 200);
}

TEST_F(RcarTest, MetricsCountResultsByReason) {
  StartService(AnyMeasurement());
  ASSERT_EQ(Attest().status, 200);
  GuestOptions g;
  g.vmpl = 1;
  ASSERT_EQ(Attest(g).status, 403);
  RcarResult m = Send("GET", "/metrics", "");
  ASSERT_EQ(m.status, 200);
  EXPECT_THAT(m.raw, HasSubstr(R"(vhsm_attestd_appraisals_total{endpoint="attest",result="affirming",reason="ok"} 1)"));
  EXPECT_THAT(m.raw,
              HasSubstr(R"(vhsm_attestd_appraisals_total{endpoint="attest",result="contraindicated",reason="vmpl"} 1)"));
  EXPECT_THAT(m.raw, HasSubstr("vhsm_attestd_appraisal_seconds_bucket"));
  EXPECT_EQ(Send("GET", "/healthz", "").status, 200);
}

// ---------------------------------------------------------------------------------------------
// Every policy rule, both ways, through the full RCAR exchange.

struct RuleCase {
  std::string rule;
  std::function<void(AppraisalPolicy&, const sim::SimConfig&)> pass;
  std::function<void(AppraisalPolicy&, const sim::SimConfig&)> fail;
  std::function<void(sim::SimConfig&)> sim = nullptr;
  uint32_t vmpl = 0;
};

template <size_t N>
std::array<uint8_t, N> Flip(std::array<uint8_t, N> a) {
  a[0] ^= 0xff;
  return a;
}

std::vector<RuleCase> RuleCases() {
  auto tcb = [](const sim::SimConfig& c, uint64_t raw) { return snp::DecodeTcb(raw, c.product); };
  std::vector<RuleCase> v;
  v.push_back({"product", [](AppraisalPolicy& p, const sim::SimConfig&) { p.products = {snp::Product::kGenoa}; },
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.products = {snp::Product::kMilan}; }});
  v.push_back({"report_version", [](AppraisalPolicy& p, const sim::SimConfig&) { p.report_versions = {3}; },
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.report_versions = {5}; }});
  v.push_back({"measurement",
               [](AppraisalPolicy& p, const sim::SimConfig& c) {
                 p.accept_any_measurement = false;
                 p.reference_values = {{"good", c.measurement}};
               },
               [](AppraisalPolicy& p, const sim::SimConfig& c) {
                 p.accept_any_measurement = false;
                 p.reference_values = {{"other", Flip(c.measurement)}};
               }});
  for (std::string which : {"reported", "committed", "launch", "current"}) {
    v.push_back({"tcb." + which,
                 [=](AppraisalPolicy& p, const sim::SimConfig& c) {
                   p.tcb_checks = {which};
                   p.min_tcb.snp = tcb(c, c.reported_tcb).snp;
                 },
                 [=](AppraisalPolicy& p, const sim::SimConfig& c) {
                   p.tcb_checks = {which};
                   p.min_tcb.snp = static_cast<uint8_t>(tcb(c, c.reported_tcb).snp + 1);
                 }});
  }
  v.push_back({"vmpl", [](AppraisalPolicy& p, const sim::SimConfig&) { p.vmpls = {1}; },
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.vmpls = {0}; }, nullptr, 1});
  v.push_back({"policy.debug", [](AppraisalPolicy& p, const sim::SimConfig&) { p.allow_debug = true; },
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.allow_debug = false; },
               [](sim::SimConfig& c) { c.policy |= snp::policy_bits::kDebug; }});
  v.push_back({"policy.migrate_ma", [](AppraisalPolicy& p, const sim::SimConfig&) { p.migrate_ma = BitRule::kForbid; },
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.migrate_ma = BitRule::kRequire; }});
  v.push_back({"policy.smt", [](AppraisalPolicy& p, const sim::SimConfig&) { p.smt = BitRule::kRequire; },
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.smt = BitRule::kForbid; },
               [](sim::SimConfig& c) { c.policy |= snp::policy_bits::kSmt; }});
  v.push_back({"policy.single_socket",
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.single_socket = BitRule::kForbid; },
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.single_socket = BitRule::kRequire; }});
  v.push_back({"policy.abi",
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.min_abi = std::make_pair(uint8_t{0}, uint8_t{0}); },
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.min_abi = std::make_pair(uint8_t{1}, uint8_t{60}); }});
  v.push_back({"guest_svn", [](AppraisalPolicy& p, const sim::SimConfig&) { p.min_guest_svn = 2; },
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.min_guest_svn = 3; },
               [](sim::SimConfig& c) { c.guest_svn = 2; }});
  v.push_back({"family_id", [](AppraisalPolicy& p, const sim::SimConfig& c) { p.family_ids = {c.family_id}; },
               [](AppraisalPolicy& p, const sim::SimConfig& c) { p.family_ids = {Flip(c.family_id)}; }});
  v.push_back({"image_id", [](AppraisalPolicy& p, const sim::SimConfig& c) { p.image_ids = {c.image_id}; },
               [](AppraisalPolicy& p, const sim::SimConfig& c) { p.image_ids = {Flip(c.image_id)}; }});
  v.push_back({"id_key_digest",
               [](AppraisalPolicy& p, const sim::SimConfig& c) { p.id_key_digests = {c.id_key_digest}; },
               [](AppraisalPolicy& p, const sim::SimConfig& c) { p.id_key_digests = {Flip(c.id_key_digest)}; }});
  v.push_back({"author_key_digest",
               [](AppraisalPolicy& p, const sim::SimConfig& c) { p.author_key_digests = {c.author_key_digest}; },
               [](AppraisalPolicy& p, const sim::SimConfig& c) { p.author_key_digests = {Flip(c.author_key_digest)}; }});
  v.push_back({"host_data", [](AppraisalPolicy& p, const sim::SimConfig& c) { p.host_data = {c.host_data}; },
               [](AppraisalPolicy& p, const sim::SimConfig& c) { p.host_data = {Flip(c.host_data)}; },
               [](sim::SimConfig& c) { c.host_data.fill(0x42); }});
  v.push_back({"chip_id", [](AppraisalPolicy& p, const sim::SimConfig& c) { p.chip_ids = {c.chip_id}; },
               [](AppraisalPolicy& p, const sim::SimConfig& c) { p.chip_ids = {Flip(c.chip_id)}; }});
  v.push_back({"platform_info",
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.platform_info_required = snp::platform_bits::kSmtEn; },
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.platform_info_forbidden = snp::platform_bits::kSmtEn; },
               [](sim::SimConfig& c) { c.platform_info |= snp::platform_bits::kSmtEn; }});
  v.push_back({"mitigation_vector",
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.min_mitigation_vector = 0x1; },
               [](AppraisalPolicy& p, const sim::SimConfig&) { p.min_mitigation_vector = 0x3; },
               [](sim::SimConfig& c) {
                 c.report_version = 5;
                 c.current_mit_vector = 0x1;
               }});
  return v;
}

class PolicyRuleTest : public AttestdFixture, public ::testing::WithParamInterface<RuleCase> {};

TEST_P(PolicyRuleTest, PassesAndFailsThroughRcar) {
  const RuleCase& rc = GetParam();
  StartService(AnyMeasurement(), rc.sim);
  const sim::SimConfig cfg = fw_->config();
  GuestOptions g;
  g.vmpl = rc.vmpl;

  AppraisalPolicy pass = AnyMeasurement();
  pass.vmpls.clear();
  rc.pass(pass, cfg);
  ASSERT_OK(service_->SetPolicy(pass, "test"));
  RcarResult ok = Attest(g);
  ASSERT_EQ(ok.status, 200) << rc.rule << ": " << ok.raw;
  json cpu0 = Claims(ok.body["token"].get<std::string>())["submods"]["cpu0"];
  EXPECT_EQ(cpu0["ear.status"], "affirming");
  bool seen = false;
  for (const json& r : cpu0["vhsm.appraisal"]) {
    if (r["rule"] == rc.rule) {
      seen = true;
      EXPECT_TRUE(r["ok"].get<bool>()) << r.dump();
    }
  }
  EXPECT_TRUE(seen);

  AppraisalPolicy fail = AnyMeasurement();
  fail.vmpls.clear();
  rc.fail(fail, cfg);
  ASSERT_OK(service_->SetPolicy(fail, "test"));
  RcarResult denied = Attest(g);
  EXPECT_EQ(denied.status, 403) << rc.rule;
  EXPECT_EQ(denied.body["status"], 403);
  EXPECT_THAT(denied.body["detail"].get<std::string>(), HasSubstr(rc.rule + ":"));

  // The same failure under warn_only: a token with ear.status "warning".
  fail.warn_only.insert(rc.rule);
  ASSERT_OK(service_->SetPolicy(fail, "test"));
  RcarResult warned = Attest(g);
  ASSERT_EQ(warned.status, 200) << warned.raw;
  EXPECT_EQ(Claims(warned.body["token"].get<std::string>())["submods"]["cpu0"]["ear.status"], "warning");
}

INSTANTIATE_TEST_SUITE_P(AllRules, PolicyRuleTest, ::testing::ValuesIn(RuleCases()),
                         [](const ::testing::TestParamInfo<RuleCase>& i) {
                           std::string n = i.param.rule;
                           for (char& ch : n) if (ch == '.') ch = '_';
                           return n;
                         });

TEST_F(RcarTest, DevDefaultPolicyStillRejectsDebug) {
  StartService(DevDefaultPolicy(), [](sim::SimConfig& c) { c.policy |= snp::policy_bits::kDebug; });
  RcarResult r = Attest();
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.raw, HasSubstr("policy.debug"));
}

// ---------------------------------------------------------------------------------------------
// Admin API.

class AdminTest : public AttestdFixture {};

TEST_F(AdminTest, PutPolicyRequiresValidAdminToken) {
  StartService(AnyMeasurement());
  const std::string policy = R"({"id":"strict","measurements":[]})";
  EXPECT_EQ(Send("PUT", "/v1/policy", policy).status, 401);
  EXPECT_EQ(Send("PUT", "/v1/policy", policy, {{"Authorization", "Bearer garbage"}}).status, 401);
  // Too long-lived: more than one hour ahead.
  EXPECT_EQ(Send("PUT", "/v1/policy", policy, {{"Authorization", "Bearer " + AdminToken(7200)}}).status, 401);
  // Signed by another key.
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey other, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
  ASSERT_OK_AND_ASSIGN(std::string forged,
                       jose::SignJwt(other, jose::JwsAlg::kEs256, json{{"exp", clock_.NowUnix() + 60}}));
  EXPECT_EQ(Send("PUT", "/v1/policy", policy, {{"Authorization", "Bearer " + forged}}).status, 401);

  RcarResult ok = Send("PUT", "/v1/policy", policy, {{"Authorization", "Bearer " + AdminToken()}});
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(service_->policy().id, "strict");
  RcarResult denied = Attest();
  EXPECT_EQ(denied.status, 403);
  EXPECT_THAT(denied.raw, HasSubstr("measurement"));
  bool audited = false;
  for (const std::string& l : audit_.lines()) audited = audited || (l.find("policy.set") != std::string::npos &&
                                                                    l.find("test-admin") != std::string::npos);
  EXPECT_TRUE(audited);
  // Malformed policy: 400 naming the member; the policy stays.
  RcarResult bad = Send("PUT", "/v1/policy", R"({"id":"x","vmpl":[0]})", {{"Authorization", "Bearer " + AdminToken()}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.raw, HasSubstr("vmpl"));
  EXPECT_EQ(service_->policy().id, "strict");
}

TEST_F(AdminTest, ReferenceValuesAddAcceptsMeasureJsonAndDelete) {
  StartService(AnyMeasurement());
  const std::string auth = "Bearer " + AdminToken();
  ASSERT_EQ(Send("PUT", "/v1/policy", R"({"id":"rv"})", {{"Authorization", auth}}).status, 200);
  EXPECT_EQ(Attest().status, 403);
  json measure = {{"version", 1},
                  {"type", "snp-launch-measurement"},
                  {"measurement", HexEncode(fw_->config().measurement)},
                  {"inputs", {{"ovmf", {{"path", "/x/OVMF.fd"}, {"sha256", std::string(64, '0')}}}}}};
  RcarResult add = Send("POST", "/v1/reference-values", measure.dump(), {{"Authorization", auth}});
  ASSERT_EQ(add.status, 200) << add.raw;
  EXPECT_EQ(add.body["added"], 1);
  RcarResult ok = Attest();
  ASSERT_EQ(ok.status, 200) << ok.raw;
  EXPECT_EQ(Claims(ok.body["token"].get<std::string>())["submods"]["cpu0"]["vhsm.reference-value"], "OVMF.fd");
  RcarResult del = Send("DELETE", "/v1/reference-values", R"({"label":"OVMF.fd"})", {{"Authorization", auth}});
  ASSERT_EQ(del.status, 200) << del.raw;
  EXPECT_EQ(Attest().status, 403);
  EXPECT_EQ(Send("DELETE", "/v1/reference-values", R"({"label":"OVMF.fd"})", {{"Authorization", auth}}).status, 404);
}

TEST_F(AdminTest, KeyRotationKeepsOldKeyUntilItsTokensExpire) {
  StartService(AnyMeasurement());
  RcarResult first = Attest();
  ASSERT_EQ(first.status, 200);
  const std::string old_token = first.body["token"].get<std::string>();
  RcarResult rot = Send("POST", "/v1/signing-key", "", {{"Authorization", "Bearer " + AdminToken()}});
  ASSERT_EQ(rot.status, 200) << rot.raw;
  RcarResult jwks = Send("GET", "/.well-known/jwks.json", "");
  ASSERT_EQ(jwks.body["keys"].size(), 2u);
  ASSERT_OK_AND_ASSIGN(jose::JwkSet set, jose::JwkSet::Parse(jwks.body));
  jose::JwtValidationOptions vo;
  EXPECT_OK(jose::VerifyJwt(old_token, set, vo, clock_).status());
  RcarResult second = Attest();
  ASSERT_EQ(second.status, 200);
  ASSERT_OK_AND_ASSIGN(jose::VerifiedJwt v2, jose::VerifyJwt(second.body["token"].get<std::string>(), set, vo, clock_));
  EXPECT_EQ(v2.kid, rot.body["kid"]);
  clock_.Advance(300 + 60 + 1);
  RcarResult later = Send("GET", "/.well-known/jwks.json", "");
  ASSERT_EQ(later.body["keys"].size(), 1u);
  EXPECT_EQ(later.body["keys"][0]["kid"], rot.body["kid"]);
}

// ---------------------------------------------------------------------------------------------
// Independent verification of the EAR with python3-jwt against the served JWKS.

TEST_F(RcarTest, TokenVerifiesWithPythonJwt) {
  if (std::system("/usr/bin/python3 -c 'import jwt, cryptography' 2>/dev/null") != 0) {
    GTEST_SKIP() << "python3-jwt not installed";
  }
  StartService(AnyMeasurement());
  RcarResult r = Attest();
  ASSERT_EQ(r.status, 200);
  RcarResult jwks = Send("GET", "/.well-known/jwks.json", "");
  ASSERT_OK(WriteFileAtomic(dir_.Join("token"), AsBytes(r.body["token"].get<std::string>())));
  ASSERT_OK(WriteFileAtomic(dir_.Join("jwks.json"), AsBytes(jwks.raw)));
  const std::string script = vhsm::testdata::SourceDir() + "/tests/services/attestation/verify_ear.py";
  const std::string cmd = "/usr/bin/python3 " + script + " " + dir_.Join("token") + " " + dir_.Join("jwks.json") +
                          " vhsm-attestd-test > " + dir_.Join("py.out") + " 2>&1";
  int rc = std::system(cmd.c_str());
  Result<std::string> out = ReadFileText(dir_.Join("py.out"));
  EXPECT_EQ(rc, 0) << (out.ok() ? *out : "");
  EXPECT_THAT(out.ok() ? *out : "", HasSubstr("affirming"));
  // A token with one flipped signature character must fail the independent check.
  std::string bad = r.body["token"].get<std::string>();
  bad[bad.size() - 5] = bad[bad.size() - 5] == 'A' ? 'B' : 'A';
  ASSERT_OK(WriteFileAtomic(dir_.Join("token"), AsBytes(bad)));
  EXPECT_NE(std::system(cmd.c_str()), 0);
}

}  // namespace
}  // namespace vhsm::attestation::testing
