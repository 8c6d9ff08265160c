// vhsm-attestd with its EAR signing key in a PKCS#11 token (SoftHSM2): the in-process service on
// loopback HTTP issues tokens whose signature the token made, the JWKS publishes the token's
// public key, and the EAR verifies against that JWKS (our JOSE code and python3-jwt).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "attestd_fixture.h"
#include "base/file.h"
#include "jose/jwk.h"
#include "jose/jwt.h"
#include "p11/key.h"
#include "p11/softhsm_token.h"
#include "services/attestation/config.h"
#include "testing/status_matchers.h"

namespace vhsm::attestation::testing {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;

constexpr char kPin[] = "ear-pin-1";

class Pkcs11SigningTest : public AttestdFixture {
 protected:
  void SetUp() override {
    VHSM_REQUIRE_SOFTHSM();
    ASSERT_EQ(token_.Init(hsm_dir_.path(), "attestd", kPin), "");
  }
  std::string Uri(const std::string& object) {
    return "pkcs11:token=attestd;object=" + object + "?module-path=" + std::string(p11test::kSoftHsmModule) +
           "&pin-value=" + kPin;
  }
  testdata::TempDir hsm_dir_;
  p11test::SoftHsmToken token_;
};

AppraisalPolicy AnyMeasurement() {
  AppraisalPolicy p;
  p.id = "hsm";
  p.accept_any_measurement = true;
  return p;
}

TEST_F(Pkcs11SigningTest, EarSignedInTokenVerifiesAgainstServedJwks) {
  ASSERT_EQ(token_.MakeEcKey("ear", "01", "prime256v1"), "");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<p11::Key> key, p11::Key::Open(Uri("ear")));
  ASSERT_OK_AND_ASSIGN(Bytes spki, key->PublicKeySpki());
  ASSERT_OK_AND_ASSIGN(crypto::PublicKey hsm_pub, crypto::PublicKey::FromDer(spki));
  ASSERT_OK_AND_ASSIGN(signer_override_, MakePkcs11Signer(std::move(key)));
  StartService(AnyMeasurement());
  EXPECT_TRUE(service_->issuer().current_key_in_hsm());

  RcarResult r = Attest();
  ASSERT_EQ(r.status, 200) << r.raw;
  const std::string token = r.body["token"].get<std::string>();
  RcarResult jwks = Send("GET", "/.well-known/jwks.json", "");
  ASSERT_EQ(jwks.status, 200);
  ASSERT_EQ(jwks.body["keys"].size(), 1u);
  EXPECT_FALSE(jwks.body["keys"][0].contains("d"));
  ASSERT_OK_AND_ASSIGN(jose::JwkSet set, jose::JwkSet::Parse(jwks.body));
  EXPECT_TRUE(set.keys()[0].public_key().Equals(hsm_pub)) << "JWKS must publish the token's key";
  jose::JwtValidationOptions vo;
  vo.issuer = "vhsm-attestd-test";
  vo.jws.allowed_algs = {jose::JwsAlg::kEs256};
  ASSERT_OK_AND_ASSIGN(jose::VerifiedJwt v, jose::VerifyJwt(token, set, vo, clock_));
  EXPECT_EQ(v.claims["submods"]["cpu0"]["ear.status"], "affirming");
  // Verifies with the HSM public key alone; a flipped signature byte does not.
  EXPECT_OK(jose::VerifyJwt(token, hsm_pub, vo, clock_).status());
  std::string bad = token;
  bad[bad.size() - 3] = bad[bad.size() - 3] == 'A' ? 'B' : 'A';
  EXPECT_THAT(jose::VerifyJwt(bad, hsm_pub, vo, clock_), StatusIs(StatusCode::kUnauthenticated, ::testing::_));

  // Independent check with python3-jwt, when installed.
  if (std::system("/usr/bin/python3 -c 'import jwt, cryptography' 2>/dev/null") == 0) {
    ASSERT_OK(WriteFileAtomic(dir_.Join("token"), AsBytes(token)));
    ASSERT_OK(WriteFileAtomic(dir_.Join("jwks.json"), AsBytes(jwks.raw)));
    const std::string cmd = "/usr/bin/python3 " + vhsm::testdata::SourceDir() +
                            "/tests/services/attestation/verify_ear.py " + dir_.Join("token") + " " +
                            dir_.Join("jwks.json") + " vhsm-attestd-test >/dev/null 2>&1";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
  }

  // The admin "generate a fresh key" rotation would move signing out of the HSM: refused.
  RcarResult rot = Send("POST", "/v1/signing-key", "", {{"Authorization", "Bearer " + AdminToken()}});
  EXPECT_NE(rot.status, 200);
  EXPECT_THAT(rot.raw, HasSubstr("PKCS#11"));
  EXPECT_TRUE(service_->issuer().current_key_in_hsm());
}

TEST_F(Pkcs11SigningTest, Es384IssuerWithP384TokenKey) {
  ASSERT_EQ(token_.MakeEcKey("ear384", "02", "secp384r1"), "");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<p11::Key> key, p11::Key::Open(Uri("ear384")));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TokenSigner> signer, MakePkcs11Signer(std::move(key)));
  EarIssuerOptions eo;
  eo.alg = jose::JwsAlg::kEs384;
  eo.clock = &clock_;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EarIssuer> issuer, EarIssuer::Create(eo, std::move(signer)));
  ASSERT_OK_AND_ASSIGN(IssuedToken t, issuer->Issue({{"cpu0", {{"ear.status", "affirming"}}}}, "n"));
  ASSERT_OK_AND_ASSIGN(jose::JwkSet set, jose::JwkSet::Parse(issuer->Jwks()));
  jose::JwtValidationOptions vo;
  vo.jws.allowed_algs = {jose::JwsAlg::kEs384};
  ASSERT_OK_AND_ASSIGN(jose::VerifiedJwt v, jose::VerifyJwt(t.token, set, vo, clock_));
  EXPECT_EQ(v.alg, jose::JwsAlg::kEs384);
  // A P-384 token key cannot serve ES256.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<p11::Key> again, p11::Key::Open(Uri("ear384")));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<TokenSigner> s2, MakePkcs11Signer(std::move(again)));
  eo.alg = jose::JwsAlg::kEs256;
  EXPECT_THAT(EarIssuer::Create(eo, std::move(s2)), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
}

TEST_F(Pkcs11SigningTest, SecretKeyOnlyUriIsNotASigningKey) {
  ASSERT_EQ(token_.MakeAesKey("kek", "03"), "");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<p11::Key> key, p11::Key::Open(Uri("kek")));
  EXPECT_THAT(MakePkcs11Signer(std::move(key)), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("private key")));
}

TEST(AttestdConfigTest, Pkcs11AndNewKeys) {
  ASSERT_OK_AND_ASSIGN(ServiceConfig c, ParseServiceConfig("signing_key = \"pkcs11:token=t;object=o\"\n"
                                                           "pkcs11_module = \"/usr/lib/x.so\"\n"
                                                           "pkcs11_pin_file = \"/run/pin\"\npolicy_sync_ms = 250\n"
                                                           "init_data = \"require\"\n"));
  EXPECT_EQ(c.pkcs11_module, "/usr/lib/x.so");
  EXPECT_EQ(c.policy_sync_ms, 250);
  EXPECT_EQ(c.init_data, "require");
  EXPECT_THAT(ParseServiceConfig("init_data = \"sometimes\"\n"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("init_data")));
}

}  // namespace
}  // namespace vhsm::attestation::testing
