#include "jose/jwe.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/aead.h"
#include "crypto/kdf.h"
#include "crypto/keywrap.h"
#include "jose/jwk.h"
#include "rfc_vectors.h"
#include "testing/status_matchers.h"

namespace vhsm::jose {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
namespace tv = testvectors;

const crypto::PrivateKey& Priv(const Jwk& jwk) { return *jwk.private_key().value(); }

// RFC 7520 section 5.4: ECDH-ES+A128KW on P-384 with A128GCM.
TEST(JweTest, DecryptsRfc7520Section54FlattenedAndCompact) {
  ASSERT_OK_AND_ASSIGN(Jwk jwk, Jwk::ParseText(tv::kRfc7520EcEncJwk));
  ASSERT_OK_AND_ASSIGN(JweDecrypted d, DecryptFlattened(tv::kRfc7520EcdhFlattened, Priv(jwk)));
  EXPECT_EQ(AsStringView(d.plaintext.Expose()), tv::kRfc7520Plaintext);
  EXPECT_EQ(d.alg, JweAlg::kEcdhEsA128Kw);
  EXPECT_EQ(d.enc, JweEnc::kA128Gcm);
  EXPECT_EQ(d.kid, "peregrin.took@tuckborough.example");
  ASSERT_OK_AND_ASSIGN(JweDecrypted c, DecryptCompact(tv::kRfc7520EcdhCompact, Priv(jwk)));
  EXPECT_EQ(AsStringView(c.plaintext.Expose()), tv::kRfc7520Plaintext);
}

// RFC 7520 section 5.2: RSA-OAEP (SHA-1) with A256GCM; decryptable only when allowed.
TEST(JweTest, DecryptsRfc7520Section52OnlyWhenRsaOaepSha1Allowed) {
  ASSERT_OK_AND_ASSIGN(Jwk jwk, Jwk::ParseText(tv::kRfc7520RsaEncJwk));
  EXPECT_THAT(DecryptFlattened(tv::kRfc7520RsaOaepFlattened, Priv(jwk)),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("RSA-OAEP not allowed")));
  JweDecryptOptions opts;
  opts.allowed_algs = {JweAlg::kRsaOaep};
  ASSERT_OK_AND_ASSIGN(JweDecrypted d, DecryptFlattened(tv::kRfc7520RsaOaepFlattened, Priv(jwk), opts));
  EXPECT_EQ(AsStringView(d.plaintext.Expose()), tv::kRfc7520Plaintext);
  EXPECT_EQ(d.enc, JweEnc::kA256Gcm);
  // The RSA-OAEP step on its own recovers the RFC's CEK.
  json j = json::parse(tv::kRfc7520RsaOaepFlattened);
  ASSERT_OK_AND_ASSIGN(SecretBytes cek, Priv(jwk).RsaOaepDecrypt(crypto::HashAlg::kSha1,
                                                                 Base64UrlDecode(j["encrypted_key"].get<std::string>()).value()));
  EXPECT_EQ(Base64UrlEncode(cek.Expose()), tv::kRfc7520RsaOaepCek);
}

struct RoundTripCase {
  const char* name;
  crypto::KeyType type;
  crypto::EcCurve curve;
  JweAlg alg;
};

class JweRoundTrip : public ::testing::TestWithParam<RoundTripCase> {
 protected:
  static crypto::PrivateKey Make(const RoundTripCase& c) {
    return c.type == crypto::KeyType::kEc ? crypto::PrivateKey::GenerateEc(c.curve).value()
                                          : crypto::PrivateKey::GenerateRsa(2048).value();
  }
};

TEST_P(JweRoundTrip, FlattenedAndCompactWithAad) {
  const RoundTripCase& c = GetParam();
  crypto::PrivateKey key = Make(c);
  JweEncryptOptions opts;
  opts.alg = c.alg;
  opts.kid = "tee";
  opts.aad = ToBytes("resource=/repo/type/tag");
  if (c.type == crypto::KeyType::kEc) {
    opts.apu = ToBytes("provisiond");
    opts.apv = ToBytes("vhsmd");
  }
  const Bytes secret = ToBytes("the released secret \x01\x02\x03");
  ASSERT_OK_AND_ASSIGN(std::string flat, EncryptFlattened(key.Public(), secret, opts));
  ASSERT_OK_AND_ASSIGN(JweDecrypted d, DecryptFlattened(flat, key));
  EXPECT_EQ(Bytes(d.plaintext.Expose().begin(), d.plaintext.Expose().end()), secret);
  EXPECT_EQ(d.alg, c.alg);
  EXPECT_EQ(d.enc, JweEnc::kA256Gcm);
  EXPECT_EQ(d.kid, "tee");
  EXPECT_EQ(d.aad, opts.aad);
  json j = json::parse(flat);
  EXPECT_EQ(j.size(), 6u);  // protected, encrypted_key, iv, ciphertext, tag, aad

  opts.aad.clear();
  ASSERT_OK_AND_ASSIGN(std::string compact, EncryptCompact(key.Public(), secret, opts));
  ASSERT_OK_AND_ASSIGN(JweDecrypted dc, DecryptCompact(compact, key));
  EXPECT_EQ(Bytes(dc.plaintext.Expose().begin(), dc.plaintext.Expose().end()), secret);

  // The wrong key of the same kind: one Unauthenticated error, no plaintext.
  crypto::PrivateKey other = Make(c);
  EXPECT_THAT(DecryptFlattened(flat, other), StatusIs(StatusCode::kUnauthenticated, HasSubstr("decryption failed")));
}

TEST_P(JweRoundTrip, FlippingAnyPartIsUnauthenticated) {
  const RoundTripCase& c = GetParam();
  crypto::PrivateKey key = Make(c);
  JweEncryptOptions opts;
  opts.alg = c.alg;
  opts.aad = ToBytes("aad");
  ASSERT_OK_AND_ASSIGN(json flat, EncryptFlattenedJson(key.Public(), AsBytes("secret"), opts));
  for (const char* member : {"ciphertext", "tag", "encrypted_key", "iv", "aad"}) {
    Bytes raw = Base64UrlDecode(flat[member].get<std::string>()).value();
    for (size_t pos : {size_t{0}, raw.size() / 2, raw.size() - 1}) {
      Bytes bad = raw;
      bad[pos] ^= 0x01;
      json tampered = flat;
      tampered[member] = Base64UrlEncode(bad);
      EXPECT_THAT(DecryptFlattened(tampered.dump(), key), StatusIs(StatusCode::kUnauthenticated, HasSubstr("decryption failed")))
          << member << " byte " << pos;
    }
  }
  // Protected header: re-encode with an extra member; still valid JSON, but the AAD changed.
  json header = json::parse(AsStringView(Base64UrlDecode(flat["protected"].get<std::string>()).value()));
  header["cty"] = "text/plain";
  json tampered = flat;
  tampered["protected"] = Base64UrlEncode(AsBytes(header.dump()));
  EXPECT_THAT(DecryptFlattened(tampered.dump(), key), StatusIs(StatusCode::kUnauthenticated, HasSubstr("decryption failed")));
  // Dropping the aad member changes the AAD too.
  tampered = flat;
  tampered.erase("aad");
  EXPECT_THAT(DecryptFlattened(tampered.dump(), key), StatusIs(StatusCode::kUnauthenticated, HasSubstr("decryption failed")));
}

INSTANTIATE_TEST_SUITE_P(
    AllKeys, JweRoundTrip,
    ::testing::Values(RoundTripCase{"EcdhP256", crypto::KeyType::kEc, crypto::EcCurve::kP256, JweAlg::kEcdhEsA256Kw},
                      RoundTripCase{"EcdhP384", crypto::KeyType::kEc, crypto::EcCurve::kP384, JweAlg::kEcdhEsA256Kw},
                      RoundTripCase{"EcdhP521", crypto::KeyType::kEc, crypto::EcCurve::kP521, JweAlg::kEcdhEsA256Kw},
                      RoundTripCase{"RsaOaep256", crypto::KeyType::kRsa, crypto::EcCurve::kP256, JweAlg::kRsaOaep256}),
    [](const ::testing::TestParamInfo<RoundTripCase>& p) { return std::string(p.param.name); });

TEST(JweTest, KeyTypeAndCurveMismatches) {
  crypto::PrivateKey p256 = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256).value();
  crypto::PrivateKey p384 = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP384).value();
  crypto::PrivateKey rsa = crypto::PrivateKey::GenerateRsa(2048).value();
  crypto::PrivateKey ed = crypto::PrivateKey::GenerateEd25519().value();
  ASSERT_OK_AND_ASSIGN(std::string to_p256, EncryptFlattened(p256.Public(), AsBytes("s")));
  EXPECT_THAT(DecryptFlattened(to_p256, p384), StatusIs(StatusCode::kInvalidArgument, HasSubstr("epk")));
  EXPECT_THAT(DecryptFlattened(to_p256, rsa), StatusIs(StatusCode::kInvalidArgument, HasSubstr("needs an EC key")));
  JweEncryptOptions rsa_opts;
  rsa_opts.alg = JweAlg::kRsaOaep256;
  ASSERT_OK_AND_ASSIGN(std::string to_rsa, EncryptFlattened(rsa.Public(), AsBytes("s"), rsa_opts));
  EXPECT_THAT(DecryptFlattened(to_rsa, p256), StatusIs(StatusCode::kInvalidArgument, HasSubstr("needs an RSA key")));
  EXPECT_THAT(EncryptFlattened(rsa.Public(), AsBytes("s")), StatusIs(StatusCode::kInvalidArgument, HasSubstr("want EC")));
  EXPECT_THAT(EncryptFlattened(ed.Public(), AsBytes("s")), StatusIs(StatusCode::kInvalidArgument, testing::_));
  EXPECT_THAT(DefaultJweAlgForKey(ed.Public()), StatusIs(StatusCode::kInvalidArgument, HasSubstr("Ed25519")));
  JweEncryptOptions sha1;
  sha1.alg = JweAlg::kRsaOaep;
  EXPECT_THAT(EncryptFlattened(rsa.Public(), AsBytes("s"), sha1), StatusIs(StatusCode::kInvalidArgument, HasSubstr("decryption only")));
}

TEST(JweTest, StrictParsing) {
  crypto::PrivateKey key = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256).value();
  ASSERT_OK_AND_ASSIGN(json flat, EncryptFlattenedJson(key.Public(), AsBytes("s")));
  auto with = [&](const std::function<void(json&)>& edit) {
    json j = flat;
    edit(j);
    return DecryptFlattened(j.dump(), key);
  };
  EXPECT_THAT(with([](json& j) { j["recipients"] = json::array(); }), StatusIs(StatusCode::kInvalidArgument, HasSubstr("flattened")));
  EXPECT_THAT(with([](json& j) { j["extra"] = 1; }), StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown member \"extra\"")));
  EXPECT_THAT(with([](json& j) { j.erase("protected"); }), StatusIs(StatusCode::kInvalidArgument, HasSubstr("JWE.protected: missing")));
  EXPECT_THAT(with([](json& j) { j.erase("tag"); }), StatusIs(StatusCode::kInvalidArgument, HasSubstr("JWE.tag: missing")));
  EXPECT_THAT(with([](json& j) { j["iv"] = "AAAA"; }), StatusIs(StatusCode::kInvalidArgument, HasSubstr("iv: got 3 bytes")));
  EXPECT_THAT(with([](json& j) { j["tag"] = "AAAA"; }), StatusIs(StatusCode::kInvalidArgument, HasSubstr("tag: got 3 bytes")));
  EXPECT_THAT(with([](json& j) { j["ciphertext"] = "***"; }), StatusIs(StatusCode::kInvalidArgument, HasSubstr("ciphertext: not base64url")));
  EXPECT_THAT(with([](json& j) { j["header"] = {{"alg", "RSA-OAEP-256"}}; }),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("\"alg\" appears more than once")));
  EXPECT_THAT(with([](json& j) { j["header"] = {{"zip", "DEF"}}; }), StatusIs(StatusCode::kUnimplemented, HasSubstr("zip")));
  EXPECT_THAT(with([](json& j) { j["unprotected"] = {{"crit", {"x"}}}; }), StatusIs(StatusCode::kInvalidArgument, HasSubstr("crit")));
  auto header_with = [&](json h) {
    json j = flat;
    j["protected"] = Base64UrlEncode(AsBytes(h.dump()));
    return DecryptFlattened(j.dump(), key);
  };
  EXPECT_THAT(header_with({{"alg", "dir"}, {"enc", "A256GCM"}}), StatusIs(StatusCode::kUnimplemented, HasSubstr("\"dir\"")));
  EXPECT_THAT(header_with({{"alg", "ECDH-ES+A256KW"}, {"enc", "A256CBC-HS512"}}), StatusIs(StatusCode::kUnimplemented, HasSubstr("A256CBC-HS512")));
  EXPECT_THAT(header_with({{"alg", "ECDH-ES+A256KW"}, {"enc", "A256GCM"}}), StatusIs(StatusCode::kInvalidArgument, HasSubstr("epk: missing")));
  EXPECT_THAT(header_with({{"alg", "ECDH-ES+A256KW"}, {"enc", "A256GCM"}, {"epk", {{"kty", "EC"}, {"crv", "P-256"}, {"x", "AA"}, {"y", "AA"}}}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("JWE header.epk")));
  EXPECT_THAT(DecryptFlattened("[]", key), StatusIs(StatusCode::kInvalidArgument, HasSubstr("object")));
  EXPECT_THAT(DecryptFlattened(std::string(3 * 1024 * 1024, ' '), key), StatusIs(StatusCode::kResourceExhausted, testing::_));
  EXPECT_THAT(DecryptCompact("a.b.c.d", key), StatusIs(StatusCode::kInvalidArgument, HasSubstr("five")));
  EXPECT_THAT(DecryptCompact("a.b.c.d.e.f", key), StatusIs(StatusCode::kInvalidArgument, HasSubstr("more than five")));
  JweDecryptOptions only_128;
  only_128.allowed_encs = {JweEnc::kA128Gcm};
  EXPECT_THAT(DecryptFlattened(flat.dump(), key, only_128), StatusIs(StatusCode::kUnauthenticated, HasSubstr("A256GCM not allowed")));
}

// The ECDH-ES+A256KW key derivation uses the "alg" value as AlgorithmID with 256-bit keydatalen
// (RFC 7518 section 4.6.2): derive the KEK by hand from the epk and unwrap the CEK ourselves.
TEST(JweTest, EcdhEsKekDerivationMatchesRfc7518Construction) {
  crypto::PrivateKey key = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256).value();
  JweEncryptOptions opts;
  opts.apu = ToBytes("u");
  opts.apv = ToBytes("v");
  ASSERT_OK_AND_ASSIGN(json flat, EncryptFlattenedJson(key.Public(), AsBytes("s"), opts));
  json header = json::parse(AsStringView(Base64UrlDecode(flat["protected"].get<std::string>()).value()));
  EXPECT_EQ(header["alg"], "ECDH-ES+A256KW");
  EXPECT_EQ(header["apu"], "dQ");
  ASSERT_OK_AND_ASSIGN(Jwk epk, Jwk::ParsePublic(header["epk"]));
  ASSERT_OK_AND_ASSIGN(SecretBytes z, key.Ecdh(epk.public_key()));
  Bytes other_info = crypto::JoseConcatKdfOtherInfo("ECDH-ES+A256KW", AsBytes("u"), AsBytes("v"), 32);
  ASSERT_OK_AND_ASSIGN(SecretBytes kek, crypto::ConcatKdf(crypto::HashAlg::kSha256, z, other_info, 32));
  ASSERT_OK_AND_ASSIGN(SecretBytes cek, crypto::AesKeyUnwrap(kek, Base64UrlDecode(flat["encrypted_key"].get<std::string>()).value()));
  EXPECT_EQ(cek.size(), 32u);
  ASSERT_OK_AND_ASSIGN(SecretBytes pt, crypto::AesGcmOpen(cek, Base64UrlDecode(flat["iv"].get<std::string>()).value(),
                                                          Base64UrlDecode(flat["ciphertext"].get<std::string>()).value(),
                                                          Base64UrlDecode(flat["tag"].get<std::string>()).value(),
                                                          AsBytes(flat["protected"].get<std::string>())));
  EXPECT_EQ(AsStringView(pt.Expose()), "s");
}

}  // namespace
}  // namespace vhsm::jose
