// tcb_test.cc: TCB_VERSION layouts per product (snp-facts.md section 2).
#include "snp/tcb.h"

#include <gtest/gtest.h>

#include "base/byte_reader.h"

namespace vhsm::snp {
namespace {

uint64_t FromLeBytes(std::initializer_list<uint8_t> bytes) {
  uint8_t b[8] = {};
  size_t i = 0;
  for (uint8_t v : bytes) b[i++] = v;
  return LoadU64Le(b);
}

TEST(TcbTest, FactSheetTurinExampleDecodesPerLayout) {
  uint64_t raw = FromLeBytes({0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x50});
  TcbParts turin = DecodeTcb(raw, Product::kTurin);
  EXPECT_EQ(turin.fmc, 1);
  EXPECT_EQ(turin.bootloader, 2);
  EXPECT_EQ(turin.tee, 3);
  EXPECT_EQ(turin.snp, 4);
  EXPECT_EQ(turin.microcode, 0x50);
  // The same bytes with the Milan/Genoa layout: bl 1, tee 2, snp 0.
  for (Product p : {Product::kMilan, Product::kGenoa, Product::kUnknown}) {
    TcbParts milan = DecodeTcb(raw, p);
    EXPECT_FALSE(milan.fmc.has_value());
    EXPECT_EQ(milan.bootloader, 1);
    EXPECT_EQ(milan.tee, 2);
    EXPECT_EQ(milan.snp, 0);
    EXPECT_EQ(milan.microcode, 0x50);
  }
}

TEST(TcbTest, MilanLayoutFromRealVectorBytes) {
  // milan-v2-vcek-virtee REPORTED_TCB: 03 00 00 00 00 00 08 73.
  TcbParts p = DecodeTcb(FromLeBytes({0x03, 0, 0, 0, 0, 0, 0x08, 0x73}), Product::kMilan);
  EXPECT_EQ(p, (TcbParts{std::nullopt, 3, 0, 8, 115}));
  EXPECT_EQ(TcbToString(p), "bl=3 tee=0 snp=8 ucode=115");
}

TEST(TcbTest, EncodeIsInverseOfDecode) {
  TcbParts turin{9, 2, 3, 4, 0xDC};
  uint64_t raw = EncodeTcb(turin, Product::kTurin);
  EXPECT_EQ(raw, FromLeBytes({9, 2, 3, 4, 0, 0, 0, 0xDC}));
  EXPECT_EQ(DecodeTcb(raw, Product::kTurin), turin);
  EXPECT_EQ(TcbToString(turin), "fmc=9 bl=2 tee=3 snp=4 ucode=220");

  TcbParts genoa{std::nullopt, 10, 0, 25, 84};
  raw = EncodeTcb(genoa, Product::kGenoa);
  EXPECT_EQ(raw, FromLeBytes({10, 0, 0, 0, 0, 0, 25, 84}));
  EXPECT_EQ(DecodeTcb(raw, Product::kGenoa), genoa);
  // fmc is ignored outside Turin.
  TcbParts with_fmc{7, 10, 0, 25, 84};
  EXPECT_EQ(EncodeTcb(with_fmc, Product::kMilan), raw);
}

TEST(TcbTest, ComparisonIsPerComponentNotIntegral) {
  TcbParts have{std::nullopt, 3, 0, 8, 115};
  TcbParts min_bl{std::nullopt, 4, 0, 0, 0};  // smaller as an integer, larger bootloader
  EXPECT_LT(EncodeTcb(min_bl, Product::kMilan), EncodeTcb(have, Product::kMilan));
  EXPECT_FALSE(TcbAtLeast(have, min_bl));
  EXPECT_TRUE(TcbAtLeast(have, have));
  EXPECT_TRUE(TcbAtLeast(have, TcbParts{std::nullopt, 3, 0, 8, 114}));
  EXPECT_FALSE(TcbAtLeast(have, TcbParts{std::nullopt, 3, 1, 8, 115}));
  EXPECT_FALSE(TcbAtLeast(have, TcbParts{std::nullopt, 3, 0, 9, 115}));
  EXPECT_FALSE(TcbAtLeast(have, TcbParts{std::nullopt, 3, 0, 8, 116}));
  // fmc compared only when both sides have it.
  TcbParts turin{2, 3, 0, 8, 115};
  EXPECT_FALSE(TcbAtLeast(turin, TcbParts{3, 3, 0, 8, 115}));
  EXPECT_TRUE(TcbAtLeast(turin, TcbParts{2, 3, 0, 8, 115}));
  EXPECT_TRUE(TcbAtLeast(turin, have));
}

TEST(TcbTest, ReservedMasks) {
  EXPECT_EQ(TcbReservedMask(Product::kMilan), 0x0000FFFFFFFF0000ull);
  EXPECT_EQ(TcbReservedMask(Product::kGenoa), 0x0000FFFFFFFF0000ull);
  EXPECT_EQ(TcbReservedMask(Product::kTurin), 0x00FFFFFF00000000ull);
  for (Product p : {Product::kMilan, Product::kTurin}) {
    TcbParts max{0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    EXPECT_EQ(EncodeTcb(max, p) & TcbReservedMask(p), 0u);
    EXPECT_EQ(EncodeTcb(max, p) | TcbReservedMask(p), 0xFFFFFFFFFFFFFFFFull);
  }
}

}  // namespace
}  // namespace vhsm::snp
