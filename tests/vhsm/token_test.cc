// Tests of the daemon core (SealedStore, Token, Engine) without sockets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "base/log.h"
#include "crypto/digest.h"
#include "crypto/x509.h"
#include "ipc/mech_params.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"
#include "vhsm/engine.h"
#include "vhsm/sealed_store.h"
#include "vhsm/token.h"
#include "vhsm_testing/fake_firmware.h"

namespace vhsm::hsm {
namespace {

using ::testing::HasSubstr;
using testing::FakeFirmware;

snp::DerivedKeyRequest MeasurementBound() {
  snp::DerivedKeyRequest r;
  r.guest_field_select = snp::field_select::kMeasurement | snp::field_select::kGuestPolicy;
  return r;
}

Bytes Label(std::string_view s) {
  Bytes b(32, ' ');
  std::memcpy(b.data(), s.data(), s.size());
  return b;
}

AttrMap Attrs(std::initializer_list<std::pair<CK_ATTRIBUTE_TYPE, Bytes>> l) { return AttrMap(l.begin(), l.end()); }

class TokenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(engine_, Engine::Create());
    Open();
  }
  void Open() {
    token_.reset();
    store_.reset();
    ASSERT_OK_AND_ASSIGN(store_, SealedStore::Open(dir_.Join("t.sqlite"), fw_, MeasurementBound()));
    TokenOptions o;
    o.pbkdf2_iterations = 1000;
    o.max_pin_failures = 3;
    ASSERT_OK_AND_ASSIGN(token_, Token::Open(*store_, *engine_, o, log_));
    app_ = token_->NewApp();
  }
  // Initialised token, user PIN "1234", RW session logged in as user.
  CK_SESSION_HANDLE ReadyUserSession() {
    EXPECT_EQ(token_->InitToken(AsBytes("so-secret"), Label("t")), CKR_OK);
    CK_SESSION_HANDLE s = 0;
    EXPECT_EQ(token_->OpenSession(*app_, CKF_SERIAL_SESSION | CKF_RW_SESSION, &s), CKR_OK);
    EXPECT_EQ(token_->Login(*app_, s, CKU_SO, AsBytes("so-secret")), CKR_OK);
    EXPECT_EQ(token_->InitPin(*app_, s, AsBytes("1234")), CKR_OK);
    EXPECT_EQ(token_->Logout(*app_, s), CKR_OK);
    EXPECT_EQ(token_->Login(*app_, s, CKU_USER, AsBytes("1234")), CKR_OK);
    return s;
  }
  CK_FLAGS Flags() {
    CK_TOKEN_INFO info;
    token_->GetTokenInfo(&info);
    return info.flags;
  }

  vhsm::testdata::TempDir dir_;
  FakeFirmware fw_{"machine-A", "measurement-1"};
  Logger log_{LogLevel::kError};
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<SealedStore> store_;
  std::unique_ptr<Token> token_;
  std::shared_ptr<App> app_;
};

TEST_F(TokenTest, UserPinLockoutSetsFlagsInOrder) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  ASSERT_EQ(token_->Logout(*app_, s), CKR_OK);
  EXPECT_EQ(Flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED), 0u);
  EXPECT_EQ(token_->Login(*app_, s, CKU_USER, AsBytes("0000")), CKR_PIN_INCORRECT);
  EXPECT_EQ(Flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED), CKF_USER_PIN_COUNT_LOW);
  EXPECT_EQ(token_->Login(*app_, s, CKU_USER, AsBytes("0000")), CKR_PIN_INCORRECT);
  EXPECT_EQ(Flags() & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED),
            CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
  EXPECT_EQ(token_->Login(*app_, s, CKU_USER, AsBytes("0000")), CKR_PIN_LOCKED);
  EXPECT_NE(Flags() & CKF_USER_PIN_LOCKED, 0u);
  // Locked: even the right PIN is refused, and the lock survives a restart.
  EXPECT_EQ(token_->Login(*app_, s, CKU_USER, AsBytes("1234")), CKR_PIN_LOCKED);
  Open();
  EXPECT_NE(Flags() & CKF_USER_PIN_LOCKED, 0u);
}

TEST_F(TokenTest, CorrectPinResetsCounter) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  ASSERT_EQ(token_->Logout(*app_, s), CKR_OK);
  EXPECT_EQ(token_->Login(*app_, s, CKU_USER, AsBytes("9999")), CKR_PIN_INCORRECT);
  EXPECT_EQ(token_->Login(*app_, s, CKU_USER, AsBytes("1234")), CKR_OK);
  EXPECT_EQ(Flags() & CKF_USER_PIN_COUNT_LOW, 0u);
}

TEST_F(TokenTest, LoginStateIsSharedBySessionsOfOneApplicationOnly) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  CK_SESSION_HANDLE s2 = 0;
  ASSERT_EQ(token_->OpenSession(*app_, CKF_SERIAL_SESSION, &s2), CKR_OK);
  CK_STATE state;
  CK_FLAGS flags;
  ASSERT_EQ(token_->GetSessionInfo(*app_, s2, &state, &flags), CKR_OK);
  EXPECT_EQ(state, CKS_RO_USER_FUNCTIONS);
  EXPECT_EQ(token_->Login(*app_, s2, CKU_USER, AsBytes("1234")), CKR_USER_ALREADY_LOGGED_IN);
  std::shared_ptr<App> other = token_->NewApp();
  CK_SESSION_HANDLE s3 = 0;
  ASSERT_EQ(token_->OpenSession(*other, CKF_SERIAL_SESSION, &s3), CKR_OK);
  ASSERT_EQ(token_->GetSessionInfo(*other, s3, &state, &flags), CKR_OK);
  EXPECT_EQ(state, CKS_RO_PUBLIC_SESSION);
  // Another application cannot use this application's session handle.
  EXPECT_EQ(token_->GetSessionInfo(*other, s, &state, &flags), CKR_SESSION_HANDLE_INVALID);
}

TEST_F(TokenTest, SensitiveKeyValueIsNeverReturned) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  CK_OBJECT_HANDLE k = 0;
  ASSERT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}},
                                Attrs({{CKA_VALUE_LEN, UlongValue(32)}, {CKA_SENSITIVE, BoolValue(true)},
                                       {CKA_EXTRACTABLE, BoolValue(true)}}),
                                &k),
            CKR_OK);
  std::vector<AttrResult> res;
  ASSERT_EQ(token_->GetAttributes(*app_, s, k, {CKA_VALUE, CKA_VALUE_LEN, CKA_ALWAYS_SENSITIVE, CKA_MODULUS}, &res),
            CKR_OK);
  EXPECT_EQ(res[0].rv, CKR_ATTRIBUTE_SENSITIVE);
  EXPECT_TRUE(res[0].value.empty());
  EXPECT_EQ(res[1].value, UlongValue(32));
  EXPECT_EQ(res[2].value, BoolValue(true));
  EXPECT_EQ(res[3].rv, CKR_ATTRIBUTE_TYPE_INVALID);
  // CKA_SENSITIVE cannot be turned off again.
  EXPECT_EQ(token_->SetAttributes(*app_, s, k, Attrs({{CKA_SENSITIVE, BoolValue(false)}})), CKR_ATTRIBUTE_READ_ONLY);
}

TEST_F(TokenTest, NonSensitiveExtractableKeyValueIsReturned) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  CK_OBJECT_HANDLE k = 0;
  ASSERT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}},
                                Attrs({{CKA_VALUE_LEN, UlongValue(16)}, {CKA_SENSITIVE, BoolValue(false)},
                                       {CKA_EXTRACTABLE, BoolValue(true)}}),
                                &k),
            CKR_OK);
  std::vector<AttrResult> res;
  ASSERT_EQ(token_->GetAttributes(*app_, s, k, {CKA_VALUE}, &res), CKR_OK);
  EXPECT_EQ(res[0].rv, CKR_OK);
  EXPECT_EQ(res[0].value.size(), 16u);
}

TEST_F(TokenTest, TemplateErrorsGetSpecCodes) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  CK_OBJECT_HANDLE k = 0;
  EXPECT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}}, Attrs({}), &k), CKR_TEMPLATE_INCOMPLETE);
  EXPECT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}}, Attrs({{CKA_VALUE_LEN, UlongValue(17)}}), &k),
            CKR_ATTRIBUTE_VALUE_INVALID);
  EXPECT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}},
                                Attrs({{CKA_VALUE_LEN, UlongValue(16)}, {CKA_KEY_TYPE, UlongValue(CKK_RSA)}}), &k),
            CKR_TEMPLATE_INCONSISTENT);
  EXPECT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}},
                                Attrs({{CKA_VALUE_LEN, UlongValue(16)}, {CKA_LOCAL, BoolValue(true)}}), &k),
            CKR_ATTRIBUTE_READ_ONLY);
  EXPECT_EQ(token_->GenerateKey(*app_, s, {CKM_SHA256, {}}, Attrs({{CKA_VALUE_LEN, UlongValue(16)}}), &k),
            CKR_MECHANISM_INVALID);
  AttrMap m;
  EXPECT_EQ(ParseTemplate({{0x7fff0000, true, {1}}}, &m), CKR_ATTRIBUTE_TYPE_INVALID);
  EXPECT_EQ(ParseTemplate({{CKA_TOKEN, true, {1, 1}}}, &m), CKR_ATTRIBUTE_VALUE_INVALID);
  AttrMap m2;
  EXPECT_EQ(ParseTemplate({{CKA_LABEL, true, {1}}, {CKA_LABEL, true, {2}}}, &m2), CKR_TEMPLATE_INCONSISTENT);
}

TEST_F(TokenTest, PrivateObjectsNeedLogin) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  CK_OBJECT_HANDLE k = 0;
  ASSERT_EQ(token_->GenerateKey(*app_, s, {CKM_GENERIC_SECRET_KEY_GEN, {}},
                                Attrs({{CKA_VALUE_LEN, UlongValue(32)}, {CKA_LABEL, ToBytes("mac")}}), &k),
            CKR_OK);
  ASSERT_EQ(token_->Logout(*app_, s), CKR_OK);
  std::vector<CK_OBJECT_HANDLE> found;
  ASSERT_EQ(token_->FindObjects(*app_, s, Attrs({{CKA_LABEL, ToBytes("mac")}}), &found), CKR_OK);
  EXPECT_TRUE(found.empty());
  Bytes mac;
  EXPECT_EQ(token_->Sign(*app_, s, {CKM_SHA256_HMAC, {}}, k, AsBytes("x"), &mac), CKR_USER_NOT_LOGGED_IN);
  EXPECT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}}, Attrs({{CKA_VALUE_LEN, UlongValue(32)}}), &k),
            CKR_USER_NOT_LOGGED_IN);
}

TEST_F(TokenTest, TokenObjectsSurviveRestartSessionObjectsDoNot) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  CK_OBJECT_HANDLE pub = 0, priv = 0, sess = 0;
  ASSERT_EQ(token_->GenerateKeyPair(*app_, s, {CKM_EC_KEY_PAIR_GEN, {}},
                                    Attrs({{CKA_EC_PARAMS, {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}},
                                           {CKA_TOKEN, BoolValue(true)}, {CKA_LABEL, ToBytes("ec")}}),
                                    Attrs({{CKA_TOKEN, BoolValue(true)}, {CKA_LABEL, ToBytes("ec")}}), &pub, &priv),
            CKR_OK);
  ASSERT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}},
                                Attrs({{CKA_VALUE_LEN, UlongValue(32)}, {CKA_LABEL, ToBytes("ec")}}), &sess),
            CKR_OK);
  Bytes sig;
  ASSERT_EQ(token_->Sign(*app_, s, {CKM_ECDSA_SHA256, {}}, priv, AsBytes("msg"), &sig), CKR_OK);
  EXPECT_EQ(sig.size(), 64u);
  Open();
  CK_SESSION_HANDLE s2 = 0;
  ASSERT_EQ(token_->OpenSession(*app_, CKF_SERIAL_SESSION, &s2), CKR_OK);
  ASSERT_EQ(token_->Login(*app_, s2, CKU_USER, AsBytes("1234")), CKR_OK);
  std::vector<CK_OBJECT_HANDLE> found;
  ASSERT_EQ(token_->FindObjects(*app_, s2, Attrs({{CKA_LABEL, ToBytes("ec")}}), &found), CKR_OK);
  EXPECT_THAT(found, ::testing::UnorderedElementsAre(pub, priv));
  EXPECT_EQ(token_->Verify(*app_, s2, {CKM_ECDSA_SHA256, {}}, pub, AsBytes("msg"), sig), CKR_OK);
  EXPECT_EQ(token_->Verify(*app_, s2, {CKM_ECDSA_SHA256, {}}, pub, AsBytes("msh"), sig), CKR_SIGNATURE_INVALID);
}

TEST_F(TokenTest, StoreOpenedWithAnotherMeasurementFails) {
  ReadyUserSession();
  token_.reset();
  store_.reset();
  FakeFirmware other_vm("machine-A", "measurement-2");
  auto r = SealedStore::Open(dir_.Join("t.sqlite"), other_vm, MeasurementBound());
  EXPECT_THAT(r, StatusIs(StatusCode::kPermissionDenied, HasSubstr("does not open this store")));
  FakeFirmware other_machine("machine-B", "measurement-1");
  EXPECT_THAT(SealedStore::Open(dir_.Join("t.sqlite"), other_machine, MeasurementBound()),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("t.sqlite")));
}

TEST_F(TokenTest, InitTokenNeedsNoOpenSessionsAndRightSoPin) {
  ReadyUserSession();
  EXPECT_EQ(token_->InitToken(AsBytes("so-secret"), Label("x")), CKR_SESSION_EXISTS);
  ASSERT_EQ(token_->CloseAllSessions(*app_), CKR_OK);
  EXPECT_EQ(token_->InitToken(AsBytes("wrong-so"), Label("x")), CKR_PIN_INCORRECT);
  EXPECT_NE(Flags() & CKF_SO_PIN_COUNT_LOW, 0u);
  EXPECT_EQ(token_->InitToken(AsBytes("so-secret"), Label("x")), CKR_OK);
  EXPECT_EQ(Flags() & CKF_USER_PIN_INITIALIZED, 0u);
}

// ---- Engine ----

class EngineTest : public TokenTest {};

TEST_F(EngineTest, AesModesRoundTripAndDetectTampering) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  CK_OBJECT_HANDLE k = 0;
  ASSERT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}}, Attrs({{CKA_VALUE_LEN, UlongValue(32)}}), &k), CKR_OK);
  Bytes pt(100, 0x5a);
  Bytes iv(16, 1);
  std::vector<ipc::WireMechanism> mechs = {
      {CKM_AES_CBC_PAD, iv},
      {CKM_AES_GCM, ipc::EncodeGcm({Bytes(12, 2), ToBytes("aad"), 128})},
      {CKM_AES_CTR, ipc::EncodeCtr({128, iv})},
  };
  for (const auto& m : mechs) {
    Bytes ct, back;
    ASSERT_EQ(token_->Encrypt(*app_, s, m, k, pt, &ct), CKR_OK) << m.type;
    ASSERT_EQ(token_->Decrypt(*app_, s, m, k, ct, &back), CKR_OK) << m.type;
    EXPECT_EQ(back, pt);
  }
  Bytes ct;
  ASSERT_EQ(token_->Encrypt(*app_, s, mechs[1], k, pt, &ct), CKR_OK);
  EXPECT_EQ(ct.size(), pt.size() + 16);
  ct[3] ^= 1;
  Bytes back;
  EXPECT_EQ(token_->Decrypt(*app_, s, mechs[1], k, ct, &back), CKR_ENCRYPTED_DATA_INVALID);
  EXPECT_EQ(token_->Encrypt(*app_, s, {CKM_AES_CBC, iv}, k, Bytes(15), &ct), CKR_DATA_LEN_RANGE);
  EXPECT_EQ(token_->Encrypt(*app_, s, {CKM_AES_CBC, Bytes(8)}, k, Bytes(16), &ct), CKR_MECHANISM_PARAM_INVALID);
}

TEST_F(EngineTest, GcmMatchesKnownAnswer) {
  // NIST GCM test vector (gcmEncryptExtIV128, Count 0 of the 128-bit key / 96-bit IV / 128-bit
  // plaintext group): K=0, IV=0, P=0 -> C=0388dace60b6a392f328c2b971b2fe78, T=ab6e47d42cec13bdf53a67b21257bddf.
  CK_SESSION_HANDLE s = ReadyUserSession();
  CK_OBJECT_HANDLE k = 0;
  ASSERT_EQ(token_->CreateObject(*app_, s,
                                 Attrs({{CKA_CLASS, UlongValue(CKO_SECRET_KEY)}, {CKA_KEY_TYPE, UlongValue(CKK_AES)},
                                        {CKA_VALUE, Bytes(16, 0)}}),
                                 &k),
            CKR_OK);
  Bytes ct;
  ASSERT_EQ(token_->Encrypt(*app_, s, {CKM_AES_GCM, ipc::EncodeGcm({Bytes(12, 0), {}, 128})}, k, Bytes(16, 0), &ct),
            CKR_OK);
  EXPECT_EQ(HexEncode(ct), "0388dace60b6a392f328c2b971b2fe78ab6e47d42cec13bdf53a67b21257bddf");
}

TEST_F(EngineTest, HmacMatchesRfc4231Case2) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  CK_OBJECT_HANDLE k = 0;
  ASSERT_EQ(token_->CreateObject(*app_, s,
                                 Attrs({{CKA_CLASS, UlongValue(CKO_SECRET_KEY)},
                                        {CKA_KEY_TYPE, UlongValue(CKK_GENERIC_SECRET)}, {CKA_VALUE, ToBytes("Jefe")}}),
                                 &k),
            CKR_OK);
  Bytes mac;
  ASSERT_EQ(token_->Sign(*app_, s, {CKM_SHA256_HMAC, {}}, k, AsBytes("what do ya want for nothing?"), &mac), CKR_OK);
  EXPECT_EQ(HexEncode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(token_->Verify(*app_, s, {CKM_SHA256_HMAC, {}}, k, AsBytes("what do ya want for nothing?"), mac), CKR_OK);
  mac[0] ^= 1;
  EXPECT_EQ(token_->Verify(*app_, s, {CKM_SHA256_HMAC, {}}, k, AsBytes("what do ya want for nothing?"), mac),
            CKR_SIGNATURE_INVALID);
}

TEST_F(EngineTest, RsaSignaturesAndOaep) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  CK_OBJECT_HANDLE pub = 0, priv = 0;
  ASSERT_EQ(token_->GenerateKeyPair(*app_, s, {CKM_RSA_PKCS_KEY_PAIR_GEN, {}}, Attrs({{CKA_MODULUS_BITS, UlongValue(2048)}}),
                                    Attrs({}), &pub, &priv),
            CKR_OK);
  Bytes pss = ipc::EncodePss({CKM_SHA256, CKG_MGF1_SHA256, 32});
  Bytes hash = crypto::Sha256(AsBytes("m"));
  struct Case {
    ipc::WireMechanism mech;
    Bytes data;
  };
  std::vector<Case> cases = {{{CKM_SHA256_RSA_PKCS, {}}, ToBytes("m")},
                             {{CKM_SHA384_RSA_PKCS, {}}, ToBytes("m")},
                             {{CKM_RSA_PKCS_PSS, pss}, hash},
                             {{CKM_SHA256_RSA_PKCS_PSS, pss}, ToBytes("m")},
                             {{CKM_RSA_PKCS, {}}, ToBytes("raw digestinfo stand-in")}};
  for (const auto& c : cases) {
    Bytes sig;
    ASSERT_EQ(token_->Sign(*app_, s, c.mech, priv, c.data, &sig), CKR_OK) << c.mech.type;
    EXPECT_EQ(sig.size(), 256u);
    EXPECT_EQ(token_->Verify(*app_, s, c.mech, pub, c.data, sig), CKR_OK) << c.mech.type;
    sig[10] ^= 1;
    EXPECT_EQ(token_->Verify(*app_, s, c.mech, pub, c.data, sig), CKR_SIGNATURE_INVALID) << c.mech.type;
  }
  Bytes sig;
  EXPECT_EQ(token_->Sign(*app_, s, {CKM_RSA_PKCS_PSS, pss}, priv, Bytes(31), &sig), CKR_DATA_LEN_RANGE);
  EXPECT_EQ(token_->Sign(*app_, s, {CKM_ECDSA, {}}, priv, hash, &sig), CKR_KEY_TYPE_INCONSISTENT);
  Bytes oaep = ipc::EncodeOaep({CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, ToBytes("label")});
  Bytes ct, back;
  ASSERT_EQ(token_->Encrypt(*app_, s, {CKM_RSA_PKCS_OAEP, oaep}, pub, AsBytes("secret"), &ct), CKR_OK);
  ASSERT_EQ(token_->Decrypt(*app_, s, {CKM_RSA_PKCS_OAEP, oaep}, priv, ct, &back), CKR_OK);
  EXPECT_EQ(back, ToBytes("secret"));
  ct[5] ^= 1;
  EXPECT_EQ(token_->Decrypt(*app_, s, {CKM_RSA_PKCS_OAEP, oaep}, priv, ct, &back), CKR_ENCRYPTED_DATA_INVALID);
  // Usage flags: the public key cannot sign.
  EXPECT_EQ(token_->Sign(*app_, s, {CKM_SHA256_RSA_PKCS, {}}, pub, AsBytes("m"), &sig), CKR_KEY_FUNCTION_NOT_PERMITTED);
}

TEST_F(EngineTest, EcdsaAllCurvesAndDigest) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  const std::vector<std::pair<Bytes, size_t>> curves = {
      {{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, 64},
      {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, 96},
      {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}, 132}};
  for (const auto& [oid, sig_len] : curves) {
    CK_OBJECT_HANDLE pub = 0, priv = 0;
    ASSERT_EQ(token_->GenerateKeyPair(*app_, s, {CKM_EC_KEY_PAIR_GEN, {}}, Attrs({{CKA_EC_PARAMS, oid}}), Attrs({}),
                                      &pub, &priv),
              CKR_OK);
    Bytes sig;
    ASSERT_EQ(token_->Sign(*app_, s, {CKM_ECDSA_SHA384, {}}, priv, AsBytes("data"), &sig), CKR_OK);
    EXPECT_EQ(sig.size(), sig_len);
    EXPECT_EQ(token_->Verify(*app_, s, {CKM_ECDSA_SHA384, {}}, pub, AsBytes("data"), sig), CKR_OK);
    EXPECT_EQ(token_->Verify(*app_, s, {CKM_ECDSA_SHA384, {}}, pub, AsBytes("data"), ByteSpan(sig).first(10)),
              CKR_SIGNATURE_LEN_RANGE);
  }
  CK_OBJECT_HANDLE pub = 0, priv = 0;
  EXPECT_EQ(token_->GenerateKeyPair(*app_, s, {CKM_EC_KEY_PAIR_GEN, {}}, Attrs({{CKA_EC_PARAMS, {0x06, 0x01, 0x00}}}),
                                    Attrs({}), &pub, &priv),
            CKR_CURVE_NOT_SUPPORTED);
  Bytes d;
  ASSERT_EQ(token_->Digest(*app_, s, {CKM_SHA256, {}}, AsBytes("abc"), &d), CKR_OK);
  EXPECT_EQ(HexEncode(d), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

// ---- start-up load (parallel unseal) ----

TEST_F(TokenTest, ParallelLoadRestoresEveryTokenObject) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  constexpr int kKeys = 300;
  std::vector<CK_OBJECT_HANDLE> handles(kKeys);
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}},
                                  Attrs({{CKA_VALUE_LEN, UlongValue(16)}, {CKA_TOKEN, BoolValue(true)},
                                         {CKA_LABEL, ToBytes("k" + std::to_string(i))}}),
                                  &handles[i]),
              CKR_OK);
  }
  CK_OBJECT_HANDLE pub = 0, priv = 0;
  ASSERT_EQ(token_->GenerateKeyPair(*app_, s, {CKM_EC_KEY_PAIR_GEN, {}},
                                    Attrs({{CKA_EC_PARAMS, {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}},
                                           {CKA_TOKEN, BoolValue(true)}}),
                                    Attrs({{CKA_TOKEN, BoolValue(true)}}), &pub, &priv),
            CKR_OK);
  Bytes ct;
  ASSERT_EQ(token_->Encrypt(*app_, s, {CKM_AES_ECB, {}}, handles[7], Bytes(16, 3), &ct), CKR_OK);
  for (unsigned workers : {1u, 3u, 7u}) {
    token_.reset();
    TokenOptions o;
    o.pbkdf2_iterations = 1000;
    o.load_workers = workers;
    ASSERT_OK_AND_ASSIGN(token_, Token::Open(*store_, *engine_, o, log_));
    app_ = token_->NewApp();
    CK_SESSION_HANDLE s2 = 0;
    ASSERT_EQ(token_->OpenSession(*app_, CKF_SERIAL_SESSION | CKF_RW_SESSION, &s2), CKR_OK);
    ASSERT_EQ(token_->Login(*app_, s2, CKU_USER, AsBytes("1234")), CKR_OK);
    for (int i = 0; i < kKeys; ++i) {
      std::vector<CK_OBJECT_HANDLE> found;
      ASSERT_EQ(token_->FindObjects(*app_, s2, Attrs({{CKA_LABEL, ToBytes("k" + std::to_string(i))}}), &found),
                CKR_OK);
      ASSERT_THAT(found, ::testing::ElementsAre(handles[i])) << "workers=" << workers;
    }
    // Key material came back intact (same ciphertext), and the key pair was prepared.
    Bytes ct2, sig;
    ASSERT_EQ(token_->Encrypt(*app_, s2, {CKM_AES_ECB, {}}, handles[7], Bytes(16, 3), &ct2), CKR_OK);
    EXPECT_EQ(ct2, ct);
    ASSERT_EQ(token_->Sign(*app_, s2, {CKM_ECDSA_SHA256, {}}, priv, AsBytes("m"), &sig), CKR_OK);
    EXPECT_EQ(token_->Verify(*app_, s2, {CKM_ECDSA_SHA256, {}}, pub, AsBytes("m"), sig), CKR_OK);
    // New handles never collide with loaded ones.
    CK_OBJECT_HANDLE fresh = 0;
    ASSERT_EQ(token_->GenerateKey(*app_, s2, {CKM_AES_KEY_GEN, {}}, Attrs({{CKA_VALUE_LEN, UlongValue(16)}}), &fresh),
              CKR_OK);
    EXPECT_GT(fresh, priv);
    EXPECT_GT(fresh, handles.back());
    ASSERT_EQ(token_->DestroyObject(*app_, s2, fresh), CKR_OK);
  }
}

TEST_F(TokenTest, ParallelLoadRejectsATamperedRow) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  CK_OBJECT_HANDLE k = 0;
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}},
                                  Attrs({{CKA_VALUE_LEN, UlongValue(16)}, {CKA_TOKEN, BoolValue(true)}}), &k),
              CKR_OK);
  }
  token_.reset();
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.Join("t.sqlite").c_str(), &db), SQLITE_OK);
  // Flip one ciphertext bit of the 13th object (after the 12-byte nonce).
  sqlite3_stmt* sel = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT id, blob FROM objects ORDER BY id LIMIT 1 OFFSET 12", -1, &sel, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(sel), SQLITE_ROW);
  const sqlite3_int64 id = sqlite3_column_int64(sel, 0);
  const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(sel, 1));
  Bytes blob(p, p + sqlite3_column_bytes(sel, 1));
  sqlite3_finalize(sel);
  blob[13] ^= 0x01;
  sqlite3_stmt* upd = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "UPDATE objects SET blob = ? WHERE id = ?", -1, &upd, nullptr), SQLITE_OK);
  sqlite3_bind_blob(upd, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(upd, 2, id);
  ASSERT_EQ(sqlite3_step(upd), SQLITE_DONE);
  sqlite3_finalize(upd);
  sqlite3_close(db);
  ASSERT_OK_AND_ASSIGN(store_, SealedStore::Open(dir_.Join("t.sqlite"), fw_, MeasurementBound()));
  TokenOptions o;
  o.load_workers = 4;
  EXPECT_THAT(Token::Open(*store_, *engine_, o, log_),
              StatusIs(StatusCode::kDataLoss, HasSubstr("object " + std::to_string(id) + ": authentication failed")));
}

// ---- CKA_WRAP_TEMPLATE / CKA_UNWRAP_TEMPLATE / CKA_DERIVE_TEMPLATE ----

Bytes ArrayValue(const AttrMap& m) { return EncodeAttrMap(m); }

TEST_F(TokenTest, WrapTemplateLimitsWhichKeysMayBeWrapped) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  CK_OBJECT_HANDLE wk = 0, aes = 0, generic = 0;
  ASSERT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}},
                                Attrs({{CKA_VALUE_LEN, UlongValue(32)},
                                       {CKA_WRAP_TEMPLATE, ArrayValue(Attrs({{CKA_KEY_TYPE, UlongValue(CKK_GENERIC_SECRET)},
                                                                             {CKA_EXTRACTABLE, BoolValue(true)}}))}}),
                                &wk),
            CKR_OK);
  for (auto [kt, h] : {std::pair{CKM_AES_KEY_GEN, &aes}, std::pair{CKM_GENERIC_SECRET_KEY_GEN, &generic}}) {
    ASSERT_EQ(token_->GenerateKey(*app_, s, {kt, {}},
                                  Attrs({{CKA_VALUE_LEN, UlongValue(32)}, {CKA_EXTRACTABLE, BoolValue(true)}}), h),
              CKR_OK);
  }
  Bytes wrapped;
  EXPECT_EQ(token_->WrapKey(*app_, s, {CKM_AES_KEY_WRAP, {}}, wk, aes, &wrapped), CKR_KEY_NOT_WRAPPABLE);
  EXPECT_EQ(token_->WrapKey(*app_, s, {CKM_AES_KEY_WRAP, {}}, wk, generic, &wrapped), CKR_OK);
  EXPECT_EQ(wrapped.size(), 40u);
  // The template is readable and decodes to what was set (canonical form).
  std::vector<AttrResult> res;
  ASSERT_EQ(token_->GetAttributes(*app_, s, wk, {CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE}, &res), CKR_OK);
  ASSERT_EQ(res[0].rv, CKR_OK);
  AttrMap back;
  ASSERT_EQ(ParseAttrArray(&res[0].value, &back), CKR_OK);
  EXPECT_EQ(back, Attrs({{CKA_KEY_TYPE, UlongValue(CKK_GENERIC_SECRET)}, {CKA_EXTRACTABLE, BoolValue(true)}}));
  EXPECT_EQ(res[1].rv, CKR_ATTRIBUTE_TYPE_INVALID);
}

TEST_F(TokenTest, UnwrapTemplateIsAppliedAndConflictsAreRejected) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  CK_OBJECT_HANDLE wk = 0, key = 0;
  ASSERT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}},
                                Attrs({{CKA_VALUE_LEN, UlongValue(32)},
                                       {CKA_UNWRAP_TEMPLATE,
                                        ArrayValue(Attrs({{CKA_SENSITIVE, BoolValue(true)},
                                                          {CKA_EXTRACTABLE, BoolValue(false)},
                                                          {CKA_LABEL, ToBytes("unwrapped")}}))}}),
                                &wk),
            CKR_OK);
  ASSERT_EQ(token_->GenerateKey(*app_, s, {CKM_AES_KEY_GEN, {}},
                                Attrs({{CKA_VALUE_LEN, UlongValue(16)}, {CKA_EXTRACTABLE, BoolValue(true)},
                                       {CKA_SENSITIVE, BoolValue(false)}}),
                                &key),
            CKR_OK);
  Bytes wrapped;
  ASSERT_EQ(token_->WrapKey(*app_, s, {CKM_AES_KEY_WRAP, {}}, wk, key, &wrapped), CKR_OK);
  const AttrMap base = Attrs({{CKA_CLASS, UlongValue(CKO_SECRET_KEY)}, {CKA_KEY_TYPE, UlongValue(CKK_AES)}});
  CK_OBJECT_HANDLE out = 0;
  ASSERT_EQ(token_->UnwrapKey(*app_, s, {CKM_AES_KEY_WRAP, {}}, wk, wrapped, base, &out), CKR_OK);
  std::vector<AttrResult> res;
  ASSERT_EQ(token_->GetAttributes(*app_, s, out, {CKA_SENSITIVE, CKA_EXTRACTABLE, CKA_LABEL, CKA_VALUE}, &res), CKR_OK);
  EXPECT_EQ(res[0].value, BoolValue(true));
  EXPECT_EQ(res[1].value, BoolValue(false));
  EXPECT_EQ(res[2].value, ToBytes("unwrapped"));
  EXPECT_EQ(res[3].rv, CKR_ATTRIBUTE_SENSITIVE);
  // Asking for what the template forbids is inconsistent; restating it is fine.
  AttrMap loose = base;
  loose[CKA_EXTRACTABLE] = BoolValue(true);
  EXPECT_EQ(token_->UnwrapKey(*app_, s, {CKM_AES_KEY_WRAP, {}}, wk, wrapped, loose, &out), CKR_TEMPLATE_INCONSISTENT);
  AttrMap same = base;
  same[CKA_SENSITIVE] = BoolValue(true);
  EXPECT_EQ(token_->UnwrapKey(*app_, s, {CKM_AES_KEY_WRAP, {}}, wk, wrapped, same, &out), CKR_OK);
}

TEST_F(TokenTest, AttributeArrayTemplatesAreValidated) {
  AttrMap m;
  // Not an encoded template at all.
  EXPECT_EQ(ParseTemplate({{CKA_WRAP_TEMPLATE, true, {1, 2, 3}}}, &m), CKR_ATTRIBUTE_VALUE_INVALID);
  // An unknown inner attribute, a bad inner bool, a nested array.
  ipc::WireTemplate unknown = {{0x0fff0000, true, {1}}};
  EXPECT_EQ(ParseTemplate({{CKA_WRAP_TEMPLATE, true, ipc::EncodeAttrArray(unknown)}}, &m), CKR_ATTRIBUTE_TYPE_INVALID);
  ipc::WireTemplate bad_bool = {{CKA_EXTRACTABLE, true, {1, 1}}};
  EXPECT_EQ(ParseTemplate({{CKA_UNWRAP_TEMPLATE, true, ipc::EncodeAttrArray(bad_bool)}}, &m),
            CKR_ATTRIBUTE_VALUE_INVALID);
  ipc::WireTemplate nested = {{CKA_WRAP_TEMPLATE, true, ipc::EncodeAttrArray({})}};
  EXPECT_EQ(ParseTemplate({{CKA_UNWRAP_TEMPLATE, true, ipc::EncodeAttrArray(nested)}}, &m),
            CKR_ATTRIBUTE_VALUE_INVALID);
  // Equal templates in another order and with a non-canonical TRUE compare equal.
  AttrMap a, b;
  ipc::WireTemplate t1 = {{CKA_TOKEN, true, {1}}, {CKA_LABEL, true, {'x'}}};
  ipc::WireTemplate t2 = {{CKA_LABEL, true, {'x'}}, {CKA_TOKEN, true, {7}}};
  ASSERT_EQ(ParseTemplate({{CKA_WRAP_TEMPLATE, true, ipc::EncodeAttrArray(t1)}}, &a), CKR_OK);
  ASSERT_EQ(ParseTemplate({{CKA_WRAP_TEMPLATE, true, ipc::EncodeAttrArray(t2)}}, &b), CKR_OK);
  EXPECT_EQ(a, b);
}

// ---- ECDH with the X9.63 KDF ----

// Independent ANSI X9.63 KDF (SEC 1 v2 sec. 3.6.1) with SHA-256 for the known-answer check.
Bytes X963Sha256(ByteSpan z, ByteSpan shared, size_t len) {
  Bytes out;
  for (uint32_t counter = 1; out.size() < len; ++counter) {
    Bytes in(z.begin(), z.end());
    for (int sh = 24; sh >= 0; sh -= 8) in.push_back(static_cast<uint8_t>(counter >> sh));
    in.insert(in.end(), shared.begin(), shared.end());
    Bytes h = crypto::Sha256(in);
    out.insert(out.end(), h.begin(), h.end());
  }
  out.resize(len);
  return out;
}

TEST_F(EngineTest, EcdhDeriveWithX963KdfAndSharedData) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  const Bytes p256 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  CK_OBJECT_HANDLE pub_a = 0, priv_a = 0, pub_b = 0, priv_b = 0;
  for (auto [pub, priv] : {std::pair{&pub_a, &priv_a}, std::pair{&pub_b, &priv_b}}) {
    ASSERT_EQ(token_->GenerateKeyPair(*app_, s, {CKM_EC_KEY_PAIR_GEN, {}}, Attrs({{CKA_EC_PARAMS, p256}}),
                                      Attrs({{CKA_DERIVE, BoolValue(true)}}), pub, priv),
              CKR_OK);
  }
  std::vector<AttrResult> res;
  ASSERT_EQ(token_->GetAttributes(*app_, s, pub_b, {CKA_EC_POINT}, &res), CKR_OK);
  const Bytes point_b = res[0].value;
  ASSERT_EQ(token_->GetAttributes(*app_, s, pub_a, {CKA_EC_POINT}, &res), CKR_OK);
  const Bytes point_a = res[0].value;
  const AttrMap readable = Attrs({{CKA_KEY_TYPE, UlongValue(CKK_GENERIC_SECRET)}, {CKA_SENSITIVE, BoolValue(false)},
                                  {CKA_EXTRACTABLE, BoolValue(true)}});
  auto derive = [&](CK_OBJECT_HANDLE priv, const Bytes& peer, CK_ULONG kdf, const Bytes& shared, CK_ULONG len,
                    Bytes* value) -> CK_RV {
    AttrMap t = readable;
    t[CKA_VALUE_LEN] = UlongValue(len);
    CK_OBJECT_HANDLE h = 0;
    CK_RV rv = token_->DeriveKey(*app_, s, {CKM_ECDH1_DERIVE, ipc::EncodeEcdh1({kdf, shared, peer})}, priv, t, &h);
    if (rv != CKR_OK) return rv;
    std::vector<AttrResult> r;
    EXPECT_EQ(token_->GetAttributes(*app_, s, h, {CKA_VALUE}, &r), CKR_OK);
    *value = r[0].value;
    return CKR_OK;
  };
  Bytes z, k_ab, k_ba, k_other;
  ASSERT_EQ(derive(priv_a, point_b, CKD_NULL, {}, 32, &z), CKR_OK);
  const Bytes shared = ToBytes("vhsm x9.63 shared info");
  ASSERT_EQ(derive(priv_a, point_b, CKD_SHA256_KDF, shared, 48, &k_ab), CKR_OK);
  ASSERT_EQ(derive(priv_b, point_a, CKD_SHA256_KDF, shared, 48, &k_ba), CKR_OK);
  EXPECT_EQ(k_ab, k_ba);                             // both sides agree
  EXPECT_EQ(k_ab, X963Sha256(z, shared, 48));        // and it is X9.63 over Z with SharedInfo
  ASSERT_EQ(derive(priv_a, point_b, CKD_SHA256_KDF, {}, 48, &k_other), CKR_OK);
  EXPECT_EQ(k_other, X963Sha256(z, {}, 48));
  ASSERT_EQ(derive(priv_a, point_b, CKD_SHA512_KDF, shared, 16, &k_other), CKR_OK);
  EXPECT_EQ(k_other.size(), 16u);
  EXPECT_NE(k_other, Bytes(k_ab.begin(), k_ab.begin() + 16));
  // CKD_NULL takes no shared data; unknown KDFs are refused.
  EXPECT_EQ(derive(priv_a, point_b, CKD_NULL, shared, 32, &k_other), CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(derive(priv_a, point_b, 0x7777, {}, 32, &k_other), CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(derive(priv_a, point_b, CKD_SHA256_KDF, {}, 513, &k_other), CKR_KEY_SIZE_RANGE);
}

TEST_F(TokenTest, DeriveTemplateIsApplied) {
  CK_SESSION_HANDLE s = ReadyUserSession();
  const Bytes p256 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  CK_OBJECT_HANDLE pub = 0, priv = 0;
  ASSERT_EQ(token_->GenerateKeyPair(
                *app_, s, {CKM_EC_KEY_PAIR_GEN, {}}, Attrs({{CKA_EC_PARAMS, p256}}),
                Attrs({{CKA_DERIVE, BoolValue(true)},
                       {CKA_DERIVE_TEMPLATE, ArrayValue(Attrs({{CKA_EXTRACTABLE, BoolValue(false)}}))}}),
                &pub, &priv),
            CKR_OK);
  std::vector<AttrResult> res;
  ASSERT_EQ(token_->GetAttributes(*app_, s, pub, {CKA_EC_POINT}, &res), CKR_OK);
  ipc::WireMechanism m{CKM_ECDH1_DERIVE, ipc::EncodeEcdh1({CKD_SHA256_KDF, {}, res[0].value})};
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(token_->DeriveKey(*app_, s, m, priv,
                              Attrs({{CKA_KEY_TYPE, UlongValue(CKK_AES)}, {CKA_VALUE_LEN, UlongValue(32)},
                                     {CKA_EXTRACTABLE, BoolValue(true)}}),
                              &h),
            CKR_TEMPLATE_INCONSISTENT);
  ASSERT_EQ(token_->DeriveKey(*app_, s, m, priv,
                              Attrs({{CKA_KEY_TYPE, UlongValue(CKK_AES)}, {CKA_VALUE_LEN, UlongValue(32)}}), &h),
            CKR_OK);
  ASSERT_EQ(token_->GetAttributes(*app_, s, h, {CKA_EXTRACTABLE}, &res), CKR_OK);
  EXPECT_EQ(res[0].value, BoolValue(false));
}

// ---- X.509 certificate objects ----

Bytes ReadPemCertAsDer(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  Result<crypto::Certificate> c = crypto::Certificate::FromPem(ss.str());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? c->der() : Bytes();
}

TEST_F(TokenTest, X509CertificateObjectsFromTheRealMilanAsk) {
  VHSM_REQUIRE_SNP_VECTORS();
  const Bytes der = ReadPemCertAsDer(vhsm::testdata::SnpVectorsDir() + "/certs/amd/milan_ask.pem");
  ASSERT_EQ(der.size(), 1677u);
  CK_SESSION_HANDLE s = ReadyUserSession();
  const AttrMap base = Attrs({{CKA_CLASS, UlongValue(CKO_CERTIFICATE)},
                              {CKA_CERTIFICATE_TYPE, UlongValue(CKC_X_509)},
                              {CKA_TOKEN, BoolValue(true)},
                              {CKA_LABEL, ToBytes("milan-ask")}});
  CK_OBJECT_HANDLE cert = 0;
  AttrMap no_value = base;
  EXPECT_EQ(token_->CreateObject(*app_, s, no_value, &cert), CKR_TEMPLATE_INCOMPLETE);
  AttrMap garbage = base;
  garbage[CKA_VALUE] = Bytes(der.begin(), der.end() - 1);  // truncated DER
  EXPECT_EQ(token_->CreateObject(*app_, s, garbage, &cert), CKR_ATTRIBUTE_VALUE_INVALID);
  AttrMap attr_cert = base;
  attr_cert[CKA_VALUE] = der;
  attr_cert[CKA_CERTIFICATE_TYPE] = UlongValue(CKC_X_509_ATTR_CERT);
  EXPECT_EQ(token_->CreateObject(*app_, s, attr_cert, &cert), CKR_ATTRIBUTE_VALUE_INVALID);
  AttrMap good = base;
  good[CKA_VALUE] = der;
  ASSERT_EQ(token_->CreateObject(*app_, s, good, &cert), CKR_OK);
  Open();  // token object: survives a restart
  CK_SESSION_HANDLE s2 = 0;
  ASSERT_EQ(token_->OpenSession(*app_, CKF_SERIAL_SESSION, &s2), CKR_OK);
  std::vector<CK_OBJECT_HANDLE> found;
  // Public object: found without login, by class.
  ASSERT_EQ(token_->FindObjects(*app_, s2, Attrs({{CKA_CLASS, UlongValue(CKO_CERTIFICATE)}}), &found), CKR_OK);
  ASSERT_THAT(found, ::testing::ElementsAre(cert));
  std::vector<AttrResult> res;
  ASSERT_EQ(token_->GetAttributes(*app_, s2, cert,
                                  {CKA_VALUE, CKA_SUBJECT, CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_CHECK_VALUE,
                                   CKA_CERTIFICATE_TYPE, CKA_TRUSTED, CKA_PRIVATE},
                                  &res),
            CKR_OK);
  for (const AttrResult& r : res) EXPECT_EQ(r.rv, CKR_OK);
  EXPECT_EQ(res[0].value, der);
  const std::string subject(res[1].value.begin(), res[1].value.end());
  const std::string issuer(res[2].value.begin(), res[2].value.end());
  EXPECT_THAT(subject, HasSubstr("SEV-Milan"));
  EXPECT_THAT(issuer, HasSubstr("ARK-Milan"));
  EXPECT_EQ(res[1].value[0], 0x30);  // DER Name (SEQUENCE)
  EXPECT_EQ(HexEncode(res[3].value), "0203010001");  // INTEGER 0x010001
  EXPECT_EQ(HexEncode(res[4].value), "d65ee4");      // SHA-1 of the DER, first 3 bytes
  EXPECT_EQ(res[5].value, UlongValue(CKC_X_509));
  EXPECT_EQ(res[6].value, BoolValue(false));
  EXPECT_EQ(res[7].value, BoolValue(false));
  // Found by its issuer + serial, as certificate users (e.g. CMS) look them up.
  std::vector<CK_OBJECT_HANDLE> by_issuer;
  ASSERT_EQ(token_->FindObjects(*app_, s2, Attrs({{CKA_ISSUER, res[2].value}, {CKA_SERIAL_NUMBER, res[3].value}}),
                                &by_issuer),
            CKR_OK);
  EXPECT_THAT(by_issuer, ::testing::ElementsAre(cert));
}

}  // namespace
}  // namespace vhsm::hsm
