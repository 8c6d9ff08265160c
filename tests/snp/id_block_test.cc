#include "snp/id_block.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/pem.h>

#include "base/byte_reader.h"
#include "crypto/digest.h"
#include "testing/status_matchers.h"

namespace vhsm::snp {
namespace {

using ::testing::HasSubstr;

crypto::EvpPkeyPtr GenerateKey(const char* curve) {
  return crypto::EvpPkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", curve));
}

SecretBytes ToPem(EVP_PKEY* key) {
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  EXPECT_EQ(PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return SecretBytes(ByteSpan(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len)));
}

// Verifies an AMD-format signature (R||S little-endian) over `msg` with the public key given in
// AMD format, rebuilding the key from Qx/Qy independently of the code under test.
bool VerifyAmd(ByteSpan amd_pub, ByteSpan amd_sig, ByteSpan msg) {
  EXPECT_EQ(LoadU32Le(amd_pub.data()), 2u);
  // Uncompressed point 04 || X(BE) || Y(BE).
  Bytes point{0x04};
  for (size_t base : {size_t{0x04}, size_t{0x4C}}) {
    for (size_t i = 0; i < 48; ++i) point.push_back(amd_pub[base + 47 - i]);
  }
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>("secp384r1"), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end()};
  crypto::EvpPkeyCtxPtr kctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata_init(kctx.get()) != 1 ||
      EVP_PKEY_fromdata(kctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1) {
    ADD_FAILURE() << "cannot rebuild the public key";
    return false;
  }
  crypto::EvpPkeyPtr pub(raw);
  auto der = AmdSignatureToDer(amd_sig);
  if (!der.ok()) return false;
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA384", nullptr, nullptr, pub.get(), nullptr);
  return EVP_DigestVerify(ctx.get(), der->data(), der->size(), msg.data(), msg.size()) == 1;
}

IdBlockParams SampleParams() {
  IdBlockParams p;
  for (size_t i = 0; i < p.measurement.size(); ++i) p.measurement[i] = static_cast<uint8_t>(i);
  p.family_id.fill(0xAA);
  p.image_id.fill(0xBB);
  p.guest_svn = 7;
  p.policy = 0x30000;
  return p;
}

TEST(IdBlockTest, SerializesPerSpecLayout) {
  Bytes b = SerializeIdBlock(SampleParams());
  ASSERT_EQ(b.size(), kIdBlockSize);
  EXPECT_EQ(b[0x00], 0);
  EXPECT_EQ(b[0x2F], 47);
  EXPECT_EQ(b[0x30], 0xAA);
  EXPECT_EQ(b[0x40], 0xBB);
  EXPECT_EQ(LoadU32Le(&b[0x50]), 1u);  // VERSION
  EXPECT_EQ(LoadU32Le(&b[0x54]), 7u);  // GUEST_SVN
  EXPECT_EQ(LoadU64Le(&b[0x58]), 0x30000u);
}

TEST(IdBlockTest, SignatureVerifiesAndDigestsAreReproducible) {
  crypto::EvpPkeyPtr id_key = GenerateKey("P-384");
  crypto::EvpPkeyPtr author_key = GenerateKey("P-384");
  ASSERT_TRUE(id_key && author_key);
  ASSERT_OK_AND_ASSIGN(IdBlockResult r, BuildIdBlock(SampleParams(), id_key.get(), author_key.get()));
  ASSERT_EQ(r.id_auth.size(), kIdAuthInfoSize);
  EXPECT_EQ(r.id_block, SerializeIdBlock(SampleParams()));
  EXPECT_EQ(LoadU32Le(&r.id_auth[kIdAuthIdKeyAlgoOff]), 1u);
  EXPECT_EQ(LoadU32Le(&r.id_auth[kIdAuthAuthorKeyAlgoOff]), 1u);

  ByteSpan auth(r.id_auth);
  ByteSpan id_pub = auth.subspan(kIdAuthIdKeyOff, kAmdPublicKeySize);
  ByteSpan author_pub = auth.subspan(kIdAuthAuthorKeyOff, kAmdPublicKeySize);
  EXPECT_TRUE(VerifyAmd(id_pub, auth.subspan(kIdAuthIdBlockSigOff, kAmdSignatureSize), r.id_block));
  EXPECT_TRUE(VerifyAmd(author_pub, auth.subspan(kIdAuthIdKeySigOff, kAmdSignatureSize), id_pub));

  // Digest = SHA-384 over the 0x404-byte AMD key structure embedded in ID_AUTH_INFO.
  EXPECT_EQ(r.id_key_digest, crypto::Sha384(id_pub));
  ASSERT_TRUE(r.author_key_digest.has_value());
  EXPECT_EQ(*r.author_key_digest, crypto::Sha384(author_pub));

  // Reproducible: same keys → same digests (signatures are randomized).
  ASSERT_OK_AND_ASSIGN(IdBlockResult again, BuildIdBlock(SampleParams(), id_key.get(), author_key.get()));
  EXPECT_EQ(again.id_key_digest, r.id_key_digest);
  EXPECT_EQ(again.author_key_digest, r.author_key_digest);
  ASSERT_OK_AND_ASSIGN(Bytes direct, AmdKeyDigest(id_key.get()));
  EXPECT_EQ(direct, r.id_key_digest);

  // Reserved bytes stay zero.
  EXPECT_TRUE(IsAllZero(auth.subspan(0x08, 0x38)));
  EXPECT_TRUE(IsAllZero(auth.subspan(kIdAuthAuthorKeyOff + kAmdPublicKeySize)));
}

TEST(IdBlockTest, TamperedIdBlockFailsVerification) {
  crypto::EvpPkeyPtr id_key = GenerateKey("P-384");
  ASSERT_OK_AND_ASSIGN(IdBlockResult r, BuildIdBlock(SampleParams(), id_key.get(), nullptr));
  ByteSpan auth(r.id_auth);
  Bytes tampered = r.id_block;
  tampered[0x58] ^= 1;  // policy bit
  EXPECT_FALSE(VerifyAmd(auth.subspan(kIdAuthIdKeyOff, kAmdPublicKeySize),
                         auth.subspan(kIdAuthIdBlockSigOff, kAmdSignatureSize), tampered));
  // Without an author key: no author fields.
  EXPECT_FALSE(r.author_key_digest.has_value());
  EXPECT_EQ(LoadU32Le(&r.id_auth[kIdAuthAuthorKeyAlgoOff]), 0u);
  EXPECT_TRUE(IsAllZero(auth.subspan(kIdAuthIdKeySigOff)));
}

TEST(IdBlockTest, KeyDigestIsOverCurveAndLittleEndianCoordinates) {
  crypto::EvpPkeyPtr key = GenerateKey("P-384");
  ASSERT_OK_AND_ASSIGN(Bytes amd, AmdPublicKey(key.get()));
  ASSERT_EQ(amd.size(), kAmdPublicKeySize);
  BIGNUM* x_raw = nullptr;
  ASSERT_EQ(EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x_raw), 1);
  crypto::BnPtr x(x_raw);
  Bytes x_be(48);
  ASSERT_EQ(BN_bn2binpad(x.get(), x_be.data(), 48), 48);
  for (size_t i = 0; i < 48; ++i) EXPECT_EQ(amd[0x04 + i], x_be[47 - i]);
  EXPECT_TRUE(IsAllZero(ByteSpan(amd).subspan(0x04 + 48, 24)));
  EXPECT_TRUE(IsAllZero(ByteSpan(amd).subspan(0x4C + 72)));
}

TEST(IdBlockTest, LoadsPemAndRejectsWrongKeys) {
  crypto::EvpPkeyPtr key = GenerateKey("P-384");
  ASSERT_OK_AND_ASSIGN(crypto::EvpPkeyPtr loaded, LoadP384PrivateKey(ToPem(key.get()), "id key"));
  ASSERT_OK_AND_ASSIGN(Bytes a, AmdKeyDigest(key.get()));
  ASSERT_OK_AND_ASSIGN(Bytes b, AmdKeyDigest(loaded.get()));
  EXPECT_EQ(a, b);

  crypto::EvpPkeyPtr p256 = GenerateKey("P-256");
  EXPECT_THAT(LoadP384PrivateKey(ToPem(p256.get()), "id key"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("id key: curve prime256v1")));
  SecretBytes junk(AsBytes("not a key"));
  EXPECT_THAT(LoadP384PrivateKey(junk, "author key"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("author key: not a PEM or DER")));
  EXPECT_THAT(AmdSignatureToDer(Bytes(10)), StatusIs(StatusCode::kInvalidArgument, HasSubstr("512")));
}

}  // namespace
}  // namespace vhsm::snp
