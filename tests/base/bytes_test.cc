#include "base/bytes.h"

#include <gtest/gtest.h>

#include "base/secret_bytes.h"
#include "testing/status_matchers.h"

namespace vhsm {
namespace {

using ::testing::HasSubstr;

TEST(HexTest, RoundTrip) {
  Bytes b = {0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(HexEncode(b), "0001abff");
  EXPECT_EQ(*HexDecode("0001ABff"), b);
  EXPECT_EQ(*HexDecode("0x0001abff"), b);
}

TEST(HexTest, RejectsOddAndBadDigits) {
  EXPECT_THAT(HexDecode("abc"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("odd")));
  EXPECT_THAT(HexDecode("zz"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("invalid digit")));
  EXPECT_THAT(HexDecodeExact("0011", 3, "measurement"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("measurement: got 2 bytes, want 3")));
}

// RFC 4648 section 10 test vectors.
TEST(Base64Test, Rfc4648Vectors) {
  const std::pair<const char*, const char*> kVectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, enc] : kVectors) {
    EXPECT_EQ(Base64Encode(AsBytes(plain)), enc);
    ASSERT_OK_AND_ASSIGN(Bytes dec, Base64Decode(enc));
    EXPECT_EQ(AsStringView(dec), plain);
  }
}

TEST(Base64Test, UrlSafeUnpadded) {
  Bytes b = {0xfb, 0xff, 0xbf};
  EXPECT_EQ(Base64UrlEncode(b), "-_-_");
  EXPECT_EQ(Base64UrlEncode(AsBytes("f")), "Zg");
  EXPECT_EQ(*Base64UrlDecode("Zg"), ToBytes("f"));
  EXPECT_FALSE(Base64UrlDecode("Zg==").ok());
}

TEST(Base64Test, RejectsMalformed) {
  EXPECT_FALSE(Base64Decode("Zg=").ok());     // bad length
  EXPECT_FALSE(Base64Decode("Z===").ok());    // too much padding
  EXPECT_FALSE(Base64Decode("Zh==").ok());    // non-canonical trailing bits
  EXPECT_FALSE(Base64Decode("Zm9v!A==").ok());
  EXPECT_FALSE(Base64Decode("Zm 9v").ok());
}

TEST(BytesTest, ConstantTimeEquals) {
  EXPECT_TRUE(ConstantTimeEquals(ToBytes("abc"), ToBytes("abc")));
  EXPECT_FALSE(ConstantTimeEquals(ToBytes("abc"), ToBytes("abd")));
  EXPECT_FALSE(ConstantTimeEquals(ToBytes("abc"), ToBytes("ab")));
}

TEST(SecretBytesTest, MoveOnlyAndClearedOnMove) {
  SecretBytes a(ToBytes("key"));
  SecretBytes b = std::move(a);
  EXPECT_EQ(b.size(), 3u);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is defined empty
  SecretBytes c = b.Clone();
  EXPECT_EQ(std::vector<uint8_t>(c.Expose().begin(), c.Expose().end()), ToBytes("key"));
  std::ostringstream os;
  os << c;
  EXPECT_EQ(os.str(), "SecretBytes(3 bytes)");
}

}  // namespace
}  // namespace vhsm
