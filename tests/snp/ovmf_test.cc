#include "snp/ovmf.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "synthetic_ovmf.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::snp {
namespace {

using ::testing::HasSubstr;
using testing::SyntheticOvmf;

TEST(EfiGuidTest, UsesEfiByteOrder) {
  constexpr Guid g = EfiGuid("96b582de-1fb2-45f7-baea-a366c55a082d");
  EXPECT_EQ(HexEncode(g), "de82b596b21ff745baeaa366c55a082d");
}

TEST(OvmfTest, ParsesSyntheticImage) {
  SyntheticOvmf s;
  s.hash_table_gpa = 0x80BC00;
  s.sections.push_back({0x80B000, 0x1000, SevSectionType::kSnpKernelHashes});
  ASSERT_OK_AND_ASSIGN(OvmfInfo info, ParseOvmf(s.Build()));
  EXPECT_EQ(info.image_size, 2 * kPageSize);
  EXPECT_EQ(info.gpa_base, 0xFFFFE000u);
  EXPECT_EQ(info.sev_es_reset_eip, 0xFFFFF004u);
  EXPECT_EQ(info.sev_hash_table_gpa, 0x80BC00u);
  ASSERT_EQ(info.sections.size(), 4u);
  EXPECT_EQ(info.sections[0].type, SevSectionType::kSnpSecMem);
  EXPECT_EQ(info.sections[0].size, 0x9000u);
  EXPECT_EQ(info.sections[3].type, SevSectionType::kSnpKernelHashes);
  EXPECT_TRUE(info.HasSnpKernelHashes());
}

TEST(OvmfTest, NoKernelHashesWithoutSectionOrTableGpa) {
  SyntheticOvmf s;
  s.hash_table_gpa = 0x80BC00;  // GUID alone is not enough for SNP
  ASSERT_OK_AND_ASSIGN(OvmfInfo info, ParseOvmf(s.Build()));
  EXPECT_FALSE(info.HasSnpKernelHashes());
  SyntheticOvmf t;
  t.sections.push_back({0x80B000, 0x1000, SevSectionType::kSnpKernelHashes});
  ASSERT_OK_AND_ASSIGN(OvmfInfo info2, ParseOvmf(t.Build()));
  EXPECT_FALSE(info2.HasSnpKernelHashes());
}

TEST(OvmfTest, RejectsNonOvmf) {
  Bytes zeros(3 * kPageSize, 0);
  EXPECT_THAT(ParseOvmf(zeros), StatusIs(StatusCode::kInvalidArgument,
                                         HasSubstr("not an OVMF image")));
  Bytes text = ToBytes(std::string(8192, 'x'));
  EXPECT_THAT(ParseOvmf(text), StatusIs(StatusCode::kInvalidArgument, HasSubstr("OVMF footer")));
}

TEST(OvmfTest, RejectsEmptyAndPartialPages) {
  EXPECT_THAT(ParseOvmf({}), StatusIs(StatusCode::kInvalidArgument, HasSubstr("empty")));
  Bytes img = SyntheticOvmf().Build();
  img.pop_back();
  EXPECT_THAT(ParseOvmf(img), StatusIs(StatusCode::kInvalidArgument, HasSubstr("truncated")));
}

TEST(OvmfTest, RejectsTruncatedImage) {
  // Only the tail of a firmware whose metadata sits 0x1800 bytes before the end: the footer is
  // intact but the metadata offset now points before the start of what was given.
  SyntheticOvmf full;
  full.metadata_offset_from_end = 0x1800;
  Bytes img = full.Build();
  ASSERT_OK(ParseOvmf(img));
  Bytes tail(img.end() - static_cast<long>(kPageSize), img.end());
  EXPECT_THAT(ParseOvmf(tail), StatusIs(StatusCode::kInvalidArgument,
                                        HasSubstr("outside the image")));
}

TEST(OvmfTest, RejectsMissingFooter) {
  SyntheticOvmf s;
  s.footer = false;
  EXPECT_THAT(ParseOvmf(s.Build()), StatusIs(StatusCode::kInvalidArgument,
                                             HasSubstr("96b582de-1fb2-45f7-baea-a366c55a082d")));
}

TEST(OvmfTest, RejectsMissingMetadata) {
  SyntheticOvmf s;
  s.metadata = false;
  EXPECT_THAT(ParseOvmf(s.Build()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("no SEV metadata")));
}

TEST(OvmfTest, RejectsBadFooterTableSize) {
  Bytes img = SyntheticOvmf().Build();
  const size_t size_at = img.size() - 32 - 18;
  StoreU16Le(img.data() + size_at, 0xFFFF);
  EXPECT_THAT(ParseOvmf(img), StatusIs(StatusCode::kInvalidArgument, HasSubstr("table size")));
  StoreU16Le(img.data() + size_at, 5);
  EXPECT_THAT(ParseOvmf(img), StatusIs(StatusCode::kInvalidArgument, HasSubstr("table size")));
}

TEST(OvmfTest, RejectsEntryRunningOutsideTable) {
  Bytes img = SyntheticOvmf().Build();
  // The last entry before the footer: its u16 length sits 18 bytes before the footer header.
  const size_t entry_len_at = img.size() - 32 - 18 - 18;
  StoreU16Le(img.data() + entry_len_at, 0x7FFF);
  EXPECT_THAT(ParseOvmf(img), StatusIs(StatusCode::kInvalidArgument,
                                       HasSubstr("OVMF footer table: entry")));
  StoreU16Le(img.data() + entry_len_at, 3);
  EXPECT_THAT(ParseOvmf(img), StatusIs(StatusCode::kInvalidArgument, HasSubstr("length 3")));
}

TEST(OvmfTest, RejectsBadMetadataHeader) {
  SyntheticOvmf v;
  v.metadata_version = 2;
  EXPECT_THAT(ParseOvmf(v.Build()), StatusIs(StatusCode::kInvalidArgument, HasSubstr("version 2")));

  Bytes img = SyntheticOvmf().Build();
  img[img.size() - 0x800] = 'X';
  EXPECT_THAT(ParseOvmf(img), StatusIs(StatusCode::kInvalidArgument, HasSubstr("ASEV")));

  Bytes many = SyntheticOvmf().Build();
  StoreU32Le(many.data() + many.size() - 0x800 + 12, 1000);
  EXPECT_THAT(ParseOvmf(many), StatusIs(StatusCode::kInvalidArgument, HasSubstr("1000 sections")));

  Bytes small = SyntheticOvmf().Build();
  StoreU32Le(small.data() + small.size() - 0x800 + 4, 20);  // size < 16 + 3*12
  EXPECT_THAT(ParseOvmf(small), StatusIs(StatusCode::kInvalidArgument, HasSubstr("size 20")));
}

TEST(OvmfTest, RejectsBadSections) {
  SyntheticOvmf unknown;
  unknown.sections.push_back({0x900000, 0x1000, static_cast<SevSectionType>(7)});
  EXPECT_THAT(ParseOvmf(unknown.Build()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("unknown type 0x7")));
  SyntheticOvmf unaligned;
  unaligned.sections[1].gpa = 0x809001;
  EXPECT_THAT(ParseOvmf(unaligned.Build()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("not 4 KiB aligned")));
  SyntheticOvmf empty;
  empty.sections[0].size = 0;
  EXPECT_THAT(ParseOvmf(empty.Build()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("SNP_SEC_MEM")));
  SyntheticOvmf wrap;
  wrap.sections[0] = {0xFFFFF000, 0x2000, SevSectionType::kSnpSecMem};
  EXPECT_THAT(ParseOvmf(wrap.Build()),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("crosses 4 GiB")));
}

TEST(OvmfTest, RejectsOversizeImage) {
  Bytes big(kMaxOvmfBytes + kPageSize, 0);
  EXPECT_THAT(ParseOvmf(big), StatusIs(StatusCode::kResourceExhausted, HasSubstr("limit")));
}

TEST(OvmfTest, ParsesRealFixtures) {
  VHSM_REQUIRE_SNP_VECTORS();
  Bytes amd = testdata::ReadVector("measure/ovmf_AmdSev_suffix.bin");
  ASSERT_OK_AND_ASSIGN(OvmfInfo info, ParseOvmf(amd));
  EXPECT_TRUE(info.sev_es_reset_eip.has_value());
  EXPECT_TRUE(info.HasSnpKernelHashes());
  Bytes x64 = testdata::ReadVector("measure/ovmf_OvmfX64_suffix.bin");
  ASSERT_OK_AND_ASSIGN(OvmfInfo info64, ParseOvmf(x64));
  EXPECT_FALSE(info64.HasSnpKernelHashes());
}

}  // namespace
}  // namespace vhsm::snp
