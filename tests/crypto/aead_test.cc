#include "crypto/aead.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace vhsm::crypto {
namespace {

using ::testing::HasSubstr;

SecretBytes Key(std::string_view hex) { return SecretBytes(HexDecode(hex).value()); }
Bytes Hex(std::string_view hex) { return HexDecode(hex).value(); }

// McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16 (AES-256, 60-byte
// plaintext, 20-byte AAD), as in NIST's GCM validation suite.
constexpr std::string_view kKey = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
constexpr std::string_view kPlain =
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
constexpr std::string_view kAad = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
constexpr std::string_view kIv = "cafebabefacedbaddecaf888";
constexpr std::string_view kCipher =
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
constexpr std::string_view kTag = "76fc6ece0f4e1768cddf8853bb2d551b";

TEST(AeadTest, GcmTestCase16KnownAnswer) {
  ASSERT_OK_AND_ASSIGN(AeadSealed s, AesGcmSealWithIv(Key(kKey), Hex(kIv), Hex(kPlain), Hex(kAad)));
  EXPECT_EQ(HexEncode(s.ciphertext), kCipher);
  EXPECT_EQ(HexEncode(s.tag), kTag);
  ASSERT_OK_AND_ASSIGN(SecretBytes p, AesGcmOpen(Key(kKey), Hex(kIv), Hex(kCipher), Hex(kTag), Hex(kAad)));
  EXPECT_EQ(HexEncode(p.Expose()), kPlain);
}

// Test case 13: AES-256, empty plaintext and AAD (the tag alone).
TEST(AeadTest, GcmTestCase13EmptyMessage) {
  SecretBytes key(32);
  ASSERT_OK_AND_ASSIGN(AeadSealed s, AesGcmSealWithIv(key, Bytes(12, 0), {}, {}));
  EXPECT_TRUE(s.ciphertext.empty());
  EXPECT_EQ(HexEncode(s.tag), "530f8afbc74536b9a963b4f1c4cb738b");
  EXPECT_OK(AesGcmOpen(key, Bytes(12, 0), {}, s.tag, {}));
}

TEST(AeadTest, RoundTripWithRandomIvAllKeySizes) {
  for (size_t n : {16u, 24u, 32u}) {
    SecretBytes key(n);
    key.MutableExpose()[0] = 7;
    ASSERT_OK_AND_ASSIGN(Bytes blob, AesGcmSealCombined(key, AsBytes("hello"), AsBytes("aad")));
    EXPECT_EQ(blob.size(), 12u + 5u + 16u);
    ASSERT_OK_AND_ASSIGN(SecretBytes p, AesGcmOpenCombined(key, blob, AsBytes("aad")));
    EXPECT_EQ(AsStringView(p.Expose()), "hello");
  }
}

TEST(AeadTest, FreshIvEachSeal) {
  SecretBytes key(32);
  ASSERT_OK_AND_ASSIGN(AeadSealed a, AesGcmSeal(key, AsBytes("x"), {}));
  ASSERT_OK_AND_ASSIGN(AeadSealed b, AesGcmSeal(key, AsBytes("x"), {}));
  EXPECT_NE(a.iv, b.iv);
}

TEST(AeadTest, EveryFlippedBitIsUnauthenticated) {
  SecretBytes key = Key(kKey);
  ASSERT_OK_AND_ASSIGN(Bytes blob, AesGcmSealCombined(key, AsBytes("secret payload"), AsBytes("id=1")));
  for (size_t i = 0; i < blob.size(); ++i) {
    Bytes bad = blob;
    bad[i] ^= 0x01;
    EXPECT_THAT(AesGcmOpenCombined(key, bad, AsBytes("id=1")),
                StatusIs(StatusCode::kUnauthenticated, HasSubstr("tag")))
        << "byte " << i;
  }
  EXPECT_THAT(AesGcmOpenCombined(key, blob, AsBytes("id=2")), StatusIs(StatusCode::kUnauthenticated, HasSubstr("tag")));
  SecretBytes other(32);
  EXPECT_THAT(AesGcmOpenCombined(other, blob, AsBytes("id=1")), StatusIs(StatusCode::kUnauthenticated, HasSubstr("tag")));
}

TEST(AeadTest, RejectsBadSizes) {
  EXPECT_THAT(AesGcmSeal(SecretBytes(20), AsBytes("x"), {}), StatusIs(StatusCode::kInvalidArgument, HasSubstr("got 20 bytes")));
  SecretBytes key(32);
  EXPECT_THAT(AesGcmSealWithIv(key, Bytes(16), AsBytes("x"), {}), StatusIs(StatusCode::kInvalidArgument, HasSubstr("IV")));
  EXPECT_THAT(AesGcmOpen(key, Bytes(12), AsBytes("x"), Bytes(12), {}), StatusIs(StatusCode::kInvalidArgument, HasSubstr("tag")));
  EXPECT_THAT(AesGcmOpenCombined(key, Bytes(27), {}), StatusIs(StatusCode::kInvalidArgument, HasSubstr("at least 28")));
}

}  // namespace
}  // namespace vhsm::crypto
