// x509_test.cc: crypto::Certificate / Crl / DER reader / RSA-PSS profile, on AMD's real
// certificates and on certificates generated here with OpenSSL.
#include "crypto/x509.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/clock.h"
#include "crypto/signature.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::crypto {
namespace {

using ::testing::HasSubstr;

TEST(DerTest, ReadsAndRejects) {
  const Bytes ok = {0x02, 0x01, 0x30};
  ASSERT_OK_AND_ASSIGN(ByteSpan v, ReadDerExact(ok, 0x02, "x"));
  EXPECT_EQ(v.size(), 1u);
  EXPECT_THAT(ReadDerExact(Bytes{0x02, 0x02, 0x01}, 0x02, "x"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("exceeds")));
  EXPECT_THAT(ReadDerExact(Bytes{0x02, 0x80, 0x00}, 0x02, "x"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("indefinite")));
  EXPECT_THAT(ReadDerExact(Bytes{0x02, 0x81, 0x01, 0x00}, 0x02, "x"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("non-minimal")));
  EXPECT_THAT(ReadDerExact(Bytes{0x02, 0x01, 0x00, 0x00}, 0x02, "x"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("trailing")));
  EXPECT_THAT(ReadDerExact(Bytes{0x04, 0x00}, 0x02, "x"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("tag 0x04")));
  EXPECT_EQ(DerIntegerToUint(Bytes{0x00, 0xD9}, 255, "u").value(), 0xD9u);
  EXPECT_FALSE(DerIntegerToUint(Bytes{0x00, 0x10}, 255, "u").ok());  // non-minimal
  EXPECT_FALSE(DerIntegerToUint(Bytes{0x80}, 255, "u").ok());        // negative
  EXPECT_FALSE(DerIntegerToUint(Bytes{0x01, 0x00}, 255, "u").ok());  // > max
}

TEST(CertificateTest, ParsesAmdArkPemAndDer) {
  VHSM_REQUIRE_SNP_VECTORS();
  Bytes pem = testdata::ReadVector("certs/amd/milan_ark.pem");
  ASSERT_OK_AND_ASSIGN(Certificate ark, Certificate::Parse(pem));
  EXPECT_EQ(ark.SubjectCn(), "ARK-Milan");
  EXPECT_EQ(ark.IssuerCn(), "ARK-Milan");
  EXPECT_EQ(ark.SerialHex(), "010000");  // 65536
  EXPECT_EQ(ark.Sha256Hex(), "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd");
  ASSERT_OK_AND_ASSIGN(Certificate again, Certificate::FromDer(ark.der()));
  EXPECT_EQ(again.der(), ark.der());
  EXPECT_OK(ark.VerifySignedBy(ark.public_key(), SigProfile::kRsaPssSha384Salt48, "ARK"));
  EXPECT_OK(ark.CheckValidAt(ParseRfc3339("2030-01-01").value(), "ARK"));
  EXPECT_THAT(ark.CheckValidAt(ParseRfc3339("2046-01-01").value(), "ARK"),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("ARK: expired at 2045-10-22")));
  // A trailing byte after the DER is refused.
  Bytes der = ark.der();
  der.push_back(0);
  EXPECT_FALSE(Certificate::FromDer(der).ok());
}

TEST(CertificateTest, KdsCertChainBundleAndSignatures) {
  VHSM_REQUIRE_SNP_VECTORS();
  for (const char* p : {"milan", "genoa", "turin"}) {
    SCOPED_TRACE(p);
    Bytes bundle = testdata::ReadVector(std::string("certs/amd/") + p + "_vcek_cert_chain_kds.pem");
    ASSERT_OK_AND_ASSIGN(auto certs, ParseCertificateBundle(bundle));
    ASSERT_EQ(certs.size(), 2u);
    EXPECT_EQ(certs[0].IssuerCn(), certs[1].SubjectCn());
    EXPECT_OK(certs[0].VerifySignedBy(certs[1].public_key(), SigProfile::kRsaPssSha384Salt48, "ASK"));
    // The ASK's key did not sign the ARK.
    EXPECT_THAT(certs[1].VerifySignedBy(certs[0].public_key(), SigProfile::kRsaPssSha384Salt48, "ARK"),
                StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")));
  }
}

TEST(CertificateTest, RejectsGarbageAndOversize) {
  EXPECT_FALSE(Certificate::Parse(ToBytes("hello")).ok());
  EXPECT_FALSE(Certificate::Parse(Bytes{}).ok());
  EXPECT_FALSE(Certificate::Parse(ToBytes("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")).ok());
  EXPECT_FALSE(Certificate::Parse(ToBytes("-----BEGIN CERTIFICATE-----\nAAAA\n")).ok());
  Bytes big(kMaxCertificateBytes + 1, 0x30);
  EXPECT_THAT(Certificate::Parse(big), StatusIs(StatusCode::kResourceExhausted, HasSubstr("at most")));
  EXPECT_FALSE(ParseCertificateBundle(ToBytes("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\njunk")).ok());
}

TEST(AlgorithmIdentifierTest, RequiresPssSha384Salt48) {
  // SEQUENCE { rsassaPss, SEQUENCE { [0] sha384, [1] mgf1(sha384), [2] 48 } } as AMD encodes it.
  Bytes amd = {0x30, 0x34, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, 0x30, 0x27,
               0xa0, 0x0f, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00,
               0xa1, 0x1c, 0x30, 0x1a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08,
               0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00,
               0xa2, 0x03, 0x02, 0x01, 0x30};
  amd[1] = static_cast<uint8_t>(amd.size() - 2);
  amd[14] = static_cast<uint8_t>(amd.size() - 15);
  EXPECT_OK(CheckAlgorithmIdentifier(amd, SigProfile::kRsaPssSha384Salt48, "alg"));
  Bytes salt32 = amd;
  salt32.back() = 0x20;
  EXPECT_THAT(CheckAlgorithmIdentifier(salt32, SigProfile::kRsaPssSha384Salt48, "alg"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("saltLength 32")));
  Bytes sha256 = amd;
  sha256[29] = 0x01;  // hashAlgorithm → sha256
  EXPECT_THAT(CheckAlgorithmIdentifier(sha256, SigProfile::kRsaPssSha384Salt48, "alg"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("SHA-384")));
  Bytes pkcs1 = {0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00};
  EXPECT_THAT(CheckAlgorithmIdentifier(pkcs1, SigProfile::kRsaPssSha384Salt48, "alg"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("not RSASSA-PSS")));
}

TEST(CertificateTest, AmdCertificatesUseTheExactPssEncoding) {
  VHSM_REQUIRE_SNP_VECTORS();
  for (const char* f : {"certs/amd/milan_ark.pem", "certs/amd/genoa_ask.pem", "certs/amd/turin_asvk.pem",
                        "vectors/milan-v2-vcek-virtee/vcek.der", "vectors/turin-vcek-cert-only-virtee/vcek.der"}) {
    SCOPED_TRACE(f);
    ASSERT_OK_AND_ASSIGN(Certificate c, Certificate::Parse(testdata::ReadVector(f)));
    const X509_ALGOR* alg = nullptr;
    X509_get0_signature(nullptr, &alg, c.get());
    unsigned char* der = nullptr;
    int n = i2d_X509_ALGOR(alg, &der);
    ASSERT_GT(n, 0);
    Bytes b(der, der + n);
    OPENSSL_free(der);
    EXPECT_OK(CheckAlgorithmIdentifier(b, SigProfile::kRsaPssSha384Salt48, f));
  }
}

}  // namespace
}  // namespace vhsm::crypto
