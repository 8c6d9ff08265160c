// verifier_test.cc: attest::Verifier against the real AMD-signed vectors in shared/snp-vectors
// (every MANIFEST entry, the documented combinations, every bit of the signed region) and a
// generated AMD-shaped PKI for revocation, Turin layout and naming checks.
#include "attest/verifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/clock.h"
#include "base/file.h"
#include "snp/amd_roots.h"
#include "test_pki.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::attest {
namespace {

using ::testing::HasSubstr;
using snp::Product;

// Manifest "generated" date: deterministic time for VCEK vectors (all valid then).
constexpr char kManifestTime[] = "2026-11-27T00:00:00Z";
// Inside the VLEK's one-year validity (manifest note).
constexpr char kVlekTime[] = "2025-06-01T00:00:00Z";

int64_t At(const char* t) { return ParseRfc3339(t).value(); }

std::unique_ptr<Verifier> MakeVerifier(const Clock* clock, VerifierOptions opts = {}) {
  opts.clock = clock;
  auto v = Verifier::Create(std::move(opts));
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return std::move(v).value();
}

Bytes ReadCert(const std::string& rel) {
  Bytes b = testdata::ReadVector(rel);
  return b;
}

struct VectorFiles {
  Bytes report;
  snp::CertificateSet certs;
};

// Loads a manifest "report" vector: report.bin, its leaf (vcek.* / vlek.* or "leaf"), and the
// chain it names.
VectorFiles LoadReportVector(const nlohmann::json& v) {
  VectorFiles f;
  std::string dir = "vectors/" + v["name"].get<std::string>() + "/";
  if (v.contains("files")) {
    for (const auto& file : v["files"]) {
      std::string path = file["path"];
      std::string base = path.substr(path.rfind('/') + 1);
      if (base == "report.bin") f.report = testdata::ReadVector(path);
      if (base.rfind("vcek", 0) == 0) f.certs.vcek = testdata::ReadVector(path);
      if (base.rfind("vlek", 0) == 0) f.certs.vlek = testdata::ReadVector(path);
    }
  }
  if (f.report.empty()) f.report = testdata::ReadVector(dir + "report.bin");
  if (v.contains("leaf")) {
    Bytes leaf = testdata::ReadVector(v["leaf"].get<std::string>());
    (v.value("signing_key", "VCEK") == "VLEK" ? f.certs.vlek : f.certs.vcek) = leaf;
  }
  const auto& chain = v["chain"];
  if (chain.contains("ark")) f.certs.ark = ReadCert(chain["ark"]);
  if (chain.contains("ask")) f.certs.ask = ReadCert(chain["ask"]);
  if (chain.contains("asvk")) f.certs.ask = ReadCert(chain["asvk"]);
  return f;
}

nlohmann::json Manifest() {
  auto text = ReadFileText(testdata::SnpVectorsDir() + "/MANIFEST.json");
  EXPECT_TRUE(text.ok());
  return nlohmann::json::parse(text.value());
}

bool ExpectValid(const std::string& outcome) { return outcome.rfind("valid", 0) == 0; }

TEST(VerifierManifestTest, EveryReportVectorYieldsItsExpectedOutcome) {
  VHSM_REQUIRE_SNP_VECTORS();
  nlohmann::json m = Manifest();
  int report_vectors = 0;
  for (const auto& v : m["vectors"]) {
    std::string kind = v.value("kind", "");
    if (kind.rfind("report", 0) != 0) continue;
    ++report_vectors;
    std::string name = v["name"];
    SCOPED_TRACE(name);
    VectorFiles f = LoadReportVector(v);
    const bool vlek = v.value("signing_key", "") == "VLEK";
    FixedClock clock(At(vlek ? kVlekTime : kManifestTime));
    auto verifier = MakeVerifier(&clock);
    Evidence ev{f.report, f.certs, std::nullopt};
    VerifyOutcome out = verifier->VerifyWithChecks(ev);
    std::string outcome = v["expected_outcome"];
    if (ExpectValid(outcome)) {
      ASSERT_THAT(out.status, IsOk());
      EXPECT_EQ(ProductName(out.product), v["product"].get<std::string>());
      EXPECT_EQ(out.verified->signer(), vlek ? snp::SigningKey::kVlek : snp::SigningKey::kVcek);
      EXPECT_TRUE(out.verified->amd_root());
      for (const Check& c : out.checks) EXPECT_TRUE(c.ok) << c.name << ": " << c.detail;
      // The same evidence without any supplied ARK/ASK uses the pinned chain.
      Evidence bare = ev;
      bare.certs.ark.clear();
      bare.certs.ask.clear();
      EXPECT_THAT(verifier->Verify(bare), IsOk());
      // Decoded fields agree with the manifest.
      const auto& rf = v["report_fields"];
      EXPECT_EQ(out.report->version, rf["version"].get<uint32_t>());
      EXPECT_EQ(HexEncode(out.report->chip_id), rf["chip_id_hex"].get<std::string>());
      if (vlek) {
        // Expired at the manifest date: a clear validity error, not a pass.
        FixedClock later(At(kManifestTime));
        auto v2 = MakeVerifier(&later);
        EXPECT_THAT(v2->Verify(ev), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("expired")));
      }
    } else {
      EXPECT_FALSE(out.status.ok()) << "expected rejection: " << outcome;
      ASSERT_FALSE(out.checks.empty());
      EXPECT_FALSE(out.checks.back().ok);
      if (v.contains("verification_results") && v["verification_results"].value("report_signature_valid", true) == false) {
        EXPECT_EQ(out.checks.back().name, "report.signature") << out.status.ToString();
      }
    }
  }
  EXPECT_GE(report_vectors, 5);
}

// Certificate-only vectors: the chain alone, for the product and leaf kind the manifest names.
TEST(VerifierManifestTest, EveryCertificateOnlyVectorYieldsItsExpectedOutcome) {
  VHSM_REQUIRE_SNP_VECTORS();
  nlohmann::json m = Manifest();
  int seen = 0;
  for (const auto& v : m["vectors"]) {
    if (v.value("kind", "").rfind("certificate-only", 0) != 0) continue;
    std::string name = v["name"];
    SCOPED_TRACE(name);
    ++seen;
    FixedClock clock(At(kManifestTime));
    auto verifier = MakeVerifier(&clock);
    ASSERT_OK_AND_ASSIGN(Product product, snp::ParseProduct(v["product"].get<std::string>()));
    const bool vlek = v.value("signing_key", "") == "VLEK";
    snp::CertificateSet base;
    if (v["chain"].contains("ark")) base.ark = ReadCert(v["chain"]["ark"]);
    if (v["chain"].contains("ask")) base.ask = ReadCert(v["chain"]["ask"]);
    if (v["chain"].contains("asvk")) base.ask = ReadCert(v["chain"]["asvk"]);
    int leaves = 0;
    for (const auto& entry : std::filesystem::directory_iterator(testdata::SnpVectorsDir() + "/vectors/" + name)) {
      std::string file = entry.path().filename().string();
      if (file.find("vcek") == std::string::npos && file.find("vlek") == std::string::npos) continue;
      SCOPED_TRACE(file);
      ++leaves;
      snp::CertificateSet certs = base;
      (vlek ? certs.vlek : certs.vcek) = testdata::ReadVector("vectors/" + name + "/" + file);
      std::vector<Check> checks;
      auto info = verifier->VerifyCertificateChain(product, vlek ? snp::SigningKey::kVlek : snp::SigningKey::kVcek,
                                                   certs, &checks);
      if (ExpectValid(v["expected_outcome"])) {
        ASSERT_THAT(info, IsOk());
        const auto& ext = v["leaf_certificate"]["amd_extensions"];
        EXPECT_EQ(info->product_name, ext["productName"].get<std::string>());
        if (ext.contains("hwID")) {
          EXPECT_EQ(HexEncode(*info->hw_id), ext["hwID"].get<std::string>());
        }
        if (ext.contains("fmcSPL")) {
          EXPECT_EQ(info->fmc_spl, ext["fmcSPL"].get<int>());
        }
        EXPECT_EQ(info->ucode_spl, ext["ucodeSPL"].get<int>());
        // Without the supplied ARK/ASK the pinned chain is used.
        snp::CertificateSet bare{.vcek = certs.vcek, .vlek = certs.vlek};
        EXPECT_THAT(verifier->VerifyCertificateChain(product, vlek ? snp::SigningKey::kVlek : snp::SigningKey::kVcek, bare),
                    IsOk());
      } else {
        EXPECT_FALSE(info.ok());
        EXPECT_EQ(checks.back().name, "leaf.signature");
      }
    }
    EXPECT_GE(leaves, 1);
  }
  EXPECT_GE(seen, 2);
}

TEST(VerifierManifestTest, ManifestCombinationsAreRejected) {
  VHSM_REQUIRE_SNP_VECTORS();
  FixedClock clock(At(kManifestTime));
  auto verifier = MakeVerifier(&clock);
  // Genoa report with the Milan chain.
  {
    Evidence ev{testdata::ReadVector("vectors/genoa-v3-vcek-azure-trustee/report.bin"),
                {.ark = ReadCert("certs/amd/milan_ark.pem"),
                 .ask = ReadCert("certs/amd/milan_ask.pem"),
                 .vcek = testdata::ReadVector("vectors/genoa-v3-vcek-azure-trustee/vcek.pem")},
                std::nullopt};
    EXPECT_THAT(verifier->Verify(ev), StatusIs(StatusCode::kUnauthenticated, HasSubstr("ARK-Milan")));
    ev.certs.ark.clear();  // Milan ASK under the (pinned) Genoa ARK
    EXPECT_THAT(verifier->Verify(ev), StatusIs(StatusCode::kUnauthenticated, HasSubstr("SEV-Milan")));
    // And with --product milan the CPUID contradicts the configuration.
    ev.product = Product::kMilan;
    EXPECT_FALSE(verifier->Verify(ev).ok());
  }
  // Milan report with another chip's VCEK: the report signature fails.
  {
    Evidence ev{testdata::ReadVector("vectors/milan-v2-vcek-virtee/report.bin"),
                {.ark = ReadCert("certs/amd/milan_ark.pem"),
                 .ask = ReadCert("certs/amd/milan_ask.pem"),
                 .vcek = testdata::ReadVector("vectors/milan-v2-vcek-debugpolicy-gosevguest/vcek.der")},
                std::nullopt};
    VerifyOutcome out = verifier->VerifyWithChecks(ev);
    EXPECT_THAT(out.status, StatusIs(StatusCode::kUnauthenticated, HasSubstr("report.signature")));
  }
  // VLEK report with the ASK instead of the ASVK.
  {
    FixedClock vclock(At(kVlekTime));
    auto vv = MakeVerifier(&vclock);
    Evidence ev{testdata::ReadVector("vectors/milan-v3-vlek-vmpl1-trustee/report.bin"),
                {.ark = ReadCert("certs/amd/milan_ark.pem"),
                 .ask = ReadCert("certs/amd/milan_ask.pem"),
                 .vlek = testdata::ReadVector("vectors/milan-v3-vlek-vmpl1-trustee/vlek.der")},
                std::nullopt};
    EXPECT_THAT(vv->Verify(ev), StatusIs(StatusCode::kUnauthenticated, HasSubstr("ASVK")));
    // The VLEK offered as a VCEK: SIGNING_KEY=VLEK needs a VLEK.
    ev.certs.ask.clear();
    ev.certs.vcek = ev.certs.vlek;
    ev.certs.vlek.clear();
    EXPECT_THAT(vv->Verify(ev), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("no VLEK")));
  }
  // Signature region overwritten with 0x57.
  {
    Bytes report = testdata::ReadVector("vectors/genoa-v5-vcek-oak/report.bin");
    std::fill(report.begin() + 0x2A0, report.end(), 0x57);
    Evidence ev{report, {.vcek = testdata::ReadVector("vectors/genoa-v5-vcek-oak/vcek.der")}, std::nullopt};
    EXPECT_FALSE(verifier->Verify(ev).ok());
  }
}

TEST(VerifierManifestTest, FakeTrusteeVceksParseButDoNotChain) {
  VHSM_REQUIRE_SNP_VECTORS();
  FixedClock clock(At(kManifestTime));
  auto verifier = MakeVerifier(&clock);
  Bytes report = testdata::ReadVector("vectors/milan-v2-vcek-virtee/report.bin");
  for (const char* f : {"vcek_hwid_raw64.der", "vcek_hwid_octetstring.der"}) {
    SCOPED_TRACE(f);
    Bytes der = testdata::ReadVector(std::string("vectors/neg-fake-vcek-hwid-encodings-trustee/") + f);
    ASSERT_OK_AND_ASSIGN(auto cert, crypto::Certificate::Parse(der));
    ASSERT_OK_AND_ASSIGN(snp::AmdCertInfo info, snp::ParseAmdCertInfo(cert));
    ASSERT_TRUE(info.hw_id.has_value());
    Bytes want(64);
    for (size_t i = 0; i < 64; ++i) want[i] = static_cast<uint8_t>(i);
    EXPECT_EQ(*info.hw_id, want);
    EXPECT_EQ(info.hw_id_was_octet_string, std::string(f).find("octet") != std::string::npos);
    Evidence ev{report, {.vcek = der}, Product::kMilan};
    VerifyOutcome out = verifier->VerifyWithChecks(ev);
    EXPECT_THAT(out.status, StatusIs(StatusCode::kUnauthenticated, HasSubstr("not signed by SEV-Milan")));
    EXPECT_EQ(out.checks.back().name, "leaf.signature");
  }
}

TEST(VerifierBitFlipTest, EverySignedBitFlipIsRejected) {
  VHSM_REQUIRE_SNP_VECTORS();
  FixedClock clock(At(kManifestTime));
  auto verifier = MakeVerifier(&clock);
  const Bytes report = testdata::ReadVector("vectors/genoa-v5-vcek-oak/report.bin");
  snp::CertificateSet certs{.vcek = testdata::ReadVector("vectors/genoa-v5-vcek-oak/vcek.der")};
  ASSERT_THAT(verifier->Verify({report, certs, std::nullopt}), IsOk());
  int rejected = 0;
  for (size_t bit = 0; bit < snp::kSignedRegionSize * 8; ++bit) {
    Bytes r = report;
    r[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    auto res = verifier->Verify({r, certs, std::nullopt});
    if (!res.ok()) {
      ++rejected;
    } else {
      ADD_FAILURE() << "flip of bit " << bit % 8 << " at offset 0x" << std::hex << bit / 8 << " accepted";
    }
  }
  EXPECT_EQ(rejected, static_cast<int>(snp::kSignedRegionSize * 8));
  EXPECT_EQ(verifier->cached_chains(), 1u);  // chain verified once, reused
}

TEST(VerifierBitFlipTest, SignatureBitFlipsAreRejected) {
  VHSM_REQUIRE_SNP_VECTORS();
  FixedClock clock(At(kManifestTime));
  auto verifier = MakeVerifier(&clock);
  const Bytes report = testdata::ReadVector("vectors/milan-v2-vcek-virtee/report.bin");
  snp::CertificateSet certs{.vcek = testdata::ReadVector("vectors/milan-v2-vcek-virtee/vcek.der")};
  for (size_t off = 0x2A0; off < 0x4A0; ++off) {
    for (int b = 0; b < 8; ++b) {
      Bytes r = report;
      r[off] ^= static_cast<uint8_t>(1u << b);
      EXPECT_FALSE(verifier->Verify({r, certs, Product::kMilan}).ok()) << "offset " << off << " bit " << b;
    }
  }
}

TEST(VerifierTest, V2ReportWithoutHintPicksTheChainThatVerifies) {
  VHSM_REQUIRE_SNP_VECTORS();
  FixedClock clock(At(kManifestTime));
  auto verifier = MakeVerifier(&clock);
  Evidence ev{testdata::ReadVector("vectors/milan-v2-vcek-virtee/report.bin"),
              {.vcek = testdata::ReadVector("vectors/milan-v2-vcek-virtee/vcek.der")}, std::nullopt};
  ASSERT_OK_AND_ASSIGN(VerifiedReport v, verifier->Verify(ev));
  EXPECT_EQ(v.product(), Product::kMilan);
  EXPECT_EQ(v.root_cn(), "ARK-Milan");
  ev.product = Product::kGenoa;  // a wrong hint fails: the Genoa chain does not sign this VCEK
  EXPECT_FALSE(verifier->Verify(ev).ok());
}

TEST(VerifierTest, RejectsMissingLeafTruncatedReportAndExpiry) {
  VHSM_REQUIRE_SNP_VECTORS();
  FixedClock clock(At(kManifestTime));
  auto verifier = MakeVerifier(&clock);
  Bytes report = testdata::ReadVector("vectors/milan-v2-vcek-virtee/report.bin");
  EXPECT_THAT(verifier->Verify({report, {}, std::nullopt}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("no VCEK")));
  Bytes shorter(report.begin(), report.end() - 1);
  VerifyOutcome out = verifier->VerifyWithChecks({shorter, {}, std::nullopt});
  EXPECT_EQ(out.status.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(out.checks.back().name, "report.parse");
  snp::CertificateSet certs{.vcek = testdata::ReadVector("vectors/milan-v2-vcek-virtee/vcek.der")};
  clock.Set(At("2031-01-01T00:00:00Z"));
  EXPECT_THAT(verifier->Verify({report, certs, std::nullopt}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("VCEK: expired at 2030-04-03")));
  clock.Set(At("2023-01-01T00:00:00Z"));
  EXPECT_THAT(verifier->Verify({report, certs, std::nullopt}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("not valid until")));
}

TEST(VerifierTest, GarbageCertificatesAreRejectedNotCrashed) {
  VHSM_REQUIRE_SNP_VECTORS();
  FixedClock clock(At(kManifestTime));
  auto verifier = MakeVerifier(&clock);
  Bytes report = testdata::ReadVector("vectors/milan-v2-vcek-virtee/report.bin");
  for (Bytes junk : {ToBytes("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"),
                     Bytes{0x30, 0x82, 0xff, 0xff, 0x00}, Bytes(100, 0x30), Bytes{}}) {
    snp::CertificateSet certs{.vcek = junk};
    EXPECT_FALSE(verifier->Verify({report, certs, Product::kMilan}).ok());
    certs = {.ark = junk, .vcek = testdata::ReadVector("vectors/milan-v2-vcek-virtee/vcek.der")};
    auto r = verifier->Verify({report, certs, Product::kMilan});
    EXPECT_EQ(r.ok(), junk.empty());
  }
}

// ---- Generated PKI (extra trusted root) ----

class GeneratedPkiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    milan_ = new testpki::Hierarchy(testpki::MakeHierarchy(Product::kMilan));
    turin_ = new testpki::Hierarchy(testpki::MakeHierarchy(Product::kTurin));
  }
  static void TearDownTestSuite() {
    delete milan_;
    delete turin_;
  }
  static Evidence EvidenceFor(const testpki::Hierarchy& h, bool with_ark = true) {
    Bytes report = testpki::SignReport(testpki::MakeReport(h.product, h.tcb, h.chip_id, false), h.leaf_key.get());
    return Evidence{report, {.ark = with_ark ? h.ark : Bytes{}, .ask = h.ask, .vcek = h.leaf}, std::nullopt};
  }
  static std::unique_ptr<Verifier> Trusting(const testpki::Hierarchy& h, FixedClock* clock, VerifierOptions o = {}) {
    o.extra_trusted_roots.push_back(h.ark);
    return MakeVerifier(clock, std::move(o));
  }
  static testpki::Hierarchy* milan_;
  static testpki::Hierarchy* turin_;
};
testpki::Hierarchy* GeneratedPkiTest::milan_ = nullptr;
testpki::Hierarchy* GeneratedPkiTest::turin_ = nullptr;

TEST_F(GeneratedPkiTest, NonAmdRootIsRejectedUnlessTrusted) {
  FixedClock clock(milan_->now);
  auto plain = MakeVerifier(&clock);
  VerifyOutcome out = plain->VerifyWithChecks(EvidenceFor(*milan_));
  EXPECT_THAT(out.status, StatusIs(StatusCode::kUnauthenticated, HasSubstr("is not AMD's pinned ARK-Milan")));
  // Without a supplied ARK the pinned AMD ARK does not sign the generated ASK.
  EXPECT_THAT(plain->Verify(EvidenceFor(*milan_, false)), StatusIs(StatusCode::kUnauthenticated, HasSubstr("SEV-Milan")));
  auto trusting = Trusting(*milan_, &clock);
  ASSERT_OK_AND_ASSIGN(VerifiedReport v, trusting->Verify(EvidenceFor(*milan_)));
  EXPECT_FALSE(v.amd_root());
  EXPECT_THAT(trusting->Verify(EvidenceFor(*milan_, false)), IsOk());
}

TEST_F(GeneratedPkiTest, TurinLayoutReportVerifiesAndCrossChecks) {
  FixedClock clock(turin_->now);
  auto v = Trusting(*turin_, &clock);
  Evidence ev = EvidenceFor(*turin_);
  ASSERT_OK_AND_ASSIGN(VerifiedReport vr, v->Verify(ev));
  EXPECT_EQ(vr.product(), Product::kTurin);
  EXPECT_EQ(vr.leaf_info().fmc_spl, 1);
  EXPECT_EQ(vr.leaf_info().hw_id->size(), 8u);
  // A TCB read with the Milan layout would differ: change REPORTED_TCB's fmc byte → mismatch.
  snp::AttestationReport r = testpki::MakeReport(Product::kTurin, turin_->tcb + 1, turin_->chip_id, false);
  ev.report = testpki::SignReport(r, turin_->leaf_key.get());
  EXPECT_THAT(v->Verify(ev), StatusIs(StatusCode::kPermissionDenied, HasSubstr("fmcSPL")));
  // CHIP_ID beyond the 8 Turin bytes must be zero.
  Bytes chip = turin_->chip_id;
  chip[20] = 1;
  ev.report = testpki::SignReport(testpki::MakeReport(Product::kTurin, turin_->tcb, chip, false), turin_->leaf_key.get());
  EXPECT_THAT(v->Verify(ev), StatusIs(StatusCode::kPermissionDenied, HasSubstr("chip_id")));
}

TEST_F(GeneratedPkiTest, MilanCrossChecks) {
  FixedClock clock(milan_->now);
  auto v = Trusting(*milan_, &clock);
  Evidence ev = EvidenceFor(*milan_);
  ASSERT_THAT(v->Verify(ev), IsOk());
  Bytes chip = milan_->chip_id;
  chip[63] ^= 1;
  ev.report = testpki::SignReport(testpki::MakeReport(Product::kMilan, milan_->tcb, chip, false), milan_->leaf_key.get());
  EXPECT_THAT(v->Verify(ev), StatusIs(StatusCode::kPermissionDenied, HasSubstr("hwID")));
  // ucode one higher than the certificate.
  ev.report = testpki::SignReport(testpki::MakeReport(Product::kMilan, milan_->tcb + (1ull << 56), milan_->chip_id, false),
                                  milan_->leaf_key.get());
  EXPECT_THAT(v->Verify(ev), StatusIs(StatusCode::kPermissionDenied, HasSubstr("ucodeSPL")));
  // Genoa CPUID with Milan certificates.
  ev.report = testpki::SignReport(testpki::MakeReport(Product::kGenoa, milan_->tcb, milan_->chip_id, false),
                                  milan_->leaf_key.get());
  EXPECT_FALSE(v->Verify(ev).ok());
}

TEST_F(GeneratedPkiTest, NonPssAndWrongSaltCertificatesAreRejected) {
  FixedClock clock(milan_->now);
  auto v = Trusting(*milan_, &clock);
  for (int variant = 0; variant < 2; ++variant) {
    testpki::CertSpec leaf{.subject_cn = "SEV-VCEK", .issuer_cn = "SEV-Milan", .serial = {0x00},
                           .not_before = milan_->now - 10 * testpki::kDay, .not_after = milan_->now + 10 * testpki::kDay,
                           .extensions = testpki::AmdLeafExtensions(Product::kMilan, milan_->tcb, milan_->chip_id, false),
                           .pss = variant == 1, .salt_len = 32};
    Evidence ev = EvidenceFor(*milan_);
    ev.certs.vcek = testpki::MakeCert(leaf, milan_->leaf_key.get(), milan_->ask_key.get());
    VerifyOutcome out = v->VerifyWithChecks(ev);
    EXPECT_THAT(out.status, StatusIs(StatusCode::kUnauthenticated,
                                     HasSubstr(variant == 0 ? "not RSASSA-PSS" : "saltLength 32, expected 48")));
  }
}

TEST_F(GeneratedPkiTest, CrlOutcomes) {
  const testpki::Hierarchy& h = *milan_;
  FixedClock clock(h.now);
  auto v = Trusting(h, &clock);
  const int64_t d = testpki::kDay;
  auto crl = [&](std::vector<Bytes> revoked, int64_t next, EVP_PKEY* key) {
    return testpki::MakeCrl({.issuer_cn = "ARK-Milan", .this_update = h.now - d, .next_update = next,
                             .revoked_serials = std::move(revoked)},
                            key);
  };
  Evidence ev = EvidenceFor(h);
  // Clean CRL.
  ev.certs.crl = crl({{0x05}}, h.now + 7 * d, h.ark_key.get());
  VerifyOutcome out = v->VerifyWithChecks(ev);
  ASSERT_THAT(out.status, IsOk());
  bool saw = false;
  for (const Check& c : out.checks) saw |= c.name == "leaf.revocation" && c.ok;
  EXPECT_TRUE(saw);
  // Revoked ASK.
  ev.certs.crl = crl({{0x01, 0x00, 0x01}}, h.now + 7 * d, h.ark_key.get());
  EXPECT_THAT(v->Verify(ev), StatusIs(StatusCode::kPermissionDenied, HasSubstr("ASK SEV-Milan: serial 0x010001 is revoked")));
  // Revoked leaf (serial 0).
  ev.certs.crl = crl({{0x00}}, h.now + 7 * d, h.ark_key.get());
  EXPECT_THAT(v->Verify(ev), StatusIs(StatusCode::kPermissionDenied, HasSubstr("VCEK: serial 0x0 is revoked")));
  // Stale.
  ev.certs.crl = crl({}, h.now - 1, h.ark_key.get());
  EXPECT_THAT(v->Verify(ev), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("stale")));
  // Signed by the wrong key.
  ev.certs.crl = crl({}, h.now + 7 * d, h.ask_key.get());
  EXPECT_THAT(v->Verify(ev), StatusIs(StatusCode::kUnauthenticated, HasSubstr("CRL: not signed by ARK-Milan")));
  // Garbage CRL.
  ev.certs.crl = Bytes{0x30, 0x03, 0x02, 0x01, 0x00};
  EXPECT_FALSE(v->Verify(ev).ok());
  // Required but absent; configured CRL applies to every verification.
  ev.certs.crl.clear();
  VerifierOptions req;
  req.crl_mode = CrlMode::kRequire;
  auto vr = Trusting(h, &clock, req);
  EXPECT_THAT(vr->Verify(ev), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("required")));
  VerifierOptions cfg;
  cfg.crl_mode = CrlMode::kRequire;
  cfg.crls.push_back(crl({{0x00}}, h.now + 7 * d, h.ark_key.get()));
  auto vc = Trusting(h, &clock, cfg);
  EXPECT_THAT(vc->Verify(ev), StatusIs(StatusCode::kPermissionDenied, HasSubstr("revoked")));
}

TEST_F(GeneratedPkiTest, CachedChainStillChecksTime) {
  FixedClock clock(milan_->now);
  auto v = Trusting(*milan_, &clock);
  Evidence ev = EvidenceFor(*milan_);
  ASSERT_THAT(v->Verify(ev), IsOk());
  EXPECT_EQ(v->cached_chains(), 1u);
  clock.Advance(400 * testpki::kDay);
  EXPECT_THAT(v->Verify(ev), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("expired")));
}


// Builds the fuzz seed inputs and checks each decodes; with VHSM_WRITE_FUZZ_SEEDS=1 it also
// writes them to fuzz/corpus/{amd_cert,crl}/ (how the committed seeds were generated).
TEST_F(GeneratedPkiTest, FuzzSeeds) {
  const testpki::Hierarchy& h = *milan_;
  std::vector<std::pair<std::string, Bytes>> certs = {
      {"milan_vcek.der", h.leaf}, {"turin_vcek.der", turin_->leaf}, {"milan_ark.der", h.ark}, {"milan_ask.der", h.ask}};
  testpki::CertSpec wrapped{.subject_cn = "SEV-VCEK", .issuer_cn = "SEV-Milan", .serial = {0x00},
                            .not_before = h.now, .not_after = h.now + testpki::kDay,
                            .extensions = testpki::AmdLeafExtensions(Product::kMilan, h.tcb, h.chip_id, false, true)};
  certs.push_back({"milan_vcek_hwid_octet.der", testpki::MakeCert(wrapped, h.leaf_key.get(), h.ask_key.get())});
  testpki::CertSpec vlek{.subject_cn = "SEV-VLEK", .issuer_cn = "SEV-VLEK-Milan", .serial = {0x00},
                         .not_before = h.now, .not_after = h.now + testpki::kDay,
                         .extensions = testpki::AmdLeafExtensions(Product::kMilan, h.tcb, h.chip_id, true)};
  certs.push_back({"milan_vlek.der", testpki::MakeCert(vlek, h.leaf_key.get(), h.ask_key.get())});
  certs.push_back({"spl_integer.bin", testpki::DerInteger(0xD9)});
  certs.push_back({"product_name.bin", testpki::DerIa5("Milan-B0")});
  for (const auto& [name, der] : certs) {
    if (name.find(".der") == std::string::npos) continue;
    SCOPED_TRACE(name);
    ASSERT_OK_AND_ASSIGN(crypto::Certificate c, crypto::Certificate::Parse(der));
    EXPECT_OK(snp::ParseAmdCertInfo(c).status());
  }
  const int64_t d = testpki::kDay;
  std::vector<std::pair<std::string, Bytes>> crls = {
      {"empty.der", testpki::MakeCrl({.issuer_cn = "ARK-Milan", .this_update = h.now, .next_update = h.now + d}, h.ark_key.get())},
      {"revoked.der", testpki::MakeCrl({.issuer_cn = "ARK-Milan", .this_update = h.now, .next_update = h.now + d,
                                        .revoked_serials = {{0x01, 0x00, 0x01}, {0x00}}}, h.ark_key.get())},
      {"no_next_update.der", testpki::MakeCrl({.issuer_cn = "ARK-Milan", .this_update = h.now}, h.ark_key.get())}};
  for (const auto& [name, der] : crls) {
    SCOPED_TRACE(name);
    ASSERT_OK_AND_ASSIGN(crypto::Crl c, crypto::Crl::Parse(der));
    EXPECT_EQ(c.IssuerCn(), "ARK-Milan");
  }
  if (std::getenv("VHSM_WRITE_FUZZ_SEEDS") == nullptr) return;
  for (const auto& [dir, files] : {std::pair{"amd_cert", certs}, std::pair{"crl", crls}}) {
    std::string path = testdata::SourceDir() + "/fuzz/corpus/" + dir;
    std::filesystem::create_directories(path);
    for (const auto& [name, der] : files) ASSERT_OK(WriteFileAtomic(path + "/" + name, der));
  }
}

}  // namespace
}  // namespace vhsm::attest
