// p384_test.cc: the two ECDSA P-384/SHA-384 implementations (Nettle and OpenSSL) against each
// other and against real AMD-signed reports: what one signs the other verifies, both reject the
// same forgeries and out-of-range values, and both accept the real reports.
#include "crypto/p384.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/evp.h>

#include <algorithm>
#include <string>
#include <vector>

#include "crypto/keys.h"
#include "crypto/ossl_ptr.h"
#include "crypto/random.h"
#include "crypto/signature.h"
#include "crypto/x509.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::crypto {
namespace {

using ::testing::HasSubstr;

// secp384r1's group order n, big-endian.
Bytes OrderN() {
  BIGNUM* n = nullptr;
  EXPECT_EQ(BN_hex2bn(&n, "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973"), 96);
  Bytes out(48);
  BN_bn2binpad(n, out.data(), 48);
  BN_free(n);
  return out;
}

// Big-endian `a + delta` over 48 bytes (delta small, may be negative).
Bytes AddSmall(Bytes a, int delta) {
  BnPtr b(BN_bin2bn(a.data(), static_cast<int>(a.size()), nullptr));
  if (delta >= 0) {
    BN_add_word(b.get(), static_cast<BN_ULONG>(delta));
  } else {
    BN_sub_word(b.get(), static_cast<BN_ULONG>(-delta));
  }
  Bytes out(48);
  BN_bn2binpad(b.get(), out.data(), 48);
  return out;
}

Bytes R(const EcdsaP384Signature& s) { return Bytes(s.r.begin(), s.r.end()); }
Bytes S(const EcdsaP384Signature& s) { return Bytes(s.s.begin(), s.s.end()); }

class P384Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!P384UsesNettle()) GTEST_SKIP() << "built without Nettle (VHSM_WITH_NETTLE=OFF): one implementation only";
  }
  using Verify = Status (*)(const EVP_PKEY*, ByteSpan, ByteSpan, ByteSpan);
  static constexpr Verify kBoth[] = {VerifyEcdsaP384Sha384Nettle, VerifyEcdsaP384Sha384OpenSsl};
};

TEST_F(P384Test, EachVerifiesWhatTheOtherSigns) {
  for (int i = 0; i < 24; ++i) {
    ASSERT_OK_AND_ASSIGN(PrivateKey key, PrivateKey::GenerateEc(EcCurve::kP384));
    const Bytes msg = *RandomBytes(static_cast<size_t>(i) * 37);  // includes the empty message
    ASSERT_OK_AND_ASSIGN(EcdsaP384Signature by_nettle, SignEcdsaP384Sha384Nettle(key.evp(), msg));
    ASSERT_OK_AND_ASSIGN(EcdsaP384Signature by_openssl, SignEcdsaP384Sha384OpenSsl(key.evp(), msg));
    PublicKey pub = key.Public();
    for (Verify v : kBoth) {
      EXPECT_OK(v(pub.evp(), msg, R(by_nettle), S(by_nettle)));
      EXPECT_OK(v(pub.evp(), msg, R(by_openssl), S(by_openssl)));
    }
    // The generic EVP path agrees with Nettle's output too (DER, raw-to-DER conversion).
    ASSERT_OK_AND_ASSIGN(Bytes der, EcdsaSigToDer(R(by_nettle), S(by_nettle)));
    EXPECT_OK(pub.Verify(SignatureScheme::kEcdsaSha384, msg, der));
  }
}

TEST_F(P384Test, SignaturesAreRandomised) {
  ASSERT_OK_AND_ASSIGN(PrivateKey key, PrivateKey::GenerateEc(EcCurve::kP384));
  const Bytes msg = ToBytes("same message");
  ASSERT_OK_AND_ASSIGN(EcdsaP384Signature a, SignEcdsaP384Sha384Nettle(key.evp(), msg));
  ASSERT_OK_AND_ASSIGN(EcdsaP384Signature b, SignEcdsaP384Sha384Nettle(key.evp(), msg));
  EXPECT_NE(a.r, b.r);
}

TEST_F(P384Test, BothRejectTheSameForgeries) {
  ASSERT_OK_AND_ASSIGN(PrivateKey key, PrivateKey::GenerateEc(EcCurve::kP384));
  ASSERT_OK_AND_ASSIGN(PrivateKey other, PrivateKey::GenerateEc(EcCurve::kP384));
  const Bytes msg = *RandomBytes(0x2A0);
  ASSERT_OK_AND_ASSIGN(EcdsaP384Signature sig, SignEcdsaP384Sha384(key.evp(), msg));
  const Bytes r = R(sig), s = S(sig), n = OrderN();
  PublicKey pub = key.Public();
  PublicKey other_pub = other.Public();
  struct Case {
    std::string name;
    const EVP_PKEY* key;
    Bytes msg, r, s;
    StatusCode want;
  };
  Bytes flipped = msg;
  flipped[0x50] ^= 1;
  Bytes r_flip = r;
  r_flip[47] ^= 1;
  Bytes s_flip = s;
  s_flip[0] ^= 0x80;
  // r + n and s + n are congruent to r and s but out of range; both must refuse them. They
  // can exceed 48 bytes (49 with a carry), which the contract allows up to 66.
  auto plus_n = [&](const Bytes& v) {
    BnPtr a(BN_bin2bn(v.data(), 48, nullptr)), b(BN_bin2bn(n.data(), 48, nullptr));
    BN_add(a.get(), a.get(), b.get());
    Bytes out(static_cast<size_t>(BN_num_bytes(a.get())));
    BN_bn2bin(a.get(), out.data());
    return out;
  };
  const std::vector<Case> cases = {
      {"message changed", pub.evp(), flipped, r, s, StatusCode::kUnauthenticated},
      {"r changed", pub.evp(), msg, r_flip, s, StatusCode::kUnauthenticated},
      {"s changed", pub.evp(), msg, r, s_flip, StatusCode::kUnauthenticated},
      {"r and s swapped", pub.evp(), msg, s, r, StatusCode::kUnauthenticated},
      {"other key", other_pub.evp(), msg, r, s, StatusCode::kUnauthenticated},
      {"r = n", pub.evp(), msg, n, s, StatusCode::kUnauthenticated},
      {"s = n", pub.evp(), msg, r, n, StatusCode::kUnauthenticated},
      {"r = n + 1", pub.evp(), msg, AddSmall(n, 1), s, StatusCode::kUnauthenticated},
      {"r + n", pub.evp(), msg, plus_n(r), s, StatusCode::kUnauthenticated},
      {"s + n", pub.evp(), msg, r, plus_n(s), StatusCode::kUnauthenticated},
      {"r = 2^384 - 1", pub.evp(), msg, Bytes(48, 0xff), s, StatusCode::kUnauthenticated},
      {"r of 66 bytes", pub.evp(), msg, Bytes(66, 0x01), s, StatusCode::kUnauthenticated},
      {"r of 67 bytes", pub.evp(), msg, Bytes(67, 0x01), s, StatusCode::kInvalidArgument},
      {"r = 0", pub.evp(), msg, Bytes(48, 0), s, StatusCode::kInvalidArgument},
      {"s = 0", pub.evp(), msg, r, Bytes(48, 0), StatusCode::kInvalidArgument},
      {"empty r", pub.evp(), msg, Bytes{}, s, StatusCode::kInvalidArgument},
  };
  for (const Case& c : cases) {
    for (Verify v : kBoth) {
      EXPECT_THAT(v(c.key, c.msg, c.r, c.s), StatusIs(c.want, ::testing::_)) << c.name;
    }
  }
  // The high-s twin (r, n - s) is a valid ECDSA signature: both accept it (the SNP verifier does
  // not rely on signature uniqueness).
  BnPtr bn(BN_bin2bn(n.data(), 48, nullptr)), bs(BN_bin2bn(s.data(), 48, nullptr));
  BN_sub(bs.get(), bn.get(), bs.get());
  Bytes twin(48);
  BN_bn2binpad(bs.get(), twin.data(), 48);
  for (Verify v : kBoth) EXPECT_OK(v(pub.evp(), msg, r, twin));
  // Leading zero bytes in r and s are only padding.
  Bytes r_padded(10 + r.size(), 0);
  std::copy(r.begin(), r.end(), r_padded.begin() + 10);
  for (Verify v : kBoth) EXPECT_OK(v(pub.evp(), msg, r_padded, s));
}

TEST_F(P384Test, WrongKeyTypesAreRefused) {
  ASSERT_OK_AND_ASSIGN(PrivateKey p256, PrivateKey::GenerateEc(EcCurve::kP256));
  ASSERT_OK_AND_ASSIGN(PrivateKey p384, PrivateKey::GenerateEc(EcCurve::kP384));
  ASSERT_OK_AND_ASSIGN(EcdsaP384Signature sig, SignEcdsaP384Sha384(p384.evp(), ToBytes("m")));
  for (Verify v : kBoth) {
    EXPECT_THAT(v(p256.Public().evp(), ToBytes("m"), R(sig), S(sig)), StatusIs(StatusCode::kInvalidArgument, HasSubstr("P-384")));
    EXPECT_THAT(v(nullptr, ToBytes("m"), R(sig), S(sig)), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  }
  EXPECT_THAT(SignEcdsaP384Sha384Nettle(p256.evp(), ToBytes("m")), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(SignEcdsaP384Sha384OpenSsl(p256.evp(), ToBytes("m")), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  // A public key cannot sign.
  EXPECT_THAT(SignEcdsaP384Sha384Nettle(p384.Public().evp(), ToBytes("m")), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
}

// Every real AMD-signed report of the shared set verifies with both implementations, and the
// tampered one with neither.
TEST_F(P384Test, RealReportsAgree) {
  VHSM_REQUIRE_SNP_VECTORS();
  struct Vec {
    std::string report, leaf;
    bool valid;
  };
  const std::vector<Vec> vecs = {
      {"vectors/milan-v2-vcek-virtee/report.bin", "vectors/milan-v2-vcek-virtee/vcek.der", true},
      {"vectors/milan-v2-vcek-debugpolicy-gosevguest/report.bin", "vectors/milan-v2-vcek-debugpolicy-gosevguest/vcek.der", true},
      {"vectors/genoa-v3-vcek-azure-trustee/report.bin", "vectors/genoa-v3-vcek-azure-trustee/vcek.pem", true},
      {"vectors/genoa-v5-vcek-oak/report.bin", "vectors/genoa-v5-vcek-oak/vcek.der", true},
      {"vectors/milan-v3-vlek-vmpl1-trustee/report.bin", "vectors/milan-v3-vlek-vmpl1-trustee/vlek.der", true},
      {"vectors/neg-milan-v2-vcek-tampered-reportdata/report.bin", "vectors/milan-v2-vcek-virtee/vcek.der", false},
  };
  for (const Vec& v : vecs) {
    const Bytes report = testdata::ReadVector(v.report);
    ASSERT_EQ(report.size(), 1184u) << v.report;
    ASSERT_OK_AND_ASSIGN(Certificate leaf, Certificate::Parse(testdata::ReadVector(v.leaf)));
    Bytes r(report.begin() + 0x2A0, report.begin() + 0x2E8);
    Bytes s(report.begin() + 0x2E8, report.begin() + 0x330);
    std::reverse(r.begin(), r.end());
    std::reverse(s.begin(), s.end());
    const ByteSpan msg(report.data(), 0x2A0);
    for (Verify fn : kBoth) {
      if (v.valid) {
        EXPECT_OK(fn(leaf.public_key(), msg, r, s)) << v.report;
      } else {
        EXPECT_THAT(fn(leaf.public_key(), msg, r, s), StatusIs(StatusCode::kUnauthenticated, ::testing::_)) << v.report;
      }
    }
  }
}

}  // namespace
}  // namespace vhsm::crypto
