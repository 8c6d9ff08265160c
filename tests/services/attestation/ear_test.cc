// Tests for EAR issuance and JWKS rotation (services/attestation/ear.h).
#include "services/attestation/ear.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "jose/jwt.h"
#include "testing/status_matchers.h"

namespace vhsm::attestation {
namespace {

using ::testing::HasSubstr;

TEST(EarIssuerTest, Es384TokenCarriesEarClaimsAndVerifiesWithJwks) {
  FixedClock clock(1800000000);
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey key, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP384));
  EarIssuerOptions o;
  o.alg = jose::JwsAlg::kEs384;
  o.clock = &clock;
  o.issuer = "iss-x";
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EarIssuer> issuer, EarIssuer::Create(o, std::move(key)));
  ASSERT_OK_AND_ASSIGN(IssuedToken t, issuer->Issue({{"cpu0", {{"ear.status", "affirming"}}}}, "n1"));
  ASSERT_OK_AND_ASSIGN(jose::JwkSet set, jose::JwkSet::Parse(issuer->Jwks()));
  jose::JwtValidationOptions vo;
  vo.issuer = "iss-x";
  vo.require_jti = true;
  vo.require_iat = true;
  ASSERT_OK_AND_ASSIGN(jose::VerifiedJwt v, jose::VerifyJwt(t.token, set, vo, clock));
  EXPECT_EQ(v.alg, jose::JwsAlg::kEs384);
  EXPECT_EQ(v.kid, issuer->current_kid());
  EXPECT_EQ(v.claims["eat_profile"], "tag:github.com,2023:veraison/ear");
  EXPECT_EQ(v.claims["eat_nonce"], "n1");
  EXPECT_EQ(v.claims["exp"], 1800000000 + 300);
  EXPECT_EQ(v.claims["jti"], t.jti);
  clock.Advance(301 + 60);
  EXPECT_THAT(jose::VerifyJwt(t.token, set, vo, clock), StatusIs(StatusCode::kUnauthenticated, ::testing::_));
}

TEST(EarIssuerTest, RejectsKeyThatDoesNotFitTheAlgorithm) {
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey key, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP384));
  EXPECT_THAT(EarIssuer::Create({}, std::move(key)), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey ed, crypto::PrivateKey::GenerateEd25519());
  EarIssuerOptions o;
  o.alg = jose::JwsAlg::kEdDsa;
  EXPECT_THAT(EarIssuer::Create(o, std::move(ed)), StatusIs(StatusCode::kInvalidArgument, HasSubstr("ES256")));
}

TEST(EarIssuerTest, RotationKeepsOldKeyUntilExpiryThenForgetsIt) {
  FixedClock clock(1800000000);
  EarIssuerOptions o;
  o.clock = &clock;
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey k1, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EarIssuer> issuer, EarIssuer::Create(o, std::move(k1)));
  const std::string kid1 = issuer->current_kid();
  for (int i = 0; i < 5; ++i) {
    ASSERT_OK_AND_ASSIGN(crypto::PrivateKey k, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
    ASSERT_OK(issuer->Rotate(std::move(k)));
    clock.Advance(400);  // past TTL + skew: the previous key drops out
  }
  EXPECT_EQ(issuer->Jwks()["keys"].size(), 1u);
  EXPECT_NE(issuer->current_kid(), kid1);
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey k, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
  ASSERT_OK(issuer->Rotate(std::move(k)));
  EXPECT_EQ(issuer->Jwks()["keys"].size(), 2u);
}

}  // namespace
}  // namespace vhsm::attestation
