#include "crypto/keys.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace vhsm::crypto {
namespace {

using ::testing::HasSubstr;

Bytes Hex(std::string_view hex) { return HexDecode(hex).value(); }

struct SchemeCase {
  SignatureScheme scheme;
  const char* name;
};

PrivateKey Gen(KeyType type, EcCurve curve = EcCurve::kP256) {
  switch (type) {
    case KeyType::kEc: return PrivateKey::GenerateEc(curve).value();
    case KeyType::kRsa: return PrivateKey::GenerateRsa(2048).value();
    case KeyType::kEd25519: return PrivateKey::GenerateEd25519().value();
  }
  return PrivateKey::GenerateEd25519().value();
}

// RFC 8032 section 7.1, TEST 1 (empty message).
TEST(KeysTest, Ed25519Rfc8032Test1) {
  ASSERT_OK_AND_ASSIGN(PrivateKey key, PrivateKey::FromEd25519Seed(
      Hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")));
  ASSERT_OK_AND_ASSIGN(Bytes pub, key.Public().Ed25519Raw());
  EXPECT_EQ(HexEncode(pub), "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  ASSERT_OK_AND_ASSIGN(Bytes sig, key.Sign(SignatureScheme::kEd25519, {}));
  EXPECT_EQ(HexEncode(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_OK(key.Public().Verify(SignatureScheme::kEd25519, {}, sig));
}

TEST(KeysTest, SignVerifyEverySchemeAndCurve) {
  struct Case {
    KeyType type;
    EcCurve curve;
    SignatureScheme scheme;
  };
  const Case cases[] = {
      {KeyType::kEc, EcCurve::kP256, SignatureScheme::kEcdsaSha256},
      {KeyType::kEc, EcCurve::kP384, SignatureScheme::kEcdsaSha384},
      {KeyType::kEc, EcCurve::kP521, SignatureScheme::kEcdsaSha512},
      {KeyType::kEd25519, EcCurve::kP256, SignatureScheme::kEd25519},
      {KeyType::kRsa, EcCurve::kP256, SignatureScheme::kRsaPkcs1Sha256},
      {KeyType::kRsa, EcCurve::kP256, SignatureScheme::kRsaPssSha384},
  };
  const Bytes msg = ToBytes("the message");
  for (const Case& c : cases) {
    PrivateKey key = Gen(c.type, c.curve);
    PublicKey pub = key.Public();
    for (EcdsaFormat f : {EcdsaFormat::kDer, EcdsaFormat::kRawRs}) {
      ASSERT_OK_AND_ASSIGN(Bytes sig, key.Sign(c.scheme, msg, f));
      if (c.type == KeyType::kEc && f == EcdsaFormat::kRawRs) {
        EXPECT_EQ(sig.size(), 2 * EcCoordinateSize(c.curve));
      }
      EXPECT_OK(pub.Verify(c.scheme, msg, sig, f)) << key.Describe();
      Bytes bad_msg = msg;
      bad_msg[0] ^= 1;
      EXPECT_THAT(pub.Verify(c.scheme, bad_msg, sig, f), StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")));
      Bytes bad_sig = sig;
      bad_sig[bad_sig.size() / 2] ^= 1;
      EXPECT_THAT(pub.Verify(c.scheme, msg, bad_sig, f), StatusIs(StatusCode::kUnauthenticated, testing::_));
    }
  }
}

TEST(KeysTest, SchemeMustFitKeyType) {
  PrivateKey ec = Gen(KeyType::kEc);
  EXPECT_THAT(ec.Sign(SignatureScheme::kRsaPkcs1Sha256, AsBytes("x")),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("wants a RSA key, got EC")));
  EXPECT_THAT(ec.Public().Verify(SignatureScheme::kEd25519, AsBytes("x"), Bytes(64)),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("Ed25519")));
}

TEST(KeysTest, SignDigestMatchesMessageSigning) {
  PrivateKey ec = Gen(KeyType::kEc, EcCurve::kP384);
  Bytes msg = ToBytes("abc");
  Bytes digest = Sha384(msg);
  ASSERT_OK_AND_ASSIGN(Bytes sig, ec.SignDigest(SignatureScheme::kEcdsaSha384, digest, EcdsaFormat::kRawRs));
  EXPECT_OK(ec.Public().Verify(SignatureScheme::kEcdsaSha384, msg, sig, EcdsaFormat::kRawRs));
  EXPECT_OK(ec.Public().VerifyDigest(SignatureScheme::kEcdsaSha384, digest, sig, EcdsaFormat::kRawRs));
  PrivateKey rsa = Gen(KeyType::kRsa);
  ASSERT_OK_AND_ASSIGN(Bytes rsig, rsa.SignDigest(SignatureScheme::kRsaPssSha256, Sha256(msg)));
  EXPECT_OK(rsa.Public().Verify(SignatureScheme::kRsaPssSha256, msg, rsig));
  EXPECT_THAT(rsa.SignDigest(SignatureScheme::kRsaPkcs1Sha256, Sha384(msg)), StatusIs(StatusCode::kInvalidArgument, HasSubstr("want 32")));
}

TEST(KeysTest, PemAndDerRoundTrips) {
  for (KeyType t : {KeyType::kEc, KeyType::kRsa, KeyType::kEd25519}) {
    PrivateKey key = Gen(t, EcCurve::kP521);
    ASSERT_OK_AND_ASSIGN(SecretBytes pem, key.ToPem());
    EXPECT_THAT(std::string(AsStringView(pem.Expose())), HasSubstr("BEGIN PRIVATE KEY"));
    ASSERT_OK_AND_ASSIGN(PrivateKey back, PrivateKey::FromPem(AsStringView(pem.Expose())));
    EXPECT_TRUE(back.Public().Equals(key.Public()));
    ASSERT_OK_AND_ASSIGN(SecretBytes der, key.ToPkcs8Der());
    ASSERT_OK_AND_ASSIGN(PrivateKey back2, PrivateKey::FromDer(der.Expose()));
    EXPECT_EQ(back2.Describe(), key.Describe());
    ASSERT_OK_AND_ASSIGN(std::string pub_pem, key.Public().ToPem());
    ASSERT_OK_AND_ASSIGN(PublicKey pub, PublicKey::FromPem(pub_pem));
    EXPECT_TRUE(pub.Equals(key.Public()));
    ASSERT_OK_AND_ASSIGN(Bytes pub_der, pub.ToDer());
    ASSERT_OK_AND_ASSIGN(PublicKey pub2, PublicKey::FromDer(pub_der));
    EXPECT_TRUE(pub2.Equals(pub));
    pub_der.push_back(0);
    EXPECT_THAT(PublicKey::FromDer(pub_der), StatusIs(StatusCode::kInvalidArgument, HasSubstr("trailing")));
  }
  EXPECT_THAT(PublicKey::FromPem("garbage"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("BEGIN PUBLIC KEY")));
}

TEST(KeysTest, RawComponentsRoundTrip) {
  for (EcCurve c : {EcCurve::kP256, EcCurve::kP384, EcCurve::kP521}) {
    PrivateKey key = Gen(KeyType::kEc, c);
    ASSERT_OK_AND_ASSIGN(EcPoint p, key.Public().EcCoordinates());
    ASSERT_OK_AND_ASSIGN(SecretBytes d, key.EcScalar());
    EXPECT_EQ(d.size(), EcCoordinateSize(c));
    ASSERT_OK_AND_ASSIGN(PrivateKey back, PrivateKey::FromEcScalar(c, d.Expose(), p.x, p.y));
    EXPECT_TRUE(back.Public().Equals(key.Public()));
    ASSERT_OK_AND_ASSIGN(PublicKey pub, PublicKey::FromEcCoordinates(c, p.x, p.y));
    EXPECT_TRUE(pub.Equals(key.Public()));
    Bytes bad_y = p.y;
    bad_y.back() ^= 1;
    EXPECT_THAT(PublicKey::FromEcCoordinates(c, p.x, bad_y), StatusIs(StatusCode::kInvalidArgument, testing::_));
    EXPECT_THAT(PrivateKey::FromEcScalar(c, d.Expose(), p.x, bad_y), StatusIs(StatusCode::kInvalidArgument, HasSubstr("do not match")));
  }
  PrivateKey rsa = Gen(KeyType::kRsa);
  ASSERT_OK_AND_ASSIGN(RsaPrivateComponents rc, rsa.RsaComponents());
  ASSERT_OK_AND_ASSIGN(PrivateKey rsa2, PrivateKey::FromRsaComponents(rc));
  EXPECT_TRUE(rsa2.Public().Equals(rsa.Public()));
  ASSERT_OK_AND_ASSIGN(PublicKey rpub, PublicKey::FromRsa(rc.n, rc.e));
  EXPECT_TRUE(rpub.Equals(rsa.Public()));
  rc.qi.MutableExpose()[3] ^= 1;
  EXPECT_FALSE(PrivateKey::FromRsaComponents(rc).ok());
}

TEST(KeysTest, EcdhAgreesAndChecksCurves) {
  PrivateKey a = Gen(KeyType::kEc, EcCurve::kP384);
  PrivateKey b = Gen(KeyType::kEc, EcCurve::kP384);
  ASSERT_OK_AND_ASSIGN(SecretBytes ab, a.Ecdh(b.Public()));
  ASSERT_OK_AND_ASSIGN(SecretBytes ba, b.Ecdh(a.Public()));
  EXPECT_EQ(ab.size(), 48u);
  EXPECT_TRUE(ConstantTimeEquals(ab.Expose(), ba.Expose()));
  PrivateKey c = Gen(KeyType::kEc, EcCurve::kP256);
  EXPECT_THAT(a.Ecdh(c.Public()), StatusIs(StatusCode::kInvalidArgument, HasSubstr("same curve")));
}

TEST(KeysTest, RsaOaepRoundTripAndWrongKey) {
  PrivateKey rsa = Gen(KeyType::kRsa);
  PrivateKey other = Gen(KeyType::kRsa);
  for (HashAlg h : {HashAlg::kSha1, HashAlg::kSha256, HashAlg::kSha384, HashAlg::kSha512}) {
    ASSERT_OK_AND_ASSIGN(Bytes ct, rsa.Public().RsaOaepEncrypt(h, AsBytes("key bytes"), AsBytes("label")));
    ASSERT_OK_AND_ASSIGN(SecretBytes pt, rsa.RsaOaepDecrypt(h, ct, AsBytes("label")));
    EXPECT_EQ(AsStringView(pt.Expose()), "key bytes");
    EXPECT_THAT(other.RsaOaepDecrypt(h, ct, AsBytes("label")), StatusIs(StatusCode::kUnauthenticated, testing::_));
    EXPECT_THAT(rsa.RsaOaepDecrypt(h, ct, {}), StatusIs(StatusCode::kUnauthenticated, testing::_));
    ct[5] ^= 1;
    EXPECT_THAT(rsa.RsaOaepDecrypt(h, ct, AsBytes("label")), StatusIs(StatusCode::kUnauthenticated, testing::_));
  }
}

TEST(KeysTest, EcdsaEncodingConversions) {
  EXPECT_THAT(EcdsaRawToDer(Bytes(63), 32), StatusIs(StatusCode::kInvalidArgument, HasSubstr("want 64")));
  EXPECT_THAT(EcdsaDerToRaw(Bytes{0x30, 0x00, 0x01}, 32), StatusIs(StatusCode::kInvalidArgument, testing::_));
  Bytes raw(64, 0);
  raw[31] = 1;
  raw[63] = 2;
  ASSERT_OK_AND_ASSIGN(Bytes der, EcdsaRawToDer(raw, 32));
  EXPECT_EQ(HexEncode(der), "3006020101020102");
  ASSERT_OK_AND_ASSIGN(Bytes back, EcdsaDerToRaw(der, 32));
  EXPECT_EQ(back, raw);
}

TEST(KeysTest, RejectsSmallRsaAndUnknownCurves) {
  EXPECT_THAT(PrivateKey::GenerateRsa(1024), StatusIs(StatusCode::kInvalidArgument, HasSubstr("got 1024")));
  EXPECT_THAT(EcCurveFromName("secp256k1"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("secp256k1")));
}

}  // namespace
}  // namespace vhsm::crypto
