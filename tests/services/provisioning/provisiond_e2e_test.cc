// provisiond_e2e_test.cc: the real chain on loopback: a simulated SEV-SNP guest runs RCAR
// against the in-process vhsm-attestd (tests/services/attestation fixture) and gets an EAR; a
// vhsm-provisiond instance that knows the attestation service only by its JWKS URL releases a
// secret for that token; the test decrypts the JWE with the guest's TEE private key. Also: a
// policy that the real claims fail is denied with the rule named.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attestd_fixture.h"
#include "jose/jwe.h"
#include "provisiond_fixture.h"
#include "services/attestation/policy.h"
#include "testing/status_matchers.h"

namespace vhsm::provisioning::testing {
namespace {

using ::testing::HasSubstr;

// The issuer name the attestation test fixture configures.
constexpr const char* kFixtureIssuer = "vhsm-attestd-test";

class EndToEndTest : public attestation::testing::AttestdFixture {};

TEST_F(EndToEndTest, AttestdTokenReleasesSecretDecryptableByTheGuestKey) {
  StartService(attestation::DevDefaultPolicy());
  attestation::testing::RcarResult rcar = Attest();
  ASSERT_EQ(rcar.status, 200) << rcar.raw;
  const std::string token = rcar.body.value("token", "");
  ASSERT_FALSE(token.empty());
  // The token verifies against attestd's JWKS URL and carries the guest's TEE key where the
  // Provisioning Service looks for it.
  {
    JwksSourceOptions jo;
    jo.location = server_->url() + "/.well-known/jwks.json";
    ASSERT_OK_AND_ASSIGN(auto src, JwksSource::Create(jo, clock_));
    TokenVerifierOptions vo;
    vo.issuer = kFixtureIssuer;
    TokenVerifier v(vo, *src, clock_);
    ASSERT_OK_AND_ASSIGN(std::shared_ptr<const AttestedToken> verified, v.Verify(token));
    const AttestedToken& t = *verified;
    EXPECT_EQ(t.ear_status, "affirming");
    EXPECT_TRUE(t.tee_key->Equals(tee_key_->Public()));
    EXPECT_EQ(t.measurement.size(), 96u);
  }
  // cpp-httplib (Debian's compiled build) rejects request header lines over
  // CPPHTTPLIB_HEADER_MAX_LENGTH (8192 bytes) with a bare 400 before any handler runs, so
  // "Authorization: Bearer <token>" must fit in it.
  ASSERT_LT(token.size() + 22, 8192u) << "vhsm-attestd's EAR no longer fits an HTTP header line";

  FakeIssuer unused_issuer;  // only satisfies the Instance constructor; its JWKS is not used
  auto admin = crypto::PrivateKey::GenerateEd25519();
  ASSERT_TRUE(admin.ok());
  InstanceOptions o;
  o.jwks_url = server_->url() + "/.well-known/jwks.json";
  o.issuer = kFixtureIssuer;
  Instance prov(unused_issuer, clock_, admin->Public(), TestKek(), o);
  ASSERT_TRUE(prov.ok());
  auto c = ClientFor(prov.url());
  const std::string admin_token = testing::AdminToken(*admin, clock_);
  EXPECT_EQ(testing::Send(*c, "PUT", "/kbs/v0/resource/vhsm/key/master", admin_token, "end-to-end secret").status, 201);
  const std::string ev = "/submods/cpu0/ear.veraison.annotated-evidence";
  EXPECT_EQ(testing::Send(*c, "PUT", "/kbs/v0/resource-policy/vhsm", admin_token,
                 R"({"allOf":[{"claim":"/submods/cpu0/ear.status","equals":"affirming"},)"
                 R"({"claim":")" + ev + R"(/vmpl","equals":0},{"claim":")" + ev + R"(/policy/debug","equals":false},)"
                 R"({"claim":")" + ev + R"(/measurement","matches":"*"}]})")
                .status,
            200);
  http::ClientResponse r = testing::Send(*c, "GET", "/kbs/v0/resource/vhsm/key/master", token);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_OK_AND_ASSIGN(jose::JweDecrypted d, jose::DecryptFlattened(r.body, *tee_key_));
  EXPECT_EQ(AsStringView(d.plaintext.Expose()), "end-to-end secret");

  // A policy the real claims fail (a measurement prefix that cannot match 96 hex digits).
  EXPECT_EQ(testing::Send(*c, "PUT", "/kbs/v0/resource-policy/vhsm/key/master", admin_token,
                 R"({"claim":")" + ev + R"(/measurement","matches":"zz*"})")
                .status,
            200);
  r = testing::Send(*c, "GET", "/kbs/v0/resource/vhsm/key/master", token);
  EXPECT_EQ(r.status, 403);
  EXPECT_THAT(r.body, HasSubstr("policy:vhsm/key/master#$"));
}

}  // namespace
}  // namespace vhsm::provisioning::testing
