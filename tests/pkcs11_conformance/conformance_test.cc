// PKCS#11 conformance test: dlopen()s a module and drives it through C_GetFunctionList only.
// Default target: our libvhsm-pkcs11.so against a real vhsmd on a Unix socket in a temp dir.
// VHSM_P11_TARGET=softhsm runs the same tests against SoftHSM2 to tell our bug from a test bug;
// tests of vhsmd-only behaviour (restart persistence, measurement binding, absent daemon, bad
// frames) skip there.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <fcntl.h>

#include <chrono>
#include <map>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.h"
#include "pkcs11/pkcs11_v3.h"
#include "testing/testdata.h"

// Tests of vhsmd-only behaviour return early (skipped) against SoftHSM2.
#define SKIP_ON_SOFTHSM(why) \
  if (g->softhsm) GTEST_SKIP() << why

namespace vhsm::p11test {
namespace {

constexpr char kSoPin[] = "so-pin-1234";
constexpr char kUserPin[] = "user-1234";
constexpr char kLabel[] = "conformance";

struct Global {
  std::string dir;
  bool softhsm = false;
  Module mod;
  std::unique_ptr<Daemon> daemon;
};
Global* g = nullptr;

CK_FUNCTION_LIST_PTR F() { return g->mod.f; }
CK_UTF8CHAR_PTR U(const char* s) { return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(s)); }
CK_ULONG L(const char* s) { return static_cast<CK_ULONG>(std::strlen(s)); }

class ConformanceEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    g = new Global();
    char tmpl[] = "/tmp/vhsm-p11-XXXXXX";
    g->dir = mkdtemp(tmpl);
    const char* target = std::getenv("VHSM_P11_TARGET");
    g->softhsm = target != nullptr && std::string(target) == "softhsm";
    std::string module;
    if (g->softhsm) {
      setenv("SOFTHSM2_CONF", WriteSoftHsmConfig(g->dir).c_str(), 1);
      module = "/usr/lib/softhsm/libsofthsm2.so";
    } else {
      g->daemon = std::make_unique<Daemon>(testdata::BuildDir() + "/bin/vhsmd", g->dir);
      // One simulated SEV-SNP VM for the whole binary (sim init makes RSA-4096 keys: slow).
      std::string init = testdata::BuildDir() + "/bin/vhsm sim init " + g->daemon->sim_dir() + " > " + g->dir +
                         "/sim-init.log 2>&1";
      ASSERT_EQ(std::system(init.c_str()), 0) << init;
      std::string err = g->daemon->Start();
      ASSERT_EQ(err, "") << "vhsmd did not start";
      setenv("VHSM_SOCKET", g->daemon->socket().c_str(), 1);
      module = testdata::BuildDir() + "/lib/libvhsm-pkcs11.so";
    }
    ASSERT_TRUE(g->mod.Load(module)) << module << ": " << dlerror();
    ASSERT_EQ(F()->C_Initialize(nullptr), CKR_OK);
    CK_SLOT_ID slot = FindSlot(F(), "", true);
    ASSERT_NE(slot, ~0ul);
    CK_UTF8CHAR label[32];
    PadLabel(kLabel, label);
    ASSERT_EQ(F()->C_InitToken(slot, U(kSoPin), L(kSoPin), label), CKR_OK);
    slot = FindSlot(F(), kLabel, false);
    CK_SESSION_HANDLE s;
    ASSERT_EQ(F()->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s), CKR_OK);
    ASSERT_EQ(F()->C_Login(s, CKU_SO, U(kSoPin), L(kSoPin)), CKR_OK);
    ASSERT_EQ(F()->C_InitPIN(s, U(kUserPin), L(kUserPin)), CKR_OK);
    ASSERT_EQ(F()->C_Finalize(nullptr), CKR_OK);
  }
  void TearDown() override {
    g->daemon.reset();
    std::filesystem::remove_all(g->dir);
  }
};

class P11Test : public ::testing::Test {
 protected:
  void SetUp() override {
    CK_C_INITIALIZE_ARGS args = {};
    args.flags = CKF_OS_LOCKING_OK;  // some tests use threads
    ASSERT_EQ(F()->C_Initialize(&args), CKR_OK);
    slot_ = FindSlot(F(), kLabel, false);
    ASSERT_NE(slot_, ~0ul);
    ASSERT_EQ(F()->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s_), CKR_OK);
    ASSERT_EQ(F()->C_Login(s_, CKU_USER, U(kUserPin), L(kUserPin)), CKR_OK);
  }
  void TearDown() override { F()->C_Finalize(nullptr); }
  bool Has(CK_MECHANISM_TYPE t) {
    CK_MECHANISM_INFO mi;
    return F()->C_GetMechanismInfo(slot_, t, &mi) == CKR_OK;
  }

  CK_OBJECT_HANDLE GenAes(CK_ULONG len, bool token = false, const std::string& label = "aes") {
    CK_MECHANISM m = {CKM_AES_KEY_GEN, nullptr, 0};
    CK_BBOOL t = CK_TRUE, tok = token ? CK_TRUE : CK_FALSE, f = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {{CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_ENCRYPT, &t, 1},       {CKA_DECRYPT, &t, 1},
                           {CKA_TOKEN, &tok, 1},               {CKA_SENSITIVE, &t, 1},     {CKA_EXTRACTABLE, &f, 1},
                           {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
    CK_OBJECT_HANDLE k = 0;
    EXPECT_EQ(F()->C_GenerateKey(s_, &m, tmpl, 7, &k), CKR_OK);
    return k;
  }
  void GenEc(const std::vector<uint8_t>& oid, CK_OBJECT_HANDLE* pub, CK_OBJECT_HANDLE* priv, bool token = false,
             const std::string& label = "ec") {
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    CK_BBOOL t = CK_TRUE, tok = token ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, const_cast<uint8_t*>(oid.data()), oid.size()},
                         {CKA_VERIFY, &t, 1},
                         {CKA_TOKEN, &tok, 1},
                         {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
    CK_ATTRIBUTE st[] = {{CKA_SIGN, &t, 1}, {CKA_SENSITIVE, &t, 1}, {CKA_PRIVATE, &t, 1}, {CKA_TOKEN, &tok, 1},
                         {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
    ASSERT_EQ(F()->C_GenerateKeyPair(s_, &m, pt, 4, st, 5, pub, priv), CKR_OK);
  }
  std::vector<uint8_t> Sign(CK_MECHANISM* m, CK_OBJECT_HANDLE k, const std::string& data) {
    std::vector<uint8_t> sig;
    if (F()->C_SignInit(s_, m, k) != CKR_OK) return sig;
    CK_ULONG len = 0;
    CK_BYTE_PTR in = reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(data.data()));
    if (F()->C_Sign(s_, in, data.size(), nullptr, &len) != CKR_OK) return sig;
    sig.resize(len);
    EXPECT_EQ(F()->C_Sign(s_, in, data.size(), sig.data(), &len), CKR_OK);
    sig.resize(len);
    return sig;
  }
  CK_RV Verify(CK_MECHANISM* m, CK_OBJECT_HANDLE k, const std::string& data, std::vector<uint8_t> sig) {
    CK_RV rv = F()->C_VerifyInit(s_, m, k);
    if (rv != CKR_OK) return rv;
    return F()->C_Verify(s_, reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(data.data())), data.size(), sig.data(),
                         sig.size());
  }
  std::vector<CK_OBJECT_HANDLE> Find(std::vector<CK_ATTRIBUTE> tmpl, CK_ULONG page = 3) {
    std::vector<CK_OBJECT_HANDLE> out;
    EXPECT_EQ(F()->C_FindObjectsInit(s_, tmpl.data(), tmpl.size()), CKR_OK);
    while (true) {
      CK_OBJECT_HANDLE buf[16];
      CK_ULONG n = 0;
      EXPECT_EQ(F()->C_FindObjects(s_, buf, page, &n), CKR_OK);
      if (n == 0) break;
      out.insert(out.end(), buf, buf + n);
    }
    EXPECT_EQ(F()->C_FindObjectsFinal(s_), CKR_OK);
    return out;
  }

  CK_SLOT_ID slot_ = 0;
  CK_SESSION_HANDLE s_ = 0;
};

const std::vector<uint8_t> kP256 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const std::vector<uint8_t> kP384 = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
const std::vector<uint8_t> kP521 = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};

TEST_F(P11Test, InfoSlotsAndMechanisms) {
  CK_INFO info;
  ASSERT_EQ(F()->C_GetInfo(&info), CKR_OK);
  EXPECT_EQ(info.cryptokiVersion.major, 2);
  CK_ULONG n = 0;
  ASSERT_EQ(F()->C_GetMechanismList(slot_, nullptr, &n), CKR_OK);
  std::vector<CK_MECHANISM_TYPE> mechs(n);
  CK_ULONG small = 1;
  EXPECT_EQ(F()->C_GetMechanismList(slot_, mechs.data(), &small), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(small, n);
  ASSERT_EQ(F()->C_GetMechanismList(slot_, mechs.data(), &n), CKR_OK);
  EXPECT_THAT(mechs, ::testing::IsSupersetOf({CKM_AES_GCM, CKM_AES_CBC_PAD, CKM_ECDSA, CKM_SHA256_RSA_PKCS,
                                              CKM_RSA_PKCS_PSS, CKM_RSA_PKCS_OAEP, CKM_SHA256_HMAC, CKM_SHA256}));
  if (!g->softhsm) {  // SoftHSM2 2.6.1 has no hashed ECDSA
    EXPECT_THAT(mechs, ::testing::IsSupersetOf({CKM_ECDSA_SHA256, CKM_ECDSA_SHA384}));
  }
  CK_MECHANISM_INFO mi;
  ASSERT_EQ(F()->C_GetMechanismInfo(slot_, CKM_AES_GCM, &mi), CKR_OK);
  EXPECT_NE(mi.flags & CKF_ENCRYPT, 0u);
  EXPECT_EQ(F()->C_GetMechanismInfo(slot_, 0x7ffffff0, &mi), CKR_MECHANISM_INVALID);
  EXPECT_EQ(F()->C_GetSlotInfo(0x7ffffff0, nullptr), CKR_SLOT_ID_INVALID);
  CK_TOKEN_INFO ti;
  ASSERT_EQ(F()->C_GetTokenInfo(slot_, &ti), CKR_OK);
  EXPECT_NE(ti.flags & CKF_TOKEN_INITIALIZED, 0u);
  EXPECT_NE(ti.flags & CKF_USER_PIN_INITIALIZED, 0u);
}

TEST_F(P11Test, UserPinLockoutReportsCountLowFinalTryLocked) {
  CK_SESSION_HANDLE s2;
  ASSERT_EQ(F()->C_Logout(s_), CKR_OK);
  ASSERT_EQ(F()->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s2), CKR_OK);
  auto flags = [&] {
    CK_TOKEN_INFO ti;
    EXPECT_EQ(F()->C_GetTokenInfo(slot_, &ti), CKR_OK);
    return ti.flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED);
  };
  EXPECT_EQ(F()->C_Login(s2, CKU_USER, U("wrong-pin"), 9), CKR_PIN_INCORRECT);
  if (flags() == 0 && g->softhsm) {
    ASSERT_EQ(F()->C_Login(s2, CKU_USER, U(kUserPin), L(kUserPin)), CKR_OK);
    GTEST_SKIP() << "SoftHSM2 does not implement PIN retry counters";
  }
  EXPECT_EQ(flags(), CKF_USER_PIN_COUNT_LOW);
  bool saw_final = false, locked = false;
  for (int i = 0; i < 10 && !locked; ++i) {
    CK_RV rv = F()->C_Login(s2, CKU_USER, U("wrong-pin"), 9);
    saw_final |= (flags() & CKF_USER_PIN_FINAL_TRY) != 0;
    locked = rv == CKR_PIN_LOCKED;
    if (!locked) {
      EXPECT_EQ(rv, CKR_PIN_INCORRECT);
    }
  }
  if (!locked && g->softhsm) {
    ASSERT_EQ(F()->C_Login(s2, CKU_USER, U(kUserPin), L(kUserPin)), CKR_OK);
    GTEST_SKIP() << "SoftHSM2 counts failures but never locks the PIN";
  }
  EXPECT_TRUE(saw_final);
  ASSERT_TRUE(locked);
  EXPECT_NE(flags() & CKF_USER_PIN_LOCKED, 0u);
  EXPECT_EQ(F()->C_Login(s2, CKU_USER, U(kUserPin), L(kUserPin)), CKR_PIN_LOCKED);
  // The SO unlocks by setting a new user PIN.
  ASSERT_EQ(F()->C_Login(s2, CKU_SO, U(kSoPin), L(kSoPin)), CKR_OK);
  ASSERT_EQ(F()->C_InitPIN(s2, U(kUserPin), L(kUserPin)), CKR_OK);
  ASSERT_EQ(F()->C_Logout(s2), CKR_OK);
  EXPECT_EQ(flags(), 0u);
  EXPECT_EQ(F()->C_Login(s2, CKU_USER, U(kUserPin), L(kUserPin)), CKR_OK);
}

TEST_F(P11Test, LoginErrorsAndSharedLoginState) {
  EXPECT_EQ(F()->C_Login(s_, CKU_USER, U(kUserPin), L(kUserPin)), CKR_USER_ALREADY_LOGGED_IN);
  CK_SESSION_HANDLE s2;
  ASSERT_EQ(F()->C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &s2), CKR_OK);
  CK_SESSION_INFO si;
  ASSERT_EQ(F()->C_GetSessionInfo(s2, &si), CKR_OK);
  EXPECT_EQ(si.state, CKS_RO_USER_FUNCTIONS);  // login is per application, not per session
  EXPECT_EQ(F()->C_Login(s2, 77, U(kUserPin), L(kUserPin)), CKR_USER_TYPE_INVALID);
  EXPECT_EQ(F()->C_OpenSession(slot_, 0, nullptr, nullptr, &s2), CKR_SESSION_PARALLEL_NOT_SUPPORTED);
  EXPECT_EQ(F()->C_GetSessionInfo(0xdead, &si), CKR_SESSION_HANDLE_INVALID);
}

TEST_F(P11Test, EcdsaSignVerifyWithLengthDance) {
  for (const auto* oid : {&kP256, &kP384, &kP521}) {
    CK_OBJECT_HANDLE pub, priv;
    GenEc(*oid, &pub, &priv);
    CK_MECHANISM m = {CKM_ECDSA, nullptr, 0};
    ASSERT_EQ(F()->C_SignInit(s_, &m, priv), CKR_OK);
    CK_BYTE data[] = "0123456789abcdef0123456789abcdef";  // stands for a SHA-256 hash
    CK_ULONG len = 0;
    ASSERT_EQ(F()->C_Sign(s_, data, 32, nullptr, &len), CKR_OK);
    size_t want = oid == &kP256 ? 64 : oid == &kP384 ? 96 : 132;
    EXPECT_EQ(len, want);
    std::vector<uint8_t> sig(len);
    CK_ULONG short_len = 10;
    EXPECT_EQ(F()->C_Sign(s_, data, 32, sig.data(), &short_len), CKR_BUFFER_TOO_SMALL);
    EXPECT_EQ(short_len, want);
    ASSERT_EQ(F()->C_Sign(s_, data, 32, sig.data(), &len), CKR_OK);
    const std::string hash(reinterpret_cast<char*>(data), 32);
    EXPECT_EQ(Verify(&m, pub, hash, sig), CKR_OK);
    sig[5] ^= 1;
    EXPECT_EQ(Verify(&m, pub, hash, sig), CKR_SIGNATURE_INVALID);
    // The operation ended: C_Sign without C_SignInit.
    EXPECT_EQ(F()->C_Sign(s_, data, 32, sig.data(), &len), CKR_OPERATION_NOT_INITIALIZED);
  }
}

TEST_F(P11Test, MultiPartSignEqualsOneShotVerify) {
  CK_OBJECT_HANDLE pub, priv;
  GenEc(kP256, &pub, &priv);
  CK_MECHANISM m = {CKM_ECDSA_SHA384, nullptr, 0};
  if (!Has(m.mechanism)) {
    m.mechanism = CKM_SHA256_HMAC;  // SoftHSM2: multi-part over HMAC instead
    CK_MECHANISM gen = {CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
    CK_ULONG len = 32;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_SIGN, &t, 1}, {CKA_VERIFY, &t, 1}};
    ASSERT_EQ(F()->C_GenerateKey(s_, &gen, tmpl, 3, &priv), CKR_OK);
    pub = priv;
  }
  ASSERT_EQ(F()->C_SignInit(s_, &m, priv), CKR_OK);
  CK_BYTE a[] = "hello ", b[] = "world";
  ASSERT_EQ(F()->C_SignUpdate(s_, a, 6), CKR_OK);
  ASSERT_EQ(F()->C_SignUpdate(s_, b, 5), CKR_OK);
  std::vector<uint8_t> sig(200);
  CK_ULONG len = sig.size();
  ASSERT_EQ(F()->C_SignFinal(s_, sig.data(), &len), CKR_OK);
  sig.resize(len);
  EXPECT_EQ(Verify(&m, pub, "hello world", sig), CKR_OK);
}

TEST_F(P11Test, RsaPkcsPssAndOaep) {
  CK_MECHANISM gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  CK_ULONG bits = 2048;
  CK_BYTE e[] = {1, 0, 1};
  CK_BBOOL t = CK_TRUE;
  CK_ATTRIBUTE pt[] = {{CKA_MODULUS_BITS, &bits, sizeof(bits)}, {CKA_PUBLIC_EXPONENT, e, 3}, {CKA_VERIFY, &t, 1},
                       {CKA_ENCRYPT, &t, 1}};
  CK_ATTRIBUTE st[] = {{CKA_SIGN, &t, 1}, {CKA_DECRYPT, &t, 1}, {CKA_SENSITIVE, &t, 1}, {CKA_PRIVATE, &t, 1}};
  CK_OBJECT_HANDLE pub, priv;
  ASSERT_EQ(F()->C_GenerateKeyPair(s_, &gen, pt, 4, st, 4, &pub, &priv), CKR_OK);
  CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, nullptr, 0};
  auto sig = Sign(&m, priv, "data");
  ASSERT_EQ(sig.size(), 256u);
  EXPECT_EQ(Verify(&m, pub, "data", sig), CKR_OK);
  EXPECT_EQ(Verify(&m, pub, "date", sig), CKR_SIGNATURE_INVALID);
  CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
  CK_MECHANISM mp = {CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof(pss)};
  sig = Sign(&mp, priv, "data");
  ASSERT_EQ(sig.size(), 256u);
  EXPECT_EQ(Verify(&mp, pub, "data", sig), CKR_OK);
  CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, nullptr, 0};
  if (g->softhsm) oaep = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, nullptr, 0};  // its only OAEP hash
  CK_MECHANISM mo = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
  ASSERT_EQ(F()->C_EncryptInit(s_, &mo, pub), CKR_OK);
  CK_BYTE msg[] = "top secret";
  CK_BYTE ct[256];
  CK_ULONG ct_len = sizeof(ct);
  ASSERT_EQ(F()->C_Encrypt(s_, msg, 10, ct, &ct_len), CKR_OK);
  ASSERT_EQ(F()->C_DecryptInit(s_, &mo, priv), CKR_OK);
  CK_BYTE pt_out[256];
  CK_ULONG pt_len = sizeof(pt_out);
  ASSERT_EQ(F()->C_Decrypt(s_, ct, ct_len, pt_out, &pt_len), CKR_OK);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(pt_out), pt_len), "top secret");
}

TEST_F(P11Test, AesGcmAndCbcPadRoundTrip) {
  CK_OBJECT_HANDLE k = GenAes(32);
  CK_BYTE iv[12] = {1, 2, 3}, aad[] = "header";
  CK_GCM_PARAMS gp = {iv, 12, 96, aad, 6, 128};
  CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
  std::vector<uint8_t> pt(4096, 0x42);
  ASSERT_EQ(F()->C_EncryptInit(s_, &m, k), CKR_OK);
  CK_ULONG len = 0;
  ASSERT_EQ(F()->C_Encrypt(s_, pt.data(), pt.size(), nullptr, &len), CKR_OK);
  EXPECT_EQ(len, pt.size() + 16);
  std::vector<uint8_t> ct(len);
  ASSERT_EQ(F()->C_Encrypt(s_, pt.data(), pt.size(), ct.data(), &len), CKR_OK);
  ASSERT_EQ(F()->C_DecryptInit(s_, &m, k), CKR_OK);
  std::vector<uint8_t> back(ct.size());
  CK_ULONG blen = back.size();
  ASSERT_EQ(F()->C_Decrypt(s_, ct.data(), ct.size(), back.data(), &blen), CKR_OK);
  EXPECT_EQ(std::vector<uint8_t>(back.begin(), back.begin() + static_cast<long>(blen)), pt);
  ct[100] ^= 1;
  ASSERT_EQ(F()->C_DecryptInit(s_, &m, k), CKR_OK);
  blen = back.size();
  // SoftHSM2 2.6.1 answers CKR_GENERAL_ERROR for a failed GCM tag check (a SoftHSM bug).
  EXPECT_EQ(F()->C_Decrypt(s_, ct.data(), ct.size(), back.data(), &blen),
            g->softhsm ? CKR_GENERAL_ERROR : CKR_ENCRYPTED_DATA_INVALID);

  CK_BYTE cbc_iv[16] = {9};
  CK_MECHANISM mc = {CKM_AES_CBC_PAD, cbc_iv, 16};
  ASSERT_EQ(F()->C_EncryptInit(s_, &mc, k), CKR_OK);
  std::vector<uint8_t> out(128);
  CK_ULONG part = out.size(), total = 0;
  ASSERT_EQ(F()->C_EncryptUpdate(s_, pt.data(), 33, out.data(), &part), CKR_OK);
  total += part;
  part = out.size() - total;
  ASSERT_EQ(F()->C_EncryptFinal(s_, out.data() + total, &part), CKR_OK);
  total += part;
  EXPECT_EQ(total, 48u);
  ASSERT_EQ(F()->C_DecryptInit(s_, &mc, k), CKR_OK);
  std::vector<uint8_t> dec(64);
  CK_ULONG dlen = dec.size();
  ASSERT_EQ(F()->C_Decrypt(s_, out.data(), total, dec.data(), &dlen), CKR_OK);
  EXPECT_EQ(dlen, 33u);
}

TEST_F(P11Test, HmacSha256AndDigest) {
  CK_MECHANISM gen = {CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
  CK_ULONG len = 32;
  CK_BBOOL t = CK_TRUE;
  CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
  CK_ATTRIBUTE tmpl[] = {{CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_SIGN, &t, 1}, {CKA_VERIFY, &t, 1},
                         {CKA_KEY_TYPE, &kt, sizeof(kt)}};
  CK_OBJECT_HANDLE k;
  ASSERT_EQ(F()->C_GenerateKey(s_, &gen, tmpl, 4, &k), CKR_OK);
  CK_MECHANISM m = {CKM_SHA256_HMAC, nullptr, 0};
  auto mac = Sign(&m, k, "abc");
  ASSERT_EQ(mac.size(), 32u);
  EXPECT_EQ(Verify(&m, k, "abc", mac), CKR_OK);
  mac[0] ^= 1;
  EXPECT_EQ(Verify(&m, k, "abc", mac), CKR_SIGNATURE_INVALID);
  CK_MECHANISM d = {CKM_SHA256, nullptr, 0};
  ASSERT_EQ(F()->C_DigestInit(s_, &d), CKR_OK);
  CK_BYTE out[32];
  CK_ULONG olen = 32;
  CK_BYTE abc[] = "abc";
  ASSERT_EQ(F()->C_Digest(s_, abc, 3, out, &olen), CKR_OK);
  EXPECT_EQ(out[0], 0xba);
  EXPECT_EQ(out[31], 0xad);
}

TEST_F(P11Test, SensitiveValueIsRefused) {
  CK_OBJECT_HANDLE k = GenAes(32);
  CK_BYTE buf[64];
  CK_BBOOL always = CK_FALSE, never = CK_FALSE;
  CK_ULONG vlen = 0;
  CK_ATTRIBUTE a[] = {{CKA_VALUE, buf, sizeof(buf)},
                      {CKA_ALWAYS_SENSITIVE, &always, 1},
                      {CKA_NEVER_EXTRACTABLE, &never, 1},
                      {CKA_VALUE_LEN, &vlen, sizeof(vlen)}};
  EXPECT_EQ(F()->C_GetAttributeValue(s_, k, a, 4), CKR_ATTRIBUTE_SENSITIVE);
  EXPECT_EQ(a[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(always, CK_TRUE);
  EXPECT_EQ(never, CK_TRUE);
  EXPECT_EQ(vlen, 32u);
  CK_BBOOL f = CK_FALSE;
  CK_ATTRIBUTE unsens[] = {{CKA_SENSITIVE, &f, 1}};
  EXPECT_NE(F()->C_SetAttributeValue(s_, k, unsens, 1), CKR_OK);
  // Length query and short buffer on a readable attribute.
  std::string label = "aes";
  CK_ATTRIBUTE q[] = {{CKA_LABEL, nullptr, 0}};
  ASSERT_EQ(F()->C_GetAttributeValue(s_, k, q, 1), CKR_OK);
  EXPECT_EQ(q[0].ulValueLen, 3u);
  CK_BYTE small[2];
  CK_ATTRIBUTE q2[] = {{CKA_LABEL, small, 2}};
  EXPECT_EQ(F()->C_GetAttributeValue(s_, k, q2, 1), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(q2[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
}

TEST_F(P11Test, FindObjectsByLabelAndClassWithPaging) {
  for (int i = 0; i < 5; ++i) GenAes(16, false, "findme");
  GenAes(16, false, "other");
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  std::string label = "findme";
  auto found = Find({{CKA_LABEL, label.data(), label.size()}, {CKA_CLASS, &cls, sizeof(cls)}}, 2);
  EXPECT_EQ(found.size(), 5u);
  CK_OBJECT_CLASS pub = CKO_PUBLIC_KEY;
  EXPECT_TRUE(Find({{CKA_LABEL, label.data(), label.size()}, {CKA_CLASS, &pub, sizeof(pub)}}).empty());
  ASSERT_EQ(F()->C_DestroyObject(s_, found[0]), CKR_OK);
  EXPECT_EQ(Find({{CKA_LABEL, label.data(), label.size()}}).size(), 4u);
  EXPECT_EQ(F()->C_DestroyObject(s_, found[0]), CKR_OBJECT_HANDLE_INVALID);
}

TEST_F(P11Test, InvalidHandlesAndArguments) {
  CK_MECHANISM m = {CKM_ECDSA, nullptr, 0};
  CK_BYTE data[32] = {};
  CK_BYTE sig[132];
  CK_ULONG len = sizeof(sig);
  CK_RV rv = F()->C_SignInit(s_, &m, 0x7fff1234);
  if (rv == CKR_OK) rv = F()->C_Sign(s_, data, 32, sig, &len);
  // SoftHSM2 answers CKR_OBJECT_HANDLE_INVALID here; the spec's code for C_SignInit is KEY_HANDLE.
  EXPECT_EQ(rv, g->softhsm ? CKR_OBJECT_HANDLE_INVALID : CKR_KEY_HANDLE_INVALID);
  EXPECT_EQ(F()->C_SignInit(0xbad, &m, 1), CKR_SESSION_HANDLE_INVALID);
  EXPECT_EQ(F()->C_SignInit(s_, nullptr, 1), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(F()->C_Sign(s_, data, 32, sig, &len), CKR_OPERATION_NOT_INITIALIZED);
  CK_OBJECT_HANDLE k = GenAes(32);
  CK_MECHANISM hm = {CKM_SHA256_HMAC, nullptr, 0};
  rv = F()->C_SignInit(s_, &hm, k);
  if (rv == CKR_OK) rv = F()->C_Sign(s_, data, 32, sig, &len);
  EXPECT_THAT(rv, ::testing::AnyOf(CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_FUNCTION_NOT_PERMITTED));
}

TEST_F(P11Test, ForkedChildMustReinitialize) {
  pid_t pid = fork();
  if (pid == 0) {
    CK_ULONG n = 0;
    // SoftHSM2 is not fork-aware: it keeps working in the child without re-initialisation.
    if (!g->softhsm) {
      if (F()->C_GetSlotList(CK_TRUE, nullptr, &n) != CKR_CRYPTOKI_NOT_INITIALIZED) _exit(1);
      if (F()->C_Initialize(nullptr) != CKR_OK) _exit(2);
    }
    CK_SLOT_ID slot = FindSlot(F(), kLabel, false);
    CK_SESSION_HANDLE s;
    if (F()->C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &s) != CKR_OK) _exit(3);
    CK_BYTE r[16];
    if (F()->C_GenerateRandom(s, r, 16) != CKR_OK) _exit(4);
    if (!g->softhsm) F()->C_Finalize(nullptr);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The parent is unaffected.
  CK_BYTE r[16];
  EXPECT_EQ(F()->C_GenerateRandom(s_, r, 16), CKR_OK);
}

TEST_F(P11Test, TwoThreadsSignConcurrently) {
  CK_OBJECT_HANDLE pub, priv;
  GenEc(kP256, &pub, &priv);
  std::atomic<int> ok{0};
  auto worker = [&] {
    CK_SESSION_HANDLE s;
    if (F()->C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &s) != CKR_OK) return;
    CK_MECHANISM m = {CKM_ECDSA, nullptr, 0};
    for (int i = 0; i < 50; ++i) {
      CK_BYTE d[32] = {1}, sig[64];
      CK_ULONG len = 64;
      if (F()->C_SignInit(s, &m, priv) == CKR_OK && F()->C_Sign(s, d, 32, sig, &len) == CKR_OK) ++ok;
    }
    F()->C_CloseSession(s);
  };
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  EXPECT_EQ(ok.load(), 100);
}

// ---- vhsmd-only behaviour ----

TEST_F(P11Test, TokenObjectsSurviveDaemonKillAndRestart) {
  SKIP_ON_SOFTHSM("daemon restart is vhsmd-specific");
  CK_OBJECT_HANDLE pub, priv;
  GenEc(kP256, &pub, &priv, true, "persist");
  CK_MECHANISM m = {CKM_ECDSA_SHA256, nullptr, 0};
  auto sig = Sign(&m, priv, "before restart");
  ASSERT_EQ(sig.size(), 64u);
  F()->C_Finalize(nullptr);
  g->daemon->Stop();  // SIGKILL
  ASSERT_EQ(g->daemon->Start(), "");
  ASSERT_EQ(F()->C_Initialize(nullptr), CKR_OK);
  ASSERT_EQ(F()->C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s_), CKR_OK);
  ASSERT_EQ(F()->C_Login(s_, CKU_USER, U(kUserPin), L(kUserPin)), CKR_OK);
  std::string label = "persist";
  CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
  auto found = Find({{CKA_LABEL, label.data(), label.size()}, {CKA_CLASS, &cls, sizeof(cls)}});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(Verify(&m, found[0], "before restart", sig), CKR_OK);
}

TEST_F(P11Test, StoreFromAnotherMeasurementDoesNotOpen) {
  SKIP_ON_SOFTHSM("measurement binding is vhsmd-specific");
  F()->C_Finalize(nullptr);
  g->daemon->Stop();
  // The same simulated chip launching another image: only MEASUREMENT in sim.toml changes.
  std::string cfg = g->daemon->sim_dir() + "/sim.toml";
  std::stringstream text;
  text << std::ifstream(cfg).rdbuf();
  const std::string original = text.str();
  std::string changed;
  std::istringstream lines(original);
  for (std::string line; std::getline(lines, line);) {
    changed += line.rfind("measurement", 0) == 0 ? "measurement = \"" + std::string(96, 'a') + "\"" : line;
    changed += "\n";
  }
  ASSERT_NE(changed, original) << "no measurement line in " << cfg;
  std::ofstream(cfg, std::ios::trunc) << changed;
  std::string err = g->daemon->Start();
  EXPECT_THAT(err, ::testing::HasSubstr("does not open this store"));
  std::ofstream(cfg, std::ios::trunc) << original;
  ASSERT_EQ(g->daemon->Start(), "");
  ASSERT_EQ(F()->C_Initialize(nullptr), CKR_OK);
  ASSERT_EQ(F()->C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &s_), CKR_OK);
}

TEST_F(P11Test, MalformedFramesDropOnlyThatClient) {
  SKIP_ON_SOFTHSM("wire protocol is vhsmd-specific");
  const std::vector<std::vector<uint8_t>> bad = {
      {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1', '.', '1', '\r', '\n'},          // bad magic
      {0x56, 0x48, 0x53, 0x4d, 9, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0},                              // version 9
      {0x56, 0x48, 0x53, 0x4d, 1, 0, 1, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f},                  // oversized
      {0x56, 0x48, 0x53, 0x4d, 1, 0, 21, 0, 1, 0, 0, 0, 4, 0, 0, 0, 1, 2, 3, 4},                 // bad payload
      {0x56, 0x48, 0x53, 0x4d, 1, 0, 21, 0},                                                     // truncated
  };
  for (const auto& frame : bad) {
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = g->daemon->socket();
    std::memcpy(addr.sun_path, path.data(), path.size());
    ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_EQ(send(fd, frame.data(), frame.size(), MSG_NOSIGNAL), static_cast<ssize_t>(frame.size()));
    shutdown(fd, SHUT_WR);
    char buf[64];
    timeval tv{2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    // Either an error reply (well-formed header, bad payload) or a closed connection.
    EXPECT_GE(n, 0);
    close(fd);
    CK_BYTE r[8];
    EXPECT_EQ(F()->C_GenerateRandom(s_, r, 8), CKR_OK) << "daemon must keep serving other clients";
  }
}

// The application that *uses* a sensitive key never holds its bytes: a helper process imports a
// known AES key, this process encrypts with it, then gcore dumps this process and a third process
// (the only one that unmasks the key) scans the core. Control: the plaintext marker this process
// did hold must be found, or the scan proves nothing.
TEST_F(P11Test, ApplicationCoreDoesNotContainSensitiveKey) {
  SKIP_ON_SOFTHSM("SoftHSM2 keeps keys in the application process by design");
  if (system("command -v gcore >/dev/null 2>&1") != 0) GTEST_SKIP() << "gcore not installed";
#if defined(__SANITIZE_ADDRESS__)
  // gcore writes an ASan process's terabyte shadow mappings out as real bytes (a 69 GB core filled
  // the disk here); this check runs in the non-sanitized build of the same CI job.
  GTEST_SKIP() << "not under AddressSanitizer: its core would be tens of GB";
#endif
  const std::string mask_file = g->dir + "/masked-key";
  pid_t importer = fork();
  if (importer == 0) {
    CK_C_INITIALIZE_ARGS args = {};
    args.flags = CKF_OS_LOCKING_OK;
    if (F()->C_Initialize(&args) != CKR_OK) _exit(1);
    CK_SESSION_HANDLE s;
    if (F()->C_OpenSession(FindSlot(F(), kLabel, false), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s) !=
        CKR_OK) _exit(2);
    if (F()->C_Login(s, CKU_USER, U(kUserPin), L(kUserPin)) != CKR_OK) _exit(3);
    CK_BYTE key[32];
    std::ifstream("/dev/urandom", std::ios::binary).read(reinterpret_cast<char*>(key), 32);
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_AES;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    char label[] = "core-check";
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_VALUE, key, 32},
                           {CKA_TOKEN, &t, 1}, {CKA_SENSITIVE, &t, 1}, {CKA_EXTRACTABLE, &f, 1},
                           {CKA_ENCRYPT, &t, 1}, {CKA_LABEL, label, sizeof(label) - 1}};
    CK_OBJECT_HANDLE k;
    if (F()->C_CreateObject(s, tmpl, 8, &k) != CKR_OK) _exit(4);
    for (auto& b : key) b ^= 0x5a;
    std::ofstream(mask_file, std::ios::binary).write(reinterpret_cast<char*>(key), 32);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(importer, &status, 0), importer);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "importer exit " << WEXITSTATUS(status);
  // Use the key here, the way an application would.
  std::string label = "core-check";
  auto found = Find({{CKA_LABEL, label.data(), label.size()}});
  ASSERT_EQ(found.size(), 1u);
  std::string marker = "PLAINTEXT-MARKER-";
  marker += "7d1f0c";  // assembled at run time so the binary's rodata does not contain it whole
  std::vector<uint8_t> pt(marker.begin(), marker.end());
  pt.resize(32, '#');
  CK_BYTE iv[12] = {0};
  CK_GCM_PARAMS gp = {iv, 12, 96, nullptr, 0, 128};
  CK_MECHANISM m = {CKM_AES_GCM, &gp, sizeof(gp)};
  ASSERT_EQ(F()->C_EncryptInit(s_, &m, found[0]), CKR_OK);
  CK_BYTE ct[64];
  CK_ULONG ct_len = sizeof(ct);
  ASSERT_EQ(F()->C_Encrypt(s_, pt.data(), pt.size(), ct, &ct_len), CKR_OK);
  const std::string core_prefix = g->dir + "/app-core";
  pid_t dumper = fork();
  if (dumper == 0) {
    std::string pid = std::to_string(getppid());
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execlp("gcore", "gcore", "-o", core_prefix.c_str(), pid.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ASSERT_EQ(waitpid(dumper, &status, 0), dumper);
  const std::string core = core_prefix + "." + std::to_string(getpid());
  ASSERT_TRUE(std::filesystem::exists(core)) << "gcore produced no core (ptrace not permitted?)";
  pid_t scanner = fork();
  if (scanner == 0) {
    std::ifstream in(core, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string key(32, '\0');
    std::ifstream(mask_file, std::ios::binary).read(key.data(), 32);
    for (auto& c : key) c = static_cast<char>(c ^ 0x5a);
    std::string want_marker = "PLAINTEXT-MARKER-";
    want_marker += "7d1f0c";
    bool marker_found = bytes.find(want_marker) != std::string::npos;
    bool key_found = bytes.find(key) != std::string::npos;
    _exit(!marker_found ? 2 : key_found ? 1 : 0);
  }
  ASSERT_EQ(waitpid(scanner, &status, 0), scanner);
  std::filesystem::remove(core);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 2) << "control failed: the plaintext marker is not in the core";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the sensitive key bytes are in the application's memory";
}

TEST(AbsentDaemonTest, CallsFailFastWithDeviceError) {
  if (g->softhsm) GTEST_SKIP() << "vhsmd-specific";
  std::string saved = std::getenv("VHSM_SOCKET");
  setenv("VHSM_SOCKET", (g->dir + "/nobody-listens.sock").c_str(), 1);
  ASSERT_EQ(F()->C_Initialize(nullptr), CKR_OK);
  auto t0 = std::chrono::steady_clock::now();
  CK_ULONG n = 0;
  EXPECT_EQ(F()->C_GetSlotList(CK_TRUE, nullptr, &n), CKR_DEVICE_ERROR);
  CK_TOKEN_INFO ti;
  EXPECT_EQ(F()->C_GetTokenInfo(0, &ti), CKR_DEVICE_ERROR);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  F()->C_Finalize(nullptr);
  setenv("VHSM_SOCKET", saved.c_str(), 1);
}

TEST(NotInitializedTest, EveryCallRefusesBeforeInitialize) {
  CK_ULONG n = 0;
  EXPECT_EQ(F()->C_GetSlotList(CK_TRUE, nullptr, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
  EXPECT_EQ(F()->C_Finalize(nullptr), CKR_CRYPTOKI_NOT_INITIALIZED);
  EXPECT_EQ(F()->C_CloseSession(1), CKR_CRYPTOKI_NOT_INITIALIZED);
}

// ---- key management and the mechanisms added with them --------------------------------------
// Known answers: RFC 3394 sec. 4.1, RFC 5649 sec. 6, RFC 4493 sec. 4, RFC 8032 sec. 7.1.

using Hex = std::vector<uint8_t>;
Hex H(const std::string& hex) {
  Hex out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
  return out;
}

class KeyMgmtTest : public P11Test {
 protected:
  // A session secret key with the given value; usage flags on, policy as asked.
  CK_OBJECT_HANDLE ImportSecret(CK_KEY_TYPE kt, const Hex& v, bool extractable, bool sensitive = true,
                                bool wrap_with_trusted = false) {
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_BBOOL t = CK_TRUE, ex = extractable, se = sensitive, wwt = wrap_with_trusted;
    std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &cls, sizeof(cls)},
                                      {CKA_KEY_TYPE, &kt, sizeof(kt)},
                                      {CKA_VALUE, const_cast<uint8_t*>(v.data()), v.size()},
                                      {CKA_EXTRACTABLE, &ex, 1},
                                      {CKA_SENSITIVE, &se, 1},
                                      {CKA_SIGN, &t, 1},
                                      {CKA_VERIFY, &t, 1}};
    if (kt == CKK_AES) {
      tmpl.push_back({CKA_WRAP, &t, 1});
      tmpl.push_back({CKA_UNWRAP, &t, 1});
      tmpl.push_back({CKA_ENCRYPT, &t, 1});
    }
    if (wrap_with_trusted) tmpl.push_back({CKA_WRAP_WITH_TRUSTED, &wwt, 1});
    CK_OBJECT_HANDLE h = 0;
    EXPECT_EQ(F()->C_CreateObject(s_, tmpl.data(), tmpl.size(), &h), CKR_OK);
    return h;
  }
  Hex Wrap(CK_MECHANISM_TYPE mt, CK_OBJECT_HANDLE kek, CK_OBJECT_HANDLE key, CK_RV* rv_out = nullptr) {
    CK_MECHANISM m = {mt, nullptr, 0};
    CK_ULONG len = 0;
    CK_RV rv = F()->C_WrapKey(s_, &m, kek, key, nullptr, &len);
    if (rv_out) *rv_out = rv;
    if (rv != CKR_OK) return {};
    Hex out(len);
    CK_ULONG short_len = len - 1;
    EXPECT_EQ(F()->C_WrapKey(s_, &m, kek, key, out.data(), &short_len), CKR_BUFFER_TOO_SMALL);
    EXPECT_EQ(short_len, len);
    EXPECT_EQ(F()->C_WrapKey(s_, &m, kek, key, out.data(), &len), CKR_OK);
    out.resize(len);
    return out;
  }
  CK_RV Unwrap(CK_MECHANISM_TYPE mt, CK_OBJECT_HANDLE kek, Hex wrapped, CK_KEY_TYPE kt, CK_OBJECT_HANDLE* out) {
    CK_MECHANISM m = {mt, nullptr, 0};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
                           {CKA_SENSITIVE, &f, 1},         {CKA_EXTRACTABLE, &t, 1}};
    return F()->C_UnwrapKey(s_, &m, kek, wrapped.data(), wrapped.size(), tmpl, 4, out);
  }
  Hex Value(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type = CKA_VALUE) {
    CK_ATTRIBUTE a = {type, nullptr, 0};
    if (F()->C_GetAttributeValue(s_, h, &a, 1) != CKR_OK) return {};
    Hex v(a.ulValueLen);
    a.pValue = v.data();
    EXPECT_EQ(F()->C_GetAttributeValue(s_, h, &a, 1), CKR_OK);
    return v;
  }
  bool Bool(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type) {
    CK_BBOOL b = CK_FALSE;
    CK_ATTRIBUTE a = {type, &b, 1};
    EXPECT_EQ(F()->C_GetAttributeValue(s_, h, &a, 1), CKR_OK);
    return b == CK_TRUE;
  }
  Hex SignHex(CK_MECHANISM* m, CK_OBJECT_HANDLE k, const Hex& data) {
    return Sign(m, k, std::string(data.begin(), data.end()));
  }
};

TEST_F(KeyMgmtTest, MechanismInfoForNewMechanisms) {
  struct Want {
    CK_MECHANISM_TYPE type;
    CK_FLAGS flags;
  };
  for (Want w : {Want{CKM_AES_KEY_WRAP, CKF_WRAP | CKF_UNWRAP}, Want{CKM_AES_KEY_WRAP_PAD, CKF_WRAP | CKF_UNWRAP},
                 Want{CKM_AES_CMAC, CKF_SIGN | CKF_VERIFY}, Want{CKM_ECDH1_DERIVE, CKF_DERIVE},
                 Want{CKM_EDDSA, CKF_SIGN | CKF_VERIFY}, Want{CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR}}) {
    CK_MECHANISM_INFO mi;
    CK_RV rv = F()->C_GetMechanismInfo(slot_, w.type, &mi);
    if (g->softhsm && rv == CKR_MECHANISM_INVALID) continue;
    ASSERT_EQ(rv, CKR_OK) << std::hex << w.type;
    EXPECT_EQ(mi.flags & w.flags, w.flags) << std::hex << w.type;
  }
}

TEST_F(KeyMgmtTest, AesKeyWrapRfc3394KnownAnswerAndUnwrap) {
  CK_OBJECT_HANDLE kek = ImportSecret(CKK_AES, H("000102030405060708090A0B0C0D0E0F"), false);
  const Hex key = H("00112233445566778899AABBCCDDEEFF");
  CK_OBJECT_HANDLE k = ImportSecret(CKK_AES, key, true);
  Hex wrapped = Wrap(CKM_AES_KEY_WRAP, kek, k);
  EXPECT_EQ(wrapped, H("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"));
  CK_OBJECT_HANDLE u = 0;
  ASSERT_EQ(Unwrap(CKM_AES_KEY_WRAP, kek, wrapped, CKK_AES, &u), CKR_OK);
  EXPECT_EQ(Value(u), key);
  EXPECT_FALSE(Bool(u, CKA_LOCAL));
  EXPECT_FALSE(Bool(u, CKA_NEVER_EXTRACTABLE));
  EXPECT_FALSE(Bool(u, CKA_ALWAYS_SENSITIVE));
  wrapped[5] ^= 1;
  // SoftHSM2 2.6.1 deviates: CKR_GENERAL_ERROR for a failed integrity check.
  CK_RV bad = Unwrap(CKM_AES_KEY_WRAP, kek, wrapped, CKK_AES, &u);
  EXPECT_TRUE(bad == CKR_WRAPPED_KEY_INVALID || (g->softhsm && bad == CKR_GENERAL_ERROR)) << bad;
  wrapped.pop_back();
  CK_RV rv = Unwrap(CKM_AES_KEY_WRAP, kek, wrapped, CKK_AES, &u);
  EXPECT_TRUE(rv == CKR_WRAPPED_KEY_LEN_RANGE || (g->softhsm && rv == CKR_WRAPPED_KEY_INVALID)) << rv;
}

TEST_F(KeyMgmtTest, AesKeyWrapPadRfc5649KnownAnswers) {
  if (!Has(CKM_AES_KEY_WRAP_PAD)) GTEST_SKIP() << "no CKM_AES_KEY_WRAP_PAD";
  // Measured: SoftHSM2 2.6.1's CKM_AES_KEY_WRAP_PAD zero-pads and runs RFC 3394 (its output
  // differs from these vectors and its unwrap returns the padding), so it is not RFC 5649.
  SKIP_ON_SOFTHSM("SoftHSM2 2.6.1 CKM_AES_KEY_WRAP_PAD is not RFC 5649");
  CK_OBJECT_HANDLE kek = ImportSecret(CKK_AES, H("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"), false);
  const Hex k20 = H("c37b7e6492584340bed12207808941155068f738");
  const Hex k7 = H("466f7250617369");
  EXPECT_EQ(Wrap(CKM_AES_KEY_WRAP_PAD, kek, ImportSecret(CKK_GENERIC_SECRET, k20, true)),
            H("138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a"));
  Hex w7 = Wrap(CKM_AES_KEY_WRAP_PAD, kek, ImportSecret(CKK_GENERIC_SECRET, k7, true));
  EXPECT_EQ(w7, H("afbeb0f07dfbf5419200f2ccb50bb24f"));
  CK_OBJECT_HANDLE u = 0;
  ASSERT_EQ(Unwrap(CKM_AES_KEY_WRAP_PAD, kek, w7, CKK_GENERIC_SECRET, &u), CKR_OK);
  EXPECT_EQ(Value(u), k7);
}

TEST_F(KeyMgmtTest, WrapPolicy) {
  CK_OBJECT_HANDLE kek = ImportSecret(CKK_AES, H("000102030405060708090A0B0C0D0E0F"), false);
  CK_RV rv = CKR_OK;
  // Not extractable.
  Wrap(CKM_AES_KEY_WRAP, kek, ImportSecret(CKK_AES, H("00112233445566778899AABBCCDDEEFF"), false), &rv);
  EXPECT_EQ(rv, CKR_KEY_UNEXTRACTABLE);
  // Wrapping key without CKA_WRAP.
  CK_OBJECT_HANDLE plain = ImportSecret(CKK_AES, H("000102030405060708090A0B0C0D0E0F"), false);
  CK_BBOOL no = CK_FALSE;
  CK_ATTRIBUTE nowrap[] = {{CKA_WRAP, &no, 1}};
  ASSERT_EQ(F()->C_SetAttributeValue(s_, plain, nowrap, 1), CKR_OK);
  Wrap(CKM_AES_KEY_WRAP, plain, ImportSecret(CKK_AES, H("00112233445566778899AABBCCDDEEFF"), true), &rv);
  EXPECT_EQ(rv, CKR_KEY_FUNCTION_NOT_PERMITTED);
  // Invalid handles.
  CK_MECHANISM m = {CKM_AES_KEY_WRAP, nullptr, 0};
  CK_ULONG len = 0;
  CK_OBJECT_HANDLE ek = ImportSecret(CKK_AES, H("00112233445566778899AABBCCDDEEFF"), true);
  EXPECT_EQ(F()->C_WrapKey(s_, &m, 0xdead, ek, nullptr, &len), CKR_WRAPPING_KEY_HANDLE_INVALID);
  EXPECT_EQ(F()->C_WrapKey(s_, &m, kek, 0xdead, nullptr, &len), CKR_KEY_HANDLE_INVALID);
  CK_MECHANISM bad = {CKM_AES_CBC_PAD, nullptr, 0};
  EXPECT_EQ(F()->C_WrapKey(s_, &bad, kek, ek, nullptr, &len), CKR_MECHANISM_INVALID);
  // CKA_WRAP_WITH_TRUSTED: only a CKA_TRUSTED wrapping key, and only the SO sets CKA_TRUSTED.
  CK_OBJECT_HANDLE guarded = ImportSecret(CKK_AES, H("00112233445566778899AABBCCDDEEFF"), true, true, true);
  Wrap(CKM_AES_KEY_WRAP, kek, guarded, &rv);
  EXPECT_EQ(rv, CKR_KEY_NOT_WRAPPABLE);
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  CK_BBOOL t = CK_TRUE, f = CK_FALSE;
  Hex kv = H("0f0e0d0c0b0a09080706050403020100");
  CK_ATTRIBUTE trusted[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
                            {CKA_VALUE, kv.data(), kv.size()}, {CKA_WRAP, &t, 1},
                            {CKA_TRUSTED, &t, 1},             {CKA_PRIVATE, &f, 1}};
  CK_OBJECT_HANDLE tk = 0;
  EXPECT_EQ(F()->C_CreateObject(s_, trusted, 6, &tk), CKR_ATTRIBUTE_READ_ONLY);
  ASSERT_EQ(F()->C_Logout(s_), CKR_OK);
  ASSERT_EQ(F()->C_Login(s_, CKU_SO, U(kSoPin), L(kSoPin)), CKR_OK);
  ASSERT_EQ(F()->C_CreateObject(s_, trusted, 6, &tk), CKR_OK);
  ASSERT_EQ(F()->C_Logout(s_), CKR_OK);
  ASSERT_EQ(F()->C_Login(s_, CKU_USER, U(kUserPin), L(kUserPin)), CKR_OK);
  // (SoftHSM2 destroys private session objects at C_Logout, so make the guarded key again.)
  guarded = ImportSecret(CKK_AES, H("00112233445566778899AABBCCDDEEFF"), true, true, true);
  Hex w = Wrap(CKM_AES_KEY_WRAP, tk, guarded, &rv);
  EXPECT_EQ(rv, CKR_OK);
  EXPECT_EQ(w.size(), 24u);
}

TEST_F(KeyMgmtTest, AesCmacRfc4493KnownAnswers) {
  if (!Has(CKM_AES_CMAC)) GTEST_SKIP() << "no CKM_AES_CMAC";
  CK_OBJECT_HANDLE k = ImportSecret(CKK_AES, H("2b7e151628aed2a6abf7158809cf4f3c"), false);
  CK_MECHANISM m = {CKM_AES_CMAC, nullptr, 0};
  EXPECT_EQ(SignHex(&m, k, {}), H("bb1d6929e95937287fa37d129b756746"));
  const Hex m16 = H("6bc1bee22e409f96e93d7e117393172a");
  Hex mac = SignHex(&m, k, m16);
  EXPECT_EQ(mac, H("070a16b46b4d4144f79bdd9dd04a287c"));
  EXPECT_EQ(Verify(&m, k, std::string(m16.begin(), m16.end()), mac), CKR_OK);
  mac[0] ^= 1;
  EXPECT_EQ(Verify(&m, k, std::string(m16.begin(), m16.end()), mac), CKR_SIGNATURE_INVALID);
  if (Has(CKM_AES_CMAC_GENERAL)) {
    CK_ULONG len = 8;
    CK_MECHANISM gm = {CKM_AES_CMAC_GENERAL, &len, sizeof(len)};
    EXPECT_EQ(SignHex(&gm, k, m16), H("070a16b46b4d4144"));
  }
  // A generic secret is not an AES key.
  CK_OBJECT_HANDLE gk = ImportSecret(CKK_GENERIC_SECRET, H("2b7e151628aed2a6abf7158809cf4f3c"), false);
  CK_RV rv = F()->C_SignInit(s_, &m, gk);
  if (rv == CKR_OK) {  // vhsmd checks the key with the data (one round trip per operation)
    Hex d(16), out(16);
    CK_ULONG n = out.size();
    rv = F()->C_Sign(s_, d.data(), d.size(), out.data(), &n);
  }
  EXPECT_EQ(rv, CKR_KEY_TYPE_INCONSISTENT);
}

const Hex kEd25519Oid = {0x06, 0x03, 0x2b, 0x65, 0x70};

TEST_F(KeyMgmtTest, Ed25519Rfc8032KnownAnswersViaImport) {
  if (!Has(CKM_EDDSA)) GTEST_SKIP() << "no CKM_EDDSA";
  struct Vec {
    const char* sk;
    const char* pk;
    const char* msg;
    const char* sig;
  };
  const Vec vecs[] = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe"
       "24655141438e7a100b"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302a"
       "eeb00d291612bb0c00"},
  };
  for (const Vec& v : vecs) {
    Hex sk = H(v.sk), pk = H(v.pk), msg = H(v.msg);
    Hex point = {0x04, 0x20};
    point.insert(point.end(), pk.begin(), pk.end());
    CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY, uc = CKO_PUBLIC_KEY;
    CK_KEY_TYPE kt = CKK_EC_EDWARDS;
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE priv[] = {{CKA_CLASS, &pc, sizeof(pc)},
                           {CKA_KEY_TYPE, &kt, sizeof(kt)},
                           {CKA_EC_PARAMS, const_cast<uint8_t*>(kEd25519Oid.data()), kEd25519Oid.size()},
                           {CKA_VALUE, sk.data(), sk.size()},
                           {CKA_SIGN, &t, 1}};
    CK_ATTRIBUTE pub[] = {{CKA_CLASS, &uc, sizeof(uc)},
                          {CKA_KEY_TYPE, &kt, sizeof(kt)},
                          {CKA_EC_PARAMS, const_cast<uint8_t*>(kEd25519Oid.data()), kEd25519Oid.size()},
                          {CKA_EC_POINT, point.data(), point.size()},
                          {CKA_VERIFY, &t, 1}};
    CK_OBJECT_HANDLE hs = 0, hp = 0;
    ASSERT_EQ(F()->C_CreateObject(s_, priv, 5, &hs), CKR_OK);
    ASSERT_EQ(F()->C_CreateObject(s_, pub, 5, &hp), CKR_OK);
    CK_MECHANISM m = {CKM_EDDSA, nullptr, 0};
    Hex sig = SignHex(&m, hs, msg);
    EXPECT_EQ(sig, H(v.sig));
    EXPECT_EQ(Verify(&m, hp, std::string(msg.begin(), msg.end()), sig), CKR_OK);
    sig[10] ^= 0x80;
    EXPECT_EQ(Verify(&m, hp, std::string(msg.begin(), msg.end()), sig), CKR_SIGNATURE_INVALID);
    EXPECT_EQ(Value(hs), Hex()) << "Ed25519 private value must not be readable";
  }
}

TEST_F(KeyMgmtTest, Ed25519GeneratedPairSignsAndVerifies) {
  if (!Has(CKM_EC_EDWARDS_KEY_PAIR_GEN)) GTEST_SKIP() << "no CKM_EC_EDWARDS_KEY_PAIR_GEN";
  CK_MECHANISM gen = {CKM_EC_EDWARDS_KEY_PAIR_GEN, nullptr, 0};
  CK_BBOOL t = CK_TRUE;
  CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, const_cast<uint8_t*>(kEd25519Oid.data()), kEd25519Oid.size()},
                       {CKA_VERIFY, &t, 1}};
  CK_ATTRIBUTE st[] = {{CKA_SIGN, &t, 1}, {CKA_SENSITIVE, &t, 1}};
  CK_OBJECT_HANDLE pub = 0, priv = 0;
  ASSERT_EQ(F()->C_GenerateKeyPair(s_, &gen, pt, 2, st, 2, &pub, &priv), CKR_OK);
  Hex point = Value(pub, CKA_EC_POINT);
  ASSERT_EQ(point.size(), 34u);
  EXPECT_EQ(point[0], 0x04);
  CK_MECHANISM m = {CKM_EDDSA, nullptr, 0};
  std::vector<uint8_t> sig = Sign(&m, priv, "hello eddsa");
  ASSERT_EQ(sig.size(), 64u);
  EXPECT_EQ(Verify(&m, pub, "hello eddsa", sig), CKR_OK);
  EXPECT_EQ(Verify(&m, pub, "hello eddsb", sig), CKR_SIGNATURE_INVALID);
  CK_MECHANISM ecdsa = {CKM_ECDSA, nullptr, 0};
  EXPECT_TRUE(Sign(&ecdsa, priv, std::string(32, 'x')).empty()) << "ECDSA with an Edwards key";
}

TEST_F(KeyMgmtTest, Ecdh1DeriveAgreesBothWaysAndMatchesScalarOneKnownAnswer) {
  const Hex p256 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  auto gen = [&](CK_OBJECT_HANDLE* pub, CK_OBJECT_HANDLE* priv, bool derive) {
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    CK_BBOOL t = CK_TRUE, d = derive;
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, const_cast<uint8_t*>(p256.data()), p256.size()}, {CKA_VERIFY, &t, 1}};
    CK_ATTRIBUTE st[] = {{CKA_DERIVE, &d, 1}, {CKA_SIGN, &t, 1}};
    ASSERT_EQ(F()->C_GenerateKeyPair(s_, &m, pt, 2, st, 2, pub, priv), CKR_OK);
  };
  CK_OBJECT_HANDLE apub, apriv, bpub, bpriv, cpub, cpriv;
  gen(&apub, &apriv, true);
  gen(&bpub, &bpriv, true);
  gen(&cpub, &cpriv, false);
  Hex apt = Value(apub, CKA_EC_POINT), bpt = Value(bpub, CKA_EC_POINT);
  ASSERT_EQ(apt.size(), 67u);
  auto derive = [&](CK_OBJECT_HANDLE base, Hex point, CK_OBJECT_HANDLE* out) {
    CK_ECDH1_DERIVE_PARAMS p = {CKD_NULL, 0, nullptr, static_cast<CK_ULONG>(point.size()), point.data()};
    CK_MECHANISM m = {CKM_ECDH1_DERIVE, &p, sizeof(p)};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ULONG len = 32;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
                           {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_SENSITIVE, &f, 1},
                           {CKA_EXTRACTABLE, &t, 1}};
    return F()->C_DeriveKey(s_, &m, base, tmpl, 5, out);
  };
  CK_OBJECT_HANDLE ka = 0, kb = 0, kraw = 0, kc = 0;
  ASSERT_EQ(derive(apriv, bpt, &ka), CKR_OK);
  ASSERT_EQ(derive(bpriv, apt, &kb), CKR_OK);
  Hex za = Value(ka);
  ASSERT_EQ(za.size(), 32u);
  EXPECT_EQ(za, Value(kb));
  // The raw (un-DER-wrapped) point gives the same secret.
  ASSERT_EQ(derive(apriv, Hex(bpt.begin() + 2, bpt.end()), &kraw), CKR_OK);
  EXPECT_EQ(Value(kraw), za);
  EXPECT_FALSE(Bool(ka, CKA_LOCAL));
  EXPECT_EQ(derive(cpriv, apt, &kc), CKR_KEY_FUNCTION_NOT_PERMITTED);
  Hex bad = bpt;
  bad.back() ^= 1;  // not on the curve
  EXPECT_NE(derive(apriv, bad, &kc), CKR_OK);
  // Known answer: with private scalar d = 1 the shared secret is the peer point's x coordinate.
  Hex one(32, 0);
  one.back() = 1;
  CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY;
  CK_KEY_TYPE ec = CKK_EC;
  CK_BBOOL t = CK_TRUE;
  CK_ATTRIBUTE it[] = {{CKA_CLASS, &pc, sizeof(pc)},
                       {CKA_KEY_TYPE, &ec, sizeof(ec)},
                       {CKA_EC_PARAMS, const_cast<uint8_t*>(p256.data()), p256.size()},
                       {CKA_VALUE, one.data(), one.size()},
                       {CKA_DERIVE, &t, 1}};
  CK_OBJECT_HANDLE d1 = 0, k1 = 0;
  ASSERT_EQ(F()->C_CreateObject(s_, it, 5, &d1), CKR_OK);
  ASSERT_EQ(derive(d1, bpt, &k1), CKR_OK);
  EXPECT_EQ(Value(k1), Hex(bpt.begin() + 3, bpt.begin() + 35));
}

TEST_F(KeyMgmtTest, CopyObjectPolicy) {
  CK_OBJECT_HANDLE k = ImportSecret(CKK_AES, H("000102030405060708090A0B0C0D0E0F"), false);
  const char label[] = "copied";
  CK_ATTRIBUTE lt[] = {{CKA_LABEL, const_cast<char*>(label), sizeof(label) - 1}};
  CK_OBJECT_HANDLE c = 0;
  ASSERT_EQ(F()->C_CopyObject(s_, k, lt, 1, &c), CKR_OK);
  EXPECT_NE(c, k);
  Hex lv = Value(c, CKA_LABEL);
  EXPECT_EQ(std::string(lv.begin(), lv.end()), "copied");
  CK_MECHANISM ecb = {CKM_AES_ECB, nullptr, 0};
  std::string block(16, 'b');
  auto enc = [&](CK_OBJECT_HANDLE h) {
    Hex out(16);
    CK_ULONG n = 16;
    EXPECT_EQ(F()->C_EncryptInit(s_, &ecb, h), CKR_OK);
    EXPECT_EQ(F()->C_Encrypt(s_, reinterpret_cast<CK_BYTE_PTR>(block.data()), 16, out.data(), &n), CKR_OK);
    return out;
  };
  EXPECT_EQ(enc(c), enc(k));
  EXPECT_TRUE(Bool(c, CKA_SENSITIVE));
  CK_BBOOL f = CK_FALSE;
  CK_ATTRIBUTE unsens[] = {{CKA_SENSITIVE, &f, 1}};
  EXPECT_EQ(F()->C_CopyObject(s_, k, unsens, 1, &c), CKR_ATTRIBUTE_READ_ONLY);
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  Hex kv = H("000102030405060708090A0B0C0D0E0F");
  CK_ATTRIBUTE nocopy[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
                           {CKA_VALUE, kv.data(), kv.size()}, {CKA_COPYABLE, &f, 1}};
  CK_OBJECT_HANDLE nc = 0;
  ASSERT_EQ(F()->C_CreateObject(s_, nocopy, 4, &nc), CKR_OK);
  EXPECT_EQ(F()->C_CopyObject(s_, nc, lt, 1, &c), CKR_ACTION_PROHIBITED);
  EXPECT_EQ(F()->C_CopyObject(s_, 0xdead, lt, 1, &c), CKR_OBJECT_HANDLE_INVALID);
}

TEST_F(KeyMgmtTest, ImportedRsaKeyPairSignsLikeTheOriginal) {
  CK_MECHANISM gen = {CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  CK_ULONG bits = 2048;
  CK_BBOOL t = CK_TRUE, f = CK_FALSE;
  CK_ATTRIBUTE pt[] = {{CKA_MODULUS_BITS, &bits, sizeof(bits)}, {CKA_VERIFY, &t, 1}};
  CK_ATTRIBUTE st[] = {{CKA_SIGN, &t, 1}, {CKA_SENSITIVE, &f, 1}, {CKA_EXTRACTABLE, &t, 1}};
  CK_OBJECT_HANDLE pub = 0, priv = 0;
  ASSERT_EQ(F()->C_GenerateKeyPair(s_, &gen, pt, 2, st, 3, &pub, &priv), CKR_OK);
  const CK_ATTRIBUTE_TYPE comps[] = {CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
                                     CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT};
  std::vector<Hex> vals;
  for (CK_ATTRIBUTE_TYPE c : comps) {
    vals.push_back(Value(priv, c));
    ASSERT_FALSE(vals.back().empty()) << std::hex << c;
  }
  CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY, uc = CKO_PUBLIC_KEY;
  CK_KEY_TYPE kt = CKK_RSA;
  std::vector<CK_ATTRIBUTE> tmpl = {{CKA_CLASS, &pc, sizeof(pc)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_SIGN, &t, 1}};
  for (size_t i = 0; i < vals.size(); ++i) tmpl.push_back({comps[i], vals[i].data(), vals[i].size()});
  CK_OBJECT_HANDLE ipriv = 0, ipub = 0;
  ASSERT_EQ(F()->C_CreateObject(s_, tmpl.data(), tmpl.size(), &ipriv), CKR_OK);
  CK_ATTRIBUTE ptmpl[] = {{CKA_CLASS, &uc, sizeof(uc)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_VERIFY, &t, 1},
                          {CKA_MODULUS, vals[0].data(), vals[0].size()},
                          {CKA_PUBLIC_EXPONENT, vals[1].data(), vals[1].size()}};
  ASSERT_EQ(F()->C_CreateObject(s_, ptmpl, 5, &ipub), CKR_OK);
  CK_MECHANISM m = {CKM_SHA256_RSA_PKCS, nullptr, 0};
  std::vector<uint8_t> a = Sign(&m, priv, "import me"), b = Sign(&m, ipriv, "import me");
  ASSERT_EQ(a.size(), 256u);
  EXPECT_EQ(a, b);  // PKCS#1 v1.5 is deterministic
  EXPECT_EQ(Verify(&m, ipub, "import me", a), CKR_OK);
  EXPECT_EQ(Verify(&m, pub, "import me", b), CKR_OK);
  EXPECT_FALSE(Bool(ipriv, CKA_LOCAL));
  // Missing components.
  tmpl.resize(5);
  EXPECT_EQ(F()->C_CreateObject(s_, tmpl.data(), tmpl.size(), &ipriv), CKR_TEMPLATE_INCOMPLETE);
}

TEST_F(KeyMgmtTest, WrapAndUnwrapAPrivateKeyWithKeyWrapPad) {
  if (!Has(CKM_AES_KEY_WRAP_PAD)) GTEST_SKIP() << "no CKM_AES_KEY_WRAP_PAD";
  const Hex p256 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_BBOOL t = CK_TRUE;
  CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, const_cast<uint8_t*>(p256.data()), p256.size()}, {CKA_VERIFY, &t, 1}};
  CK_ATTRIBUTE st[] = {{CKA_SIGN, &t, 1}, {CKA_EXTRACTABLE, &t, 1}};
  CK_OBJECT_HANDLE pub = 0, priv = 0;
  ASSERT_EQ(F()->C_GenerateKeyPair(s_, &gen, pt, 2, st, 2, &pub, &priv), CKR_OK);
  CK_OBJECT_HANDLE kek = ImportSecret(CKK_AES, H("000102030405060708090A0B0C0D0E0F1011121314151617"), false);
  Hex wrapped = Wrap(CKM_AES_KEY_WRAP_PAD, kek, priv);
  ASSERT_FALSE(wrapped.empty());
  CK_MECHANISM m = {CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY;
  CK_KEY_TYPE kt = CKK_EC;
  CK_ATTRIBUTE ut[] = {{CKA_CLASS, &pc, sizeof(pc)}, {CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_SIGN, &t, 1}};
  CK_OBJECT_HANDLE u = 0;
  ASSERT_EQ(F()->C_UnwrapKey(s_, &m, kek, wrapped.data(), wrapped.size(), ut, 3, &u), CKR_OK);
  CK_MECHANISM ecdsa = {CKM_ECDSA, nullptr, 0};
  const std::string digest(32, 'd');
  std::vector<uint8_t> sig = Sign(&ecdsa, u, digest);
  ASSERT_EQ(sig.size(), 64u);
  EXPECT_EQ(Verify(&ecdsa, pub, digest, sig), CKR_OK);
  CK_KEY_TYPE rsa = CKK_RSA;
  CK_ATTRIBUTE wrong[] = {{CKA_CLASS, &pc, sizeof(pc)}, {CKA_KEY_TYPE, &rsa, sizeof(rsa)}};
  EXPECT_NE(F()->C_UnwrapKey(s_, &m, kek, wrapped.data(), wrapped.size(), wrong, 2, &u), CKR_OK);
}

// ---- CKA_WRAP_TEMPLATE / CKA_UNWRAP_TEMPLATE (PKCS#11 2.40 sec. 4.8) ----

TEST_F(KeyMgmtTest, WrapTemplateAndUnwrapTemplate) {
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE aes = CKK_AES, generic = CKK_GENERIC_SECRET;
  CK_BBOOL t = CK_TRUE, f = CK_FALSE;
  const Hex kv = H("000102030405060708090A0B0C0D0E0F");
  char forced_label[] = "from-unwrap";
  CK_ATTRIBUTE wrap_tmpl[] = {{CKA_KEY_TYPE, &generic, sizeof(generic)}};
  CK_ATTRIBUTE unwrap_tmpl[] = {{CKA_SENSITIVE, &t, 1}, {CKA_LABEL, forced_label, sizeof(forced_label) - 1}};
  CK_ATTRIBUTE kek_tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                             {CKA_KEY_TYPE, &aes, sizeof(aes)},
                             {CKA_VALUE, const_cast<uint8_t*>(kv.data()), kv.size()},
                             {CKA_WRAP, &t, 1},
                             {CKA_UNWRAP, &t, 1},
                             {CKA_WRAP_TEMPLATE, wrap_tmpl, sizeof(wrap_tmpl)},
                             {CKA_UNWRAP_TEMPLATE, unwrap_tmpl, sizeof(unwrap_tmpl)}};
  CK_OBJECT_HANDLE kek = 0;
  ASSERT_EQ(F()->C_CreateObject(s_, kek_tmpl, 7, &kek), CKR_OK);
  // Reading an attribute array: count first, then the types and value lengths, then the values.
  CK_ATTRIBUTE q = {CKA_UNWRAP_TEMPLATE, nullptr, 0};
  ASSERT_EQ(F()->C_GetAttributeValue(s_, kek, &q, 1), CKR_OK);
  ASSERT_EQ(q.ulValueLen, 2 * sizeof(CK_ATTRIBUTE));
  CK_ATTRIBUTE inner[2] = {};
  q.pValue = inner;
  ASSERT_EQ(F()->C_GetAttributeValue(s_, kek, &q, 1), CKR_OK);
  std::map<CK_ATTRIBUTE_TYPE, CK_ULONG> lens;
  for (const CK_ATTRIBUTE& a : inner) lens[a.type] = a.ulValueLen;
  EXPECT_EQ(lens[CKA_SENSITIVE], 1u);
  EXPECT_EQ(lens[CKA_LABEL], sizeof(forced_label) - 1);
  std::vector<char> label_buf(lens[CKA_LABEL]);
  CK_BBOOL sens = CK_FALSE;
  for (CK_ATTRIBUTE& a : inner) a.pValue = a.type == CKA_LABEL ? static_cast<void*>(label_buf.data()) : &sens;
  ASSERT_EQ(F()->C_GetAttributeValue(s_, kek, &q, 1), CKR_OK);
  EXPECT_EQ(std::string(label_buf.begin(), label_buf.end()), "from-unwrap");
  EXPECT_EQ(sens, CK_TRUE);
  CK_ATTRIBUTE small_q = {CKA_UNWRAP_TEMPLATE, inner, sizeof(CK_ATTRIBUTE)};
  EXPECT_EQ(F()->C_GetAttributeValue(s_, kek, &small_q, 1), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(small_q.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  // Wrap: only keys matching CKA_WRAP_TEMPLATE (generic secrets here).
  CK_RV rv = CKR_OK;
  Wrap(CKM_AES_KEY_WRAP, kek, ImportSecret(CKK_AES, H("00112233445566778899AABBCCDDEEFF"), true), &rv);
  EXPECT_EQ(rv, CKR_KEY_NOT_WRAPPABLE);
  const Hex gv = H("00112233445566778899AABBCCDDEEFF0011223344556677");
  Hex wrapped = Wrap(CKM_AES_KEY_WRAP, kek, ImportSecret(CKK_GENERIC_SECRET, gv, true), &rv);
  ASSERT_EQ(rv, CKR_OK);
  EXPECT_EQ(wrapped.size(), gv.size() + 8);
  // Unwrap: the template is applied (label, CKA_SENSITIVE), and contradicting it is refused.
  CK_ATTRIBUTE ut[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &generic, sizeof(generic)}};
  CK_MECHANISM m = {CKM_AES_KEY_WRAP, nullptr, 0};
  CK_OBJECT_HANDLE u = 0;
  CK_RV urv = F()->C_UnwrapKey(s_, &m, kek, wrapped.data(), wrapped.size(), ut, 2, &u);
  // Measured: SoftHSM2 2.6.1 does not merge CKA_UNWRAP_TEMPLATE into the new key's template; it
  // returns CKR_TEMPLATE_INCONSISTENT unless the caller repeats the template's attributes.
  if (g->softhsm && urv == CKR_TEMPLATE_INCONSISTENT) GTEST_SKIP() << "SoftHSM2 2.6.1: unwrap template not merged";
  ASSERT_EQ(urv, CKR_OK);
  EXPECT_TRUE(Bool(u, CKA_SENSITIVE));
  Hex got_label = Value(u, CKA_LABEL);
  EXPECT_EQ(std::string(got_label.begin(), got_label.end()), "from-unwrap");
  CK_ATTRIBUTE v = {CKA_VALUE, nullptr, 0};
  EXPECT_EQ(F()->C_GetAttributeValue(s_, u, &v, 1), CKR_ATTRIBUTE_SENSITIVE);
  CK_ATTRIBUTE conflict[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &generic, sizeof(generic)},
                             {CKA_SENSITIVE, &f, 1}};
  EXPECT_EQ(F()->C_UnwrapKey(s_, &m, kek, wrapped.data(), wrapped.size(), conflict, 3, &u),
            CKR_TEMPLATE_INCONSISTENT);
  // A malformed array (length not a multiple of CK_ATTRIBUTE) is an invalid value.
  CK_ATTRIBUTE bad[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &aes, sizeof(aes)},
                        {CKA_VALUE, const_cast<uint8_t*>(kv.data()), kv.size()},
                        {CKA_WRAP_TEMPLATE, wrap_tmpl, sizeof(wrap_tmpl) - 1}};
  CK_OBJECT_HANDLE b = 0;
  EXPECT_EQ(F()->C_CreateObject(s_, bad, 4, &b), CKR_ATTRIBUTE_VALUE_INVALID);
}

// ---- ECDH with the ANSI X9.63 KDF ----

TEST_F(KeyMgmtTest, Ecdh1DeriveWithX963KdfKnownAnswer) {
  const Hex p256 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
  // Private scalar d = 1 and the peer point G: Z is G's x coordinate, so the derived keys are
  // known answers (computed independently with Python's hashlib over X9.63's
  // Hash(Z || counter || SharedInfo)).
  Hex one(32, 0);
  one.back() = 1;
  CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY;
  CK_KEY_TYPE ec = CKK_EC;
  CK_BBOOL t = CK_TRUE, f = CK_FALSE;
  CK_ATTRIBUTE it[] = {{CKA_CLASS, &pc, sizeof(pc)},
                       {CKA_KEY_TYPE, &ec, sizeof(ec)},
                       {CKA_EC_PARAMS, const_cast<uint8_t*>(p256.data()), p256.size()},
                       {CKA_VALUE, one.data(), one.size()},
                       {CKA_DERIVE, &t, 1}};
  CK_OBJECT_HANDLE d1 = 0;
  ASSERT_EQ(F()->C_CreateObject(s_, it, 5, &d1), CKR_OK);
  Hex g_point = H("04"
                  "6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296"
                  "4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5");
  auto derive = [&](CK_ULONG kdf, const std::string& shared, CK_KEY_TYPE kt, CK_ULONG len,
                    CK_OBJECT_HANDLE* out) {
    CK_ECDH1_DERIVE_PARAMS p = {kdf, static_cast<CK_ULONG>(shared.size()),
                                shared.empty() ? nullptr : reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(shared.data())),
                                static_cast<CK_ULONG>(g_point.size()), g_point.data()};
    CK_MECHANISM m = {CKM_ECDH1_DERIVE, &p, sizeof(p)};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
                           {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_SENSITIVE, &f, 1},
                           {CKA_EXTRACTABLE, &t, 1}};
    return F()->C_DeriveKey(s_, &m, d1, tmpl, 5, out);
  };
  CK_OBJECT_HANDLE k = 0;
  CK_RV first = derive(CKD_SHA256_KDF, "vhsm-ecdh-kdf", CKK_AES, 32, &k);
  if (g->softhsm && first == CKR_MECHANISM_PARAM_INVALID) GTEST_SKIP() << "SoftHSM2 2.6.1: CKD_NULL only";
  ASSERT_EQ(first, CKR_OK);
  EXPECT_EQ(Value(k), H("e100ac1e8a9692b3a95639308613317d2a273938963a16c3fad03cfaadf68bcb"));
  ASSERT_EQ(derive(CKD_SHA384_KDF, "", CKK_GENERIC_SECRET, 24, &k), CKR_OK);
  EXPECT_EQ(Value(k), H("38989e49f91ac61fb021bc8c78ed67e6345a0952e48aca59"));
  // CKD_NULL with shared data is invalid (2.40 sec. 2.3.18); and the raw Z for comparison.
  EXPECT_EQ(derive(CKD_NULL, "x", CKK_GENERIC_SECRET, 32, &k), CKR_MECHANISM_PARAM_INVALID);
  ASSERT_EQ(derive(CKD_NULL, "", CKK_GENERIC_SECRET, 32, &k), CKR_OK);
  EXPECT_EQ(Value(k), H("6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296"));
}

// ---- X.509 certificate objects ----

TEST_F(KeyMgmtTest, X509CertificateObjectCreatedAndFound) {
  const std::string vectors = testdata::SnpVectorsDir();
  if (vectors.empty()) GTEST_SKIP() << "shared/snp-vectors not found";
  // The real AMD Milan ASK (a public certificate), PEM → DER with a small base64 decoder.
  std::ifstream pem(vectors + "/certs/amd/milan_ask.pem");
  std::stringstream ss;
  ss << pem.rdbuf();
  std::string b64;
  std::istringstream lines(ss.str());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("-----", 0) != 0) b64 += line;
  }
  Hex der;
  {
    static const std::string kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint32_t acc = 0;
    int bits = 0;
    for (char c : b64) {
      size_t v = kAlphabet.find(c);
      if (v == std::string::npos) continue;  // '=' and whitespace
      acc = (acc << 6) | static_cast<uint32_t>(v);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        der.push_back(static_cast<uint8_t>(acc >> bits));
      }
    }
  }
  ASSERT_EQ(der.size(), 1677u);
  CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
  CK_CERTIFICATE_TYPE ct = CKC_X_509;
  CK_BBOOL t = CK_TRUE, f = CK_FALSE;
  char label[] = "milan-ask";
  Hex id = {0x42};
  // The subject is given as PKCS#11 2.40 requires; issuer and serial are read from the DER.
  Hex subject;
  {
    // vhsmd fills CKA_SUBJECT from the DER when absent; read it from a session object, then pass
    // it explicitly below as pkcs11-tool does.
    CK_ATTRIBUTE probe[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)},
                            {CKA_VALUE, der.data(), der.size()}};
    CK_OBJECT_HANDLE h = 0;
    CK_RV rv = F()->C_CreateObject(s_, probe, 3, &h);
    if (g->softhsm && rv == CKR_TEMPLATE_INCOMPLETE) GTEST_SKIP() << "SoftHSM2 requires CKA_SUBJECT";
    ASSERT_EQ(rv, CKR_OK);
    subject = Value(h, CKA_SUBJECT);
    ASSERT_EQ(F()->C_DestroyObject(s_, h), CKR_OK);
  }
  EXPECT_NE(std::string(subject.begin(), subject.end()).find("SEV-Milan"), std::string::npos);
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                         {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)},
                         {CKA_TOKEN, &t, 1},
                         {CKA_PRIVATE, &f, 1},
                         {CKA_LABEL, label, sizeof(label) - 1},
                         {CKA_ID, id.data(), id.size()},
                         {CKA_SUBJECT, subject.data(), subject.size()},
                         {CKA_VALUE, der.data(), der.size()}};
  CK_OBJECT_HANDLE cert = 0;
  ASSERT_EQ(F()->C_CreateObject(s_, tmpl, 8, &cert), CKR_OK);
  std::vector<CK_OBJECT_HANDLE> found = Find({{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, label, sizeof(label) - 1}});
  EXPECT_THAT(found, ::testing::ElementsAre(cert));
  EXPECT_EQ(Value(cert, CKA_VALUE), der);
  EXPECT_EQ(Value(cert, CKA_SERIAL_NUMBER), H("0203010001"));
  Hex issuer = Value(cert, CKA_ISSUER);
  EXPECT_NE(std::string(issuer.begin(), issuer.end()).find("ARK-Milan"), std::string::npos);
  CK_ULONG got_type = 0;
  CK_ATTRIBUTE ta = {CKA_CERTIFICATE_TYPE, &got_type, sizeof(got_type)};
  ASSERT_EQ(F()->C_GetAttributeValue(s_, cert, &ta, 1), CKR_OK);
  EXPECT_EQ(got_type, CKC_X_509);
  // Not a certificate.
  Hex junk(der.begin(), der.begin() + 100);
  CK_ATTRIBUTE bad[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_CERTIFICATE_TYPE, &ct, sizeof(ct)},
                        {CKA_SUBJECT, subject.data(), subject.size()}, {CKA_VALUE, junk.data(), junk.size()}};
  CK_OBJECT_HANDLE b = 0;
  CK_RV rv = F()->C_CreateObject(s_, bad, 4, &b);
  if (!g->softhsm) {
    EXPECT_EQ(rv, CKR_ATTRIBUTE_VALUE_INVALID);
  }
  ASSERT_EQ(F()->C_DestroyObject(s_, cert), CKR_OK);
}

// ---- multi-part operations beyond the former 2 MiB client buffer ----

class MultiPartTest : public KeyMgmtTest {
 protected:
  // 5 MiB of i % 251, fed in 64 KiB pieces (the known answers were computed with Python).
  static const Hex& Data() {
    static const Hex d = [] {
      Hex v(5u << 20);
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(i % 251);
      return v;
    }();
    return d;
  }
  template <typename UpdateFn>
  static void Feed(const Hex& data, UpdateFn update) {
    constexpr size_t kPiece = 64u << 10;
    for (size_t off = 0; off < data.size(); off += kPiece) {
      const CK_ULONG n = static_cast<CK_ULONG>(std::min(kPiece, data.size() - off));
      ASSERT_EQ(update(const_cast<uint8_t*>(data.data()) + off, n), CKR_OK) << "at offset " << off;
    }
  }
};

TEST_F(MultiPartTest, DigestAndHmacOf5MiB) {
  CK_MECHANISM sha = {CKM_SHA256, nullptr, 0};
  ASSERT_EQ(F()->C_DigestInit(s_, &sha), CKR_OK);
  Feed(Data(), [&](CK_BYTE_PTR p, CK_ULONG n) { return F()->C_DigestUpdate(s_, p, n); });
  Hex d(32);
  CK_ULONG len = d.size();
  ASSERT_EQ(F()->C_DigestFinal(s_, d.data(), &len), CKR_OK);
  EXPECT_EQ(d, H("16b632f11cf950dda67dc4c184a3f9e0aa1ffa4c18927bb8977e7da97ca25bca"));
  Hex key(32);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i);
  CK_OBJECT_HANDLE k = ImportSecret(CKK_GENERIC_SECRET, key, false);
  CK_MECHANISM hmac = {CKM_SHA256_HMAC, nullptr, 0};
  ASSERT_EQ(F()->C_SignInit(s_, &hmac, k), CKR_OK);
  Feed(Data(), [&](CK_BYTE_PTR p, CK_ULONG n) { return F()->C_SignUpdate(s_, p, n); });
  Hex mac(32);
  len = mac.size();
  ASSERT_EQ(F()->C_SignFinal(s_, mac.data(), &len), CKR_OK);
  EXPECT_EQ(mac, H("399015a5853a5fabcad6eec0624c033a59d97d01e6c34e137c17de2d1f15979e"));
  ASSERT_EQ(F()->C_VerifyInit(s_, &hmac, k), CKR_OK);
  Feed(Data(), [&](CK_BYTE_PTR p, CK_ULONG n) { return F()->C_VerifyUpdate(s_, p, n); });
  mac[0] ^= 1;
  EXPECT_EQ(F()->C_VerifyFinal(s_, mac.data(), mac.size()), CKR_SIGNATURE_INVALID);
}

TEST_F(MultiPartTest, EcdsaSignVerifyOf5MiB) {
  CK_OBJECT_HANDLE pub, priv;
  GenEc(kP256, &pub, &priv);
  CK_MECHANISM m = {CKM_ECDSA_SHA256, nullptr, 0};
  if (!Has(m.mechanism)) GTEST_SKIP() << "no CKM_ECDSA_SHA256";
  ASSERT_EQ(F()->C_SignInit(s_, &m, priv), CKR_OK);
  Feed(Data(), [&](CK_BYTE_PTR p, CK_ULONG n) { return F()->C_SignUpdate(s_, p, n); });
  Hex sig(64);
  CK_ULONG len = sig.size();
  ASSERT_EQ(F()->C_SignFinal(s_, sig.data(), &len), CKR_OK);
  ASSERT_EQ(len, 64u);
  // Verified single-part with the hash-then-sign mechanism over the digest (CKM_ECDSA).
  CK_MECHANISM raw = {CKM_ECDSA, nullptr, 0};
  Hex digest = H("16b632f11cf950dda67dc4c184a3f9e0aa1ffa4c18927bb8977e7da97ca25bca");
  ASSERT_EQ(F()->C_VerifyInit(s_, &raw, pub), CKR_OK);
  EXPECT_EQ(F()->C_Verify(s_, digest.data(), digest.size(), sig.data(), sig.size()), CKR_OK);
  ASSERT_EQ(F()->C_VerifyInit(s_, &m, pub), CKR_OK);
  Feed(Data(), [&](CK_BYTE_PTR p, CK_ULONG n) { return F()->C_VerifyUpdate(s_, p, n); });
  EXPECT_EQ(F()->C_VerifyFinal(s_, sig.data(), sig.size()), CKR_OK);
}

TEST_F(MultiPartTest, AesCbcPadAndGcmEncryptDecryptOf5MiB) {
  CK_OBJECT_HANDLE k = GenAes(32);
  Hex iv(16, 0x24);
  Hex gcm_iv(12, 0x42);
  CK_GCM_PARAMS gp = {gcm_iv.data(), gcm_iv.size(), gcm_iv.size() * 8, nullptr, 0, 128};
  std::vector<CK_MECHANISM> mechs = {{CKM_AES_CBC_PAD, iv.data(), iv.size()}, {CKM_AES_GCM, &gp, sizeof(gp)}};
  for (CK_MECHANISM& m : mechs) {
    // Multi-part encrypt: collect whatever each call returns.
    Hex ct;
    ASSERT_EQ(F()->C_EncryptInit(s_, &m, k), CKR_OK);
    Hex out(Data().size() + 64);
    Feed(Data(), [&](CK_BYTE_PTR p, CK_ULONG n) {
      CK_ULONG olen = static_cast<CK_ULONG>(out.size());
      CK_RV rv = F()->C_EncryptUpdate(s_, p, n, out.data(), &olen);
      if (rv == CKR_OK) ct.insert(ct.end(), out.begin(), out.begin() + static_cast<long>(olen));
      return rv;
    });
    CK_ULONG olen = static_cast<CK_ULONG>(out.size());
    ASSERT_EQ(F()->C_EncryptFinal(s_, out.data(), &olen), CKR_OK) << std::hex << m.mechanism;
    ct.insert(ct.end(), out.begin(), out.begin() + static_cast<long>(olen));
    EXPECT_EQ(ct.size(), Data().size() + 16);  // CBC_PAD: one padding block; GCM: the tag
    // Same as single-part.
    ASSERT_EQ(F()->C_EncryptInit(s_, &m, k), CKR_OK);
    Hex one(Data().size() + 64);
    CK_ULONG one_len = static_cast<CK_ULONG>(one.size());
    ASSERT_EQ(F()->C_Encrypt(s_, const_cast<uint8_t*>(Data().data()), Data().size(), one.data(), &one_len), CKR_OK);
    one.resize(one_len);
    EXPECT_EQ(one, ct) << std::hex << m.mechanism;
    // Multi-part decrypt gives the data back.
    Hex pt;
    ASSERT_EQ(F()->C_DecryptInit(s_, &m, k), CKR_OK);
    Hex pout(ct.size() + 64);
    Feed(ct, [&](CK_BYTE_PTR p, CK_ULONG n) {
      CK_ULONG plen = static_cast<CK_ULONG>(pout.size());
      CK_RV rv = F()->C_DecryptUpdate(s_, p, n, pout.data(), &plen);
      if (rv == CKR_OK) pt.insert(pt.end(), pout.begin(), pout.begin() + static_cast<long>(plen));
      return rv;
    });
    CK_ULONG plen = static_cast<CK_ULONG>(pout.size());
    ASSERT_EQ(F()->C_DecryptFinal(s_, pout.data(), &plen), CKR_OK) << std::hex << m.mechanism;
    pt.insert(pt.end(), pout.begin(), pout.begin() + static_cast<long>(plen));
    EXPECT_TRUE(pt == Data()) << std::hex << m.mechanism;
  }
}

TEST(InterfaceTest, GetInterfaceOffersPkcs11V3AndV240) {
  using GetList = CK_RV (*)(VhsmCkInterface*, CK_ULONG_PTR);
  using Get = CK_RV (*)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, VhsmCkInterface**, CK_FLAGS);
  auto get_list = reinterpret_cast<GetList>(dlsym(g->mod.handle, "C_GetInterfaceList"));
  auto get = reinterpret_cast<Get>(dlsym(g->mod.handle, "C_GetInterface"));
  if (g->softhsm && get == nullptr) GTEST_SKIP() << "SoftHSM2 2.6 is a 2.40 module";
  ASSERT_NE(get_list, nullptr);
  ASSERT_NE(get, nullptr);
  CK_ULONG n = 0;
  ASSERT_EQ(get_list(nullptr, &n), CKR_OK);
  ASSERT_GE(n, 1u);
  std::vector<VhsmCkInterface> list(n);
  ASSERT_EQ(get_list(list.data(), &n), CKR_OK);
  VhsmCkInterface* iface = nullptr;
  ASSERT_EQ(get(nullptr, nullptr, &iface, 0), CKR_OK);  // the default interface
  ASSERT_NE(iface, nullptr);
  EXPECT_STREQ(reinterpret_cast<const char*>(iface->pInterfaceName), "PKCS 11");
  auto* v3 = static_cast<VhsmCkFunctionList30*>(iface->pFunctionList);
  EXPECT_EQ(v3->v240.version.major, 3);
  EXPECT_EQ(v3->v240.version.minor, 0);
  // The 3.0 list works like the 2.40 one and carries the 3.0 entry points.
  ASSERT_EQ(v3->v240.C_Initialize(nullptr), CKR_OK);
  CK_INFO info;
  EXPECT_EQ(v3->v240.C_GetInfo(&info), CKR_OK);
  CK_SLOT_ID slot = FindSlot(&v3->v240, kLabel, false);
  CK_SESSION_HANDLE s = 0;
  ASSERT_EQ(v3->v240.C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &s), CKR_OK);
  EXPECT_EQ(v3->C_LoginUser(s, CKU_USER, U(kUserPin), L(kUserPin), nullptr, 0), CKR_OK);
  EXPECT_EQ(v3->C_SessionCancel(s, CKF_SIGN), CKR_OK);
  EXPECT_EQ(v3->C_MessageEncryptInit(s, nullptr, 0), CKR_FUNCTION_NOT_SUPPORTED);
  EXPECT_EQ(v3->C_GetInterface, get);
  EXPECT_EQ(v3->v240.C_Finalize(nullptr), CKR_OK);
  CK_VERSION v240 = {2, 40};
  ASSERT_EQ(get(U("PKCS 11"), &v240, &iface, 0), CKR_OK);
  EXPECT_EQ(static_cast<CK_FUNCTION_LIST*>(iface->pFunctionList)->version.minor, 40);
  CK_VERSION v99 = {9, 9};
  EXPECT_EQ(get(U("PKCS 11"), &v99, &iface, 0), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(get(U("Vendor thing"), nullptr, &iface, 0), CKR_ARGUMENTS_BAD);
}

}  // namespace
}  // namespace vhsm::p11test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new vhsm::p11test::ConformanceEnv());
  return RUN_ALL_TESTS();
}
