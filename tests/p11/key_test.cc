// Tests p11::Key against a real SoftHSM2 token (keys made with pkcs11-tool). Signatures are
// checked by OpenSSL with the SPKI the token reports; AES-GCM is cross-checked against OpenSSL
// with a key imported with known bytes.
#include "p11/key.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <p11-kit/pkcs11.h>

#include <atomic>
#include <thread>

#include "base/file.h"
#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/keys.h"
#include "p11/softhsm_token.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::p11 {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kPin[] = "4711pin";

class KeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    VHSM_REQUIRE_SOFTHSM();
    ASSERT_EQ(token_.Init(dir_.path(), "vhsm-test", kPin), "");
  }
  std::string Uri(const std::string& path_attrs, const std::string& extra_query = "") {
    return "pkcs11:token=vhsm-test;" + path_attrs + "?module-path=" + p11test::kSoftHsmModule + "&pin-value=" + kPin +
           extra_query;
  }
  testdata::TempDir dir_;
  p11test::SoftHsmToken token_;
};

void ExpectSignatureVerifies(const Key& key, crypto::HashAlg hash, crypto::EcCurve curve) {
  ASSERT_OK_AND_ASSIGN(Bytes spki, key.PublicKeySpki());
  ASSERT_OK_AND_ASSIGN(crypto::PublicKey pub, crypto::PublicKey::FromDer(spki));
  ASSERT_EQ(pub.curve(), curve);
  const Bytes msg = ToBytes("EAR claims to be signed");
  const Bytes digest = hash == crypto::HashAlg::kSha384 ? crypto::Sha384(msg) : crypto::Sha256(msg);
  ASSERT_OK_AND_ASSIGN(Bytes sig, key.SignDigestEcdsa(digest));
  EXPECT_EQ(sig.size(), 2 * crypto::EcCoordinateSize(curve));
  const crypto::SignatureScheme scheme =
      hash == crypto::HashAlg::kSha384 ? crypto::SignatureScheme::kEcdsaSha384 : crypto::SignatureScheme::kEcdsaSha256;
  EXPECT_OK(pub.Verify(scheme, msg, sig, crypto::EcdsaFormat::kRawRs));
  Bytes other = msg;
  other[0] ^= 1;
  EXPECT_THAT(pub.Verify(scheme, other, sig, crypto::EcdsaFormat::kRawRs), StatusIs(StatusCode::kUnauthenticated, ::testing::_));
}

TEST_F(KeyTest, SignsP256DigestVerifiableWithReportedPublicKey) {
  ASSERT_EQ(token_.MakeEcKey("ear-p256", "01", "prime256v1"), "");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Key> key, Key::Open(Uri("object=ear-p256")));
  EXPECT_TRUE(key->has_private_key());
  EXPECT_TRUE(key->has_public_key());
  EXPECT_EQ(key->curve(), KeyCurve::kP256);
  ExpectSignatureVerifies(*key, crypto::HashAlg::kSha256, crypto::EcCurve::kP256);
  EXPECT_THAT(key->description(), Not(HasSubstr(kPin)));
}

TEST_F(KeyTest, SignsP384DigestFoundById) {
  ASSERT_EQ(token_.MakeEcKey("ear-p384", "a1b2", "secp384r1"), "");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Key> key, Key::Open(Uri("id=%A1%B2")));
  EXPECT_EQ(key->curve(), KeyCurve::kP384);
  ExpectSignatureVerifies(*key, crypto::HashAlg::kSha384, crypto::EcCurve::kP384);
}

TEST_F(KeyTest, PublicKeyFromPrivateObjectAlone) {
  ASSERT_EQ(token_.MakeEcKey("solo", "02", "prime256v1"), "");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Key> key, Key::Open(Uri("object=solo;type=private")));
  EXPECT_FALSE(key->has_public_key());
  // SoftHSM2 2.6 sets CKA_PUBLIC_KEY_INFO on generated private keys; other tokens may not.
  Result<Bytes> spki = key->PublicKeySpki();
  if (spki.ok()) {
    ExpectSignatureVerifies(*key, crypto::HashAlg::kSha256, crypto::EcCurve::kP256);
  } else {
    EXPECT_THAT(spki, StatusIs(StatusCode::kFailedPrecondition, HasSubstr("CKA_PUBLIC_KEY_INFO")));
  }
}

TEST_F(KeyTest, PinFromPinSourceFile) {
  ASSERT_EQ(token_.MakeEcKey("k", "03", "prime256v1"), "");
  const std::string pin_file = dir_.Join("pin");
  ASSERT_OK(WriteFileAtomic(pin_file, AsBytes(std::string(kPin) + "\n"), 0600));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Key> key,
                       Key::Open("pkcs11:token=vhsm-test;object=k?module-path=" + std::string(p11test::kSoftHsmModule) +
                                 "&pin-source=file:" + pin_file));
  ASSERT_OK_AND_ASSIGN(Bytes sig, key->SignDigestEcdsa(crypto::Sha256(ToBytes("x"))));
  EXPECT_EQ(sig.size(), 64u);
}

TEST_F(KeyTest, ModulePathAndPinFromOptions) {
  ASSERT_EQ(token_.MakeEcKey("k", "03", "prime256v1"), "");
  KeyOptions o;
  o.module_path = p11test::kSoftHsmModule;
  o.pin = SecretBytes(AsBytes(kPin));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Key> key, Key::Open("pkcs11:token=vhsm-test;object=k", std::move(o)));
  EXPECT_TRUE(key->has_private_key());
}

TEST_F(KeyTest, WrongPinIsUnauthenticatedAndNotEchoed) {
  ASSERT_EQ(token_.MakeEcKey("k", "03", "prime256v1"), "");
  Result<std::unique_ptr<Key>> key = Key::Open("pkcs11:token=vhsm-test;object=k?module-path=" +
                                               std::string(p11test::kSoftHsmModule) + "&pin-value=wrongpin99");
  EXPECT_THAT(key, StatusIs(StatusCode::kUnauthenticated, HasSubstr("CKR_PIN_INCORRECT")));
  EXPECT_THAT(key.status().message(), Not(HasSubstr("wrongpin99")));
}

TEST_F(KeyTest, NotFoundCases) {
  ASSERT_EQ(token_.MakeEcKey("k", "03", "prime256v1"), "");
  EXPECT_THAT(Key::Open("pkcs11:token=no-such-token?module-path=" + std::string(p11test::kSoftHsmModule)),
              StatusIs(StatusCode::kNotFound, HasSubstr("no initialised token")));
  EXPECT_THAT(Key::Open(Uri("object=missing")), StatusIs(StatusCode::kNotFound, HasSubstr("no key object")));
  EXPECT_THAT(Key::Open("pkcs11:object=k?module-path=/nonexistent/libp11.so"),
              StatusIs(StatusCode::kNotFound, HasSubstr("cannot load")));
  EXPECT_THAT(Key::Open("pkcs11:object=k"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("no module")));
  // Without a PIN the private key is invisible; the message says why.
  EXPECT_THAT(Key::Open("pkcs11:token=vhsm-test;object=k;type=private?module-path=" +
                        std::string(p11test::kSoftHsmModule)),
              StatusIs(StatusCode::kNotFound, HasSubstr("no PIN")));
}

TEST_F(KeyTest, AmbiguousObjectIsRejected) {
  ASSERT_EQ(token_.MakeEcKey("dup", "04", "prime256v1"), "");
  ASSERT_EQ(token_.MakeEcKey("dup", "05", "prime256v1"), "");
  EXPECT_THAT(Key::Open(Uri("object=dup")), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("several")));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Key> key, Key::Open(Uri("object=dup;id=%05")));
  EXPECT_TRUE(key->has_private_key());
}

TEST_F(KeyTest, RejectsBadDigestSizesAndWrongOperations) {
  ASSERT_EQ(token_.MakeEcKey("k", "03", "prime256v1"), "");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Key> key, Key::Open(Uri("object=k")));
  EXPECT_THAT(key->SignDigestEcdsa({}), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(key->SignDigestEcdsa(Bytes(65, 1)), StatusIs(StatusCode::kInvalidArgument, HasSubstr("65")));
  EXPECT_THAT(key->AeadEncrypt(Bytes(12), {}, ToBytes("x")), StatusIs(StatusCode::kFailedPrecondition, ::testing::_));
}

TEST_F(KeyTest, AesGcmRoundTripAndTamperDetection) {
  ASSERT_EQ(token_.MakeAesKey("kek", "10"), "");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Key> kek, Key::Open(Uri("object=kek;type=secret-key")));
  const Bytes iv(12, 7), aad = ToBytes("resource:repo/type/tag"), pt = ToBytes("a data-encryption key");
  ASSERT_OK_AND_ASSIGN(Bytes ct, kek->AeadEncrypt(iv, aad, pt));
  ASSERT_EQ(ct.size(), pt.size() + kGcmTagBytes);
  ASSERT_OK_AND_ASSIGN(SecretBytes back, kek->AeadDecrypt(iv, aad, ct));
  EXPECT_EQ(Bytes(back.Expose().begin(), back.Expose().end()), pt);
  // Empty plaintext works too (ciphertext is just the tag).
  ASSERT_OK_AND_ASSIGN(Bytes tag_only, kek->AeadEncrypt(iv, aad, {}));
  EXPECT_EQ(tag_only.size(), kGcmTagBytes);

  Bytes bad = ct;
  bad[0] ^= 1;
  EXPECT_THAT(kek->AeadDecrypt(iv, aad, bad), StatusIs(StatusCode::kUnauthenticated, ::testing::_));
  bad = ct;
  bad.back() ^= 1;
  EXPECT_THAT(kek->AeadDecrypt(iv, aad, bad), StatusIs(StatusCode::kUnauthenticated, ::testing::_));
  EXPECT_THAT(kek->AeadDecrypt(iv, ToBytes("other aad"), ct), StatusIs(StatusCode::kUnauthenticated, ::testing::_));
  EXPECT_THAT(kek->AeadDecrypt(Bytes(12, 8), aad, ct), StatusIs(StatusCode::kUnauthenticated, ::testing::_));
  EXPECT_THAT(kek->AeadDecrypt(iv, aad, Bytes(15)), StatusIs(StatusCode::kInvalidArgument, HasSubstr("tag")));
  EXPECT_THAT(kek->AeadEncrypt({}, aad, pt), StatusIs(StatusCode::kInvalidArgument, HasSubstr("iv")));
  EXPECT_THAT(kek->AeadEncrypt(iv, Bytes(kMaxAeadAadBytes + 1), pt), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  // The KEK cannot sign.
  EXPECT_THAT(kek->SignDigestEcdsa(Bytes(32)), StatusIs(StatusCode::kFailedPrecondition, ::testing::_));
}

TEST_F(KeyTest, AesGcmMatchesOpenSslWithKnownKey) {
  const Bytes key_bytes = *HexDecode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  const std::string key_file = dir_.Join("kek.bin");
  ASSERT_OK(WriteFileAtomic(key_file, key_bytes, 0600));
  ASSERT_EQ(token_.ImportAesKey("known", "11", key_file), "");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Key> kek, Key::Open(Uri("object=known")));
  const Bytes iv(12, 3), aad = ToBytes("aad"), pt = ToBytes("plaintext for the cross-check");
  ASSERT_OK_AND_ASSIGN(Bytes ct, kek->AeadEncrypt(iv, aad, pt));
  const SecretBytes k(key_bytes);
  ASSERT_OK_AND_ASSIGN(crypto::AeadSealed sealed, crypto::AesGcmSealWithIv(k, iv, pt, aad));
  Bytes expect = sealed.ciphertext;
  expect.insert(expect.end(), sealed.tag.begin(), sealed.tag.end());
  EXPECT_EQ(ct, expect);
  // And the token opens what OpenSSL sealed.
  ASSERT_OK_AND_ASSIGN(SecretBytes back, kek->AeadDecrypt(iv, aad, expect));
  EXPECT_EQ(Bytes(back.Expose().begin(), back.Expose().end()), pt);
}

TEST_F(KeyTest, ConcurrentUseFromSeveralThreadsAndKeysSharingTheModule) {
  ASSERT_EQ(token_.MakeEcKey("k", "03", "prime256v1"), "");
  ASSERT_EQ(token_.MakeAesKey("kek", "10"), "");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Key> signer, Key::Open(Uri("object=k")));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Key> kek, Key::Open(Uri("object=kek")));
  ASSERT_OK_AND_ASSIGN(Bytes spki, signer->PublicKeySpki());
  ASSERT_OK_AND_ASSIGN(crypto::PublicKey pub, crypto::PublicKey::FromDer(spki));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const Bytes msg = ToBytes("m" + std::to_string(t) + "/" + std::to_string(i));
        Result<Bytes> sig = signer->SignDigestEcdsa(crypto::Sha256(msg));
        if (!sig.ok() || !pub.Verify(crypto::SignatureScheme::kEcdsaSha256, msg, *sig, crypto::EcdsaFormat::kRawRs).ok()) {
          ++failures;
        }
        Bytes iv(12, static_cast<uint8_t>(t));
        iv[11] = static_cast<uint8_t>(i);
        Result<Bytes> ct = kek->AeadEncrypt(iv, {}, msg);
        Result<SecretBytes> pt = ct.ok() ? kek->AeadDecrypt(iv, {}, *ct) : Result<SecretBytes>(ct.status());
        if (!pt.ok() || !ConstantTimeEquals(pt->Expose(), msg)) ++failures;
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  // Dropping one key keeps the shared module initialised for the other.
  signer.reset();
  ASSERT_OK_AND_ASSIGN(Bytes ct, kek->AeadEncrypt(Bytes(12, 9), {}, ToBytes("still works")));
  EXPECT_EQ(ct.size(), 11 + kGcmTagBytes);
}

TEST(CkrTest, StatusMappingTable) {
  EXPECT_OK(CkrToStatus(CKR_OK, "x"));
  EXPECT_THAT(CkrToStatus(CKR_PIN_INCORRECT, "C_Login"),
              StatusIs(StatusCode::kUnauthenticated, HasSubstr("C_Login: CKR_PIN_INCORRECT")));
  EXPECT_THAT(CkrToStatus(CKR_DEVICE_REMOVED, "x"), StatusIs(StatusCode::kUnavailable, ::testing::_));
  EXPECT_THAT(CkrToStatus(CKR_TOKEN_NOT_PRESENT, "x"), StatusIs(StatusCode::kUnavailable, ::testing::_));
  EXPECT_THAT(CkrToStatus(CKR_KEY_FUNCTION_NOT_PERMITTED, "x"), StatusIs(StatusCode::kFailedPrecondition, ::testing::_));
  EXPECT_THAT(CkrToStatus(CKR_MECHANISM_INVALID, "x"), StatusIs(StatusCode::kUnimplemented, ::testing::_));
  EXPECT_THAT(CkrToStatus(CKR_ENCRYPTED_DATA_INVALID, "x"), StatusIs(StatusCode::kUnauthenticated, ::testing::_));
  EXPECT_THAT(CkrToStatus(CKR_PIN_LOCKED, "x"), StatusIs(StatusCode::kPermissionDenied, ::testing::_));
  EXPECT_THAT(CkrToStatus(0x80001234UL, "x"), StatusIs(StatusCode::kInternal, HasSubstr("CKR_0x80001234")));
}

}  // namespace
}  // namespace vhsm::p11
