#include "base/byte_reader.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace vhsm {
namespace {

TEST(ByteReaderTest, ReadsLittleEndian) {
  Bytes b = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
  ByteReader r(b);
  EXPECT_EQ(*r.ReadU8(), 0x01);
  EXPECT_EQ(*r.ReadU16Le(), 0x0302);
  EXPECT_EQ(*r.ReadU32Le(), 0x07060504u);
  EXPECT_EQ(*r.ReadU64Le(), 0x0f0e0d0c0b0a0908ull);
  EXPECT_TRUE(r.empty());
}

TEST(ByteReaderTest, OverrunIsAnErrorNamingTheField) {
  Bytes b = {0x01, 0x02, 0x03};
  ByteReader r(b);
  EXPECT_THAT(r.ReadU32Le("report.version"),
              StatusIs(StatusCode::kInvalidArgument, ::testing::HasSubstr("report.version: need 4 bytes")));
  EXPECT_EQ(r.offset(), 0u);
  EXPECT_FALSE(r.ReadBytes(4).ok());
  EXPECT_OK(r.Skip(3));
  EXPECT_FALSE(r.ReadU8().ok());
}

TEST(ByteWriterTest, MirrorsReader) {
  ByteWriter w;
  w.WriteU16Le(0xBEEF);
  w.WriteU32Le(0x01020304);
  w.WriteU64Le(0x1122334455667788ull);
  w.WriteU32Be(0xA1B2C3D4);
  ByteReader r(w.bytes());
  EXPECT_EQ(*r.ReadU16Le(), 0xBEEF);
  EXPECT_EQ(*r.ReadU32Le(), 0x01020304u);
  EXPECT_EQ(*r.ReadU64Le(), 0x1122334455667788ull);
  EXPECT_EQ(*r.ReadU32Be(), 0xA1B2C3D4u);
}

}  // namespace
}  // namespace vhsm
