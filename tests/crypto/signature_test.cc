// signature_test.cc: ECDSA P-384 from raw (r, s) and generic EVP verification, against a real
// AMD-signed report and freshly generated keys.
#include "crypto/signature.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/rsa.h>

#include <algorithm>

#include "crypto/x509.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::crypto {
namespace {

using ::testing::HasSubstr;

TEST(EcdsaTest, DerEncodingOfRawScalars) {
  ASSERT_OK_AND_ASSIGN(Bytes der, EcdsaSigToDer(Bytes{0x00, 0x01}, Bytes{0x80}));
  EXPECT_EQ(der, (Bytes{0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80}));
  EXPECT_FALSE(EcdsaSigToDer(Bytes{0, 0}, Bytes{1}).ok());
  EXPECT_FALSE(EcdsaSigToDer(Bytes(67, 1), Bytes{1}).ok());
}

TEST(EcdsaTest, VerifiesRealReportSignature) {
  VHSM_REQUIRE_SNP_VECTORS();
  Bytes report = testdata::ReadVector("vectors/milan-v2-vcek-virtee/report.bin");
  ASSERT_OK_AND_ASSIGN(Certificate vcek, Certificate::Parse(testdata::ReadVector("vectors/milan-v2-vcek-virtee/vcek.der")));
  ASSERT_TRUE(IsEcP384Key(vcek.public_key()));
  Bytes r(report.begin() + 0x2A0, report.begin() + 0x2E8);
  Bytes s(report.begin() + 0x2E8, report.begin() + 0x330);
  std::reverse(r.begin(), r.end());
  std::reverse(s.begin(), s.end());
  ByteSpan msg(report.data(), 0x2A0);
  EXPECT_OK(VerifyEcdsaP384Sha384(vcek.public_key(), msg, r, s));
  Bytes tampered(msg.begin(), msg.end());
  tampered[0x50] ^= 1;
  EXPECT_THAT(VerifyEcdsaP384Sha384(vcek.public_key(), tampered, r, s), StatusIs(StatusCode::kUnauthenticated, HasSubstr("does not verify")));
  // Swapping r and s fails; an RSA key is refused as the wrong type.
  EXPECT_FALSE(VerifyEcdsaP384Sha384(vcek.public_key(), msg, s, r).ok());
  ASSERT_OK_AND_ASSIGN(Certificate ark, Certificate::Parse(testdata::ReadVector("certs/amd/milan_ark.pem")));
  EXPECT_THAT(VerifyEcdsaP384Sha384(ark.public_key(), msg, r, s), StatusIs(StatusCode::kInvalidArgument, HasSubstr("P-384")));
}

TEST(SignatureTest, GenericAndPssRoundTrip) {
  EvpPkeyPtr ec(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  EvpPkeyPtr rsa(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  ASSERT_TRUE(ec && rsa);
  const Bytes msg = ToBytes("attested");
  auto sign = [&](EVP_PKEY* k, bool pss) {
    EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    EXPECT_EQ(EVP_DigestSignInit_ex(ctx.get(), &pctx, "SHA384", nullptr, nullptr, k, nullptr), 1);
    if (pss) {
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48);
    }
    size_t len = 0;
    EVP_DigestSign(ctx.get(), nullptr, &len, msg.data(), msg.size());
    Bytes sig(len);
    EVP_DigestSign(ctx.get(), sig.data(), &len, msg.data(), msg.size());
    sig.resize(len);
    return sig;
  };
  Bytes ec_sig = sign(ec.get(), false);
  EXPECT_OK(VerifySignature(ec.get(), HashAlg::kSha384, msg, ec_sig));
  EXPECT_FALSE(VerifySignature(ec.get(), HashAlg::kSha256, msg, ec_sig).ok());
  Bytes pss_sig = sign(rsa.get(), true);
  EXPECT_OK(VerifyRsaPss(rsa.get(), HashAlg::kSha384, 48, msg, pss_sig));
  EXPECT_FALSE(VerifyRsaPss(rsa.get(), HashAlg::kSha384, 32, msg, pss_sig).ok());
  EXPECT_FALSE(VerifyRsaPss(ec.get(), HashAlg::kSha384, 48, msg, pss_sig).ok());
  EXPECT_FALSE(IsEcP384Key(ec.get()));
}

}  // namespace
}  // namespace vhsm::crypto
