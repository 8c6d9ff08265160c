#include "crypto/kdf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "crypto/keys.h"
#include "testing/status_matchers.h"

namespace vhsm::crypto {
namespace {

using ::testing::HasSubstr;

Bytes Hex(std::string_view hex) { return HexDecode(hex).value(); }
Bytes B64u(std::string_view s) { return Base64UrlDecode(s).value(); }

// RFC 5869 appendix A.1 (test case 1, SHA-256).
TEST(KdfTest, HkdfRfc5869Case1) {
  SecretBytes ikm(Bytes(22, 0x0b));
  ASSERT_OK_AND_ASSIGN(SecretBytes okm, Hkdf(HashAlg::kSha256, ikm, Hex("000102030405060708090a0b0c"),
                                             Hex("f0f1f2f3f4f5f6f7f8f9"), 42));
  EXPECT_EQ(HexEncode(okm.Expose()),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

// RFC 5869 appendix A.3 (test case 3: empty salt and info).
TEST(KdfTest, HkdfRfc5869Case3EmptySaltAndInfo) {
  SecretBytes ikm(Bytes(22, 0x0b));
  ASSERT_OK_AND_ASSIGN(SecretBytes okm, Hkdf(HashAlg::kSha256, ikm, {}, {}, 42));
  EXPECT_EQ(HexEncode(okm.Expose()),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
}

TEST(KdfTest, HkdfRejectsBadLengths) {
  SecretBytes ikm(Bytes(16, 1));
  EXPECT_THAT(Hkdf(HashAlg::kSha256, ikm, {}, {}, 0), StatusIs(StatusCode::kInvalidArgument, HasSubstr("output length 0")));
  EXPECT_THAT(Hkdf(HashAlg::kSha256, ikm, {}, {}, 2000), StatusIs(StatusCode::kInvalidArgument, HasSubstr("2000")));
}

// RFC 7518 appendix C: ECDH-ES between Alice's ephemeral key and Bob's key, then Concat KDF for
// "A128GCM" with apu "Alice" and apv "Bob".
TEST(KdfTest, JoseEcdhEsRfc7518AppendixC) {
  ASSERT_OK_AND_ASSIGN(PrivateKey alice, PrivateKey::FromEcScalar(EcCurve::kP256,
      B64u("0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo"),
      B64u("gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0"),
      B64u("SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps")));
  ASSERT_OK_AND_ASSIGN(PrivateKey bob, PrivateKey::FromEcScalar(EcCurve::kP256,
      B64u("VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw"),
      B64u("weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ"),
      B64u("e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck")));
  ASSERT_OK_AND_ASSIGN(SecretBytes z, alice.Ecdh(bob.Public()));
  const Bytes want_z = {158, 86,  217, 29,  129, 113, 53,  211, 114, 131, 66,  131, 191, 132, 38,  156,
                        251, 49,  110, 163, 218, 128, 106, 72,  246, 218, 167, 121, 140, 254, 144, 196};
  EXPECT_EQ(Bytes(z.Expose().begin(), z.Expose().end()), want_z);
  EXPECT_EQ(HexEncode(JoseConcatKdfOtherInfo("A128GCM", AsBytes("Alice"), AsBytes("Bob"), 16)),
            "00000007" "413132384743" "4d" "00000005" "416c696365" "00000003" "426f62" "00000080");
  ASSERT_OK_AND_ASSIGN(SecretBytes k, JoseEcdhEsKdf(z, "A128GCM", AsBytes("Alice"), AsBytes("Bob"), 16));
  EXPECT_EQ(Base64UrlEncode(k.Expose()), "VqqN6vgjbSBcIijNcacQGg");
}

TEST(KdfTest, ConcatKdfMultiBlockIsPrefixConsistent) {
  SecretBytes z(Bytes(32, 7));
  ASSERT_OK_AND_ASSIGN(SecretBytes long_key, ConcatKdf(HashAlg::kSha256, z, AsBytes("info"), 80));
  ASSERT_OK_AND_ASSIGN(SecretBytes short_key, ConcatKdf(HashAlg::kSha256, z, AsBytes("info"), 32));
  EXPECT_TRUE(std::equal(short_key.Expose().begin(), short_key.Expose().end(), long_key.Expose().begin()));
  // First block is SHA-256(00000001 || Z || OtherInfo).
  Bytes block_input = {0, 0, 0, 1};
  block_input.insert(block_input.end(), 32, 7);
  block_input.insert(block_input.end(), {'i', 'n', 'f', 'o'});
  EXPECT_EQ(HexEncode(short_key.Expose()), HexEncode(Sha256(block_input)));
  EXPECT_THAT(ConcatKdf(HashAlg::kSha256, SecretBytes(), {}, 16), StatusIs(StatusCode::kInvalidArgument, HasSubstr("empty")));
}

// RFC 4231 test case 2.
TEST(KdfTest, HmacRfc4231Case2) {
  SecretBytes key(AsBytes("Jefe"));
  Bytes data = ToBytes("what do ya want for nothing?");
  ASSERT_OK_AND_ASSIGN(Bytes mac, Hmac(HashAlg::kSha256, key, data));
  EXPECT_EQ(HexEncode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_OK(HmacVerify(HashAlg::kSha256, key, data, mac));
  mac[0] ^= 1;
  EXPECT_THAT(HmacVerify(HashAlg::kSha256, key, data, mac), StatusIs(StatusCode::kUnauthenticated, HasSubstr("HMAC")));
}

TEST(KdfTest, HmacEmptyKeyEqualsZeroKey) {
  ASSERT_OK_AND_ASSIGN(Bytes a, Hmac(HashAlg::kSha256, SecretBytes(), AsBytes("x")));
  ASSERT_OK_AND_ASSIGN(Bytes b, Hmac(HashAlg::kSha256, SecretBytes(Bytes(64, 0)), AsBytes("x")));
  EXPECT_EQ(a, b);
}

}  // namespace
}  // namespace vhsm::crypto
