// cert_table_test.cc: the extended-report certificate table codec (snp-facts.md section 8).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/byte_reader.h"
#include "snp/firmware.h"
#include "testing/status_matchers.h"

namespace vhsm::snp {
namespace {

using ::testing::HasSubstr;

Bytes Filled(size_t n, uint8_t v) { return Bytes(n, v); }

std::vector<CertTableEntry> SampleEntries() {
  return {{kGuidVcek, Filled(1200, 0x30)}, {kGuidAsk, Filled(1500, 0x31)}, {kGuidArk, Filled(1400, 0x32)}};
}

// Writes one raw 24-byte entry.
void PutEntry(Bytes& blob, size_t at, const Guid& g, uint32_t offset, uint32_t length) {
  if (blob.size() < at + 24) blob.resize(at + 24);
  std::copy(g.begin(), g.end(), blob.begin() + static_cast<std::ptrdiff_t>(at));
  StoreU32Le(&blob[at + 16], offset);
  StoreU32Le(&blob[at + 20], length);
}

TEST(CertTableTest, RoundTripKeepsOrderAndData) {
  auto entries = SampleEntries();
  Bytes blob = SerializeCertTable(entries);
  EXPECT_EQ(blob.size(), 4 * 24 + 1200 + 1500 + 1400u);
  ASSERT_OK_AND_ASSIGN(auto parsed, ParseCertTable(blob));
  ASSERT_EQ(parsed.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(parsed[i].guid, entries[i].guid);
    EXPECT_EQ(parsed[i].data, entries[i].data);
  }
  EXPECT_EQ(SerializeCertTable(parsed), blob);
}

TEST(CertTableTest, GuidsStoredInRfc4122ByteOrder) {
  Bytes blob = SerializeCertTable({{kGuidVcek, Filled(10, 1)}});
  // 63da758d-e664-4564-adc5-f4b93be8accd read left to right, not the EFI mixed-endian form.
  EXPECT_EQ(HexEncode(ByteSpan(blob).first(16)), "63da758de6644564adc5f4b93be8accd");
  EXPECT_EQ(LoadU32Le(&blob[16]), 48u);  // data right after entry + terminator
  EXPECT_EQ(LoadU32Le(&blob[20]), 10u);
  EXPECT_TRUE(IsAllZero(ByteSpan(blob).subspan(24, 24)));
  EXPECT_EQ(HexEncode(kGuidArk), "c0b406a4a80349529743" "3fb6014cd0ae");
  EXPECT_EQ(HexEncode(kGuidAsk), "4ab7b379bbac4fe4a02f05aef327c782");
  EXPECT_EQ(HexEncode(kGuidVlek), "a8074bc2a25a483eaae639c045a0b8a1");
  EXPECT_EQ(HexEncode(kGuidCrl), "92f81bc358114d3d97ffd19f88dc67ea");
}

TEST(CertTableTest, EmptyOrAllZeroBlobMeansNoCertificates) {
  ASSERT_OK_AND_ASSIGN(auto none, ParseCertTable({}));
  EXPECT_TRUE(none.empty());
  Bytes zeros(16384, 0);
  ASSERT_OK_AND_ASSIGN(auto none2, ParseCertTable(zeros));
  EXPECT_TRUE(none2.empty());
  EXPECT_TRUE(SerializeCertTable({}).empty());
}

TEST(CertTableTest, TrailingPaddingAccepted) {
  Bytes blob = SerializeCertTable(SampleEntries());
  blob.resize(16384, 0);  // hosts hand over page-sized buffers
  ASSERT_OK_AND_ASSIGN(auto parsed, ParseCertTable(blob));
  EXPECT_EQ(parsed.size(), 3u);
}

TEST(CertTableTest, CertificateSetPicksByGuid) {
  std::vector<CertTableEntry> entries = {{kGuidVlek, Filled(3, 4)},
                                         {kGuidCrl, Filled(2, 5)},
                                         {Guid{1, 2, 3}, Filled(9, 9)},  // unknown: ignored
                                         {kGuidArk, Filled(1, 6)},
                                         {kGuidAsk, Filled(4, 7)}};
  CertificateSet set = CertificateSetFromTable(entries);
  EXPECT_EQ(set.vlek, Filled(3, 4));
  EXPECT_EQ(set.crl, Filled(2, 5));
  EXPECT_EQ(set.ark, Filled(1, 6));
  EXPECT_EQ(set.ask, Filled(4, 7));
  EXPECT_TRUE(set.vcek.empty());
}

TEST(CertTableTest, RejectsMissingTerminator) {
  Bytes blob;
  PutEntry(blob, 0, kGuidVcek, 24, 0);  // no room for anything else
  blob.resize(24 + 10, 0xAA);
  StoreU32Le(&blob[16], 24);
  StoreU32Le(&blob[20], 10);
  EXPECT_THAT(ParseCertTable(blob),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("without the all-zero terminator")));
  // Entries that simply run to the end of the blob.
  Bytes only_entries;
  PutEntry(only_entries, 0, kGuidVcek, 100, 1);
  PutEntry(only_entries, 24, kGuidAsk, 101, 1);
  EXPECT_THAT(ParseCertTable(only_entries),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("cert_table.entry[2]: table ends")));
}

TEST(CertTableTest, RejectsOutOfRangeEntries) {
  Bytes blob = SerializeCertTable(SampleEntries());
  Bytes bad = blob;
  StoreU32Le(&bad[24 + 20], 0xFFFFFFFFu);  // ASK length huge
  EXPECT_THAT(ParseCertTable(bad), StatusIs(StatusCode::kInvalidArgument,
                                            HasSubstr("entry[1] (4ab7b379-bbac-4fe4-a02f-05aef327c782)")));
  bad = blob;
  StoreU32Le(&bad[16], 0xFFFFFFF0u);  // offset past the end
  EXPECT_THAT(ParseCertTable(bad), StatusIs(StatusCode::kInvalidArgument, HasSubstr("exceeds the blob size")));
  bad = blob;
  StoreU32Le(&bad[16], 10);  // data inside the entry table
  EXPECT_THAT(ParseCertTable(bad), StatusIs(StatusCode::kInvalidArgument, HasSubstr("points into the entry table")));
  bad = blob;
  StoreU32Le(&bad[20], 0);  // zero length
  EXPECT_THAT(ParseCertTable(bad), StatusIs(StatusCode::kInvalidArgument, HasSubstr("length 0")));
}

TEST(CertTableTest, RejectsOverlappingEntries) {
  Bytes blob = SerializeCertTable(SampleEntries());
  Bytes bad = blob;
  StoreU32Le(&bad[24 + 16], LoadU32Le(&bad[16]) + 100);  // ASK starts inside the VCEK data
  EXPECT_THAT(ParseCertTable(bad), StatusIs(StatusCode::kInvalidArgument, HasSubstr("overlaps entry 0")));
}

TEST(CertTableTest, RejectsDuplicateAndZeroGuids) {
  Bytes blob = SerializeCertTable({{kGuidVcek, Filled(5, 1)}, {kGuidVcek, Filled(5, 2)}});
  EXPECT_THAT(ParseCertTable(blob), StatusIs(StatusCode::kInvalidArgument, HasSubstr("duplicate GUID")));
  Bytes zero_guid = SerializeCertTable({{kGuidVcek, Filled(5, 1)}, {kGuidAsk, Filled(5, 2)}});
  std::fill(zero_guid.begin() + 24, zero_guid.begin() + 40, 0);
  EXPECT_THAT(ParseCertTable(zero_guid),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("entry[1]: zero GUID with offset")));
}

TEST(CertTableTest, SizeLimit) {
  Bytes at_limit = SerializeCertTable({{kGuidVcek, Filled(64 * 1024 - 48, 1)}});
  ASSERT_EQ(at_limit.size(), 64u * 1024);
  EXPECT_OK(ParseCertTable(at_limit));
  Bytes over(64 * 1024 + 1, 0);
  EXPECT_THAT(ParseCertTable(over), StatusIs(StatusCode::kResourceExhausted, HasSubstr("limit 65536")));
}

}  // namespace
}  // namespace vhsm::snp
