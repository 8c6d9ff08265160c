// token_cache_test.cc: TokenVerifier's cache of verified tokens. A repeated token is not verified
// again, but every use still meets the clock (exp, nbf), the issuer and the current JWKS: a token
// that expired while cached, or whose signing key was withdrawn from the JWKS, is refused; a
// token differing in one byte is a miss (and refused); the cache stays within its bound; 0 turns
// it off.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "provisiond_fixture.h"
#include "testing/status_matchers.h"

namespace vhsm::provisioning::testing {
namespace {

using ::testing::HasSubstr;

class TokenCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    issuer_ = std::make_unique<FakeIssuer>();
    JwksSourceOptions jo;
    jo.location = issuer_->jwks_url();
    jo.min_refresh_interval_ms = 0;
    ASSERT_OK_AND_ASSIGN(jwks_, JwksSource::Create(jo, clock_));
    tee_ = *crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256);
  }
  TokenVerifier Verifier(size_t entries, const std::string& issuer = "vhsm-attestd") {
    TokenVerifierOptions o;
    o.issuer = issuer;
    o.cache_entries = entries;
    o.clock_skew_seconds = 0;
    return TokenVerifier(o, *jwks_, clock_);
  }
  std::string Token(int64_t ttl = 300) {
    nlohmann::json c = issuer_->Claims(tee_->Public());
    c["exp"] = clock_.NowUnix() + ttl;
    return issuer_->Sign(c);
  }
  FixedClock clock_{kNow};
  std::unique_ptr<FakeIssuer> issuer_;
  std::unique_ptr<JwksSource> jwks_;
  std::optional<crypto::PrivateKey> tee_;
};

TEST_F(TokenCacheTest, RepeatedTokenIsVerifiedOnce) {
  TokenVerifier v = Verifier(16);
  const std::string t = Token();
  ASSERT_OK_AND_ASSIGN(auto first, v.Verify(t));
  EXPECT_EQ(v.cache_hits(), 0);
  ASSERT_OK_AND_ASSIGN(auto second, v.Verify(t));
  EXPECT_EQ(v.cache_hits(), 1);
  EXPECT_EQ(first.get(), second.get()) << "the cached verification is reused";
  EXPECT_EQ(second->ear_status, "affirming");
  EXPECT_TRUE(second->tee_key->Equals(tee_->Public()));
}

TEST_F(TokenCacheTest, ExpiryIsCheckedOnEveryUse) {
  TokenVerifier v = Verifier(16);
  const std::string t = Token(/*ttl=*/10);
  ASSERT_OK(v.Verify(t).status());
  clock_.Advance(11);
  EXPECT_THAT(v.Verify(t), StatusIs(StatusCode::kUnauthenticated, HasSubstr("exp")));
  EXPECT_EQ(v.cache_size(), 0u) << "an expired entry is dropped";
}

TEST_F(TokenCacheTest, NotYetValidIsNotCachedAsValid) {
  TokenVerifier v = Verifier(16);
  nlohmann::json c = issuer_->Claims(tee_->Public());
  c["nbf"] = kNow + 100;
  const std::string t = issuer_->Sign(c);
  EXPECT_THAT(v.Verify(t), StatusIs(StatusCode::kUnauthenticated, HasSubstr("nbf")));
  EXPECT_THAT(v.Verify(t), StatusIs(StatusCode::kUnauthenticated, HasSubstr("nbf")));
  EXPECT_EQ(v.cache_size(), 0u);
}

TEST_F(TokenCacheTest, WithdrawnSigningKeyInvalidatesCachedTokens) {
  TokenVerifier v = Verifier(16);
  const std::string t = Token();
  ASSERT_OK(v.Verify(t).status());
  ASSERT_OK(v.Verify(t).status());
  // The issuer rotates and its JWKS no longer lists the old key. A token of the new key (unknown
  // kid) makes the source refresh; from then on the old token is verified afresh, and fails.
  issuer_->Rotate();
  const std::string fresh = Token();
  ASSERT_OK(v.Verify(fresh).status());
  EXPECT_THAT(v.Verify(t), StatusIs(StatusCode::kUnauthenticated, HasSubstr("unknown")));
}

TEST_F(TokenCacheTest, OneChangedByteIsAMissAndRefused) {
  TokenVerifier v = Verifier(16);
  const std::string t = Token();
  ASSERT_OK(v.Verify(t).status());
  std::string tampered = t;
  tampered[tampered.rfind('.') + 3] ^= 1;  // in the signature
  EXPECT_THAT(v.Verify(tampered), StatusIs(StatusCode::kUnauthenticated, ::testing::_));
  EXPECT_EQ(v.cache_hits(), 0);
}

TEST_F(TokenCacheTest, BoundedAndOffWhenZero) {
  TokenVerifier v = Verifier(3);
  std::vector<std::string> tokens;
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(1);  // distinct iat/exp, so distinct tokens
    tokens.push_back(Token());
    ASSERT_OK(v.Verify(tokens.back()).status());
  }
  EXPECT_EQ(v.cache_size(), 3u);
  ASSERT_OK(v.Verify(tokens[4]).status());
  EXPECT_EQ(v.cache_hits(), 1);
  ASSERT_OK(v.Verify(tokens[0]).status());  // evicted: verified again, still valid
  EXPECT_EQ(v.cache_hits(), 1);

  TokenVerifier off = Verifier(0);
  ASSERT_OK(off.Verify(tokens[4]).status());
  ASSERT_OK(off.Verify(tokens[4]).status());
  EXPECT_EQ(off.cache_hits(), 0);
  EXPECT_EQ(off.cache_size(), 0u);
}

}  // namespace
}  // namespace vhsm::provisioning::testing
