// pkcs11_bench: PKCS#11 throughput tool that loads any module (dlopen + C_GetFunctionList) and
// measures ops/s of ECDSA P-256 sign (CKM_ECDSA over a 32-byte hash), RSA-2048 sign
// (CKM_SHA256_RSA_PKCS), AES-256-GCM encrypt of 4 KiB and HMAC-SHA256 of 64 bytes, each with
// Init + op per iteration, with N client threads (one session each). Initialises a token
// labelled "bench" if the module has no initialised token.
// With --ops objects: token AES key creation rate and C_FindObjects-by-label latency.
// With --raw instead of --module: the same four operations straight on OpenSSL 3 in this process
// (prepared key, one context per thread, the same per-operation init a module performs), the
// baseline that pkcs11_compare.sh prints the modules' ratios against.
//   pkcs11_bench --module PATH | --raw [--threads N] [--seconds S] [--ops ecdsa,rsa,gcm,hmac,objects]
//                [--objects N]
#include <dlfcn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace {

CK_FUNCTION_LIST_PTR f = nullptr;
const char kSo[] = "bench-so-pin", kPin[] = "bench-pin";
CK_UTF8CHAR_PTR U(const char* s) { return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(s)); }

#define CHECK_RV(expr)                                                              \
  do {                                                                              \
    CK_RV rv_ = (expr);                                                             \
    if (rv_ != CKR_OK) {                                                            \
      std::fprintf(stderr, "%s failed: 0x%lx\n", #expr, static_cast<unsigned long>(rv_)); \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (0)

CK_SLOT_ID PrepareToken() {
  CK_ULONG n = 0;
  CHECK_RV(f->C_GetSlotList(CK_TRUE, nullptr, &n));
  std::vector<CK_SLOT_ID> slots(n);
  CHECK_RV(f->C_GetSlotList(CK_TRUE, slots.data(), &n));
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO ti;
    CHECK_RV(f->C_GetTokenInfo(s, &ti));
    if ((ti.flags & CKF_TOKEN_INITIALIZED) && std::memcmp(ti.label, "bench ", 6) == 0) return s;
  }
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', 32);
  std::memcpy(label, "bench", 5);
  CHECK_RV(f->C_InitToken(slots[0], U(kSo), std::strlen(kSo), label));
  CHECK_RV(f->C_GetSlotList(CK_TRUE, nullptr, &n));
  slots.resize(n);
  CHECK_RV(f->C_GetSlotList(CK_TRUE, slots.data(), &n));
  CK_SLOT_ID slot = slots[0];
  for (CK_SLOT_ID s : slots) {
    CK_TOKEN_INFO ti;
    CHECK_RV(f->C_GetTokenInfo(s, &ti));
    if (std::memcmp(ti.label, "bench ", 6) == 0) slot = s;
  }
  CK_SESSION_HANDLE h;
  CHECK_RV(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &h));
  CHECK_RV(f->C_Login(h, CKU_SO, U(kSo), std::strlen(kSo)));
  CHECK_RV(f->C_InitPIN(h, U(kPin), std::strlen(kPin)));
  CHECK_RV(f->C_Logout(h));
  CHECK_RV(f->C_CloseSession(h));
  return slot;
}

struct Keys {
  CK_OBJECT_HANDLE ec = 0, rsa = 0, aes = 0, hmac = 0;
};

Keys MakeKeys(CK_SESSION_HANDLE s) {
  Keys k;
  CK_BBOOL t = CK_TRUE, fls = CK_FALSE;
  CK_OBJECT_HANDLE pub;
  {
    CK_BYTE oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_MECHANISM m = {CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    CK_ATTRIBUTE pt[] = {{CKA_EC_PARAMS, oid, sizeof(oid)}, {CKA_TOKEN, &fls, 1}};
    CK_ATTRIBUTE st[] = {{CKA_SIGN, &t, 1}, {CKA_SENSITIVE, &t, 1}, {CKA_TOKEN, &fls, 1}};
    CHECK_RV(f->C_GenerateKeyPair(s, &m, pt, 2, st, 3, &pub, &k.ec));
  }
  {
    CK_ULONG bits = 2048;
    CK_BYTE e[] = {1, 0, 1};
    CK_MECHANISM m = {CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
    CK_ATTRIBUTE pt[] = {{CKA_MODULUS_BITS, &bits, sizeof(bits)}, {CKA_PUBLIC_EXPONENT, e, 3}, {CKA_TOKEN, &fls, 1}};
    CK_ATTRIBUTE st[] = {{CKA_SIGN, &t, 1}, {CKA_SENSITIVE, &t, 1}, {CKA_TOKEN, &fls, 1}};
    CHECK_RV(f->C_GenerateKeyPair(s, &m, pt, 3, st, 3, &pub, &k.rsa));
  }
  {
    CK_ULONG len = 32;
    CK_MECHANISM m = {CKM_AES_KEY_GEN, nullptr, 0};
    CK_ATTRIBUTE a[] = {{CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_ENCRYPT, &t, 1}, {CKA_TOKEN, &fls, 1},
                        {CKA_SENSITIVE, &t, 1}};
    CHECK_RV(f->C_GenerateKey(s, &m, a, 4, &k.aes));
  }
  {
    CK_ULONG len = 32;
    CK_MECHANISM m = {CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
    CK_ATTRIBUTE a[] = {{CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_SIGN, &t, 1}, {CKA_TOKEN, &fls, 1},
                        {CKA_SENSITIVE, &t, 1}};
    CHECK_RV(f->C_GenerateKey(s, &m, a, 4, &k.hmac));
  }
  return k;
}

using OpFn = std::function<CK_RV(CK_SESSION_HANDLE, const Keys&)>;

CK_RV SignOnce(CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE key, CK_BYTE* in, CK_ULONG in_len) {
  CK_MECHANISM m = {mech, nullptr, 0};
  CK_BYTE sig[512];
  CK_ULONG len = sizeof(sig);
  CK_RV rv = f->C_SignInit(s, &m, key);
  return rv != CKR_OK ? rv : f->C_Sign(s, in, in_len, sig, &len);
}

// Runs `op` on `threads` threads for `seconds`; `setup` makes each thread's operation (a callable
// returning false on failure). Prints "name<TAB>threads=N<TAB>R ops/s", or FAILED.
template <class Setup>
void RunTimed(const char* name, int threads, double seconds, Setup setup) {
  std::atomic<long> total{0};
  std::atomic<bool> failed{false};
  std::vector<std::thread> pool;
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      auto op = setup();
      long n = 0;
      while (std::chrono::steady_clock::now() < deadline) {
        for (int i = 0; i < 16; ++i) {
          if (!op()) {
            failed = true;
            return;
          }
          ++n;
        }
      }
      total += n;
    });
  }
  for (auto& th : pool) th.join();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (failed) {
    std::printf("%s\tthreads=%d\tFAILED\n", name, threads);
  } else {
    std::printf("%s\tthreads=%d\t%.0f ops/s\n", name, threads, static_cast<double>(total.load()) / secs);
  }
  std::fflush(stdout);
}

// A module operation on its own session (opened here, closed on destruction; move-only).
class SessionOp {
 public:
  SessionOp(CK_SLOT_ID slot, const OpFn* fn, const Keys* keys) : fn_(fn), keys_(keys) {
    open_ = f->C_OpenSession(slot, CKF_SERIAL_SESSION, nullptr, nullptr, &s_) == CKR_OK;
  }
  SessionOp(SessionOp&& o) noexcept : s_(o.s_), open_(o.open_), fn_(o.fn_), keys_(o.keys_) { o.open_ = false; }
  SessionOp(const SessionOp&) = delete;
  SessionOp& operator=(const SessionOp&) = delete;
  SessionOp& operator=(SessionOp&&) = delete;
  ~SessionOp() {
    if (open_) f->C_CloseSession(s_);
  }
  bool operator()() const { return open_ && (*fn_)(s_, *keys_) == CKR_OK; }

 private:
  CK_SESSION_HANDLE s_ = 0;
  bool open_ = false;
  const OpFn* fn_;
  const Keys* keys_;
};

int RawBaseline(const std::string& ops, int threads, double seconds) {
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  EVP_PKEY* rsa = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048));
  if (ec == nullptr || rsa == nullptr) {
    std::fprintf(stderr, "raw: key generation failed\n");
    return 1;
  }
  static const unsigned char kAes[32] = {1, 2, 3}, kHmac[32] = {4, 5, 6};
  if (ops.find("ecdsa") != std::string::npos) {
    RunTimed("ecdsa", threads, seconds, [&] {
      return [ec] {
        unsigned char hash[32] = {1, 2, 3}, sig[80];
        size_t len = sizeof(sig);
        EVP_PKEY_CTX* c = EVP_PKEY_CTX_new_from_pkey(nullptr, ec, nullptr);
        bool ok = c != nullptr && EVP_PKEY_sign_init(c) == 1 && EVP_PKEY_sign(c, sig, &len, hash, 32) == 1;
        EVP_PKEY_CTX_free(c);
        return ok;
      };
    });
  }
  if (ops.find("rsa") != std::string::npos) {
    RunTimed("rsa", threads, seconds, [&] {
      return [rsa] {
        unsigned char msg[32] = {4}, sig[256];
        size_t len = sizeof(sig);
        EVP_MD_CTX* c = EVP_MD_CTX_new();
        bool ok = c != nullptr && EVP_DigestSignInit_ex(c, nullptr, "SHA256", nullptr, nullptr, rsa, nullptr) == 1 &&
                  EVP_DigestSign(c, sig, &len, msg, 32) == 1;
        EVP_MD_CTX_free(c);
        return ok;
      };
    });
  }
  if (ops.find("gcm") != std::string::npos) {
    RunTimed("gcm", threads, seconds, [&] {
      auto ctx = std::shared_ptr<EVP_CIPHER_CTX>(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
      return [ctx] {
        static thread_local std::vector<unsigned char> in(4096, 7), out(4096 + 16);
        unsigned char iv[12] = {9};
        int len = 0, fin = 0;
        return EVP_EncryptInit_ex2(ctx.get(), EVP_aes_256_gcm(), kAes, iv, nullptr) == 1 &&
               EVP_EncryptUpdate(ctx.get(), out.data(), &len, in.data(), static_cast<int>(in.size())) == 1 &&
               EVP_EncryptFinal_ex(ctx.get(), out.data() + len, &fin) == 1 &&
               EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, out.data() + len + fin) == 1;
      };
    });
  }
  if (ops.find("hmac") != std::string::npos) {
    EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    RunTimed("hmac", threads, seconds, [&] {
      auto ctx = std::shared_ptr<EVP_MAC_CTX>(EVP_MAC_CTX_new(mac), EVP_MAC_CTX_free);
      return [ctx] {
        unsigned char msg[64] = {5}, out[32];
        size_t len = 0;
        char digest[] = "SHA256";
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
        return EVP_MAC_init(ctx.get(), kHmac, sizeof(kHmac), params) == 1 && EVP_MAC_update(ctx.get(), msg, 64) == 1 &&
               EVP_MAC_final(ctx.get(), out, &len, sizeof(out)) == 1;
      };
    });
    EVP_MAC_free(mac);
  }
  EVP_PKEY_free(ec);
  EVP_PKEY_free(rsa);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string module, ops = "ecdsa,rsa,gcm,hmac";
  int threads = 1;
  int objects = 2000;
  double seconds = 2;
  bool raw = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--raw") {
      raw = true;
      continue;
    }
    if (i + 1 >= argc) break;
    if (a == "--module") module = argv[i + 1];
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
    else if (a == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (a == "--ops") ops = argv[i + 1];
    else if (a == "--objects") objects = std::atoi(argv[i + 1]);
    ++i;
  }
  if (raw) return RawBaseline(ops, threads, seconds);
  if (module.empty()) {
    std::fprintf(stderr,
                 "usage: pkcs11_bench --module PATH | --raw [--threads N] [--seconds S] [--ops ecdsa,rsa,gcm,hmac]\n");
    return 2;
  }
  void* h = dlopen(module.c_str(), RTLD_NOW);
  if (h == nullptr) {
    std::fprintf(stderr, "dlopen: %s\n", dlerror());
    return 1;
  }
  auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(h, "C_GetFunctionList"));
  CHECK_RV(get(&f));
  CK_C_INITIALIZE_ARGS init_args = {};
  init_args.flags = CKF_OS_LOCKING_OK;  // threads share the module
  const auto init_start = std::chrono::steady_clock::now();
  CHECK_RV(f->C_Initialize(&init_args));
  CK_SLOT_ID slot = PrepareToken();
  CK_SESSION_HANDLE main_s;
  CHECK_RV(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &main_s));
  CHECK_RV(f->C_Login(main_s, CKU_USER, U(kPin), std::strlen(kPin)));
  std::printf("initialize_open_login\t%.1f ms\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - init_start).count());
  Keys keys = MakeKeys(main_s);

  struct Bench {
    const char* name;
    OpFn fn;
  };
  std::vector<Bench> benches = {
      {"ecdsa", [](CK_SESSION_HANDLE s, const Keys& k) {
         CK_BYTE hash[32] = {1, 2, 3};
         return SignOnce(s, CKM_ECDSA, k.ec, hash, 32);
       }},
      {"rsa", [](CK_SESSION_HANDLE s, const Keys& k) {
         CK_BYTE msg[32] = {4};
         return SignOnce(s, CKM_SHA256_RSA_PKCS, k.rsa, msg, 32);
       }},
      {"gcm", [](CK_SESSION_HANDLE s, const Keys& k) {
         static thread_local std::vector<CK_BYTE> in(4096, 7), out(4096 + 16);
         CK_BYTE iv[12] = {9};
         CK_GCM_PARAMS p = {iv, 12, 96, nullptr, 0, 128};
         CK_MECHANISM m = {CKM_AES_GCM, &p, sizeof(p)};
         CK_ULONG len = out.size();
         CK_RV rv = f->C_EncryptInit(s, &m, k.aes);
         return rv != CKR_OK ? rv : f->C_Encrypt(s, in.data(), in.size(), out.data(), &len);
       }},
      {"hmac", [](CK_SESSION_HANDLE s, const Keys& k) {
         CK_BYTE msg[64] = {5};
         return SignOnce(s, CKM_SHA256_HMAC, k.hmac, msg, 64);
       }},
  };
  for (const Bench& b : benches) {
    if (ops.find(b.name) == std::string::npos) continue;
    // One session per thread, closed when the thread's operation object goes.
    RunTimed(b.name, threads, seconds, [&] { return SessionOp(slot, &b.fn, &keys); });
  }
  if (ops.find("objects") != std::string::npos) {
    // Token-object creation rate, then find-by-label latency among them.
    const int count = objects;
    CK_BBOOL t = CK_TRUE;
    CK_ULONG len = 32;
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, nullptr, 0};
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < count; ++i) {
      std::string label = "bulk-" + std::to_string(i);
      CK_ATTRIBUTE a[] = {{CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_TOKEN, &t, 1},
                          {CKA_LABEL, label.data(), label.size()}};
      CK_OBJECT_HANDLE k;
      CHECK_RV(f->C_GenerateKey(main_s, &gen, a, 3, &k));
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("create_token_aes\tcount=%d\t%.0f objects/s\n", count, count / secs);
    const int finds = 200;
    start = std::chrono::steady_clock::now();
    for (int i = 0; i < finds; ++i) {
      std::string label = "bulk-" + std::to_string((i * 7919) % count);
      CK_ATTRIBUTE q[] = {{CKA_LABEL, label.data(), label.size()}};
      CK_OBJECT_HANDLE found[4];
      CK_ULONG n = 0;
      CHECK_RV(f->C_FindObjectsInit(main_s, q, 1));
      CHECK_RV(f->C_FindObjects(main_s, found, 4, &n));
      CHECK_RV(f->C_FindObjectsFinal(main_s));
      if (n < 1) {
        std::fprintf(stderr, "find: %s not found\n", label.c_str());
        return 1;
      }
    }
    secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("find_by_label\tamong>=%d\t%.3f ms per find\n", count, secs * 1000 / finds);
  }
  f->C_Finalize(nullptr);
  return 0;
}
