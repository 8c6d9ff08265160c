// vhsm-example-client: an application that uses keys it can never read. It dlopen()s the vHSM's
// PKCS#11 module (libvhsm-pkcs11.so; the daemon is found through VHSM_SOCKET), logs in, finds a
// provisioned AES key by label and encrypts/decrypts with AES-GCM, finds a provisioned EC key pair
// by label and signs/verifies with ECDSA, and shows that reading either key's CKA_VALUE fails with
// CKR_ATTRIBUTE_SENSITIVE. Exit 0 only if all of that happened; 1 otherwise; 2 for usage.
//   vhsm-example-client --module PATH [--pin PIN] [--aes-label L] [--ec-label L]
//                       [--init-token SO_PIN] [--hold-seconds N]
// --init-token initialises the token (label "vhsm-demo") and sets the user PIN, then exits.
// --hold-seconds keeps the session open after the checks (tests scan this process's memory).
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace {

CK_FUNCTION_LIST* f = nullptr;

const char* RvName(CK_RV rv) {
  switch (rv) {
    case CKR_OK: return "CKR_OK";
    case CKR_ATTRIBUTE_SENSITIVE: return "CKR_ATTRIBUTE_SENSITIVE";
    case CKR_ATTRIBUTE_TYPE_INVALID: return "CKR_ATTRIBUTE_TYPE_INVALID";
    case CKR_PIN_INCORRECT: return "CKR_PIN_INCORRECT";
    case CKR_USER_PIN_NOT_INITIALIZED: return "CKR_USER_PIN_NOT_INITIALIZED";
    case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
    case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
    case CKR_SIGNATURE_INVALID: return "CKR_SIGNATURE_INVALID";
    case CKR_ENCRYPTED_DATA_INVALID: return "CKR_ENCRYPTED_DATA_INVALID";
    case CKR_KEY_TYPE_INCONSISTENT: return "CKR_KEY_TYPE_INCONSISTENT";
    case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
    default: return "CKR_?";
  }
}

bool Check(CK_RV rv, const char* what) {
  if (rv == CKR_OK) return true;
  std::fprintf(stderr, "example-client: %s failed: %s (0x%lx)\n", what, RvName(rv), static_cast<unsigned long>(rv));
  return false;
}

CK_UTF8CHAR_PTR U(const std::string& s) {
  return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(s.data()));
}

// The single object of `cls` with this label, or CK_INVALID_HANDLE.
CK_OBJECT_HANDLE FindByLabel(CK_SESSION_HANDLE s, CK_OBJECT_CLASS cls, const std::string& label) {
  CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                         {CKA_LABEL, const_cast<char*>(label.data()), label.size()}};
  if (!Check(f->C_FindObjectsInit(s, tmpl, 2), "C_FindObjectsInit")) return CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE h[2];
  CK_ULONG n = 0;
  CK_RV rv = f->C_FindObjects(s, h, 2, &n);
  f->C_FindObjectsFinal(s);
  if (!Check(rv, "C_FindObjects")) return CK_INVALID_HANDLE;
  if (n != 1) {
    std::fprintf(stderr, "example-client: want exactly one object labelled \"%s\", found %lu\n", label.c_str(),
                 static_cast<unsigned long>(n));
    return CK_INVALID_HANDLE;
  }
  return h[0];
}

std::string VendorString(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t) {
  char buf[256];
  CK_ATTRIBUTE a = {t, buf, sizeof(buf)};
  if (f->C_GetAttributeValue(s, h, &a, 1) != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION) return "?";
  return std::string(buf, a.ulValueLen);
}

// Reading CKA_VALUE must be refused; returns true when it was (CKR_ATTRIBUTE_SENSITIVE).
bool ValueIsSensitive(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const char* name) {
  unsigned char buf[4096];
  CK_ATTRIBUTE a = {CKA_VALUE, buf, sizeof(buf)};
  CK_RV rv = f->C_GetAttributeValue(s, h, &a, 1);
  std::printf("  C_GetAttributeValue(%s, CKA_VALUE) -> %s%s\n", name, RvName(rv),
              rv == CKR_ATTRIBUTE_SENSITIVE ? " (as required: the key never leaves vhsmd)" : "  <-- WRONG");
  return rv == CKR_ATTRIBUTE_SENSITIVE && a.ulValueLen == CK_UNAVAILABLE_INFORMATION;
}

double Ms(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string module, pin = "1234", aes_label = "demo-aes", ec_label = "demo-ec", init_so;
  int hold = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--module") module = val();
    else if (a == "--pin") pin = val();
    else if (a == "--aes-label") aes_label = val();
    else if (a == "--ec-label") ec_label = val();
    else if (a == "--init-token") init_so = val();
    else if (a == "--hold-seconds") hold = std::atoi(val().c_str());
    else {
      std::fprintf(stderr, "usage: vhsm-example-client --module PATH [--pin PIN] [--aes-label L] [--ec-label L] "
                           "[--init-token SO_PIN] [--hold-seconds N]\n");
      return 2;
    }
  }
  if (module.empty()) {
    std::fprintf(stderr, "example-client: --module PATH is required (build/lib/libvhsm-pkcs11.so)\n");
    return 2;
  }
  void* lib = dlopen(module.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    std::fprintf(stderr, "example-client: dlopen %s: %s\n", module.c_str(), dlerror());
    return 2;
  }
  auto get = reinterpret_cast<CK_RV (*)(CK_FUNCTION_LIST_PTR_PTR)>(dlsym(lib, "C_GetFunctionList"));
  if (get == nullptr || get(&f) != CKR_OK) {
    std::fprintf(stderr, "example-client: no C_GetFunctionList in %s\n", module.c_str());
    return 2;
  }
  if (!Check(f->C_Initialize(nullptr), "C_Initialize")) return 1;
  CK_SLOT_ID slots[4];
  CK_ULONG nslots = 4;
  if (!Check(f->C_GetSlotList(CK_TRUE, slots, &nslots), "C_GetSlotList") || nslots == 0) return 1;
  const CK_SLOT_ID slot = slots[0];
  CK_SESSION_HANDLE s = 0;

  if (!init_so.empty()) {
    CK_UTF8CHAR label[32];
    std::memset(label, ' ', sizeof(label));
    std::memcpy(label, "vhsm-demo", 9);
    if (!Check(f->C_InitToken(slot, U(init_so), init_so.size(), label), "C_InitToken")) return 1;
    if (!Check(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s), "C_OpenSession"))
      return 1;
    if (!Check(f->C_Login(s, CKU_SO, U(init_so), init_so.size()), "C_Login(SO)")) return 1;
    if (!Check(f->C_InitPIN(s, U(pin), pin.size()), "C_InitPIN")) return 1;
    f->C_Logout(s);
    f->C_CloseSession(s);
    f->C_Finalize(nullptr);
    std::printf("token initialised (label vhsm-demo, user PIN set)\n");
    return 0;
  }

  auto t6 = std::chrono::steady_clock::now();
  if (!Check(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s), "C_OpenSession"))
    return 1;
  if (!Check(f->C_Login(s, CKU_USER, U(pin), pin.size()), "C_Login(USER)")) return 1;
  bool all_ok = true;

  // AES-256-GCM with the provisioned key, by handle.
  CK_OBJECT_HANDLE aes = FindByLabel(s, CKO_SECRET_KEY, aes_label);
  if (aes == CK_INVALID_HANDLE) return 1;
  std::printf("  found AES key \"%s\" (handle %lu, resource %s, token jti %s)\n", aes_label.c_str(),
              static_cast<unsigned long>(aes), VendorString(s, aes, CKA_VENDOR_DEFINED | 0x56480001UL).c_str(),
              VendorString(s, aes, CKA_VENDOR_DEFINED | 0x56480002UL).c_str());
  unsigned char iv[12];
  if (!Check(f->C_GenerateRandom(s, iv, sizeof(iv)), "C_GenerateRandom")) return 1;
  unsigned char aad[] = "vhsm example";
  CK_GCM_PARAMS gcm = {iv, sizeof(iv), sizeof(iv) * 8, aad, sizeof(aad) - 1, 128};
  CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof(gcm)};
  const std::string msg = "attack at dawn: the application never sees the key";
  std::vector<unsigned char> ct(msg.size() + 16), pt(msg.size() + 16);
  CK_ULONG ct_len = ct.size(), pt_len = pt.size();
  all_ok &= Check(f->C_EncryptInit(s, &mech, aes), "C_EncryptInit") &&
            Check(f->C_Encrypt(s, reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(msg.data())), msg.size(), ct.data(),
                               &ct_len),
                  "C_Encrypt");
  all_ok &= Check(f->C_DecryptInit(s, &mech, aes), "C_DecryptInit") &&
            Check(f->C_Decrypt(s, ct.data(), ct_len, pt.data(), &pt_len), "C_Decrypt");
  const bool round_trip = all_ok && pt_len == msg.size() && std::memcmp(pt.data(), msg.data(), msg.size()) == 0;
  std::printf("  AES-GCM encrypt %zu bytes -> %lu bytes (ciphertext+tag), decrypt -> %s\n", msg.size(),
              static_cast<unsigned long>(ct_len), round_trip ? "original plaintext" : "MISMATCH");
  all_ok &= round_trip;
  // A flipped ciphertext bit must fail authentication.
  if (round_trip) {
    ct[0] ^= 1;
    pt_len = pt.size();
    CK_RV rv = f->C_DecryptInit(s, &mech, aes);
    if (rv == CKR_OK) rv = f->C_Decrypt(s, ct.data(), ct_len, pt.data(), &pt_len);
    std::printf("  AES-GCM decrypt of a tampered ciphertext -> %s\n", RvName(rv));
    all_ok &= rv != CKR_OK;
  }

  // ECDSA with the provisioned EC key pair.
  CK_OBJECT_HANDLE ec_priv = FindByLabel(s, CKO_PRIVATE_KEY, ec_label);
  CK_OBJECT_HANDLE ec_pub = FindByLabel(s, CKO_PUBLIC_KEY, ec_label);
  if (ec_priv == CK_INVALID_HANDLE || ec_pub == CK_INVALID_HANDLE) return 1;
  CK_MECHANISM ecdsa = {CKM_ECDSA_SHA256, nullptr, 0};
  unsigned char sig[256];
  CK_ULONG sig_len = sizeof(sig);
  bool signed_ok = Check(f->C_SignInit(s, &ecdsa, ec_priv), "C_SignInit") &&
                   Check(f->C_Sign(s, reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(msg.data())), msg.size(), sig,
                                   &sig_len),
                         "C_Sign");
  bool verified = signed_ok && Check(f->C_VerifyInit(s, &ecdsa, ec_pub), "C_VerifyInit") &&
                  Check(f->C_Verify(s, reinterpret_cast<CK_BYTE_PTR>(const_cast<char*>(msg.data())), msg.size(), sig,
                                    sig_len),
                        "C_Verify");
  std::printf("  found EC key pair \"%s\"; ECDSA-SHA256 sign -> %lu-byte signature, verify -> %s\n", ec_label.c_str(),
              static_cast<unsigned long>(sig_len), verified ? "valid" : "FAILED");
  all_ok &= verified;
  if (verified) {
    std::string other = msg + "!";
    CK_RV rv = f->C_VerifyInit(s, &ecdsa, ec_pub);
    if (rv == CKR_OK) {
      rv = f->C_Verify(s, reinterpret_cast<CK_BYTE_PTR>(other.data()), other.size(), sig, sig_len);
    }
    std::printf("  verify of the signature over a different message -> %s\n", RvName(rv));
    all_ok &= rv == CKR_SIGNATURE_INVALID;
  }

  all_ok &= ValueIsSensitive(s, aes, "AES key");
  all_ok &= ValueIsSensitive(s, ec_priv, "EC private key");
  std::printf("  step 6 took %.1f ms (login, find, encrypt/decrypt, sign/verify, attribute reads)\n", Ms(t6));

  if (hold > 0) {
    std::printf("holding the session for %d s (pid %d)\n", hold, static_cast<int>(getpid()));
    std::fflush(stdout);
    sleep(static_cast<unsigned>(hold));
  }
  f->C_Logout(s);
  f->C_CloseSession(s);
  f->C_Finalize(nullptr);
  std::printf("%s\n", all_ok ? "example-client: all checks passed" : "example-client: SOME CHECKS FAILED");
  return all_ok ? 0 : 1;
}
