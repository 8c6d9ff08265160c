// amd_roots_test.cc: the pinned AMD ARK/ASK/ASVK constants match the shared manifest (SHA-256
// of the DER and of the PEM file), chain to each other, and carry AMD's names.
#include "snp/amd_roots.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/file.h"
#include "crypto/digest.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::snp {
namespace {

constexpr Product kProducts[] = {Product::kMilan, Product::kGenoa, Product::kTurin};
constexpr AmdCertKind kKinds[] = {AmdCertKind::kArk, AmdCertKind::kAsk, AmdCertKind::kAsvk};

TEST(AmdRootsTest, PinnedCertificatesParseChainAndAreNamedLikeAmds) {
  for (Product p : kProducts) {
    ASSERT_OK_AND_ASSIGN(crypto::Certificate ark, PinnedCertificate(AmdCertKind::kArk, p));
    EXPECT_EQ(ark.SubjectCn(), ExpectedAmdCn(AmdCertKind::kArk, p));
    EXPECT_OK(ark.VerifySignedBy(ark.public_key(), crypto::SigProfile::kRsaPssSha384Salt48, "ARK"));
    for (AmdCertKind k : {AmdCertKind::kAsk, AmdCertKind::kAsvk}) {
      ASSERT_OK_AND_ASSIGN(crypto::Certificate c, PinnedCertificate(k, p));
      EXPECT_EQ(c.SubjectCn(), ExpectedAmdCn(k, p));
      EXPECT_EQ(c.IssuerCn(), ark.SubjectCn());
      EXPECT_OK(c.VerifySignedBy(ark.public_key(), crypto::SigProfile::kRsaPssSha384Salt48, "ASK"));
    }
  }
  EXPECT_EQ(PinnedCertificate(AmdCertKind::kArk, Product::kUnknown).status().code(), StatusCode::kNotFound);
}

TEST(AmdRootsTest, FingerprintsMatchTheManifest) {
  VHSM_REQUIRE_SNP_VECTORS();
  auto text = ReadFileText(testdata::SnpVectorsDir() + "/MANIFEST.json");
  ASSERT_OK(text.status());
  nlohmann::json m = nlohmann::json::parse(*text);
  int matched = 0;
  for (const auto& r : m["amd_root_certificates"]) {
    if (!r.contains("sha256_of_der")) continue;
    std::string path = r["path"];
    std::string base = path.substr(path.rfind('/') + 1);  // e.g. milan_ask.pem
    for (Product p : kProducts) {
      for (AmdCertKind k : kKinds) {
        std::string name = std::string(ProductName(p)) + "_" + std::string(AmdCertKindName(k)) + ".pem";
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (name != base) continue;
        SCOPED_TRACE(base);
        EXPECT_EQ(PinnedSha256(k, p), r["sha256_of_der"].get<std::string>());
        // The embedded PEM is the shared file byte for byte (modulo the trailing newline).
        Bytes file = testdata::ReadVector(path);
        std::string pem(PinnedPem(k, p));
        EXPECT_EQ(HexEncode(crypto::Sha256(file)), r["sha256"].get<std::string>());
        EXPECT_TRUE(AsStringView(file).find(pem) == 0);
        EXPECT_EQ(r["subject_cn"].get<std::string>(), "CN=" + ExpectedAmdCn(k, p));
        ++matched;
      }
    }
  }
  EXPECT_EQ(matched, 9);
}

}  // namespace
}  // namespace vhsm::snp
