// Tests for sim::SimFirmware: byte layout of simulated reports per product and version, their
// verification by attest::Verifier (only under the simulator's ARK as an extra trusted root), an
// independent signature check with the openssl CLI, AMD-shaped certificates, the VLEK path, and
// MSG_KEY_REQ derived-key properties.
#include "sim/sim_firmware.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <tuple>

#include "attest/verifier.h"
#include "base/byte_reader.h"
#include "base/file.h"
#include "crypto/signature.h"
#include "crypto/x509.h"
#include "sim/sim_certs.h"
#include "sim_test_util.h"
#include "snp/amd_certs.h"
#include "snp/tcb.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::sim {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using testdata::TempDir;
using testing::Defaults;
using testing::MakeState;
using testing::Nonce;

std::unique_ptr<SimFirmware> Open(const std::string& dir) {
  Result<std::unique_ptr<SimFirmware>> fw = SimFirmware::Open(dir);
  VHSM_CHECK(fw.ok(), fw.status().ToString());
  return std::move(*fw);
}

// A firmware over the state in `dir` with `edit` applied to its config (a different launch).
template <class F>
std::unique_ptr<SimFirmware> OpenEdited(const std::string& dir, F edit) {
  Result<SimState> st = LoadSimState(dir);
  VHSM_CHECK(st.ok(), st.status().ToString());
  edit(st->config);
  Result<std::unique_ptr<SimFirmware>> fw = SimFirmware::Create(std::move(*st));
  VHSM_CHECK(fw.ok(), fw.status().ToString());
  return std::move(*fw);
}

attest::Evidence EvidenceFrom(const snp::ReportResponse& r, snp::Product product) {
  attest::Evidence e;
  e.report = r.report;
  Result<std::vector<snp::CertTableEntry>> entries = snp::ParseCertTable(r.cert_table);
  VHSM_CHECK(entries.ok(), entries.status().ToString());
  e.certs = snp::CertificateSetFromTable(*entries);
  e.product = product;
  return e;
}

std::unique_ptr<attest::Verifier> MakeVerifier(std::vector<Bytes> extra_roots) {
  attest::VerifierOptions o;
  o.extra_trusted_roots = std::move(extra_roots);
  Result<std::unique_ptr<attest::Verifier>> v = attest::Verifier::Create(std::move(o));
  VHSM_CHECK(v.ok(), v.status().ToString());
  return std::move(*v);
}

SimConfig Customised(snp::Product p, uint32_t version) {
  SimConfig c = Defaults(p, version);
  for (size_t i = 0; i < c.measurement.size(); ++i) c.measurement[i] = static_cast<uint8_t>(0xA0 + i);
  for (size_t i = 0; i < c.host_data.size(); ++i) c.host_data[i] = static_cast<uint8_t>(0x10 + i);
  c.family_id[0] = 0xFA;
  c.image_id[15] = 0x1D;
  c.id_key_digest[0] = 0x1D;
  c.guest_svn = 7;
  return c;
}

class ReportMatrixTest : public ::testing::TestWithParam<std::tuple<snp::Product, uint32_t>> {};

TEST_P(ReportMatrixTest, ByteExactAndVerifiesOnlyUnderSimulatorRoot) {
  const auto [product, version] = GetParam();
  TempDir dir;
  SimConfig cfg = Customised(product, version);
  SimState made = MakeState(dir.path(), cfg);
  auto fw = Open(dir.path());  // through the files, not the in-memory state
  const auto nonce = Nonce(3);
  ASSERT_OK_AND_ASSIGN(snp::ReportResponse resp, fw->GetReport(nonce, 0));
  const Bytes& b = resp.report;
  ASSERT_EQ(b.size(), snp::kReportSize);

  // Raw offsets per ABI 56860 Table 22 (checked here independently of the codec).
  EXPECT_EQ(LoadU32Le(&b[0x000]), version);
  EXPECT_EQ(LoadU32Le(&b[0x004]), 7u);
  EXPECT_EQ(LoadU64Le(&b[0x008]), 0x30000u);
  EXPECT_EQ(b[0x010], 0xFA);
  EXPECT_EQ(b[0x02F], 0x1D);
  EXPECT_EQ(LoadU32Le(&b[0x030]), 0u);
  EXPECT_EQ(LoadU32Le(&b[0x034]), 1u);
  EXPECT_EQ(LoadU64Le(&b[0x038]), cfg.current_tcb);
  EXPECT_EQ(LoadU64Le(&b[0x040]), cfg.platform_info);
  EXPECT_EQ(LoadU32Le(&b[0x048]), 0u);  // VCEK, no author key, chip key not masked
  EXPECT_THAT(ByteSpan(&b[0x050], 64), ElementsAreArray(nonce));
  EXPECT_THAT(ByteSpan(&b[0x090], 48), ElementsAreArray(cfg.measurement));
  EXPECT_THAT(ByteSpan(&b[0x0C0], 32), ElementsAreArray(cfg.host_data));
  EXPECT_EQ(b[0x0E0], 0x1D);
  EXPECT_TRUE(IsAllZero(ByteSpan(&b[0x110], 48)));  // AUTHOR_KEY_EN clear
  EXPECT_THAT(ByteSpan(&b[0x140], 32), ElementsAreArray(cfg.report_id));
  EXPECT_THAT(ByteSpan(&b[0x160], 32), ::testing::Each(0xFF));
  EXPECT_EQ(LoadU64Le(&b[0x180]), cfg.reported_tcb);
  if (version >= 3) {
    EXPECT_EQ(b[0x188], cfg.cpuid_fam_id);
    EXPECT_EQ(b[0x189], cfg.cpuid_mod_id);
    EXPECT_EQ(b[0x18A], cfg.cpuid_step);
  } else {
    EXPECT_TRUE(IsAllZero(ByteSpan(&b[0x188], 3)));
  }
  EXPECT_TRUE(IsAllZero(ByteSpan(&b[0x18B], 21)));
  EXPECT_THAT(ByteSpan(&b[0x1A0], 64), ElementsAreArray(cfg.chip_id));
  if (product == snp::Product::kTurin) {
    EXPECT_TRUE(IsAllZero(ByteSpan(&b[0x1A8], 56)));
  }
  EXPECT_EQ(LoadU64Le(&b[0x1E0]), cfg.committed_tcb);
  EXPECT_EQ(b[0x1E8], cfg.current_version.build);
  EXPECT_EQ(b[0x1E9], 55);
  EXPECT_EQ(b[0x1EA], 1);
  EXPECT_EQ(LoadU64Le(&b[0x1F0]), cfg.launch_tcb);
  EXPECT_EQ(LoadU64Le(&b[0x1F8]), version >= 5 ? 1u : 0u);
  EXPECT_EQ(LoadU64Le(&b[0x200]), version >= 5 ? 1u : 0u);
  EXPECT_TRUE(IsAllZero(ByteSpan(&b[0x208], 0x2A0 - 0x208)));
  EXPECT_FALSE(IsAllZero(ByteSpan(&b[0x2A0], 48)));
  EXPECT_TRUE(IsAllZero(ByteSpan(&b[0x2A0 + 48], 24)));  // high 24 bytes of R
  EXPECT_TRUE(IsAllZero(ByteSpan(&b[0x2E8 + 48], 24)));  // high 24 bytes of S
  EXPECT_TRUE(IsAllZero(ByteSpan(&b[0x330], 0x4A0 - 0x330)));

  // The codec accepts it and re-serialises it byte for byte.
  ASSERT_OK_AND_ASSIGN(snp::AttestationReport parsed, snp::ParseReport(b));
  EXPECT_EQ(snp::SerializeReport(parsed), b);

  // Certificate table with AMD's GUIDs, in ARK, ASK, VCEK order.
  ASSERT_OK_AND_ASSIGN(auto entries, snp::ParseCertTable(resp.cert_table));
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0].guid, snp::kGuidArk);
  EXPECT_EQ(entries[1].guid, snp::kGuidAsk);
  EXPECT_EQ(entries[2].guid, snp::kGuidVcek);
  EXPECT_EQ(entries[0].data, made.ark_der);
  EXPECT_EQ(entries[2].data, made.vcek_der);

  // Default verifier: rejected, and the reason says the root is not AMD's.
  attest::Evidence ev = EvidenceFrom(resp, product);
  Result<attest::VerifiedReport> rejected = MakeVerifier({})->Verify(ev);
  EXPECT_THAT(rejected, StatusIs(StatusCode::kUnauthenticated, HasSubstr("not AMD's")));

  // Trusting the simulator ARK: verifies, and says it is not AMD's root.
  auto trusting = MakeVerifier({made.ark_der});
  ASSERT_OK_AND_ASSIGN(attest::VerifiedReport ok, trusting->Verify(ev));
  EXPECT_FALSE(ok.amd_root());
  EXPECT_EQ(ok.product(), product);
  EXPECT_EQ(ok.report().measurement, cfg.measurement);

  // Any flipped bit in the signed region breaks it.
  for (size_t off : {size_t{0x004}, size_t{0x090}, size_t{0x1A0}, size_t{0x29F}}) {
    attest::Evidence bad = ev;
    bad.report[off] ^= 0x01;
    EXPECT_FALSE(trusting->Verify(bad).ok()) << "offset " << off;
  }
}

INSTANTIATE_TEST_SUITE_P(AllProductsAndVersions, ReportMatrixTest,
                         ::testing::Combine(::testing::Values(snp::Product::kMilan, snp::Product::kGenoa,
                                                              snp::Product::kTurin),
                                            ::testing::Values(2u, 3u, 5u)),
                         [](const auto& param_info) {
                           return std::string(snp::ProductName(std::get<0>(param_info.param))) + "V" +
                                  std::to_string(std::get<1>(param_info.param));
                         });

// The signature judged by a tool that shares no code with us.
void ExpectOpensslCliVerifies(snp::Product product, uint32_t version) {
  TempDir dir;
  SimState st = MakeState(dir.path() + "/state", Customised(product, version));
  auto fw = Open(dir.path() + "/state");
  ASSERT_OK_AND_ASSIGN(snp::ReportResponse resp, fw->GetReport(Nonce(9), 0));
  Bytes r_be(resp.report.begin() + 0x2A0, resp.report.begin() + 0x2A0 + 72);
  Bytes s_be(resp.report.begin() + 0x2E8, resp.report.begin() + 0x2E8 + 72);
  std::reverse(r_be.begin(), r_be.end());
  std::reverse(s_be.begin(), s_be.end());
  ASSERT_OK_AND_ASSIGN(Bytes sig_der, crypto::EcdsaSigToDer(r_be, s_be));
  ASSERT_OK_AND_ASSIGN(std::string pub_pem, CertPublicKeyPem(st.vcek_der));
  ASSERT_OK(WriteFileAtomic(dir.Join("data.bin"), ByteSpan(resp.report.data(), 0x2A0)));
  ASSERT_OK(WriteFileAtomic(dir.Join("sig.der"), sig_der));
  ASSERT_OK(WriteFileAtomic(dir.Join("pub.pem"), AsBytes(pub_pem)));
  Bytes tampered(resp.report.begin(), resp.report.begin() + 0x2A0);
  tampered[0x50] ^= 1;
  ASSERT_OK(WriteFileAtomic(dir.Join("tampered.bin"), tampered));
  auto run = [&](const std::string& data) {
    std::string cmd = "openssl dgst -sha384 -verify " + dir.Join("pub.pem") + " -signature " +
                      dir.Join("sig.der") + " " + dir.Join(data) + " > " + dir.Join("out.txt") + " 2>&1";
    return std::system(cmd.c_str());
  };
  EXPECT_EQ(run("data.bin"), 0);
  ASSERT_OK_AND_ASSIGN(std::string out, ReadFileText(dir.Join("out.txt")));
  EXPECT_THAT(out, HasSubstr("Verified OK"));
  EXPECT_NE(run("tampered.bin"), 0);
}

TEST(SimFirmwareTest, OpensslCliVerifiesTurinV5Signature) { ExpectOpensslCliVerifies(snp::Product::kTurin, 5); }
TEST(SimFirmwareTest, OpensslCliVerifiesMilanV2Signature) { ExpectOpensslCliVerifies(snp::Product::kMilan, 2); }

std::vector<std::string> ExtensionOids(const crypto::Certificate& c) {
  std::vector<std::string> out;
  for (const auto& e : c.extensions()) out.push_back(e.oid);
  return out;
}

TEST(SimCertsTest, ChainHasAmdShape) {
  for (snp::Product p : {snp::Product::kGenoa, snp::Product::kTurin}) {
    TempDir dir;
    SimConfig cfg = Defaults(p, 3);
    SimState st = MakeState(dir.path(), cfg);
    ASSERT_OK_AND_ASSIGN(crypto::Certificate ark, crypto::Certificate::FromDer(st.ark_der));
    ASSERT_OK_AND_ASSIGN(crypto::Certificate ask, crypto::Certificate::FromDer(st.ask_der));
    ASSERT_OK_AND_ASSIGN(crypto::Certificate vcek, crypto::Certificate::FromDer(st.vcek_der));
    const std::string pn(snp::ProductName(p));
    EXPECT_EQ(ark.SubjectCn(), "ARK-" + pn);
    EXPECT_EQ(ark.IssuerCn(), "ARK-" + pn);
    EXPECT_EQ(ask.SubjectCn(), "SEV-" + pn);
    EXPECT_EQ(vcek.SubjectCn(), "SEV-VCEK");
    EXPECT_EQ(vcek.IssuerCn(), "SEV-" + pn);
    EXPECT_EQ(vcek.SerialHex(), "0");
    // RSASSA-PSS SHA-384 salt 48, parameters checked byte-for-byte by the profile.
    EXPECT_OK(ark.VerifySignedBy(ark.public_key(), crypto::SigProfile::kRsaPssSha384Salt48, "ARK"));
    EXPECT_OK(ask.VerifySignedBy(ark.public_key(), crypto::SigProfile::kRsaPssSha384Salt48, "ASK"));
    EXPECT_OK(vcek.VerifySignedBy(ask.public_key(), crypto::SigProfile::kRsaPssSha384Salt48, "VCEK"));
    EXPECT_EQ(EVP_PKEY_get_bits(ark.public_key()), 4096);
    EXPECT_TRUE(crypto::IsEcP384Key(vcek.public_key()));
    EXPECT_EQ(vcek.not_after() - vcek.not_before(), int64_t{(7 * 365 + 1) * 86400});
    EXPECT_GE(ark.not_after() - ark.not_before(), int64_t{25 * 365 * 86400});
    const std::string a = "1.3.6.1.4.1.3704.1";
    std::vector<std::string> want =
        p == snp::Product::kTurin
            ? std::vector<std::string>{a + ".1", a + ".2", a + ".3.9", a + ".3.1", a + ".3.2", a + ".3.3",
                                       a + ".3.5", a + ".3.6", a + ".3.7", a + ".3.8", a + ".4"}
            : std::vector<std::string>{a + ".1", a + ".2", a + ".3.1", a + ".3.2", a + ".3.4", a + ".3.5",
                                       a + ".3.6", a + ".3.7", a + ".3.3", a + ".3.8", a + ".4"};
    EXPECT_EQ(ExtensionOids(vcek), want);  // AMD's order; and no standard extensions at all
    const Bytes& hwid = vcek.extensions().back().value;
    EXPECT_EQ(hwid, Bytes(cfg.chip_id.begin(), cfg.chip_id.begin() + (p == snp::Product::kTurin ? 8 : 64)));
    const Bytes& name = vcek.extensions()[1].value;
    EXPECT_EQ(std::string(name.begin() + 2, name.end()), p == snp::Product::kTurin ? "Turin" : "Genoa");
    EXPECT_EQ(vcek.extensions()[0].value, (Bytes{0x02, 0x01, static_cast<uint8_t>(p == snp::Product::kTurin)}));
    ASSERT_OK_AND_ASSIGN(snp::AmdCertInfo info, snp::ParseAmdCertInfo(vcek));
    EXPECT_FALSE(info.hw_id_was_octet_string);
    EXPECT_OK(snp::CheckTcbMatchesCert(info, cfg.reported_tcb, p));
    EXPECT_OK(snp::CheckHwIdMatchesChipId(info, cfg.chip_id, p));
    // Microcode SPL >= 0x80 keeps a leading zero octet, as AMD encodes it (02 02 00 D9).
    if (p == snp::Product::kGenoa) {
      EXPECT_EQ(vcek.extensions()[9].value, (Bytes{0x02, 0x01, 0x54}));
    }
  }
}

TEST(SimCertsTest, MilanProductNameHasStepping) {
  TempDir dir;
  SimConfig cfg = Defaults(snp::Product::kMilan, 2);
  SimState st = MakeState(dir.path(), cfg);
  ASSERT_OK_AND_ASSIGN(crypto::Certificate vcek, crypto::Certificate::FromDer(st.vcek_der));
  ASSERT_OK_AND_ASSIGN(snp::AmdCertInfo info, snp::ParseAmdCertInfo(vcek));
  EXPECT_EQ(info.product_name, "Milan-B0");
  EXPECT_EQ(info.ucode_spl, 0xDB);
  EXPECT_EQ(vcek.extensions()[9].value, (Bytes{0x02, 0x02, 0x00, 0xDB}));
}

TEST(SimFirmwareTest, VlekPathSignsWithVlekUnderAsvk) {
  TempDir dir;
  SimConfig cfg = Defaults(snp::Product::kMilan, 3);
  SimState st = MakeState(dir.path(), cfg, /*with_vlek=*/true);
  auto fw = Open(dir.path());
  ASSERT_OK_AND_ASSIGN(snp::ReportResponse resp, fw->GetReport(Nonce(1), 0));
  EXPECT_EQ(LoadU32Le(&resp.report[0x48]), 0x4u);  // SIGNING_KEY = 1 (VLEK)
  ASSERT_OK_AND_ASSIGN(auto entries, snp::ParseCertTable(resp.cert_table));
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[1].guid, snp::kGuidAsk);
  EXPECT_EQ(entries[2].guid, snp::kGuidVlek);
  ASSERT_OK_AND_ASSIGN(crypto::Certificate asvk, crypto::Certificate::FromDer(entries[1].data));
  EXPECT_EQ(asvk.SubjectCn(), "SEV-VLEK-Milan");
  ASSERT_OK_AND_ASSIGN(crypto::Certificate vlek, crypto::Certificate::FromDer(entries[2].data));
  EXPECT_EQ(vlek.SubjectCn(), "SEV-VLEK");
  ASSERT_OK_AND_ASSIGN(snp::AmdCertInfo info, snp::ParseAmdCertInfo(vlek));
  EXPECT_FALSE(info.hw_id.has_value());
  EXPECT_EQ(info.csp_id, "CN=vhsm-sim.invalid");
  EXPECT_EQ(info.product_name, "Milan");
  ASSERT_OK_AND_ASSIGN(attest::VerifiedReport ok, MakeVerifier({st.ark_der})->Verify(EvidenceFrom(resp, snp::Product::kMilan)));
  EXPECT_EQ(ok.signer(), snp::SigningKey::kVlek);
  EXPECT_FALSE(MakeVerifier({})->Verify(EvidenceFrom(resp, snp::Product::kMilan)).ok());
}

TEST(SimFirmwareTest, ReportIdStablePerLaunchAndVmplFromRequest) {
  TempDir dir;
  SimConfig cfg = Defaults(snp::Product::kGenoa, 3);
  cfg.vmpl = 1;
  SimState st = MakeState(dir.path(), cfg);
  auto fw = Open(dir.path());
  ASSERT_OK_AND_ASSIGN(snp::ReportResponse a, fw->GetReport(Nonce(1), 1));
  ASSERT_OK_AND_ASSIGN(snp::ReportResponse b, fw->GetReport(Nonce(2), 3));
  EXPECT_TRUE(std::equal(a.report.begin() + 0x140, a.report.begin() + 0x160, b.report.begin() + 0x140));
  EXPECT_EQ(LoadU32Le(&a.report[0x30]), 1u);
  EXPECT_EQ(LoadU32Le(&b.report[0x30]), 3u);
  EXPECT_THAT(fw->GetReport(Nonce(1), 0), StatusIs(StatusCode::kInvalidArgument, HasSubstr("VMPL 1")));
  EXPECT_THAT(fw->GetReport(Nonce(1), 4), StatusIs(StatusCode::kInvalidArgument, HasSubstr("0..3")));
  // Another launch (another state) has another REPORT_ID.
  TempDir other;
  MakeState(other.path(), Defaults(snp::Product::kGenoa, 3));
  ASSERT_OK_AND_ASSIGN(snp::ReportResponse c, Open(other.path())->GetReport(Nonce(1), 0));
  EXPECT_FALSE(std::equal(a.report.begin() + 0x140, a.report.begin() + 0x160, c.report.begin() + 0x140));
  // Author key digest appears only with AUTHOR_KEY_EN.
  auto authored = OpenEdited(dir.path(), [](SimConfig& c2) {
    c2.author_key_en = true;
    c2.author_key_digest[5] = 0x55;
  });
  ASSERT_OK_AND_ASSIGN(snp::ReportResponse d, authored->GetReport(Nonce(1), 1));
  EXPECT_EQ(d.report[0x110 + 5], 0x55);
  EXPECT_EQ(LoadU32Le(&d.report[0x48]), 1u);
}

// ---- Derived keys ----

class DerivedKeyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    SimConfig cfg = Defaults(snp::Product::kGenoa, 5);
    cfg.guest_svn = 5;
    MakeState(dir_->path(), cfg);
  }
  static void TearDownTestSuite() { delete dir_; }
  static Bytes Key(SimFirmware& fw, const snp::DerivedKeyRequest& req) {
    Result<SecretBytes> k = fw.GetDerivedKey(req);
    VHSM_CHECK(k.ok(), k.status().ToString());
    return Bytes(k->Expose().begin(), k->Expose().end());
  }
  static inline TempDir* dir_ = nullptr;
};

TEST_F(DerivedKeyTest, DeterministicAnd32Bytes) {
  snp::DerivedKeyRequest req;
  req.guest_field_select = snp::field_select::kMeasurement | snp::field_select::kGuestPolicy;
  Bytes a = Key(*Open(dir_->path()), req);
  Bytes b = Key(*Open(dir_->path()), req);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a, b);
  req.root_key_select = snp::RootKey::kVmrk;
  EXPECT_NE(Key(*Open(dir_->path()), req), a);  // VMRK root differs from the VCEK root
}

TEST_F(DerivedKeyTest, EachSelectedFieldChangesTheKeyAndUnselectedOnesDoNot) {
  namespace fs = snp::field_select;
  struct Case {
    const char* name;
    uint64_t bit;
    std::function<void(SimConfig&)> edit_launch;       // a different launch value
    std::function<void(snp::DerivedKeyRequest&)> edit_req;  // or a different request value
  };
  const std::vector<Case> cases = {
      {"policy", fs::kGuestPolicy, [](SimConfig& c) { c.policy |= snp::policy_bits::kSmt | 1; }, nullptr},
      {"image_id", fs::kImageId, [](SimConfig& c) { c.image_id[3] ^= 1; }, nullptr},
      {"family_id", fs::kFamilyId, [](SimConfig& c) { c.family_id[0] ^= 1; }, nullptr},
      {"measurement", fs::kMeasurement, [](SimConfig& c) { c.measurement[47] ^= 1; }, nullptr},
      {"guest_svn", fs::kGuestSvn, nullptr, [](snp::DerivedKeyRequest& r) { r.guest_svn = 4; }},
      {"tcb_version", fs::kTcbVersion, nullptr, [](snp::DerivedKeyRequest& r) { r.tcb_version = 0x0100000000000000; }},
      {"launch_mit_vector", fs::kLaunchMitVector, nullptr, [](snp::DerivedKeyRequest& r) { r.launch_mit_vector = 1; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    snp::DerivedKeyRequest selected;
    selected.guest_field_select = c.bit;
    snp::DerivedKeyRequest unselected;  // selects every other field
    unselected.guest_field_select = fs::kAllKnown & ~c.bit;
    auto base = Open(dir_->path());
    Bytes sel_before = Key(*base, selected), unsel_before = Key(*base, unselected);
    Bytes sel_after, unsel_after;
    if (c.edit_launch) {
      auto changed = OpenEdited(dir_->path(), c.edit_launch);
      sel_after = Key(*changed, selected);
      unsel_after = Key(*changed, unselected);
    } else {
      snp::DerivedKeyRequest s2 = selected, u2 = unselected;
      c.edit_req(s2);
      c.edit_req(u2);
      sel_after = Key(*base, s2);
      unsel_after = Key(*base, u2);
    }
    EXPECT_NE(sel_before, sel_after);
    EXPECT_EQ(unsel_before, unsel_after);
  }
}

TEST_F(DerivedKeyTest, VmplAndChipSecretChangeTheKey) {
  snp::DerivedKeyRequest req;
  auto fw = Open(dir_->path());
  Bytes k0 = Key(*fw, req);
  req.vmpl = 2;
  EXPECT_NE(Key(*fw, req), k0);
  // Same launch values on another chip (another state) → another VCEK-rooted key.
  TempDir other;
  SimConfig cfg = Defaults(snp::Product::kGenoa, 5);
  cfg.guest_svn = 5;
  Result<SimState> mine = LoadSimState(dir_->path());
  ASSERT_OK(mine.status());
  cfg.chip_id = mine->config.chip_id;
  cfg.report_id = mine->config.report_id;
  MakeState(other.path(), cfg);
  EXPECT_NE(Key(*Open(other.path()), snp::DerivedKeyRequest{}), k0);
}

TEST_F(DerivedKeyTest, RefusesWhatRealFirmwareRefuses) {
  auto fw = Open(dir_->path());
  snp::DerivedKeyRequest req;
  req.guest_svn = 6;  // launch SVN is 5
  EXPECT_THAT(fw->GetDerivedKey(req), StatusIs(StatusCode::kInvalidArgument, HasSubstr("guest_svn")));
  req = {};
  req.tcb_version = fw->config().committed_tcb + (1ull << 56);  // ucode above committed
  EXPECT_THAT(fw->GetDerivedKey(req), StatusIs(StatusCode::kInvalidArgument, HasSubstr("COMMITTED_TCB")));
  req = {};
  req.tcb_version = fw->config().committed_tcb;  // equal is fine
  EXPECT_OK(fw->GetDerivedKey(req));
  req = {};
  req.guest_field_select = 1ull << 7;
  EXPECT_THAT(fw->GetDerivedKey(req), StatusIs(StatusCode::kInvalidArgument, HasSubstr("guest_field_select")));
  req = {};
  req.vmpl = 4;
  EXPECT_THAT(fw->GetDerivedKey(req), StatusIs(StatusCode::kInvalidArgument, HasSubstr("vmpl")));
  auto vmpl2 = OpenEdited(dir_->path(), [](SimConfig& c) { c.vmpl = 2; });
  req = {};
  req.vmpl = 1;
  EXPECT_THAT(vmpl2->GetDerivedKey(req), StatusIs(StatusCode::kInvalidArgument, HasSubstr("VMPL 2")));
  req.root_key_select = static_cast<snp::RootKey>(2);
  req.vmpl = 2;
  EXPECT_THAT(vmpl2->GetDerivedKey(req), StatusIs(StatusCode::kInvalidArgument, HasSubstr("root_key_select")));
}

}  // namespace
}  // namespace vhsm::sim
