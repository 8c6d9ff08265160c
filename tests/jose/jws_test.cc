#include "jose/jws.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "jose/jwt.h"
#include "rfc_vectors.h"
#include "testing/status_matchers.h"

namespace vhsm::jose {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
namespace tv = testvectors;

Jwk ParseJwk(const char* text) { return Jwk::ParseText(text).value(); }

TEST(JwsTest, VerifiesRfc7515AppendixA3) {
  Jwk jwk = ParseJwk(tv::kRfc7515A3Jwk);
  ASSERT_OK_AND_ASSIGN(VerifiedJws v, VerifyCompact(tv::kRfc7515A3Token, jwk.public_key()));
  EXPECT_EQ(v.alg, JwsAlg::kEs256);
  EXPECT_THAT(std::string(AsStringView(v.payload)), HasSubstr("\"iss\":\"joe\""));
}

TEST(JwsTest, VerifiesRfc7520Section43Es512) {
  Jwk jwk = ParseJwk(tv::kRfc7520EcSigJwk);
  ASSERT_OK_AND_ASSIGN(VerifiedJws v, VerifyCompact(tv::kRfc7520Es512Compact, jwk.public_key()));
  EXPECT_EQ(v.alg, JwsAlg::kEs512);
  EXPECT_EQ(v.kid, "bilbo.baggins@hobbiton.example");
  EXPECT_EQ(AsStringView(v.payload), tv::kRfc7520Payload);
}

// RS256 is deterministic, so signing must reproduce RFC 7520 section 4.1 byte for byte.
TEST(JwsTest, SignsRfc7520Section41Rs256Exactly) {
  Jwk jwk = ParseJwk(tv::kRfc7520RsaSigJwk);
  ASSERT_OK_AND_ASSIGN(const crypto::PrivateKey* key, jwk.private_key());
  ASSERT_OK_AND_ASSIGN(std::string token, SignCompact(*key, JwsAlg::kRs256, AsBytes(tv::kRfc7520Payload),
                                                      {.kid = "bilbo.baggins@hobbiton.example", .typ = "", .extra_header = {}}));
  EXPECT_EQ(token, tv::kRfc7520Rs256Compact);
  EXPECT_OK(VerifyCompact(tv::kRfc7520Rs256Compact, jwk.public_key()).status());
}

struct AlgCase {
  JwsAlg alg;
  crypto::KeyType type;
  crypto::EcCurve curve;
};

TEST(JwsTest, RoundTripEveryAlgorithmAndRejectsTampering) {
  const AlgCase cases[] = {
      {JwsAlg::kEs256, crypto::KeyType::kEc, crypto::EcCurve::kP256},
      {JwsAlg::kEs384, crypto::KeyType::kEc, crypto::EcCurve::kP384},
      {JwsAlg::kEs512, crypto::KeyType::kEc, crypto::EcCurve::kP521},
      {JwsAlg::kEdDsa, crypto::KeyType::kEd25519, crypto::EcCurve::kP256},
      {JwsAlg::kRs256, crypto::KeyType::kRsa, crypto::EcCurve::kP256},
      {JwsAlg::kPs256, crypto::KeyType::kRsa, crypto::EcCurve::kP256},
  };
  crypto::PrivateKey rsa = crypto::PrivateKey::GenerateRsa(2048).value();
  for (const AlgCase& c : cases) {
    crypto::PrivateKey key = c.type == crypto::KeyType::kEc ? crypto::PrivateKey::GenerateEc(c.curve).value()
                             : c.type == crypto::KeyType::kRsa ? rsa.Clone()
                                                                : crypto::PrivateKey::GenerateEd25519().value();
    ASSERT_OK_AND_ASSIGN(std::string token, SignCompact(key, c.alg, AsBytes("payload"), {.kid = "k", .typ = "JWT", .extra_header = {}}));
    ASSERT_OK_AND_ASSIGN(VerifiedJws v, VerifyCompact(token, key.Public()));
    EXPECT_EQ(v.alg, c.alg);
    EXPECT_EQ(v.kid, "k");
    EXPECT_EQ(v.header["typ"], "JWT");
    // Flip one bit in each part's middle character (keeping base64url valid).
    const size_t dot1 = token.find('.');
    const size_t dot2 = token.find('.', dot1 + 1);
    for (size_t pos : {dot1 / 2, (dot1 + dot2) / 2, (dot2 + token.size()) / 2}) {
      std::string bad = token;
      bad[pos] = bad[pos] == 'A' ? 'B' : 'A';
      EXPECT_FALSE(VerifyCompact(bad, key.Public()).ok()) << JwsAlgName(c.alg) << " pos " << pos;
    }
    // Another key of the same kind does not verify.
    crypto::PrivateKey other = c.type == crypto::KeyType::kEc ? crypto::PrivateKey::GenerateEc(c.curve).value()
                               : c.type == crypto::KeyType::kRsa ? crypto::PrivateKey::GenerateRsa(2048).value()
                                                                  : crypto::PrivateKey::GenerateEd25519().value();
    EXPECT_THAT(VerifyCompact(token, other.Public()), StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")));
  }
}

std::string MakeToken(const json& header, std::string_view payload, std::string_view sig = "c2ln") {
  return Base64UrlEncode(AsBytes(header.dump())) + "." + Base64UrlEncode(AsBytes(payload)) + "." + std::string(sig);
}

TEST(JwsTest, RejectsAlgNoneUnknownAndMismatchedKeys) {
  Jwk jwk = ParseJwk(tv::kRfc7515A3Jwk);
  EXPECT_THAT(VerifyCompact(MakeToken({{"alg", "none"}}, "{}", ""), jwk.public_key()),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("none")));
  EXPECT_THAT(VerifyCompact(MakeToken({{"alg", "none"}}, "{}"), jwk.public_key()),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("none")));
  EXPECT_THAT(VerifyCompact(MakeToken({{"alg", "HS256"}}, "{}"), jwk.public_key()),
              StatusIs(StatusCode::kUnimplemented, HasSubstr("HS256")));
  EXPECT_THAT(VerifyCompact(MakeToken({{"typ", "JWT"}}, "{}"), jwk.public_key()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("alg: missing")));
  // ES384 header with a P-256 key, and RS256 with an EC key: rejected before any verification.
  EXPECT_THAT(VerifyCompact(MakeToken({{"alg", "ES384"}}, "{}"), jwk.public_key()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("does not fit key EC P-256")));
  EXPECT_THAT(VerifyCompact(MakeToken({{"alg", "RS256"}}, "{}"), jwk.public_key()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("does not fit")));
  ASSERT_OK_AND_ASSIGN(const crypto::PrivateKey* priv, jwk.private_key());
  EXPECT_THAT(SignCompact(*priv, JwsAlg::kEs512, AsBytes("x")), StatusIs(StatusCode::kInvalidArgument, HasSubstr("ES512")));
  // Allowed-alg list.
  JwsVerifyOptions only_eddsa;
  only_eddsa.allowed_algs = {JwsAlg::kEdDsa};
  EXPECT_THAT(VerifyCompact(tv::kRfc7515A3Token, jwk.public_key(), only_eddsa),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("not allowed")));
}

TEST(JwsTest, CritB64AndMalformedInput) {
  Jwk jwk = ParseJwk(tv::kRfc7515A3Jwk);
  ASSERT_OK_AND_ASSIGN(const crypto::PrivateKey* priv, jwk.private_key());
  JwsSignOptions crit_opts;
  crit_opts.extra_header = {{"crit", {"exp"}}, {"exp", 5}};
  ASSERT_OK_AND_ASSIGN(std::string crit_token, SignCompact(*priv, JwsAlg::kEs256, AsBytes("x"), crit_opts));
  EXPECT_THAT(VerifyCompact(crit_token, jwk.public_key()), StatusIs(StatusCode::kInvalidArgument, HasSubstr("not understood")));
  JwsVerifyOptions understands;
  understands.understood_crit = {"exp"};
  EXPECT_OK(VerifyCompact(crit_token, jwk.public_key(), understands).status());
  EXPECT_THAT(VerifyCompact(MakeToken({{"alg", "ES256"}, {"crit", json::array()}}, "x"), jwk.public_key()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("non-empty")));
  EXPECT_THAT(VerifyCompact(MakeToken({{"alg", "ES256"}, {"b64", false}, {"crit", {"b64"}}}, "x"), jwk.public_key(), {.allowed_algs = {}, .understood_crit = {"b64"}}),
              StatusIs(StatusCode::kUnimplemented, HasSubstr("b64")));
  EXPECT_THAT(VerifyCompact("abc", jwk.public_key()), StatusIs(StatusCode::kInvalidArgument, HasSubstr("three")));
  EXPECT_THAT(VerifyCompact("a.b.c.d", jwk.public_key()), StatusIs(StatusCode::kInvalidArgument, HasSubstr("more than three")));
  EXPECT_THAT(VerifyCompact("!!.b.c", jwk.public_key()), StatusIs(StatusCode::kInvalidArgument, HasSubstr("base64url")));
  EXPECT_THAT(VerifyCompact(std::string(70000, 'A'), jwk.public_key()), StatusIs(StatusCode::kResourceExhausted, testing::_));
  EXPECT_THAT(VerifyCompact(MakeToken({{"alg", "ES256"}, {"alg", "ES256"}}, "x"), jwk.public_key()), testing::Not(IsOk()));
  std::string dup = Base64UrlEncode(AsBytes(R"({"alg":"ES256","alg":"none"})")) + ".eA.c2ln";
  EXPECT_THAT(VerifyCompact(dup, jwk.public_key()), StatusIs(StatusCode::kInvalidArgument, HasSubstr("duplicate member \"alg\"")));
  // A valid signature with the wrong length for ES256 (DER instead of r||s).
  EXPECT_THAT(VerifyCompact(MakeToken({{"alg", "ES256"}}, "x", Base64UrlEncode(Bytes(70, 1))), jwk.public_key()),
              StatusIs(StatusCode::kUnauthenticated, testing::_));
}

TEST(JwsTest, VerifiesAgainstJwksByKid) {
  crypto::PrivateKey k1 = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256).value();
  crypto::PrivateKey k2 = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP384).value();
  JwkSet set;
  ASSERT_OK(set.Add(Jwk::FromPublicKey(k1.Public(), {.kid = "one", .alg = "ES256", .use = "sig"})));
  ASSERT_OK(set.Add(Jwk::FromPublicKey(k2.Public(), {.kid = "two", .alg = "", .use = "enc"})));
  ASSERT_OK_AND_ASSIGN(std::string t1, SignCompact(k1, JwsAlg::kEs256, AsBytes("p"), {.kid = "one", .typ = "", .extra_header = {}}));
  EXPECT_OK(VerifyCompact(t1, set).status());
  ASSERT_OK_AND_ASSIGN(std::string t_unknown, SignCompact(k1, JwsAlg::kEs256, AsBytes("p"), {.kid = "three", .typ = "", .extra_header = {}}));
  EXPECT_THAT(VerifyCompact(t_unknown, set), StatusIs(StatusCode::kNotFound, HasSubstr("three")));
  ASSERT_OK_AND_ASSIGN(std::string t_nokid, SignCompact(k1, JwsAlg::kEs256, AsBytes("p")));
  EXPECT_THAT(VerifyCompact(t_nokid, set), StatusIs(StatusCode::kNotFound, HasSubstr("no kid")));
  ASSERT_OK_AND_ASSIGN(std::string t2, SignCompact(k2, JwsAlg::kEs384, AsBytes("p"), {.kid = "two", .typ = "", .extra_header = {}}));
  EXPECT_THAT(VerifyCompact(t2, set), StatusIs(StatusCode::kUnauthenticated, HasSubstr("use \"enc\"")));
  // Signed by k2 but claiming kid "one": the key does not fit the alg.
  ASSERT_OK_AND_ASSIGN(std::string forged, SignCompact(k2, JwsAlg::kEs384, AsBytes("p"), {.kid = "one", .typ = "", .extra_header = {}}));
  EXPECT_THAT(VerifyCompact(forged, set), StatusIs(StatusCode::kUnauthenticated, HasSubstr("differs from JWK")));
}

// ---------------------------------------------------------------------------------------------
// JWT

class JwtTest : public ::testing::Test {
 protected:
  crypto::PrivateKey key_ = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256).value();
  FixedClock clock_{1'800'000'000};
  JwtValidationOptions opts_;

  std::string Sign(json claims) { return SignJwt(key_, JwsAlg::kEs256, claims, {.kid = "k", .typ = "", .extra_header = {}}).value(); }
};

TEST_F(JwtTest, ValidTokenPasses) {
  opts_.issuer = "https://attest.example";
  opts_.audience = "provisiond";
  opts_.require_jti = true;
  std::string t = Sign({{"iss", "https://attest.example"}, {"aud", {"x", "provisiond"}}, {"exp", 1'800'000'300},
                        {"iat", 1'800'000'000}, {"nbf", 1'800'000'000}, {"jti", "abc"}});
  ASSERT_OK_AND_ASSIGN(VerifiedJwt v, VerifyJwt(t, key_.Public(), opts_, clock_));
  EXPECT_EQ(v.claims["jti"], "abc");
  EXPECT_EQ(v.header["typ"], "JWT");
}

TEST_F(JwtTest, TimeClaimsWithSkew) {
  opts_.clock_skew_seconds = 30;
  std::string expired = Sign({{"exp", 1'800'000'000 - 31}});
  EXPECT_THAT(VerifyJwt(expired, key_.Public(), opts_, clock_), StatusIs(StatusCode::kUnauthenticated, HasSubstr("JWT exp: expired")));
  std::string within_skew = Sign({{"exp", 1'800'000'000 - 29}});
  EXPECT_OK(VerifyJwt(within_skew, key_.Public(), opts_, clock_).status());
  std::string not_yet = Sign({{"exp", 1'800'001'000}, {"nbf", 1'800'000'100}});
  EXPECT_THAT(VerifyJwt(not_yet, key_.Public(), opts_, clock_), StatusIs(StatusCode::kUnauthenticated, HasSubstr("nbf")));
  std::string future_iat = Sign({{"exp", 1'800'001'000}, {"iat", 1'800'000'100}});
  EXPECT_THAT(VerifyJwt(future_iat, key_.Public(), opts_, clock_), StatusIs(StatusCode::kUnauthenticated, HasSubstr("iat")));
  std::string no_exp = Sign({{"iss", "x"}});
  EXPECT_THAT(VerifyJwt(no_exp, key_.Public(), opts_, clock_), StatusIs(StatusCode::kUnauthenticated, HasSubstr("exp: missing")));
  std::string bad_type = Sign({{"exp", "tomorrow"}});
  EXPECT_THAT(VerifyJwt(bad_type, key_.Public(), opts_, clock_), StatusIs(StatusCode::kUnauthenticated, HasSubstr("want a number")));
  opts_.max_lifetime_seconds = 3600;
  std::string too_long = Sign({{"exp", 1'800'000'000 + 7200}});
  EXPECT_THAT(VerifyJwt(too_long, key_.Public(), opts_, clock_), StatusIs(StatusCode::kUnauthenticated, HasSubstr("limit 3600")));
}

TEST_F(JwtTest, IssuerAudienceJtiTyp) {
  opts_.issuer = "good";
  EXPECT_THAT(VerifyJwt(Sign({{"exp", 1'900'000'000}, {"iss", "evil"}}), key_.Public(), opts_, clock_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("iss: want \"good\", got \"evil\"")));
  opts_.issuer.clear();
  opts_.audience = "me";
  EXPECT_THAT(VerifyJwt(Sign({{"exp", 1'900'000'000}, {"aud", "you"}}), key_.Public(), opts_, clock_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("aud")));
  opts_.audience.clear();
  opts_.require_jti = true;
  EXPECT_THAT(VerifyJwt(Sign({{"exp", 1'900'000'000}}), key_.Public(), opts_, clock_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("jti")));
  opts_.require_jti = false;
  opts_.expected_typ = "at+jwt";
  EXPECT_THAT(VerifyJwt(Sign({{"exp", 1'900'000'000}}), key_.Public(), opts_, clock_),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("typ")));
}

TEST_F(JwtTest, EveryTokenFailureIsUnauthenticatedExceptUnknownKid) {
  EXPECT_THAT(VerifyJwt("garbage", key_.Public(), opts_, clock_), StatusIs(StatusCode::kUnauthenticated, testing::_));
  std::string not_object = SignCompact(key_, JwsAlg::kEs256, AsBytes("[1,2]")).value();
  EXPECT_THAT(VerifyJwt(not_object, key_.Public(), opts_, clock_), StatusIs(StatusCode::kUnauthenticated, HasSubstr("object")));
  std::string unsigned_token = MakeToken({{"alg", "none"}}, R"({"exp":1900000000})", "");
  EXPECT_THAT(VerifyJwt(unsigned_token, key_.Public(), opts_, clock_), StatusIs(StatusCode::kUnauthenticated, HasSubstr("none")));
  JwkSet set;
  ASSERT_OK(set.Add(Jwk::FromPublicKey(key_.Public(), {.kid = "other", .alg = "", .use = ""})));
  EXPECT_THAT(VerifyJwt(Sign({{"exp", 1'900'000'000}}), set, opts_, clock_), StatusIs(StatusCode::kNotFound, HasSubstr("\"k\"")));
  ASSERT_OK(set.Add(Jwk::FromPublicKey(key_.Public(), {.kid = "k", .alg = "", .use = ""})));
  EXPECT_OK(VerifyJwt(Sign({{"exp", 1'900'000'000}}), set, opts_, clock_).status());
}

}  // namespace
}  // namespace vhsm::jose
