#include "snp/measure.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "base/file.h"
#include "crypto/digest.h"
#include "synthetic_ovmf.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::snp {
namespace {

using ::testing::HasSubstr;
using testing::SyntheticOvmf;

Sha256Digest Sha256Of(ByteSpan data) {
  Bytes d = crypto::Sha256(data);
  Sha256Digest out{};
  std::copy(d.begin(), d.end(), out.begin());
  return out;
}

// "0x800F12" or "0x0 (GCE uses its own VMSA defaults)": the leading hex number.
uint64_t LeadingHex(const std::string& text) {
  return std::strtoull(text.c_str(), nullptr, 16);
}

LaunchDigest ToDigest(const Bytes& b) {
  LaunchDigest d{};
  EXPECT_EQ(b.size(), d.size());
  std::copy(b.begin(), b.begin() + static_cast<long>(std::min(b.size(), d.size())), d.begin());
  return d;
}

// ---- known answers: shared/snp-vectors/measure/MANIFEST.json ---------------------------------

TEST(MeasureKnownAnswerTest, MatchesEveryManifestCase) {
  VHSM_REQUIRE_SNP_VECTORS();
  const std::string dir = testdata::SnpVectorsDir() + "/measure";
  if (!FileExists(dir + "/MANIFEST.json")) {
    GTEST_SKIP() << dir << "/MANIFEST.json not found; launch-measurement known answers skipped";
  }
  Bytes manifest_bytes = testdata::ReadVector("measure/MANIFEST.json");
  nlohmann::json manifest = nlohmann::json::parse(AsStringView(manifest_bytes), nullptr, false);
  ASSERT_FALSE(manifest.is_discarded()) << "MANIFEST.json is not JSON";
  ASSERT_TRUE(manifest.contains("cases"));
  ASSERT_GE(manifest["cases"].size(), 11u);

  // The fixtures are the files the manifest names, byte for byte.
  for (const auto& [file, sha256] : manifest["files"].items()) {
    Bytes data = testdata::ReadVector("measure/" + file);
    EXPECT_EQ(HexEncode(crypto::Sha256(data)), sha256.get<std::string>()) << file;
  }

  int checked = 0;
  for (const nlohmann::json& c : manifest["cases"]) {
    const std::string name = c.at("name").get<std::string>();
    SCOPED_TRACE(name);
    Bytes image = testdata::ReadVector("measure/" + c.at("ovmf").get<std::string>());
    ASSERT_OK_AND_ASSIGN(Bytes expected, HexDecodeExact(c.at("expected").get<std::string>(), 48,
                                                        "expected"));
    if (!c.contains("vmm")) {  // OVMF-pages-only seed
      ASSERT_OK_AND_ASSIGN(LaunchDigest got, ComputeOvmfHash(image));
      EXPECT_EQ(HexEncode(got), HexEncode(expected));
      ++checked;
      continue;
    }
    ASSERT_OK_AND_ASSIGN(OvmfInfo info, ParseOvmf(image));
    MeasureOptions opt;
    ASSERT_OK_AND_ASSIGN(opt.vmm, ParseVmmType(c.at("vmm").get<std::string>()));
    opt.vcpus = c.at("vcpus").get<uint32_t>();
    opt.vcpu_sig = static_cast<uint32_t>(LeadingHex(c.at("vcpu_sig").get<std::string>()));
    opt.guest_features = LeadingHex(c.at("guest_features").get<std::string>());
    if (c.contains("ovmf_hash")) {
      ASSERT_OK_AND_ASSIGN(Bytes seed, HexDecodeExact(c["ovmf_hash"].get<std::string>(), 48,
                                                      "ovmf_hash"));
      opt.ovmf_hash = ToDigest(seed);
    }
    if (c.contains("kernel")) {
      // The manifest's kernels/initrds are all empty files.
      ASSERT_EQ(c["kernel"].get<std::string>(), "empty file");
      std::optional<Sha256Digest> initrd;
      if (c.contains("initrd")) {
        ASSERT_EQ(c["initrd"].get<std::string>(), "empty file");
        initrd = Sha256Of({});
      }
      std::optional<std::string> append;
      if (c.contains("append")) append = c["append"].get<std::string>();
      opt.direct_boot = MakeDirectBootHashes(Sha256Of({}), initrd, append);
    }
    ASSERT_OK_AND_ASSIGN(LaunchDigest got, ComputeLaunchDigest(image, info, opt));
    EXPECT_EQ(HexEncode(got), HexEncode(expected));
    ++checked;
  }
  EXPECT_EQ(checked, static_cast<int>(manifest["cases"].size()));
}

TEST(MeasureKnownAnswerTest, SeedEqualsFullComputation) {
  VHSM_REQUIRE_SNP_VECTORS();
  Bytes image = testdata::ReadVector("measure/ovmf_AmdSev_suffix.bin");
  ASSERT_OK_AND_ASSIGN(OvmfInfo info, ParseOvmf(image));
  MeasureOptions opt;
  opt.vcpus = 4;
  opt.guest_features = 0x21;
  ASSERT_OK_AND_ASSIGN(LaunchDigest full, ComputeLaunchDigest(image, info, opt));
  ASSERT_OK_AND_ASSIGN(opt.ovmf_hash, ComputeOvmfHash(image));
  ASSERT_OK_AND_ASSIGN(LaunchDigest seeded, ComputeLaunchDigest(image, info, opt));
  EXPECT_EQ(full, seeded);
}

// ---- Debian's ovmf package -----------------------------------------------------------------

// Debian's 2 MiB builds (OVMF.fd, the whole firmware as used with `-bios` for SEV-SNP, and
// OVMF_CODE.fd) carry SEV metadata and the SEV-ES reset block, but no SNP_KERNEL_HASHES section.
std::string DebianOvmfPath() {
  for (const char* p : {"/usr/share/ovmf/OVMF.fd", "/usr/share/OVMF/OVMF_CODE.fd"}) {
    if (FileExists(p)) return p;
  }
  return "";
}

TEST(MeasureDebianOvmfTest, MeasuresStablyAndRefusesKernelWithoutHashSupport) {
  const std::string path = DebianOvmfPath();
  if (path.empty()) {
    GTEST_SKIP() << "Debian ovmf package not installed (/usr/share/ovmf/OVMF.fd, "
                    "/usr/share/OVMF/OVMF_CODE.fd absent); apt-get install ovmf to run this test";
  }
  ASSERT_OK_AND_ASSIGN(Bytes image, ReadFileBytes(path, kMaxOvmfBytes));
  ASSERT_OK_AND_ASSIGN(OvmfInfo info, ParseOvmf(image));
  EXPECT_FALSE(info.sections.empty()) << path;
  EXPECT_TRUE(info.sev_es_reset_eip.has_value()) << path;

  MeasureOptions opt;
  opt.vcpus = 2;
  ASSERT_OK_AND_ASSIGN(LaunchDigest first, ComputeLaunchDigest(image, info, opt));
  ASSERT_OK_AND_ASSIGN(LaunchDigest second, ComputeLaunchDigest(image, info, opt));
  EXPECT_EQ(first, second);
  EXPECT_FALSE(IsAllZero(first));
  // A different vCPU count must change it.
  opt.vcpus = 1;
  ASSERT_OK_AND_ASSIGN(LaunchDigest one, ComputeLaunchDigest(image, info, opt));
  EXPECT_NE(one, first);

  opt.direct_boot = MakeDirectBootHashes(Sha256Of(AsBytes("kernel")), std::nullopt, "quiet");
  if (info.HasSnpKernelHashes()) {
    ASSERT_OK_AND_ASSIGN(LaunchDigest with_kernel, ComputeLaunchDigest(image, info, opt));
    EXPECT_NE(with_kernel, one);
  } else {
    EXPECT_THAT(ComputeLaunchDigest(image, info, opt),
                StatusIs(StatusCode::kFailedPrecondition, HasSubstr("no SNP kernel-hashes")));
  }
}

// Debian's 4 MiB builds have the footer table but no SEV metadata: not usable for SEV-SNP, and
// the error must say so rather than produce a digest.
TEST(MeasureDebianOvmfTest, FourMegabyteBuildHasNoSevMetadata) {
  const std::string path = "/usr/share/OVMF/OVMF_CODE_4M.fd";
  if (!FileExists(path)) GTEST_SKIP() << path << " absent (Debian ovmf package not installed)";
  ASSERT_OK_AND_ASSIGN(Bytes image, ReadFileBytes(path, kMaxOvmfBytes));
  EXPECT_THAT(ParseOvmf(image), StatusIs(StatusCode::kInvalidArgument, HasSubstr("no SEV metadata")));
}

// ---- synthetic images and errors -----------------------------------------------------------

TEST(MeasureTest, RejectsVcpuCountsOutOfRange) {
  Bytes image = SyntheticOvmf().Build();
  ASSERT_OK_AND_ASSIGN(OvmfInfo info, ParseOvmf(image));
  MeasureOptions opt;
  for (uint32_t n : {0u, 513u, 1000u}) {
    opt.vcpus = n;
    EXPECT_THAT(ComputeLaunchDigest(image, info, opt),
                StatusIs(StatusCode::kInvalidArgument,
                         HasSubstr("vcpus: got " + std::to_string(n) + ", want 1..512")));
  }
  opt.vcpus = 512;
  EXPECT_OK(ComputeLaunchDigest(image, info, opt));
}

TEST(MeasureTest, RefusesKernelOnBuildWithoutKernelHashes) {
  Bytes image = SyntheticOvmf().Build();
  ASSERT_OK_AND_ASSIGN(OvmfInfo info, ParseOvmf(image));
  MeasureOptions opt;
  opt.direct_boot = MakeDirectBootHashes(Sha256Of({}), std::nullopt, std::nullopt);
  EXPECT_THAT(ComputeLaunchDigest(image, info, opt),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("no SNP kernel-hashes support")));
}

TEST(MeasureTest, NeedsResetBlockForAps) {
  SyntheticOvmf s;
  s.reset_eip.reset();
  Bytes image = s.Build();
  ASSERT_OK_AND_ASSIGN(OvmfInfo info, ParseOvmf(image));
  MeasureOptions opt;
  EXPECT_OK(ComputeLaunchDigest(image, info, opt));
  opt.vcpus = 2;
  EXPECT_THAT(ComputeLaunchDigest(image, info, opt),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("SEV-ES reset block")));
}

TEST(MeasureTest, EveryInputChangesTheDigest) {
  SyntheticOvmf s;
  s.hash_table_gpa = 0x80BC00;
  s.sections.push_back({0x80B000, 0x1000, SevSectionType::kSnpKernelHashes});
  Bytes image = s.Build();
  ASSERT_OK_AND_ASSIGN(OvmfInfo info, ParseOvmf(image));
  MeasureOptions base;
  base.vcpus = 2;
  base.direct_boot = MakeDirectBootHashes(Sha256Of(AsBytes("k")), std::nullopt, "a");
  ASSERT_OK_AND_ASSIGN(LaunchDigest ref, ComputeLaunchDigest(image, info, base));
  std::vector<MeasureOptions> variants(7, base);
  variants[0].vcpus = 3;
  variants[1].vcpu_sig = 0xA00F11;
  variants[2].guest_features = 0x21;
  variants[3].vmm = VmmType::kEc2;
  variants[4].vmm = VmmType::kGce;
  variants[5].direct_boot = MakeDirectBootHashes(Sha256Of(AsBytes("k")), std::nullopt, "b");
  variants[6].direct_boot.reset();
  for (size_t i = 0; i < variants.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(LaunchDigest d, ComputeLaunchDigest(image, info, variants[i]));
    EXPECT_NE(d, ref) << "variant " << i;
  }
  Bytes flipped = image;
  flipped[100] ^= 1;
  ASSERT_OK_AND_ASSIGN(LaunchDigest d, ComputeLaunchDigest(flipped, info, base));
  EXPECT_NE(d, ref);
}

TEST(MeasureTest, ThreadCountDoesNotChangeTheDigest) {
  SyntheticOvmf s;
  s.image_size = 2u << 20;  // above kMinParallelHashBytes
  Bytes image = s.Build();
  ASSERT_OK_AND_ASSIGN(LaunchDigest one, ComputeOvmfHash(image, 1));
  for (unsigned t : {0u, 2u, 3u, 7u}) {
    ASSERT_OK_AND_ASSIGN(LaunchDigest d, ComputeOvmfHash(image, t));
    EXPECT_EQ(d, one) << t << " threads";
  }
  // And the same as chaining page by page through the public builder.
  ASSERT_OK_AND_ASSIGN(LaunchDigestBuilder b, LaunchDigestBuilder::Create());
  for (size_t off = 0; off < image.size(); off += kPageSize) {
    ASSERT_OK(b.AddMeasuredPage(PageType::kNormal, 0x100000000 - image.size() + off,
                                ByteSpan(image).subspan(off, kPageSize)));
  }
  EXPECT_EQ(b.digest(), one);
}

TEST(MeasureTest, KernelHashesPageLayout) {
  DirectBootHashes h = MakeDirectBootHashes(Sha256Of(AsBytes("kernel")), std::nullopt, "ro");
  ASSERT_OK_AND_ASSIGN(Bytes page, BuildKernelHashesPage(h, 0x80BC00));
  ASSERT_EQ(page.size(), kPageSize);
  const uint8_t* t = page.data() + 0xC00;
  EXPECT_EQ(HexEncode(ByteSpan(t, 16)), HexEncode(EfiGuid("9438d606-4f22-4cc9-b479-a793d411fd21")));
  EXPECT_EQ(LoadU16Le(t + 16), 168);
  EXPECT_EQ(LoadU16Le(t + 18 + 16), 50);
  EXPECT_EQ(HexEncode(ByteSpan(t + 18 + 18, 32)), HexEncode(crypto::Sha256(AsBytes(std::string("ro\0", 3)))));
  EXPECT_EQ(HexEncode(ByteSpan(t + 18 + 50 + 18, 32)), HexEncode(crypto::Sha256({})));
  EXPECT_EQ(HexEncode(ByteSpan(t + 18 + 100 + 18, 32)), HexEncode(crypto::Sha256(AsBytes("kernel"))));
  EXPECT_TRUE(IsAllZero(ByteSpan(page.data(), 0xC00)));
  EXPECT_TRUE(IsAllZero(ByteSpan(page.data() + 0xC00 + 168, kPageSize - 0xC00 - 168)));
  EXPECT_THAT(BuildKernelHashesPage(h, 0x80BFA0),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("page end")));
}

TEST(MeasureTest, Sha256FileStreamsAndReportsMissingFiles) {
  testdata::TempDir tmp;
  Bytes data(3 << 20);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i % 251);
  ASSERT_OK(WriteFileAtomic(tmp.Join("k"), data));
  ASSERT_OK_AND_ASSIGN(Sha256Digest d, Sha256File(tmp.Join("k")));
  EXPECT_EQ(HexEncode(d), HexEncode(crypto::Sha256(data)));
  EXPECT_THAT(Sha256File(tmp.Join("missing")), StatusIs(StatusCode::kNotFound, HasSubstr("missing")));
  EXPECT_THAT(Sha256File(tmp.Join("k"), 1000), StatusIs(StatusCode::kResourceExhausted, HasSubstr("limit")));
}

}  // namespace
}  // namespace vhsm::snp
