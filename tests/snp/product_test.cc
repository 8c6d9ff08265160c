// product_test.cc: product names and CPUID identification (snp-facts.md section 1).
#include "snp/product.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace vhsm::snp {
namespace {

TEST(ProductTest, FromCpuidBoundaries) {
  struct Case {
    uint8_t family, model;
    std::optional<Product> want;
  };
  const Case cases[] = {
      {0x19, 0x00, Product::kMilan}, {0x19, 0x01, Product::kMilan}, {0x19, 0x0F, Product::kMilan},
      {0x19, 0x10, Product::kGenoa}, {0x19, 0x11, Product::kGenoa}, {0x19, 0x1F, Product::kGenoa},
      {0x19, 0x20, std::nullopt},    {0x19, 0x9F, std::nullopt},    {0x19, 0xA0, Product::kGenoa},
      {0x19, 0xAF, Product::kGenoa}, {0x19, 0xB0, std::nullopt},    {0x1A, 0x00, Product::kTurin},
      {0x1A, 0x02, Product::kTurin}, {0x1A, 0x11, Product::kTurin}, {0x1A, 0x12, std::nullopt},
      {0x17, 0x01, std::nullopt},    {0x1B, 0x00, std::nullopt},    {0x00, 0x00, std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ProductFromCpuid(c.family, c.model), c.want)
        << "family " << int{c.family} << " model " << int{c.model};
  }
}

TEST(ProductTest, NamesRoundTrip) {
  for (Product p : {Product::kMilan, Product::kGenoa, Product::kTurin}) {
    ASSERT_OK_AND_ASSIGN(Product parsed, ParseProduct(ProductName(p)));
    EXPECT_EQ(parsed, p);
  }
  EXPECT_EQ(ProductName(Product::kUnknown), "unknown");
  EXPECT_TRUE(HasTurinTcbLayout(Product::kTurin));
  EXPECT_FALSE(HasTurinTcbLayout(Product::kGenoa));
}

TEST(ProductTest, ParseAcceptsCaseAndStepping) {
  EXPECT_EQ(ParseProduct("milan").value(), Product::kMilan);
  EXPECT_EQ(ParseProduct("Milan-B0").value(), Product::kMilan);
  EXPECT_EQ(ParseProduct("GENOA").value(), Product::kGenoa);
  EXPECT_EQ(ParseProduct("turin").value(), Product::kTurin);
  EXPECT_THAT(ParseProduct("rome"), StatusIs(StatusCode::kInvalidArgument, ::testing::HasSubstr("\"rome\"")));
  EXPECT_THAT(ParseProduct(""), StatusIs(StatusCode::kInvalidArgument, ::testing::HasSubstr("want one of")));
  EXPECT_THAT(ParseProduct("unknown"), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
}

}  // namespace
}  // namespace vhsm::snp
