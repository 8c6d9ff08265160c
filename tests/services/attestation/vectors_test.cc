// POST /v1/verify over real HTTP on the real SEV-SNP vectors in ../shared/snp-vectors (skipped
// when absent): genuine AMD chains are affirmed, the debug guest is denied by policy, tampered
// and expired evidence is rejected with the failing check named.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attest/verifier.h"
#include "base/bytes.h"
#include "crypto/keys.h"
#include "http/client.h"
#include "http/server.h"
#include "services/attestation/service.h"
#include "store/database.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::attestation {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

class VerifyVectorsTest : public ::testing::Test {
 protected:
  void Start(const std::string& at) {
    ASSERT_OK_AND_ASSIGN(int64_t t, ParseRfc3339(at));
    clock_.Set(t);
    attest::VerifierOptions vo;
    vo.clock = &clock_;
    ASSERT_OK_AND_ASSIGN(verifier_, attest::Verifier::Create(vo));
    ASSERT_OK_AND_ASSIGN(db_, store::Open("sqlite:" + dir_.Join("db")));
    ASSERT_OK_AND_ASSIGN(crypto::PrivateKey k, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
    EarIssuerOptions eo;
    eo.clock = &clock_;
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<EarIssuer> issuer, EarIssuer::Create(eo, std::move(k)));
    ServiceOptions so;
    so.clock = &clock_;
    AppraisalPolicy p = DevDefaultPolicy();
    ASSERT_OK_AND_ASSIGN(service_, AttestationService::Create(std::move(so), *verifier_, *db_, p, std::move(issuer)));
    http::ServerOptions ho;
    ho.dev = true;
    ho.announce = false;
    ASSERT_OK_AND_ASSIGN(server_, http::Server::Create(ho));
    service_->Register(*server_);
    ASSERT_OK(server_->Start());
    http::ClientOptions co;
    co.base_url = server_->url();
    ASSERT_OK_AND_ASSIGN(client_, http::Client::Create(co));
  }
  void TearDown() override {
    client_.reset();  // close the keep-alive connection so Stop() need not wait for it
    if (server_) server_->Stop();
  }
  json Verify(const std::string& report, const std::string& leaf, const std::string& leaf_type,
              const std::string& product = "", int want_status = 200) {
    json body = {{"attestation_report", Base64Encode(testdata::ReadVector(report))}};
    if (!leaf.empty()) {
      body["cert_chain"] = json::array({{{"cert_type", leaf_type}, {"data", Base64Encode(testdata::ReadVector(leaf))}}});
    }
    if (!product.empty()) body["product"] = product;
    Result<http::ClientResponse> r = client_->Post("/v1/verify", body.dump(), "application/json");
    EXPECT_OK(r.status());
    if (!r.ok()) return {};
    EXPECT_EQ(r->status, want_status) << r->body;
    return json::parse(r->body, nullptr, false);
  }

  testdata::TempDir dir_;
  FixedClock clock_{0};
  std::unique_ptr<attest::Verifier> verifier_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<AttestationService> service_;
  std::unique_ptr<http::Server> server_;
  std::unique_ptr<http::Client> client_;
};

TEST_F(VerifyVectorsTest, GenuineVcekReportsAreAffirmed) {
  VHSM_REQUIRE_SNP_VECTORS();
  Start("2026-11-27T00:00:00Z");
  struct V {
    const char *dir, *leaf, *product;
  };
  for (V v : {V{"milan-v2-vcek-virtee", "vcek.der", "Milan"}, V{"genoa-v3-vcek-azure-trustee", "vcek.pem", ""},
              V{"genoa-v5-vcek-oak", "vcek.der", ""}}) {
    const std::string d = std::string("vectors/") + v.dir + "/";
    json r = Verify(d + "report.bin", d + v.leaf, "VCEK", v.product);
    EXPECT_EQ(r["result"], "affirming") << v.dir << ": " << r.dump();
    EXPECT_EQ(r["verified"], true);
    EXPECT_GT(r["checks"].size(), 3u);
    EXPECT_EQ(r["rules"].size(), RuleNames().size());
  }
}

TEST_F(VerifyVectorsTest, DebugGuestIsDeniedByPolicy) {
  VHSM_REQUIRE_SNP_VECTORS();
  Start("2026-11-27T00:00:00Z");
  const std::string d = "vectors/milan-v2-vcek-debugpolicy-gosevguest/";
  json r = Verify(d + "report.bin", d + "vcek.der", "VCEK", "Milan");
  EXPECT_EQ(r["verified"], true);
  EXPECT_EQ(r["result"], "contraindicated");
  EXPECT_THAT(r["reason"].get<std::string>(), HasSubstr("policy.debug"));
}

TEST_F(VerifyVectorsTest, TamperedReportFailsSignature) {
  VHSM_REQUIRE_SNP_VECTORS();
  Start("2026-11-27T00:00:00Z");
  json r = Verify("vectors/neg-milan-v2-vcek-tampered-reportdata/report.bin", "vectors/milan-v2-vcek-virtee/vcek.der",
                  "VCEK", "Milan");
  EXPECT_EQ(r["verified"], false);
  EXPECT_EQ(r["result"], "contraindicated");
  EXPECT_THAT(r["reason"].get<std::string>(), HasSubstr("signature"));
}

TEST_F(VerifyVectorsTest, VlekReportValidInsideWindowExpiredNow) {
  VHSM_REQUIRE_SNP_VECTORS();
  Start("2025-06-01T00:00:00Z");
  const std::string d = "vectors/milan-v3-vlek-vmpl1-trustee/";
  json ok = Verify(d + "report.bin", d + "vlek.der", "VLEK");
  EXPECT_EQ(ok["result"], "affirming") << ok.dump();
  clock_.Set(*ParseRfc3339("2026-11-27T00:00:00Z"));
  json expired = Verify(d + "report.bin", d + "vlek.der", "VLEK");
  EXPECT_EQ(expired["verified"], false);
  EXPECT_THAT(expired["reason"].get<std::string>(), HasSubstr("expired"));
}

TEST_F(VerifyVectorsTest, ExpectedReportDataMismatchIsReported) {
  VHSM_REQUIRE_SNP_VECTORS();
  Start("2026-11-27T00:00:00Z");
  const std::string d = "vectors/genoa-v5-vcek-oak/";
  json body = {{"attestation_report", Base64Encode(testdata::ReadVector(d + "report.bin"))},
               {"cert_chain", json::array({{{"cert_type", "VCEK"},
                                            {"data", Base64Encode(testdata::ReadVector(d + "vcek.der"))}}})},
               {"report_data", std::string(128, 'f')}};
  Result<http::ClientResponse> r = client_->Post("/v1/verify", body.dump(), "application/json");
  ASSERT_OK(r.status());
  json j = json::parse(r->body);
  EXPECT_EQ(j["result"], "contraindicated");
  EXPECT_THAT(j["reason"].get<std::string>(), HasSubstr("report_data.binding"));
}

TEST_F(VerifyVectorsTest, MalformedVerifyRequestIs400) {
  Start("2026-11-27T00:00:00Z");
  Result<http::ClientResponse> r = client_->Post("/v1/verify", R"({"attestation_report":"AAAA"})", "application/json");
  ASSERT_OK(r.status());
  EXPECT_EQ(r->status, 400);
  EXPECT_THAT(r->body, HasSubstr("1184"));
}

}  // namespace
}  // namespace vhsm::attestation
