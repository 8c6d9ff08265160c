#include "jose/jwk.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rfc_vectors.h"
#include "testing/status_matchers.h"

namespace vhsm::jose {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
namespace tv = testvectors;

TEST(JwkTest, Rfc7638ThumbprintExample) {
  ASSERT_OK_AND_ASSIGN(Jwk jwk, Jwk::ParseText(tv::kRfc7638Jwk));
  EXPECT_FALSE(jwk.is_private());
  EXPECT_EQ(jwk.kid(), "2011-04-29");
  EXPECT_EQ(jwk.metadata().alg, "RS256");
  ASSERT_OK_AND_ASSIGN(std::string tp, jwk.Thumbprint());
  EXPECT_EQ(tp, tv::kRfc7638Thumbprint);
}

TEST(JwkTest, ParsesRfc7520PrivateKeysOfEveryType) {
  for (const char* text : {tv::kRfc7520RsaSigJwk, tv::kRfc7520EcSigJwk, tv::kRfc7520EcEncJwk, tv::kRfc7515A3Jwk}) {
    ASSERT_OK_AND_ASSIGN(Jwk jwk, Jwk::ParseText(text));
    EXPECT_TRUE(jwk.is_private());
    ASSERT_OK_AND_ASSIGN(const crypto::PrivateKey* priv, jwk.private_key());
    EXPECT_TRUE(priv->Public().Equals(jwk.public_key()));
    // Private export parses back to the same key; public export carries no private members.
    ASSERT_OK_AND_ASSIGN(SecretBytes priv_text, jwk.ToPrivateJsonText());
    ASSERT_OK_AND_ASSIGN(Jwk back, Jwk::ParseText(AsStringView(priv_text.Expose())));
    EXPECT_TRUE(back.public_key().Equals(jwk.public_key()));
    json pub = jwk.ToPublicJson();
    EXPECT_FALSE(pub.contains("d"));
    EXPECT_FALSE(pub.contains("p"));
    ASSERT_OK_AND_ASSIGN(Jwk pub_back, Jwk::ParsePublic(pub));
    EXPECT_FALSE(pub_back.is_private());
  }
}

TEST(JwkTest, GeneratedKeysRoundTripIncludingEd25519) {
  std::vector<crypto::PrivateKey> keys;
  keys.push_back(crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256).value());
  keys.push_back(crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP521).value());
  keys.push_back(crypto::PrivateKey::GenerateEd25519().value());
  for (crypto::PrivateKey& k : keys) {
    Jwk jwk = Jwk::FromPrivateKey(k.Clone(), {.kid = "k1", .alg = "", .use = "sig"});
    json pub = jwk.ToPublicJson();
    EXPECT_EQ(pub["kid"], "k1");
    EXPECT_EQ(pub["use"], "sig");
    ASSERT_OK_AND_ASSIGN(Jwk parsed, Jwk::Parse(pub));
    EXPECT_TRUE(parsed.public_key().Equals(k.Public()));
    ASSERT_OK_AND_ASSIGN(std::string t1, jwk.Thumbprint());
    ASSERT_OK_AND_ASSIGN(std::string t2, parsed.Thumbprint());
    EXPECT_EQ(t1, t2);
  }
  EXPECT_EQ(Jwk::FromPrivateKey(crypto::PrivateKey::GenerateEd25519().value()).ToPublicJson()["kty"], "OKP");
}

TEST(JwkTest, RejectsMalformedKeysNamingTheMember) {
  EXPECT_THAT(Jwk::ParseText(R"({"crv":"P-256"})"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("JWK.kty: missing")));
  EXPECT_THAT(Jwk::ParseText(R"({"kty":"oct","k":"AAAA"})"), StatusIs(StatusCode::kUnimplemented, HasSubstr("oct")));
  EXPECT_THAT(Jwk::ParseText(R"({"kty":"EC","crv":"secp256k1","x":"AA","y":"AA"})"),
              StatusIs(StatusCode::kUnimplemented, HasSubstr("secp256k1")));
  EXPECT_THAT(Jwk::ParseText(R"({"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("JWK.x: got 3 bytes, want 32")));
  EXPECT_THAT(Jwk::ParseText(R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"})"),
              StatusIs(StatusCode::kInvalidArgument, testing::_));  // not on the curve
  EXPECT_THAT(Jwk::ParseText(R"({"kty":"OKP","crv":"X25519","x":"AA"})"), StatusIs(StatusCode::kUnimplemented, HasSubstr("X25519")));
  EXPECT_THAT(Jwk::ParseText(R"({"kty":"EC","kty":"EC"})"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("duplicate")));
  EXPECT_THAT(Jwk::ParseText(R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU=","y":"x"})"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("JWK.x: not base64url")));
  // A private key where only public keys belong.
  json priv = json::parse(tv::kRfc7515A3Jwk);
  EXPECT_THAT(Jwk::ParsePublic(priv), StatusIs(StatusCode::kInvalidArgument, HasSubstr("JWK.d")));
  // Mismatched private scalar.
  priv["d"] = "AAhRON2r9cqXX1hg-RoI6R1tX5p2rUAYdmpHZoC1XNM";
  EXPECT_THAT(Jwk::Parse(priv), StatusIs(StatusCode::kInvalidArgument, HasSubstr("do not match")));
  // RSA private key missing CRT members.
  json rsa = json::parse(tv::kRfc7520RsaSigJwk);
  rsa.erase("qi");
  EXPECT_THAT(Jwk::Parse(rsa), StatusIs(StatusCode::kInvalidArgument, HasSubstr("JWK.qi: missing")));
}

TEST(JwkTest, JwkSetLookupSkipsUnknownTypesAndRejectsPrivate) {
  Jwk a = Jwk::FromPublicKey(crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256)->Public(), {.kid = "a", .alg = "", .use = ""});
  Jwk b = Jwk::FromPublicKey(crypto::PrivateKey::GenerateEd25519()->Public(), {.kid = "b", .alg = "", .use = ""});
  JwkSet set;
  ASSERT_OK(set.Add(a.Clone()));
  ASSERT_OK(set.Add(b.Clone()));
  EXPECT_THAT(set.Add(a.Clone()), StatusIs(StatusCode::kAlreadyExists, HasSubstr("\"a\"")));
  json j = set.ToPublicJson();
  j["keys"].push_back(json{{"kty", "oct"}, {"k", "AAAA"}, {"kid", "sym"}});
  ASSERT_OK_AND_ASSIGN(JwkSet parsed, JwkSet::ParseText(j.dump()));
  EXPECT_EQ(parsed.size(), 2u);
  ASSERT_OK_AND_ASSIGN(const Jwk* found, parsed.Find("b"));
  EXPECT_TRUE(found->public_key().Equals(b.public_key()));
  EXPECT_THAT(parsed.Find("zzz"), StatusIs(StatusCode::kNotFound, HasSubstr("zzz")));
  json with_priv = json{{"keys", json::array({json::parse(tv::kRfc7515A3Jwk)})}};
  EXPECT_THAT(JwkSet::Parse(with_priv), StatusIs(StatusCode::kInvalidArgument, HasSubstr("JWKS.keys[0]")));
  EXPECT_THAT(JwkSet::ParseText(R"({"keys":{}})"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("not an array")));
}

}  // namespace
}  // namespace vhsm::jose
