#include "crypto/keywrap.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace vhsm::crypto {
namespace {

using ::testing::HasSubstr;

SecretBytes Key(std::string_view hex) { return SecretBytes(HexDecode(hex).value()); }

struct KwVector {
  const char* name;
  const char* kek;
  const char* key;
  const char* wrapped;
};

// RFC 3394 sections 4.1 (128-bit KEK, 128-bit key) and 4.6 (256-bit KEK, 256-bit key).
constexpr KwVector kRfc3394[] = {
    {"4.1", "000102030405060708090A0B0C0D0E0F", "00112233445566778899AABBCCDDEEFF",
     "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5"},
    {"4.6", "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
     "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
     "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21"},
};

// RFC 5649 section 6 (192-bit KEK, 20-byte and 7-byte keys).
constexpr KwVector kRfc5649[] = {
    {"6/20", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "c37b7e6492584340bed12207808941155068f738",
     "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"},
    {"6/7", "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"},
};

TEST(KeywrapTest, Rfc3394KnownAnswers) {
  for (const KwVector& v : kRfc3394) {
    ASSERT_OK_AND_ASSIGN(Bytes w, AesKeyWrap(Key(v.kek), Key(v.key)));
    EXPECT_EQ(HexEncode(w), v.wrapped) << v.name;
    ASSERT_OK_AND_ASSIGN(SecretBytes k, AesKeyUnwrap(Key(v.kek), w));
    EXPECT_EQ(HexEncode(k.Expose()), HexEncode(Key(v.key).Expose())) << v.name;
  }
}

TEST(KeywrapTest, Rfc5649KnownAnswers) {
  for (const KwVector& v : kRfc5649) {
    ASSERT_OK_AND_ASSIGN(Bytes w, AesKeyWrapPad(Key(v.kek), Key(v.key)));
    EXPECT_EQ(HexEncode(w), v.wrapped) << v.name;
    ASSERT_OK_AND_ASSIGN(SecretBytes k, AesKeyUnwrapPad(Key(v.kek), w));
    EXPECT_EQ(HexEncode(k.Expose()), v.key) << v.name;
  }
}

TEST(KeywrapTest, TamperAndWrongKekAreUnauthenticated) {
  const KwVector& v = kRfc3394[1];
  Bytes w = HexDecode(v.wrapped).value();
  for (size_t i = 0; i < w.size(); ++i) {
    Bytes bad = w;
    bad[i] ^= 0x80;
    EXPECT_THAT(AesKeyUnwrap(Key(v.kek), bad), StatusIs(StatusCode::kUnauthenticated, HasSubstr("integrity")));
  }
  EXPECT_THAT(AesKeyUnwrap(SecretBytes(32), w), StatusIs(StatusCode::kUnauthenticated, HasSubstr("integrity")));
  const KwVector& p = kRfc5649[0];
  Bytes wp = HexDecode(p.wrapped).value();
  wp[3] ^= 1;
  EXPECT_THAT(AesKeyUnwrapPad(Key(p.kek), wp), StatusIs(StatusCode::kUnauthenticated, HasSubstr("integrity")));
}

TEST(KeywrapTest, RejectsBadSizes) {
  SecretBytes kek(32);
  EXPECT_THAT(AesKeyWrap(kek, SecretBytes(12)), StatusIs(StatusCode::kInvalidArgument, HasSubstr("multiple of 8")));
  EXPECT_THAT(AesKeyWrap(SecretBytes(10), SecretBytes(16)), StatusIs(StatusCode::kInvalidArgument, HasSubstr("KEK")));
  EXPECT_THAT(AesKeyUnwrap(kek, Bytes(20)), StatusIs(StatusCode::kInvalidArgument, HasSubstr("got 20")));
  EXPECT_THAT(AesKeyUnwrapPad(kek, Bytes(8)), StatusIs(StatusCode::kInvalidArgument, HasSubstr("got 8")));
  EXPECT_THAT(AesKeyWrapPad(kek, SecretBytes()), StatusIs(StatusCode::kInvalidArgument, testing::_));
}

}  // namespace
}  // namespace vhsm::crypto
