#include "vhsm/token.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/rand.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/byte_reader.h"
#include "crypto/ossl_ptr.h"

namespace vhsm::hsm {
namespace {

std::string LabelKey(const Bytes& b) { return std::string(b.begin(), b.end()); }

void CopyPadded(unsigned char* dst, size_t n, std::string_view src) {
  std::memset(dst, ' ', n);
  std::memcpy(dst, src.data(), std::min(n, src.size()));
}

bool IsReadOnlyOnCreate(CK_ATTRIBUTE_TYPE t) {
  switch (t) {
    case CKA_LOCAL: case CKA_ALWAYS_SENSITIVE: case CKA_NEVER_EXTRACTABLE: case CKA_KEY_GEN_MECHANISM:
    case CKA_PUBLIC_KEY_INFO:
      return true;
    default: return false;
  }
}

void SetDefault(AttrMap& m, CK_ATTRIBUTE_TYPE t, Bytes v) { m.emplace(t, std::move(v)); }

// Fills the attribute defaults and derived policy attributes of a generated or imported key.
void ApplyKeyDefaults(Object* o, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, bool local, CK_MECHANISM_TYPE gen) {
  AttrMap& a = o->attrs;
  a[CKA_CLASS] = UlongValue(cls);
  a[CKA_KEY_TYPE] = UlongValue(kt);
  SetDefault(a, CKA_TOKEN, BoolValue(false));
  SetDefault(a, CKA_PRIVATE, BoolValue(cls != CKO_PUBLIC_KEY));
  SetDefault(a, CKA_MODIFIABLE, BoolValue(true));
  SetDefault(a, CKA_COPYABLE, BoolValue(true));
  SetDefault(a, CKA_DESTROYABLE, BoolValue(true));
  SetDefault(a, CKA_LABEL, Bytes());
  SetDefault(a, CKA_ID, Bytes());
  SetDefault(a, CKA_START_DATE, Bytes());
  SetDefault(a, CKA_END_DATE, Bytes());
  SetDefault(a, CKA_DERIVE, BoolValue(false));
  a[CKA_LOCAL] = BoolValue(local);
  a[CKA_KEY_GEN_MECHANISM] = UlongValue(local ? gen : CK_UNAVAILABLE_INFORMATION);
  const bool rsa = kt == CKK_RSA;
  const bool aes = kt == CKK_AES;
  if (cls == CKO_PUBLIC_KEY) {
    SetDefault(a, CKA_VERIFY, BoolValue(true));
    SetDefault(a, CKA_ENCRYPT, BoolValue(rsa));
    SetDefault(a, CKA_WRAP, BoolValue(rsa));
    SetDefault(a, CKA_VERIFY_RECOVER, BoolValue(false));
    SetDefault(a, CKA_TRUSTED, BoolValue(false));
    SetDefault(a, CKA_SUBJECT, Bytes());
    return;
  }
  if (cls == CKO_PRIVATE_KEY) {
    SetDefault(a, CKA_SIGN, BoolValue(true));
    SetDefault(a, CKA_DECRYPT, BoolValue(rsa));
    SetDefault(a, CKA_UNWRAP, BoolValue(rsa));
    SetDefault(a, CKA_SIGN_RECOVER, BoolValue(false));
    SetDefault(a, CKA_ALWAYS_AUTHENTICATE, BoolValue(false));
    SetDefault(a, CKA_SUBJECT, Bytes());
  } else {
    SetDefault(a, CKA_SIGN, BoolValue(true));
    SetDefault(a, CKA_VERIFY, BoolValue(true));
    SetDefault(a, CKA_ENCRYPT, BoolValue(aes));
    SetDefault(a, CKA_DECRYPT, BoolValue(aes));
    SetDefault(a, CKA_WRAP, BoolValue(aes));
    SetDefault(a, CKA_UNWRAP, BoolValue(aes));
    SetDefault(a, CKA_TRUSTED, BoolValue(false));
    a[CKA_VALUE_LEN] = UlongValue(o->secret.size());
  }
  // Conservative token defaults: keys are sensitive and not extractable unless asked.
  SetDefault(a, CKA_SENSITIVE, BoolValue(true));
  SetDefault(a, CKA_EXTRACTABLE, BoolValue(false));
  SetDefault(a, CKA_WRAP_WITH_TRUSTED, BoolValue(false));
  a[CKA_ALWAYS_SENSITIVE] = BoolValue(local && o->GetBool(CKA_SENSITIVE));
  a[CKA_NEVER_EXTRACTABLE] = BoolValue(local && !o->GetBool(CKA_EXTRACTABLE));
}

// Checks a keygen template against the class/key type the mechanism produces.
CK_RV CheckKeyTemplate(const AttrMap& t, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt) {
  for (const auto& [type, value] : t) {
    if (IsReadOnlyOnCreate(type) || IsSecretComponent(cls, type)) return CKR_ATTRIBUTE_READ_ONLY;
    if (type == CKA_CLASS) {
      CK_ULONG v;
      std::memcpy(&v, value.data(), sizeof(v));
      if (v != cls) return CKR_TEMPLATE_INCONSISTENT;
    }
    if (type == CKA_KEY_TYPE) {
      CK_ULONG v;
      std::memcpy(&v, value.data(), sizeof(v));
      if (v != kt) return CKR_TEMPLATE_INCONSISTENT;
    }
    if ((type == CKA_MODULUS || type == CKA_EC_POINT) && cls != CKO_SECRET_KEY) return CKR_ATTRIBUTE_READ_ONLY;
  }
  return CKR_OK;
}

// CKA_TRUSTED may only be set to TRUE by the SO (PKCS#11 2.40 sec. 4.7/4.8/4.9).
CK_RV CheckTrusted(const AttrMap& t, CK_USER_TYPE login) {
  auto it = t.find(CKA_TRUSTED);
  if (it != t.end() && it->second[0] != CK_FALSE && login != CKU_SO) return CKR_ATTRIBUTE_READ_ONLY;
  return CKR_OK;
}

CK_RV MechanismFor(const Engine& e, CK_MECHANISM_TYPE type, CK_FLAGS need) {
  const MechanismEntry* m = e.FindMechanism(type);
  return m != nullptr && (m->flags & need) != 0 ? CKR_OK : CKR_MECHANISM_INVALID;
}

std::optional<CK_ULONG> UlongOf(const AttrMap& t, CK_ATTRIBUTE_TYPE type) {
  auto it = t.find(type);
  if (it == t.end()) return std::nullopt;
  CK_ULONG v;
  std::memcpy(&v, it->second.data(), sizeof(v));
  return v;
}

// DER of an X509_NAME / ASN1_INTEGER as PKCS#11 stores them (CKA_SUBJECT, CKA_SERIAL_NUMBER).
template <typename T, int (*I2d)(const T*, unsigned char**)>
Bytes ToDer(const T* v) {
  const int n = I2d(v, nullptr);
  if (n <= 0) return {};
  Bytes out(static_cast<size_t>(n));
  unsigned char* p = out.data();
  I2d(v, &p);
  return out;
}

// C_CreateObject of an X.509 public-key certificate (PKCS#11 2.40 sec. 4.6.3): CKA_VALUE must be
// one DER certificate (CKR_ATTRIBUTE_VALUE_INVALID otherwise); CKA_SUBJECT, CKA_ISSUER and
// CKA_SERIAL_NUMBER default to the certificate's own fields; CKA_CHECK_VALUE is the first three
// bytes of SHA-1 over CKA_VALUE. A certificate is public data: it is not sensitive.
CK_RV FillCertificate(Object* o) {
  AttrMap& a = o->attrs;
  std::optional<CK_ULONG> ct = UlongOf(a, CKA_CERTIFICATE_TYPE);
  auto value = a.find(CKA_VALUE);
  if (!ct || value == a.end()) return CKR_TEMPLATE_INCOMPLETE;
  if (*ct != CKC_X_509) return CKR_ATTRIBUTE_VALUE_INVALID;
  const uint8_t* p = value->second.data();
  crypto::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(value->second.size())));
  if (!cert || p != value->second.data() + value->second.size()) {
    ERR_clear_error();
    return CKR_ATTRIBUTE_VALUE_INVALID;
  }
  // Digest first: `value` points into `a`, and inserting into `a` (FlatMap) invalidates it.
  uint8_t sha1[EVP_MAX_MD_SIZE];
  unsigned int sha1_len = 0;
  if (EVP_Digest(value->second.data(), value->second.size(), sha1, &sha1_len, EVP_sha1(), nullptr) != 1) {
    ERR_clear_error();
    return CKR_FUNCTION_FAILED;
  }
  SetDefault(a, CKA_SUBJECT, ToDer<X509_NAME, i2d_X509_NAME>(X509_get_subject_name(cert.get())));
  SetDefault(a, CKA_ISSUER, ToDer<X509_NAME, i2d_X509_NAME>(X509_get_issuer_name(cert.get())));
  SetDefault(a, CKA_SERIAL_NUMBER, ToDer<ASN1_INTEGER, i2d_ASN1_INTEGER>(X509_get0_serialNumber(cert.get())));
  a[CKA_CHECK_VALUE] = Bytes(sha1, sha1 + 3);
  SetDefault(a, CKA_TOKEN, BoolValue(false));
  SetDefault(a, CKA_PRIVATE, BoolValue(false));
  SetDefault(a, CKA_MODIFIABLE, BoolValue(true));
  SetDefault(a, CKA_COPYABLE, BoolValue(true));
  SetDefault(a, CKA_DESTROYABLE, BoolValue(true));
  SetDefault(a, CKA_LABEL, Bytes());
  SetDefault(a, CKA_ID, Bytes());
  SetDefault(a, CKA_TRUSTED, BoolValue(false));
  SetDefault(a, CKA_CERTIFICATE_CATEGORY, UlongValue(0));  // unspecified
  SetDefault(a, CKA_START_DATE, Bytes());
  SetDefault(a, CKA_END_DATE, Bytes());
  SetDefault(a, CKA_URL, Bytes());
  SetDefault(a, CKA_HASH_OF_SUBJECT_PUBLIC_KEY, Bytes());
  SetDefault(a, CKA_HASH_OF_ISSUER_PUBLIC_KEY, Bytes());
  return CKR_OK;
}

// CKA_UNWRAP_TEMPLATE / CKA_DERIVE_TEMPLATE of `key` applied to the template of the key it
// creates (PKCS#11 2.40 sec. 4.8, 4.9 and 5.17): every attribute of the key's template is added to
// `tmpl`; one that `tmpl` already gives with another value is CKR_TEMPLATE_INCONSISTENT.
CK_RV ApplyKeyTemplate(const Object& key, CK_ATTRIBUTE_TYPE which, AttrMap* tmpl) {
  AttrMap forced;
  if (ParseAttrArray(key.Get(which), &forced) != CKR_OK) return CKR_GENERAL_ERROR;  // stored form is canonical
  for (auto& [type, value] : forced) {
    auto [it, inserted] = tmpl->emplace(type, value);
    if (!inserted && it->second != value) return CKR_TEMPLATE_INCONSISTENT;
  }
  return CKR_OK;
}

// CKA_WRAP_TEMPLATE of the wrapping key: the key to wrap must carry every attribute of it with the
// same value (PKCS#11 2.40 sec. 4.8); CKR_KEY_NOT_WRAPPABLE otherwise.
CK_RV CheckWrapTemplate(const Object& wrapping_key, const Object& key) {
  AttrMap need;
  if (ParseAttrArray(wrapping_key.Get(CKA_WRAP_TEMPLATE), &need) != CKR_OK) return CKR_GENERAL_ERROR;
  return Matches(key, need) ? CKR_OK : CKR_KEY_NOT_WRAPPABLE;
}

CK_STATE StateOf(CK_USER_TYPE login, CK_FLAGS flags) {
  bool rw = (flags & CKF_RW_SESSION) != 0;
  if (login == CKU_SO) return CKS_RW_SO_FUNCTIONS;
  if (login == CKU_USER) return rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
  return rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
}

}  // namespace

// ---- token record -------------------------------------------------------------------------

Token::PinHash Token::HashPin(ByteSpan pin, ByteSpan salt, uint32_t iterations) const {
  PinHash h;
  h.salt.assign(salt.begin(), salt.end());
  h.iterations = iterations;
  h.hash.resize(32);
  PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(pin.data()), static_cast<int>(pin.size()), salt.data(),
                    static_cast<int>(salt.size()), static_cast<int>(iterations), EVP_sha256(), 32, h.hash.data());
  return h;
}

Token::PinHash Token::NewPinHash(ByteSpan pin) const {
  uint8_t salt[16];
  RAND_bytes(salt, sizeof(salt));
  return HashPin(pin, salt, options_.pbkdf2_iterations);
}

bool Token::PinMatches(const PinHash& h, ByteSpan pin) const {
  if (!h.set()) return false;
  PinHash got = HashPin(pin, h.salt, h.iterations);
  return ConstantTimeEquals(got.hash, h.hash);
}

CK_RV Token::CheckPinLen(ByteSpan pin) const {
  return pin.size() < options_.min_pin_len || pin.size() > options_.max_pin_len ? CKR_PIN_LEN_RANGE : CKR_OK;
}

Status Token::SaveRecord() {
  ByteWriter w;
  w.WriteU8(1);
  w.WriteU8(record_.initialized ? 1 : 0);
  w.WriteBytes(record_.label);
  for (const PinHash* h : {&record_.so, &record_.user}) {
    w.WriteU32Le(h->iterations);
    w.WriteU8(static_cast<uint8_t>(h->salt.size()));
    w.WriteBytes(h->salt);
    w.WriteU8(static_cast<uint8_t>(h->hash.size()));
    w.WriteBytes(h->hash);
  }
  w.WriteU32Le(record_.so_failures);
  w.WriteU32Le(record_.user_failures);
  return store_.SaveTokenRecord(w.bytes());
}

Result<std::unique_ptr<Token>> Token::Open(SealedStore& store, const Engine& engine, TokenOptions options,
                                           Logger& log) {
  std::unique_ptr<Token> t(new Token(store, engine, options, log));
  t->record_.label.assign(32, ' ');
  VHSM_ASSIGN_OR_RETURN(std::optional<SecretBytes> rec, store.LoadTokenRecord());
  if (rec) {
    ByteReader r(rec->Expose());
    VHSM_ASSIGN_OR_RETURN(uint8_t version, r.ReadU8("token.version"));
    if (version != 1) return DataLossError("token.version: got " + std::to_string(version) + ", want 1");
    VHSM_ASSIGN_OR_RETURN(uint8_t init, r.ReadU8("token.initialized"));
    t->record_.initialized = init != 0;
    VHSM_ASSIGN_OR_RETURN(ByteSpan label, r.ReadBytes(32, "token.label"));
    t->record_.label.assign(label.begin(), label.end());
    for (PinHash* h : {&t->record_.so, &t->record_.user}) {
      VHSM_ASSIGN_OR_RETURN(h->iterations, r.ReadU32Le("token.pin.iterations"));
      VHSM_ASSIGN_OR_RETURN(uint8_t sl, r.ReadU8("token.pin.salt_len"));
      VHSM_ASSIGN_OR_RETURN(ByteSpan salt, r.ReadBytes(sl, "token.pin.salt"));
      VHSM_ASSIGN_OR_RETURN(uint8_t hl, r.ReadU8("token.pin.hash_len"));
      VHSM_ASSIGN_OR_RETURN(ByteSpan hash, r.ReadBytes(hl, "token.pin.hash"));
      h->salt.assign(salt.begin(), salt.end());
      h->hash.assign(hash.begin(), hash.end());
    }
    VHSM_ASSIGN_OR_RETURN(t->record_.so_failures, r.ReadU32Le("token.so_failures"));
    VHSM_ASSIGN_OR_RETURN(t->record_.user_failures, r.ReadU32Le("token.user_failures"));
  }
  unsigned workers = options.load_workers;
  if (workers == 0) workers = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  // Each worker fills its own vector (no lock on the load path); the tables are built after.
  std::vector<std::vector<std::unique_ptr<Object>>> loaded(workers);
  auto load = [&](unsigned w, uint64_t id, SecretBytes body) -> Status {
    auto obj = std::make_unique<Object>();
    obj->handle = static_cast<CK_OBJECT_HANDLE>(id);
    obj->is_token = true;
    VHSM_RETURN_IF_ERROR(ParseObjectBody(body.Expose(), obj.get()).Annotate("object " + std::to_string(id)));
    VHSM_RETURN_IF_ERROR(engine.Prepare(obj.get()).Annotate("object " + std::to_string(id)));
    loaded[w].push_back(std::move(obj));
    return OkStatus();
  };
  const auto t0 = std::chrono::steady_clock::now();
  VHSM_RETURN_IF_ERROR(store.ForEachObjectParallel(workers, load));
  const auto t1 = std::chrono::steady_clock::now();
  size_t total = 0;
  for (const auto& v : loaded) total += v.size();
  std::vector<std::shared_ptr<const Object>> all;
  all.reserve(total);
  for (auto& v : loaded) {
    for (std::unique_ptr<Object>& obj : v) all.emplace_back(std::move(obj));
  }
  // The two indexes are independent: the label index is built on a second thread.
  std::thread label_index([&t, &all] {
    t->by_label_.reserve(all.size());
    for (const auto& obj : all) {
      if (const Bytes* l = obj->Get(CKA_LABEL)) t->by_label_.emplace(LabelKey(*l), obj->handle);
    }
  });
  t->objects_.reserve(total);
  CK_OBJECT_HANDLE max_handle = 0;
  for (const auto& obj : all) {
    max_handle = std::max(max_handle, obj->handle);
    t->objects_.emplace(obj->handle, obj);
  }
  label_index.join();
  t->next_object_ = max_handle + 1;
  const auto t2 = std::chrono::steady_clock::now();
  auto ms = [](auto d) { return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); };
  log.Info("token: " + std::to_string(total) + " token objects loaded in " + ms(t2 - t0) + " ms (read + unseal + parse on " +
           std::to_string(workers) + " workers " + ms(t1 - t0) + " ms, index " + ms(t2 - t1) + " ms)");
  return t;
}

CK_RV Token::GetTokenInfo(CK_TOKEN_INFO* info) {
  std::memset(info, 0, sizeof(*info));
  std::lock_guard<std::mutex> lock(record_mu_);
  std::memcpy(info->label, record_.label.data(), 32);
  CopyPadded(info->manufacturerID, 32, "vhsm project");
  CopyPadded(info->model, 16, "vHSM (SEV-SNP)");
  CopyPadded(info->serialNumber, 16, "0000000000000001");
  CK_FLAGS f = CKF_RNG | CKF_LOGIN_REQUIRED;
  if (record_.initialized) f |= CKF_TOKEN_INITIALIZED;
  if (record_.user.set()) f |= CKF_USER_PIN_INITIALIZED;
  const uint32_t max = options_.max_pin_failures;
  auto pin_flags = [&](uint32_t fails, CK_FLAGS low, CK_FLAGS final_try, CK_FLAGS locked) {
    if (fails >= max) {
      f |= locked;
    } else if (fails > 0) {
      f |= low;
      if (fails + 1 == max) f |= final_try;
    }
  };
  pin_flags(record_.user_failures, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
  pin_flags(record_.so_failures, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
  info->flags = f;
  info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
  info->ulSessionCount = CK_UNAVAILABLE_INFORMATION;
  info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
  info->ulRwSessionCount = CK_UNAVAILABLE_INFORMATION;
  info->ulMaxPinLen = options_.max_pin_len;
  info->ulMinPinLen = options_.min_pin_len;
  info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info->hardwareVersion = {0, 1};
  info->firmwareVersion = {0, 1};
  CopyPadded(info->utcTime, 16, "");
  return CKR_OK;
}

bool Token::AnySession() {
  std::lock_guard<std::mutex> lock(apps_mu_);
  for (auto& [id, weak] : apps_) {
    if (std::shared_ptr<App> a = weak.lock()) {
      std::lock_guard<std::mutex> al(a->mu);
      if (!a->sessions.empty()) return true;
    }
  }
  return false;
}

CK_RV Token::InitToken(ByteSpan so_pin, ByteSpan label) {
  if (label.size() != 32) return CKR_ARGUMENTS_BAD;
  if (CheckPinLen(so_pin) != CKR_OK) return CKR_PIN_INCORRECT;
  if (AnySession()) return CKR_SESSION_EXISTS;
  std::lock_guard<std::mutex> lock(record_mu_);
  if (record_.initialized) {
    if (record_.so_failures >= options_.max_pin_failures) return CKR_PIN_LOCKED;
    if (!PinMatches(record_.so, so_pin)) {
      ++record_.so_failures;
      if (!SaveRecord().ok()) return CKR_DEVICE_ERROR;
      return CKR_PIN_INCORRECT;
    }
  }
  {
    std::unique_lock<std::shared_mutex> ol(objects_mu_);
    if (!store_.DeleteAllObjects().ok()) return CKR_DEVICE_ERROR;
    objects_.clear();
    by_label_.clear();
  }
  record_.initialized = true;
  record_.label.assign(label.begin(), label.end());
  record_.so = NewPinHash(so_pin);
  record_.user = PinHash();
  record_.so_failures = 0;
  record_.user_failures = 0;
  if (Status s = SaveRecord(); !s.ok()) {
    log_.Error("C_InitToken: " + s.ToString());
    return CKR_DEVICE_ERROR;
  }
  log_.Info("token initialised");
  return CKR_OK;
}

CK_RV Token::CheckSession(App& app, CK_SESSION_HANDLE s, CK_USER_TYPE* login, CK_FLAGS* flags) {
  std::lock_guard<std::mutex> lock(app.mu);
  auto it = app.sessions.find(s);
  if (it == app.sessions.end()) return CKR_SESSION_HANDLE_INVALID;
  if (login != nullptr) *login = app.login;
  if (flags != nullptr) *flags = it->second;
  return CKR_OK;
}

CK_RV Token::InitPin(App& app, CK_SESSION_HANDLE s, ByteSpan pin) {
  CK_USER_TYPE login;
  CK_FLAGS flags;
  if (CK_RV rv = CheckSession(app, s, &login, &flags); rv != CKR_OK) return rv;
  if ((flags & CKF_RW_SESSION) == 0) return CKR_SESSION_READ_ONLY;
  if (login != CKU_SO) return CKR_USER_NOT_LOGGED_IN;
  if (CK_RV rv = CheckPinLen(pin); rv != CKR_OK) return rv;
  std::lock_guard<std::mutex> lock(record_mu_);
  record_.user = NewPinHash(pin);
  record_.user_failures = 0;
  return SaveRecord().ok() ? CKR_OK : CKR_DEVICE_ERROR;
}

CK_RV Token::SetPin(App& app, CK_SESSION_HANDLE s, ByteSpan old_pin, ByteSpan new_pin) {
  CK_USER_TYPE login;
  CK_FLAGS flags;
  if (CK_RV rv = CheckSession(app, s, &login, &flags); rv != CKR_OK) return rv;
  if ((flags & CKF_RW_SESSION) == 0) return CKR_SESSION_READ_ONLY;
  if (CK_RV rv = CheckPinLen(new_pin); rv != CKR_OK) return rv;
  std::lock_guard<std::mutex> lock(record_mu_);
  const bool so = login == CKU_SO;
  PinHash& h = so ? record_.so : record_.user;
  uint32_t& fails = so ? record_.so_failures : record_.user_failures;
  if (!h.set()) return CKR_USER_PIN_NOT_INITIALIZED;
  if (fails >= options_.max_pin_failures) return CKR_PIN_LOCKED;
  if (!PinMatches(h, old_pin)) {
    ++fails;
    return SaveRecord().ok() ? CKR_PIN_INCORRECT : CKR_DEVICE_ERROR;
  }
  h = NewPinHash(new_pin);
  fails = 0;
  return SaveRecord().ok() ? CKR_OK : CKR_DEVICE_ERROR;
}

// ---- applications and sessions ---------------------------------------------------------------

std::shared_ptr<App> Token::NewApp() {
  auto app = std::make_shared<App>();
  app->id = next_app_++;
  std::lock_guard<std::mutex> lock(apps_mu_);
  apps_[app->id] = app;
  return app;
}

void Token::ReleaseApp(App& app) {
  {
    std::lock_guard<std::mutex> lock(app.mu);
    app.sessions.clear();
    app.login = kNotLoggedIn;
  }
  DestroySessionObjects(app.id, 0, true);
  std::lock_guard<std::mutex> lock(apps_mu_);
  apps_.erase(app.id);
}

CK_RV Token::OpenSession(App& app, CK_FLAGS flags, CK_SESSION_HANDLE* out) {
  if ((flags & CKF_SERIAL_SESSION) == 0) return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
  std::lock_guard<std::mutex> lock(app.mu);
  if ((flags & CKF_RW_SESSION) == 0 && app.login == CKU_SO) return CKR_SESSION_READ_WRITE_SO_EXISTS;
  CK_SESSION_HANDLE h = next_session_++;
  app.sessions[h] = flags & (CKF_RW_SESSION | CKF_SERIAL_SESSION);
  *out = h;
  return CKR_OK;
}

CK_RV Token::CloseSession(App& app, CK_SESSION_HANDLE s) {
  {
    std::lock_guard<std::mutex> lock(app.mu);
    if (app.sessions.erase(s) == 0) return CKR_SESSION_HANDLE_INVALID;
    if (app.sessions.empty()) app.login = kNotLoggedIn;  // last session closed: logged out (spec 5.6)
  }
  DestroySessionObjects(app.id, s, false);
  return CKR_OK;
}

CK_RV Token::CloseAllSessions(App& app) {
  {
    std::lock_guard<std::mutex> lock(app.mu);
    app.sessions.clear();
    app.login = kNotLoggedIn;
  }
  DestroySessionObjects(app.id, 0, true);
  return CKR_OK;
}

void Token::DestroySessionObjects(uint64_t app_id, CK_SESSION_HANDLE s, bool all_of_app) {
  std::unique_lock<std::shared_mutex> lock(objects_mu_);
  for (auto it = objects_.begin(); it != objects_.end();) {
    const Object& o = *it->second;
    if (!o.is_token && o.owner_app == app_id && (all_of_app || o.owner_session == s)) {
      if (const Bytes* l = o.Get(CKA_LABEL)) {
        auto range = by_label_.equal_range(LabelKey(*l));
        for (auto li = range.first; li != range.second; ++li) {
          if (li->second == o.handle) {
            by_label_.erase(li);
            break;
          }
        }
      }
      it = objects_.erase(it);
    } else {
      ++it;
    }
  }
}

CK_RV Token::GetSessionInfo(App& app, CK_SESSION_HANDLE s, CK_STATE* state, CK_FLAGS* flags) {
  CK_USER_TYPE login;
  if (CK_RV rv = CheckSession(app, s, &login, flags); rv != CKR_OK) return rv;
  *state = StateOf(login, *flags);
  return CKR_OK;
}

CK_RV Token::Login(App& app, CK_SESSION_HANDLE s, CK_USER_TYPE user, ByteSpan pin) {
  if (user != CKU_SO && user != CKU_USER && user != CKU_CONTEXT_SPECIFIC) return CKR_USER_TYPE_INVALID;
  {
    std::lock_guard<std::mutex> lock(app.mu);
    if (app.sessions.find(s) == app.sessions.end()) return CKR_SESSION_HANDLE_INVALID;
    if (user == CKU_CONTEXT_SPECIFIC) return CKR_OPERATION_NOT_INITIALIZED;
    if (app.login == user) return CKR_USER_ALREADY_LOGGED_IN;
    if (app.login != kNotLoggedIn) return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
    if (user == CKU_SO) {
      for (const auto& [h, f] : app.sessions) {
        if ((f & CKF_RW_SESSION) == 0) return CKR_SESSION_READ_ONLY_EXISTS;
      }
    }
  }
  std::lock_guard<std::mutex> lock(record_mu_);
  if (!record_.initialized) return CKR_USER_PIN_NOT_INITIALIZED;
  PinHash& h = user == CKU_SO ? record_.so : record_.user;
  uint32_t& fails = user == CKU_SO ? record_.so_failures : record_.user_failures;
  if (!h.set()) return CKR_USER_PIN_NOT_INITIALIZED;
  if (fails >= options_.max_pin_failures) return CKR_PIN_LOCKED;
  if (!PinMatches(h, pin)) {
    ++fails;
    if (!SaveRecord().ok()) return CKR_DEVICE_ERROR;
    return fails >= options_.max_pin_failures ? CKR_PIN_LOCKED : CKR_PIN_INCORRECT;
  }
  if (fails != 0) {
    fails = 0;
    if (!SaveRecord().ok()) return CKR_DEVICE_ERROR;
  }
  std::lock_guard<std::mutex> al(app.mu);
  if (app.login != kNotLoggedIn) return CKR_USER_ANOTHER_ALREADY_LOGGED_IN;  // raced with another thread
  app.login = user;
  return CKR_OK;
}

CK_RV Token::Logout(App& app, CK_SESSION_HANDLE s) {
  std::lock_guard<std::mutex> lock(app.mu);
  if (app.sessions.find(s) == app.sessions.end()) return CKR_SESSION_HANDLE_INVALID;
  if (app.login == kNotLoggedIn) return CKR_USER_NOT_LOGGED_IN;
  app.login = kNotLoggedIn;
  return CKR_OK;
}

// ---- objects ---------------------------------------------------------------------------------

CK_RV Token::Lookup(App& app, CK_OBJECT_HANDLE h, CK_USER_TYPE login, CK_RV invalid,
                    std::shared_ptr<const Object>* out) {
  std::shared_lock<std::shared_mutex> lock(objects_mu_);
  auto it = objects_.find(h);
  if (it == objects_.end()) return invalid;
  const Object& o = *it->second;
  if (!o.is_token && o.owner_app != app.id) return invalid;
  if (o.is_private() && login != CKU_USER) return CKR_USER_NOT_LOGGED_IN;
  *out = it->second;
  return CKR_OK;
}

CK_RV Token::UseKey(App& app, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, std::shared_ptr<const Object>* out) {
  CK_USER_TYPE login;
  if (CK_RV rv = CheckSession(app, s, &login, nullptr); rv != CKR_OK) return rv;
  return Lookup(app, key, login, CKR_KEY_HANDLE_INVALID, out);
}

CK_RV Token::CheckCreate(CK_USER_TYPE login, CK_FLAGS flags, const Object& obj) {
  if (obj.GetBool(CKA_TOKEN) && (flags & CKF_RW_SESSION) == 0) return CKR_SESSION_READ_ONLY;
  if (obj.is_private() && login != CKU_USER) return CKR_USER_NOT_LOGGED_IN;
  return CKR_OK;
}

CK_RV Token::Publish(App& app, CK_SESSION_HANDLE s, std::unique_ptr<Object> obj, CK_OBJECT_HANDLE* out) {
  obj->handle = next_object_++;
  obj->is_token = obj->GetBool(CKA_TOKEN);
  obj->owner_app = app.id;
  obj->owner_session = s;
  if (obj->is_token) {
    Status st = store_.PutObject(obj->handle, SerializeObjectBody(*obj));
    if (!st.ok()) {
      log_.Error("storing object: " + st.ToString());
      return CKR_DEVICE_ERROR;
    }
  }
  *out = obj->handle;
  std::unique_lock<std::shared_mutex> lock(objects_mu_);
  const CK_OBJECT_HANDLE h = obj->handle;
  if (const Bytes* l = obj->Get(CKA_LABEL)) by_label_.emplace(LabelKey(*l), h);
  objects_.emplace(h, std::shared_ptr<const Object>(std::move(obj)));
  return CKR_OK;
}

CK_RV Token::CreateObject(App& app, CK_SESSION_HANDLE s, const AttrMap& tmpl, CK_OBJECT_HANDLE* out) {
  CK_USER_TYPE login;
  CK_FLAGS flags;
  if (CK_RV rv = CheckSession(app, s, &login, &flags); rv != CKR_OK) return rv;
  auto cls_it = tmpl.find(CKA_CLASS);
  if (cls_it == tmpl.end()) return CKR_TEMPLATE_INCOMPLETE;
  CK_OBJECT_CLASS cls;
  std::memcpy(&cls, cls_it->second.data(), sizeof(cls));
  auto obj = std::make_unique<Object>();
  obj->attrs = tmpl;
  if (cls == CKO_DATA) {
    for (const auto& [type, v] : tmpl) {
      if (IsReadOnlyOnCreate(type)) return CKR_ATTRIBUTE_READ_ONLY;
    }
    SetDefault(obj->attrs, CKA_TOKEN, BoolValue(false));
    SetDefault(obj->attrs, CKA_PRIVATE, BoolValue(false));
    SetDefault(obj->attrs, CKA_MODIFIABLE, BoolValue(true));
    SetDefault(obj->attrs, CKA_DESTROYABLE, BoolValue(true));
    SetDefault(obj->attrs, CKA_LABEL, Bytes());
    SetDefault(obj->attrs, CKA_APPLICATION, Bytes());
    SetDefault(obj->attrs, CKA_OBJECT_ID, Bytes());
    SetDefault(obj->attrs, CKA_VALUE, Bytes());
  } else if (cls == CKO_SECRET_KEY) {
    auto kt_it = tmpl.find(CKA_KEY_TYPE);
    auto val_it = tmpl.find(CKA_VALUE);
    if (kt_it == tmpl.end() || val_it == tmpl.end()) return CKR_TEMPLATE_INCOMPLETE;
    CK_KEY_TYPE kt;
    std::memcpy(&kt, kt_it->second.data(), sizeof(kt));
    const size_t n = val_it->second.size();
    if (kt == CKK_AES) {
      if (n != 16 && n != 24 && n != 32) return CKR_ATTRIBUTE_VALUE_INVALID;
    } else if (kt == CKK_GENERIC_SECRET) {
      if (n == 0 || n > 512) return CKR_ATTRIBUTE_VALUE_INVALID;
    } else {
      return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    for (const auto& [type, v] : tmpl) {
      if (IsReadOnlyOnCreate(type) || type == CKA_VALUE_LEN) return CKR_ATTRIBUTE_READ_ONLY;
    }
    obj->secret = SecretBytes(val_it->second);
    obj->attrs.erase(CKA_VALUE);
    ApplyKeyDefaults(obj.get(), cls, kt, false, 0);
  } else if (cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY) {
    std::optional<CK_ULONG> kt = UlongOf(tmpl, CKA_KEY_TYPE);
    if (!kt) return CKR_TEMPLATE_INCOMPLETE;
    for (const auto& [type, v] : tmpl) {
      if (IsReadOnlyOnCreate(type) || type == CKA_MODULUS_BITS) return CKR_ATTRIBUTE_READ_ONLY;
    }
    for (auto it = obj->attrs.begin(); it != obj->attrs.end();) {
      it = IsSecretComponent(cls, it->first) ? obj->attrs.erase(it) : std::next(it);
    }
    if (CK_RV rv = engine_.ImportKey(tmpl, obj.get()); rv != CKR_OK) return rv;
    ApplyKeyDefaults(obj.get(), cls, *kt, false, 0);
  } else if (cls == CKO_CERTIFICATE) {
    for (const auto& [type, v] : tmpl) {
      if (IsReadOnlyOnCreate(type) || type == CKA_CHECK_VALUE) return CKR_ATTRIBUTE_READ_ONLY;
    }
    if (CK_RV rv = FillCertificate(obj.get()); rv != CKR_OK) return rv;
  } else {
    return CKR_ATTRIBUTE_VALUE_INVALID;
  }
  if (CK_RV rv = CheckTrusted(tmpl, login); rv != CKR_OK) return rv;
  if (CK_RV rv = CheckCreate(login, flags, *obj); rv != CKR_OK) return rv;
  return Publish(app, s, std::move(obj), out);
}

CK_RV Token::DestroyObject(App& app, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h) {
  CK_USER_TYPE login;
  CK_FLAGS flags;
  if (CK_RV rv = CheckSession(app, s, &login, &flags); rv != CKR_OK) return rv;
  std::shared_ptr<const Object> obj;
  if (CK_RV rv = Lookup(app, h, login, CKR_OBJECT_HANDLE_INVALID, &obj); rv != CKR_OK) return rv;
  if (obj->is_token && (flags & CKF_RW_SESSION) == 0) return CKR_SESSION_READ_ONLY;
  if (!obj->GetBool(CKA_DESTROYABLE, true)) return CKR_ACTION_PROHIBITED;
  if (obj->is_token && !store_.DeleteObject(h).ok()) return CKR_DEVICE_ERROR;
  std::unique_lock<std::shared_mutex> lock(objects_mu_);
  if (const Bytes* l = obj->Get(CKA_LABEL)) {
    auto range = by_label_.equal_range(LabelKey(*l));
    for (auto li = range.first; li != range.second; ++li) {
      if (li->second == h) {
        by_label_.erase(li);
        break;
      }
    }
  }
  objects_.erase(h);
  return CKR_OK;
}

CK_RV Token::GetAttributes(App& app, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
                           const std::vector<CK_ATTRIBUTE_TYPE>& types, std::vector<AttrResult>* out) {
  CK_USER_TYPE login;
  if (CK_RV rv = CheckSession(app, s, &login, nullptr); rv != CKR_OK) return rv;
  std::shared_ptr<const Object> obj;
  if (CK_RV rv = Lookup(app, h, login, CKR_OBJECT_HANDLE_INVALID, &obj); rv != CKR_OK) return rv;
  out->clear();
  out->resize(types.size());
  for (size_t i = 0; i < types.size(); ++i) {
    AttrResult& r = (*out)[i];
    if (IsSecretComponent(obj->cls(), types[i])) {
      // The client never receives key bytes of a sensitive or unextractable key (spec 4.4).
      if (obj->GetBool(CKA_SENSITIVE, true) || !obj->GetBool(CKA_EXTRACTABLE, false)) {
        r.rv = CKR_ATTRIBUTE_SENSITIVE;
      } else {
        r.rv = engine_.ExportComponent(*obj, types[i], &r.value);
      }
      continue;
    }
    const Bytes* v = obj->Get(types[i]);
    if (v == nullptr) {
      r.rv = CKR_ATTRIBUTE_TYPE_INVALID;
    } else {
      r.value = *v;
    }
  }
  return CKR_OK;
}

CK_RV Token::SetAttributes(App& app, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const AttrMap& tmpl) {
  CK_USER_TYPE login;
  CK_FLAGS flags;
  if (CK_RV rv = CheckSession(app, s, &login, &flags); rv != CKR_OK) return rv;
  std::shared_ptr<const Object> old;
  if (CK_RV rv = Lookup(app, h, login, CKR_OBJECT_HANDLE_INVALID, &old); rv != CKR_OK) return rv;
  if (old->is_token && (flags & CKF_RW_SESSION) == 0) return CKR_SESSION_READ_ONLY;
  if (!old->GetBool(CKA_MODIFIABLE, true)) return CKR_ACTION_PROHIBITED;
  auto obj = std::make_unique<Object>();
  obj->handle = old->handle;
  obj->is_token = old->is_token;
  obj->owner_app = old->owner_app;
  obj->owner_session = old->owner_session;
  obj->attrs = old->attrs;
  obj->secret = old->secret.Clone();
  for (const auto& [type, v] : tmpl) {
    switch (type) {
      case CKA_LABEL: case CKA_ID: case CKA_SUBJECT: case CKA_START_DATE: case CKA_END_DATE:
      case CKA_APPLICATION:
        break;
      case CKA_ENCRYPT: case CKA_DECRYPT: case CKA_SIGN: case CKA_VERIFY: case CKA_WRAP: case CKA_UNWRAP:
      case CKA_DERIVE: case CKA_SIGN_RECOVER: case CKA_VERIFY_RECOVER:
        if (old->cls() == CKO_DATA) return CKR_ATTRIBUTE_TYPE_INVALID;
        break;
      case CKA_SENSITIVE:  // may only become true
        if (old->cls() != CKO_SECRET_KEY && old->cls() != CKO_PRIVATE_KEY) return CKR_ATTRIBUTE_TYPE_INVALID;
        if (old->GetBool(CKA_SENSITIVE) && v[0] == CK_FALSE) return CKR_ATTRIBUTE_READ_ONLY;
        break;
      case CKA_EXTRACTABLE:  // may only become false
        if (old->cls() != CKO_SECRET_KEY && old->cls() != CKO_PRIVATE_KEY) return CKR_ATTRIBUTE_TYPE_INVALID;
        if (!old->GetBool(CKA_EXTRACTABLE) && v[0] != CK_FALSE) return CKR_ATTRIBUTE_READ_ONLY;
        break;
      case CKA_TOKEN: case CKA_PRIVATE:
        if (*old->Get(type) != v) return CKR_ATTRIBUTE_READ_ONLY;
        break;
      case CKA_TRUSTED:  // SO only (and never on private keys or data)
        if (old->cls() != CKO_SECRET_KEY && old->cls() != CKO_PUBLIC_KEY && old->cls() != CKO_CERTIFICATE) {
          return CKR_ATTRIBUTE_TYPE_INVALID;
        }
        if (login != CKU_SO) return CKR_ATTRIBUTE_READ_ONLY;
        break;
      case CKA_WRAP_WITH_TRUSTED:  // may only become true
        if (old->cls() != CKO_SECRET_KEY && old->cls() != CKO_PRIVATE_KEY) return CKR_ATTRIBUTE_TYPE_INVALID;
        if (old->GetBool(CKA_WRAP_WITH_TRUSTED) && v[0] == CK_FALSE) return CKR_ATTRIBUTE_READ_ONLY;
        break;
      default:
        return CKR_ATTRIBUTE_READ_ONLY;
    }
    obj->attrs[type] = v;
  }
  if (old->pkey) {
    Status st = engine_.Prepare(obj.get());
    if (!st.ok()) return CKR_GENERAL_ERROR;
  }
  if (obj->is_token && !store_.PutObject(obj->handle, SerializeObjectBody(*obj)).ok()) return CKR_DEVICE_ERROR;
  std::unique_lock<std::shared_mutex> lock(objects_mu_);
  if (const Bytes* l = old->Get(CKA_LABEL)) {
    auto range = by_label_.equal_range(LabelKey(*l));
    for (auto li = range.first; li != range.second; ++li) {
      if (li->second == h) {
        by_label_.erase(li);
        break;
      }
    }
  }
  if (const Bytes* l = obj->Get(CKA_LABEL)) by_label_.emplace(LabelKey(*l), h);
  objects_[h] = std::shared_ptr<const Object>(std::move(obj));
  return CKR_OK;
}

CK_RV Token::GetObjectSize(App& app, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ULONG* size) {
  CK_USER_TYPE login;
  if (CK_RV rv = CheckSession(app, s, &login, nullptr); rv != CKR_OK) return rv;
  std::shared_ptr<const Object> obj;
  if (CK_RV rv = Lookup(app, h, login, CKR_OBJECT_HANDLE_INVALID, &obj); rv != CKR_OK) return rv;
  *size = CK_UNAVAILABLE_INFORMATION;
  return CKR_OK;
}

CK_RV Token::FindObjects(App& app, CK_SESSION_HANDLE s, const AttrMap& tmpl, std::vector<CK_OBJECT_HANDLE>* out) {
  CK_USER_TYPE login;
  if (CK_RV rv = CheckSession(app, s, &login, nullptr); rv != CKR_OK) return rv;
  auto visible = [&](const Object& o) {
    if (!o.is_token && o.owner_app != app.id) return false;
    if (o.is_private() && login != CKU_USER) return false;
    return Matches(o, tmpl);
  };
  std::shared_lock<std::shared_mutex> lock(objects_mu_);
  auto label = tmpl.find(CKA_LABEL);
  if (label != tmpl.end()) {
    auto range = by_label_.equal_range(LabelKey(label->second));
    for (auto it = range.first; it != range.second; ++it) {
      auto o = objects_.find(it->second);
      if (o != objects_.end() && visible(*o->second)) out->push_back(it->second);
    }
  } else {
    for (const auto& [h, o] : objects_) {
      if (visible(*o)) out->push_back(h);
    }
  }
  std::sort(out->begin(), out->end());
  return CKR_OK;
}

// ---- key generation and crypto ---------------------------------------------------------------

CK_RV Token::GenerateKey(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, const AttrMap& tmpl,
                         CK_OBJECT_HANDLE* out) {
  CK_USER_TYPE login;
  CK_FLAGS flags;
  if (CK_RV rv = CheckSession(app, s, &login, &flags); rv != CKR_OK) return rv;
  CK_KEY_TYPE kt;
  if (mech.type == CKM_AES_KEY_GEN) {
    kt = CKK_AES;
  } else if (mech.type == CKM_GENERIC_SECRET_KEY_GEN) {
    kt = CKK_GENERIC_SECRET;
  } else {
    return CKR_MECHANISM_INVALID;
  }
  if (CK_RV rv = CheckKeyTemplate(tmpl, CKO_SECRET_KEY, kt); rv != CKR_OK) return rv;
  if (CK_RV rv = CheckTrusted(tmpl, login); rv != CKR_OK) return rv;
  auto obj = std::make_unique<Object>();
  obj->attrs = tmpl;
  if (CK_RV rv = engine_.GenerateSecret(mech, obj.get()); rv != CKR_OK) return rv;
  ApplyKeyDefaults(obj.get(), CKO_SECRET_KEY, kt, true, mech.type);
  if (CK_RV rv = CheckCreate(login, flags, *obj); rv != CKR_OK) return rv;
  return Publish(app, s, std::move(obj), out);
}

CK_RV Token::GenerateKeyPair(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, const AttrMap& pub_tmpl,
                             const AttrMap& priv_tmpl, CK_OBJECT_HANDLE* pub_out, CK_OBJECT_HANDLE* priv_out) {
  CK_USER_TYPE login;
  CK_FLAGS flags;
  if (CK_RV rv = CheckSession(app, s, &login, &flags); rv != CKR_OK) return rv;
  CK_KEY_TYPE kt;
  if (mech.type == CKM_EC_KEY_PAIR_GEN) {
    kt = CKK_EC;
  } else if (mech.type == CKM_RSA_PKCS_KEY_PAIR_GEN) {
    kt = CKK_RSA;
  } else if (mech.type == CKM_EC_EDWARDS_KEY_PAIR_GEN) {
    kt = CKK_EC_EDWARDS;
  } else {
    return CKR_MECHANISM_INVALID;
  }
  if (CK_RV rv = CheckKeyTemplate(pub_tmpl, CKO_PUBLIC_KEY, kt); rv != CKR_OK) return rv;
  if (CK_RV rv = CheckKeyTemplate(priv_tmpl, CKO_PRIVATE_KEY, kt); rv != CKR_OK) return rv;
  if (CK_RV rv = CheckTrusted(pub_tmpl, login); rv != CKR_OK) return rv;
  if (priv_tmpl.count(CKA_TRUSTED) != 0) return CKR_ATTRIBUTE_TYPE_INVALID;
  auto pub = std::make_unique<Object>();
  auto priv = std::make_unique<Object>();
  pub->attrs = pub_tmpl;
  priv->attrs = priv_tmpl;
  // Defaults first so CheckCreate sees CKA_TOKEN/CKA_PRIVATE before the (slow) generation.
  ApplyKeyDefaults(pub.get(), CKO_PUBLIC_KEY, kt, true, mech.type);
  ApplyKeyDefaults(priv.get(), CKO_PRIVATE_KEY, kt, true, mech.type);
  if (CK_RV rv = CheckCreate(login, flags, *pub); rv != CKR_OK) return rv;
  if (CK_RV rv = CheckCreate(login, flags, *priv); rv != CKR_OK) return rv;
  if (CK_RV rv = engine_.GenerateKeyPair(mech, pub.get(), priv.get()); rv != CKR_OK) return rv;
  if (CK_RV rv = Publish(app, s, std::move(pub), pub_out); rv != CKR_OK) return rv;
  if (CK_RV rv = Publish(app, s, std::move(priv), priv_out); rv != CKR_OK) {
    // Never leave half a pair behind.
    if (DestroyObject(app, s, *pub_out) != CKR_OK) log_.Error("could not remove public half of a failed key pair");
    return rv;
  }
  return CKR_OK;
}

CK_RV Token::Sign(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, CK_OBJECT_HANDLE key,
                  ByteSpan data, Bytes* out) {
  std::shared_ptr<const Object> k;
  if (CK_RV rv = UseKey(app, s, key, &k); rv != CKR_OK) return rv;
  return engine_.Sign(mech, *k, data, out);
}

CK_RV Token::Verify(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, CK_OBJECT_HANDLE key,
                    ByteSpan data, ByteSpan sig) {
  std::shared_ptr<const Object> k;
  if (CK_RV rv = UseKey(app, s, key, &k); rv != CKR_OK) return rv;
  return engine_.Verify(mech, *k, data, sig);
}

CK_RV Token::Encrypt(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, CK_OBJECT_HANDLE key,
                     ByteSpan data, Bytes* out) {
  std::shared_ptr<const Object> k;
  if (CK_RV rv = UseKey(app, s, key, &k); rv != CKR_OK) return rv;
  return engine_.Encrypt(mech, *k, data, out);
}

CK_RV Token::Decrypt(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, CK_OBJECT_HANDLE key,
                     ByteSpan data, Bytes* out) {
  std::shared_ptr<const Object> k;
  if (CK_RV rv = UseKey(app, s, key, &k); rv != CKR_OK) return rv;
  return engine_.Decrypt(mech, *k, data, out);
}

CK_RV Token::Digest(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, ByteSpan data, Bytes* out) {
  if (CK_RV rv = CheckSession(app, s, nullptr, nullptr); rv != CKR_OK) return rv;
  return engine_.Digest(mech, data, out);
}

CK_RV Token::GenerateRandom(App& app, CK_SESSION_HANDLE s, CK_ULONG len, Bytes* out) {
  if (CK_RV rv = CheckSession(app, s, nullptr, nullptr); rv != CKR_OK) return rv;
  if (len > ipc::kMaxBlob) return CKR_ARGUMENTS_BAD;
  out->resize(len);
  if (len > 0 && RAND_bytes(out->data(), static_cast<int>(len)) != 1) return CKR_FUNCTION_FAILED;
  return CKR_OK;
}

// ---- copy, wrap, unwrap, derive -------------------------------------------------------------

CK_RV Token::CopyObject(App& app, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const AttrMap& tmpl,
                        CK_OBJECT_HANDLE* out) {
  CK_USER_TYPE login;
  CK_FLAGS flags;
  if (CK_RV rv = CheckSession(app, s, &login, &flags); rv != CKR_OK) return rv;
  std::shared_ptr<const Object> old;
  if (CK_RV rv = Lookup(app, h, login, CKR_OBJECT_HANDLE_INVALID, &old); rv != CKR_OK) return rv;
  if (!old->GetBool(CKA_COPYABLE, true)) return CKR_ACTION_PROHIBITED;
  auto obj = std::make_unique<Object>();
  obj->attrs = old->attrs;
  obj->secret = old->secret.Clone();
  for (const auto& [type, v] : tmpl) {
    const Bytes* have = old->Get(type);
    if (IsSecretComponent(old->cls(), type)) return CKR_ATTRIBUTE_READ_ONLY;
    switch (type) {
      case CKA_TOKEN: case CKA_PRIVATE: case CKA_MODIFIABLE: case CKA_DESTROYABLE: case CKA_LABEL: case CKA_ID:
      case CKA_APPLICATION: case CKA_START_DATE: case CKA_END_DATE: case CKA_SUBJECT:
        break;
      case CKA_SENSITIVE:  // may only become true
        if (have == nullptr) return CKR_ATTRIBUTE_TYPE_INVALID;
        if (old->GetBool(CKA_SENSITIVE) && v[0] == CK_FALSE) return CKR_ATTRIBUTE_READ_ONLY;
        break;
      case CKA_EXTRACTABLE: case CKA_COPYABLE:  // may only become false
        if (have == nullptr && type == CKA_EXTRACTABLE) return CKR_ATTRIBUTE_TYPE_INVALID;
        if (v[0] != CK_FALSE && !old->GetBool(type, true)) return CKR_ATTRIBUTE_READ_ONLY;
        break;
      default:
        if (have == nullptr || *have != v) return CKR_ATTRIBUTE_READ_ONLY;
        break;
    }
    obj->attrs[type] = v;
  }
  if (old->pkey) {
    if (!engine_.Prepare(obj.get()).ok()) return CKR_GENERAL_ERROR;
  }
  if (CK_RV rv = CheckCreate(login, flags, *obj); rv != CKR_OK) return rv;
  return Publish(app, s, std::move(obj), out);
}

CK_RV Token::WrapKey(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, CK_OBJECT_HANDLE wrapping_key,
                     CK_OBJECT_HANDLE key, Bytes* out) {
  CK_USER_TYPE login;
  if (CK_RV rv = CheckSession(app, s, &login, nullptr); rv != CKR_OK) return rv;
  if (CK_RV rv = MechanismFor(engine_, mech.type, CKF_WRAP); rv != CKR_OK) return rv;
  std::shared_ptr<const Object> wk, k;
  if (CK_RV rv = Lookup(app, wrapping_key, login, CKR_WRAPPING_KEY_HANDLE_INVALID, &wk); rv != CKR_OK) return rv;
  if (CK_RV rv = Lookup(app, key, login, CKR_KEY_HANDLE_INVALID, &k); rv != CKR_OK) return rv;
  if (k->cls() != CKO_SECRET_KEY && k->cls() != CKO_PRIVATE_KEY) return CKR_KEY_NOT_WRAPPABLE;
  if (!k->GetBool(CKA_EXTRACTABLE)) return CKR_KEY_UNEXTRACTABLE;
  if (k->GetBool(CKA_WRAP_WITH_TRUSTED) && !wk->GetBool(CKA_TRUSTED)) return CKR_KEY_NOT_WRAPPABLE;
  if (CK_RV rv = CheckWrapTemplate(*wk, *k); rv != CKR_OK) return rv;
  return engine_.Wrap(mech, *wk, *k, out);
}

CK_RV Token::UnwrapKey(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech,
                       CK_OBJECT_HANDLE unwrapping_key, ByteSpan wrapped, const AttrMap& user_tmpl,
                       CK_OBJECT_HANDLE* out) {
  CK_USER_TYPE login;
  CK_FLAGS flags;
  if (CK_RV rv = CheckSession(app, s, &login, &flags); rv != CKR_OK) return rv;
  if (CK_RV rv = MechanismFor(engine_, mech.type, CKF_UNWRAP); rv != CKR_OK) return rv;
  std::shared_ptr<const Object> uk;
  if (CK_RV rv = Lookup(app, unwrapping_key, login, CKR_UNWRAPPING_KEY_HANDLE_INVALID, &uk); rv != CKR_OK) {
    return rv;
  }
  AttrMap tmpl = user_tmpl;
  if (CK_RV rv = ApplyKeyTemplate(*uk, CKA_UNWRAP_TEMPLATE, &tmpl); rv != CKR_OK) return rv;
  std::optional<CK_ULONG> cls = UlongOf(tmpl, CKA_CLASS);
  std::optional<CK_ULONG> kt = UlongOf(tmpl, CKA_KEY_TYPE);
  if (!cls || !kt) return CKR_TEMPLATE_INCOMPLETE;
  if (*cls != CKO_SECRET_KEY && *cls != CKO_PRIVATE_KEY) return CKR_TEMPLATE_INCONSISTENT;
  if (CK_RV rv = CheckKeyTemplate(tmpl, *cls, *kt); rv != CKR_OK) return rv;
  if (CK_RV rv = CheckTrusted(tmpl, login); rv != CKR_OK) return rv;
  auto obj = std::make_unique<Object>();
  obj->attrs = tmpl;
  if (CK_RV rv = engine_.Unwrap(mech, *uk, wrapped, obj.get()); rv != CKR_OK) return rv;
  ApplyKeyDefaults(obj.get(), *cls, *kt, false, 0);
  if (CK_RV rv = CheckCreate(login, flags, *obj); rv != CKR_OK) return rv;
  return Publish(app, s, std::move(obj), out);
}

CK_RV Token::DeriveKey(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, CK_OBJECT_HANDLE base,
                       const AttrMap& user_tmpl, CK_OBJECT_HANDLE* out) {
  CK_USER_TYPE login;
  CK_FLAGS flags;
  if (CK_RV rv = CheckSession(app, s, &login, &flags); rv != CKR_OK) return rv;
  if (CK_RV rv = MechanismFor(engine_, mech.type, CKF_DERIVE); rv != CKR_OK) return rv;
  std::shared_ptr<const Object> bk;
  if (CK_RV rv = Lookup(app, base, login, CKR_KEY_HANDLE_INVALID, &bk); rv != CKR_OK) return rv;
  AttrMap tmpl = user_tmpl;
  if (CK_RV rv = ApplyKeyTemplate(*bk, CKA_DERIVE_TEMPLATE, &tmpl); rv != CKR_OK) return rv;
  std::optional<CK_ULONG> kt = UlongOf(tmpl, CKA_KEY_TYPE);
  if (!kt) return CKR_TEMPLATE_INCOMPLETE;
  if (CK_RV rv = CheckKeyTemplate(tmpl, CKO_SECRET_KEY, *kt); rv != CKR_OK) return rv;
  if (CK_RV rv = CheckTrusted(tmpl, login); rv != CKR_OK) return rv;
  auto obj = std::make_unique<Object>();
  obj->attrs = tmpl;
  obj->attrs[CKA_CLASS] = UlongValue(CKO_SECRET_KEY);
  if (CK_RV rv = engine_.Derive(mech, *bk, obj.get()); rv != CKR_OK) return rv;
  ApplyKeyDefaults(obj.get(), CKO_SECRET_KEY, *kt, false, 0);
  obj->attrs[CKA_ALWAYS_SENSITIVE] = BoolValue(bk->GetBool(CKA_ALWAYS_SENSITIVE) && obj->GetBool(CKA_SENSITIVE));
  obj->attrs[CKA_NEVER_EXTRACTABLE] =
      BoolValue(bk->GetBool(CKA_NEVER_EXTRACTABLE) && !obj->GetBool(CKA_EXTRACTABLE));
  if (CK_RV rv = CheckCreate(login, flags, *obj); rv != CKR_OK) return rv;
  return Publish(app, s, std::move(obj), out);
}

std::vector<CK_OBJECT_HANDLE> Token::TokenObjectsWithLabel(std::string_view label) {
  std::vector<CK_OBJECT_HANDLE> out;
  std::shared_lock<std::shared_mutex> lock(objects_mu_);
  auto range = by_label_.equal_range(std::string(label));
  for (auto it = range.first; it != range.second; ++it) {
    auto o = objects_.find(it->second);
    if (o != objects_.end() && o->second->is_token) out.push_back(it->second);
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<Token::ImportedObjects> Token::ImportObjects(std::vector<std::unique_ptr<Object>> objects,
                                                    std::string_view label, bool replace,
                                                    const std::function<void(size_t)>& after_write) {
  if (objects.empty()) return InvalidArgumentError("import: no objects");
  for (auto& o : objects) {
    const Bytes* l = o->Get(CKA_LABEL);
    if (l == nullptr || AsStringView(*l) != label) {
      return InvalidArgumentError("import: every object must carry CKA_LABEL \"" + std::string(label) + "\"");
    }
    o->is_token = true;
    o->owner_app = 0;
    o->owner_session = 0;
    if (!o->pkey) VHSM_RETURN_IF_ERROR(engine_.Prepare(o.get()).Annotate("import"));
  }
  // Held across the sealed write: label check, store transaction and table update are one step
  // for every other caller (a write is a few rows; imports are rare).
  std::unique_lock<std::shared_mutex> lock(objects_mu_);
  ImportedObjects out;
  auto range = by_label_.equal_range(std::string(label));
  for (auto it = range.first; it != range.second; ++it) {
    auto o = objects_.find(it->second);
    if (o != objects_.end() && o->second->is_token) out.removed.push_back(it->second);
  }
  std::sort(out.removed.begin(), out.removed.end());
  if (!out.removed.empty() && !replace) {
    return AlreadyExistsError("label \"" + std::string(label) + "\": " + std::to_string(out.removed.size()) +
                              " token object(s) already carry it");
  }
  std::vector<Bytes> bodies;
  std::vector<std::pair<uint64_t, ByteSpan>> puts;
  bodies.reserve(objects.size());
  for (auto& o : objects) {
    o->handle = next_object_++;
    out.handles.push_back(o->handle);
    bodies.push_back(SerializeObjectBody(*o));
  }
  for (size_t i = 0; i < objects.size(); ++i) puts.emplace_back(objects[i]->handle, ByteSpan(bodies[i]));
  std::vector<uint64_t> deletes(out.removed.begin(), out.removed.end());
  Status st = store_.ApplyObjectBatch(puts, deletes, after_write);
  for (Bytes& b : bodies) OPENSSL_cleanse(b.data(), b.size());
  VHSM_RETURN_IF_ERROR(st);
  for (CK_OBJECT_HANDLE h : out.removed) {
    auto o = objects_.find(h);
    if (o == objects_.end()) continue;
    if (const Bytes* l = o->second->Get(CKA_LABEL)) {
      auto r = by_label_.equal_range(LabelKey(*l));
      for (auto li = r.first; li != r.second; ++li) {
        if (li->second == h) {
          by_label_.erase(li);
          break;
        }
      }
    }
    objects_.erase(o);
  }
  for (auto& o : objects) {
    const CK_OBJECT_HANDLE h = o->handle;
    by_label_.emplace(std::string(label), h);
    objects_.emplace(h, std::shared_ptr<const Object>(std::move(o)));
  }
  return out;
}

}  // namespace vhsm::hsm
