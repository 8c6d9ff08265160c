#include "p11/key.h"

#include <dlfcn.h>
#include <p11-kit/pkcs11.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "base/byte_reader.h"
#include "base/file.h"
#include "crypto/keys.h"

namespace vhsm::p11 {

namespace internal {

// One dlopen()ed, C_Initialize()d module. Created and destroyed only by the registry below.
class Module {
 public:
  ~Module() {
    if (f_ != nullptr && initialized_by_us_) f_->C_Finalize(nullptr);
    if (handle_ != nullptr) dlclose(handle_);
  }
  CK_FUNCTION_LIST_PTR f() const { return f_; }
  const std::string& path() const { return path_; }

  static Result<std::unique_ptr<Module>> Load(const std::string& path) {
    std::unique_ptr<Module> m(new Module());
    m->path_ = path;
    m->handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (m->handle_ == nullptr) {
      const char* err = dlerror();
      return NotFoundError("PKCS#11 module '" + path + "': cannot load: " + (err ? err : "dlopen failed"));
    }
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(m->handle_, "C_GetFunctionList"));
    if (get == nullptr) {
      return FailedPreconditionError("PKCS#11 module '" + path + "': no C_GetFunctionList symbol");
    }
    CK_RV rv = get(&m->f_);
    if (rv != CKR_OK || m->f_ == nullptr) return CkrToStatus(rv, "C_GetFunctionList");
    CK_C_INITIALIZE_ARGS args;
    std::memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    rv = m->f_->C_Initialize(&args);
    if (rv == CKR_OK) {
      m->initialized_by_us_ = true;
    } else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) {
      // Someone else in this process owns the module's initialisation: leave it to them.
      return CkrToStatus(rv, "C_Initialize(" + path + ")");
    }
    return m;
  }

 private:
  Module() = default;
  std::string path_;
  void* handle_ = nullptr;
  CK_FUNCTION_LIST_PTR f_ = nullptr;
  bool initialized_by_us_ = false;
};

namespace {

// PKCS#11 initialisation is process-wide (C_Initialize/C_Finalize affect every user of the
// module in the process), so modules are shared through this registry; the last reference
// finalizes under the registry lock, so a concurrent Load never sees a half-finalized module.
struct Registry {
  std::mutex mu;
  std::map<std::string, std::pair<std::unique_ptr<Module>, int>> modules;  // guarded by mu
};
Registry& TheRegistry() {
  static Registry* r = new Registry();  // never destroyed: Keys may outlive static teardown order
  return *r;
}

Result<std::shared_ptr<Module>> AcquireModule(const std::string& path) {
  Registry& reg = TheRegistry();
  std::lock_guard<std::mutex> lock(reg.mu);
  auto& entry = reg.modules[path];
  if (!entry.first) {
    Result<std::unique_ptr<Module>> m = Module::Load(path);
    if (!m.ok()) {
      reg.modules.erase(path);
      return m.status();
    }
    entry.first = std::move(*m);
    entry.second = 0;
  }
  ++entry.second;
  return std::shared_ptr<Module>(entry.first.get(), [path](Module*) {
    Registry& r = TheRegistry();
    std::lock_guard<std::mutex> l(r.mu);
    auto it = r.modules.find(path);
    if (it != r.modules.end() && --it->second.second == 0) r.modules.erase(it);
  });
}

}  // namespace
}  // namespace internal

namespace {

constexpr size_t kMaxAttributeBytes = 8192;
constexpr CK_ULONG kGcmTagBits = 128;

struct CkrEntry {
  CK_RV rv;
  const char* name;
  StatusCode code;
};
constexpr CkrEntry kCkrTable[] = {
    {CKR_OK, "CKR_OK", StatusCode::kOk},
    {CKR_CANCEL, "CKR_CANCEL", StatusCode::kInternal},
    {CKR_HOST_MEMORY, "CKR_HOST_MEMORY", StatusCode::kResourceExhausted},
    {CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID", StatusCode::kNotFound},
    {CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR", StatusCode::kInternal},
    {CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED", StatusCode::kInternal},
    {CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD", StatusCode::kInvalidArgument},
    {CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE", StatusCode::kFailedPrecondition},
    {CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID", StatusCode::kFailedPrecondition},
    {CKR_DATA_INVALID, "CKR_DATA_INVALID", StatusCode::kInvalidArgument},
    {CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE", StatusCode::kInvalidArgument},
    {CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", StatusCode::kUnavailable},
    {CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY", StatusCode::kResourceExhausted},
    {CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", StatusCode::kUnavailable},
    {CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID", StatusCode::kUnauthenticated},
    {CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE", StatusCode::kUnauthenticated},
    {CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID", StatusCode::kFailedPrecondition},
    {CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE", StatusCode::kFailedPrecondition},
    {CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT", StatusCode::kFailedPrecondition},
    {CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED", StatusCode::kFailedPrecondition},
    {CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID", StatusCode::kUnimplemented},
    {CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID", StatusCode::kInvalidArgument},
    {CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID", StatusCode::kFailedPrecondition},
    {CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE", StatusCode::kInternal},
    {CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED", StatusCode::kInternal},
    {CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT", StatusCode::kUnauthenticated},
    {CKR_PIN_INVALID, "CKR_PIN_INVALID", StatusCode::kUnauthenticated},
    {CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE", StatusCode::kUnauthenticated},
    {CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED", StatusCode::kUnauthenticated},
    {CKR_PIN_LOCKED, "CKR_PIN_LOCKED", StatusCode::kPermissionDenied},
    {CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED", StatusCode::kUnavailable},
    {CKR_SESSION_COUNT, "CKR_SESSION_COUNT", StatusCode::kResourceExhausted},
    {CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID", StatusCode::kUnavailable},
    {CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID", StatusCode::kUnauthenticated},
    {CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT", StatusCode::kUnavailable},
    {CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED", StatusCode::kUnavailable},
    {CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN", StatusCode::kOk},
    {CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN", StatusCode::kUnauthenticated},
    {CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED", StatusCode::kFailedPrecondition},
    {CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID", StatusCode::kInvalidArgument},
    {CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL", StatusCode::kInternal},
    {CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED", StatusCode::kInternal},
    {CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED", StatusCode::kOk},
    {CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED", StatusCode::kUnimplemented},
};

// A session the token no longer knows: reopen and retry once.
bool SessionLost(CK_RV rv) {
  return rv == CKR_SESSION_HANDLE_INVALID || rv == CKR_SESSION_CLOSED || rv == CKR_USER_NOT_LOGGED_IN;
}

// CK_TOKEN_INFO-style fixed fields: blank-padded, not NUL-terminated.
std::string Trim(const CK_UTF8CHAR* p, size_t n) {
  std::string s(reinterpret_cast<const char*>(p), n);
  s.erase(s.find_last_not_of(' ') + 1);
  return s;
}

bool FieldMatches(const std::optional<std::string>& want, const CK_UTF8CHAR* p, size_t n) {
  return !want || *want == Trim(p, n);
}

Result<SecretBytes> ResolvePin(const Pkcs11Uri& uri, const KeyOptions& options) {
  if (uri.pin_value) return uri.pin_value->Clone();
  if (uri.pin_source) {
    std::string path = *uri.pin_source;
    if (path.rfind("file://", 0) == 0) {
      path = path.substr(7);
    } else if (path.rfind("file:", 0) == 0) {
      path = path.substr(5);
    } else if (path.find(':') != std::string::npos && path.front() != '/') {
      return InvalidArgumentError("pkcs11 URI: pin-source: only file paths (or file: URIs) are supported");
    }
    Result<Bytes> b = ReadFileBytes(path, kMaxPinBytes + 2);
    if (!b.ok()) return b.status().Annotate("pkcs11 URI: pin-source '" + path + "'");
    SecretBytes pin(*b);
    std::fill(b->begin(), b->end(), 0);
    size_t n = pin.size();
    while (n > 0 && (pin.Expose()[n - 1] == '\n' || pin.Expose()[n - 1] == '\r')) --n;
    if (n > kMaxPinBytes) return InvalidArgumentError("pkcs11 URI: pin-source: PIN longer than 256 bytes");
    return SecretBytes(pin.Expose().first(n));
  }
  if (options.pin) return options.pin->Clone();
  return SecretBytes();
}

Result<std::string> ResolveModulePath(const Pkcs11Uri& uri, const KeyOptions& options) {
  if (uri.module_path) return *uri.module_path;
  if (uri.module_name) {
    const std::string& n = *uri.module_name;
    if (n.find('/') != std::string::npos) return InvalidArgumentError("pkcs11 URI: module-name: must not contain '/'");
    return "lib" + n + ".so";
  }
  if (!options.module_path.empty()) return options.module_path;
  return InvalidArgumentError("pkcs11 URI: no module: give ?module-path=... in the URI or a module path in the config");
}

// P-256, P-384, P-521 named-curve OIDs as DER (the CKA_EC_PARAMS value).
constexpr uint8_t kOidP256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
constexpr uint8_t kOidP384[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
constexpr uint8_t kOidP521[] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};

KeyCurve CurveFromParams(ByteSpan params) {
  auto eq = [&](ByteSpan oid) { return std::equal(params.begin(), params.end(), oid.begin(), oid.end()); };
  if (eq(kOidP256)) return KeyCurve::kP256;
  if (eq(kOidP384)) return KeyCurve::kP384;
  if (eq(kOidP521)) return KeyCurve::kP521;
  return KeyCurve::kNone;
}

size_t CoordSize(KeyCurve c) {
  switch (c) {
    case KeyCurve::kP256: return 32;
    case KeyCurve::kP384: return 48;
    case KeyCurve::kP521: return 66;
    case KeyCurve::kNone: break;
  }
  return 0;
}

// CKA_EC_POINT is a DER OCTET STRING holding 04||x||y (PKCS#11 2.40 section 2.3.3); some
// modules give the bare point. Accept both, exactly.
Result<Bytes> UnwrapEcPoint(ByteSpan v, size_t coord) {
  const size_t point_len = 1 + 2 * coord;
  if (v.size() == point_len && v[0] == 0x04) return Bytes(v.begin(), v.end());
  ByteReader r(v);
  VHSM_ASSIGN_OR_RETURN(uint8_t tag, r.ReadU8("CKA_EC_POINT tag"));
  VHSM_ASSIGN_OR_RETURN(uint8_t len, r.ReadU8("CKA_EC_POINT length"));
  size_t n = len;
  if (len == 0x81) {
    VHSM_ASSIGN_OR_RETURN(uint8_t l2, r.ReadU8("CKA_EC_POINT length"));
    n = l2;
  } else if (len > 0x81) {
    return InvalidArgumentError("CKA_EC_POINT: unsupported DER length form");
  }
  if (tag != 0x04 || n != point_len || r.remaining() != n) {
    return InvalidArgumentError("CKA_EC_POINT: want an OCTET STRING of " + std::to_string(point_len) +
                                " bytes, got " + std::to_string(v.size()) + " bytes");
  }
  VHSM_ASSIGN_OR_RETURN(ByteSpan p, r.ReadBytes(n, "CKA_EC_POINT"));
  return Bytes(p.begin(), p.end());
}

Result<crypto::EcCurve> ToCryptoCurve(KeyCurve c) {
  switch (c) {
    case KeyCurve::kP256: return crypto::EcCurve::kP256;
    case KeyCurve::kP384: return crypto::EcCurve::kP384;
    case KeyCurve::kP521: return crypto::EcCurve::kP521;
    case KeyCurve::kNone: break;
  }
  return FailedPreconditionError("PKCS#11 key: CKA_EC_PARAMS names a curve other than P-256/P-384/P-521");
}

// Reads one attribute (at most kMaxAttributeBytes). kNotFound when the object lacks it.
Result<Bytes> GetAttribute(CK_FUNCTION_LIST_PTR f, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t,
                           std::string_view name) {
  CK_ATTRIBUTE a{t, nullptr, 0};
  CK_RV rv = f->C_GetAttributeValue(s, o, &a, 1);
  if (rv == CKR_ATTRIBUTE_TYPE_INVALID || (rv == CKR_OK && a.ulValueLen == CK_UNAVAILABLE_INFORMATION)) {
    return NotFoundError(std::string(name) + ": not present on the object");
  }
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetAttributeValue(" + std::string(name) + ")");
  if (a.ulValueLen > kMaxAttributeBytes) {
    return ResourceExhaustedError(std::string(name) + ": " + std::to_string(a.ulValueLen) + " bytes, limit " +
                                  std::to_string(kMaxAttributeBytes));
  }
  Bytes v(a.ulValueLen);
  a.pValue = v.data();
  rv = f->C_GetAttributeValue(s, o, &a, 1);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetAttributeValue(" + std::string(name) + ")");
  v.resize(a.ulValueLen);
  return v;
}

}  // namespace

std::string CkrName(unsigned long rv) {
  for (const CkrEntry& e : kCkrTable) {
    if (e.rv == rv) return e.name;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "CKR_0x%08lX", rv);
  return buf;
}

Status CkrToStatus(unsigned long rv, std::string_view what) {
  StatusCode code = StatusCode::kInternal;
  for (const CkrEntry& e : kCkrTable) {
    if (e.rv == rv) code = e.code;
  }
  if (code == StatusCode::kOk) return OkStatus();
  return Status(code, std::string(what) + ": " + CkrName(rv));
}

Key::~Key() {
  std::lock_guard<std::mutex> lock(mu_);
  if (session_ != 0 && module_) module_->f()->C_CloseSession(session_);
  session_ = 0;
}

Result<std::unique_ptr<Key>> Key::Open(std::string_view uri, KeyOptions options) {
  VHSM_ASSIGN_OR_RETURN(Pkcs11Uri parsed, ParsePkcs11Uri(uri));
  return Open(parsed, std::move(options));
}

Result<std::unique_ptr<Key>> Key::Open(const Pkcs11Uri& uri, KeyOptions options) {
  std::unique_ptr<Key> key(new Key());
  key->uri_ = uri.Clone();
  key->description_ = uri.ToString(/*with_pin=*/false);
  VHSM_ASSIGN_OR_RETURN(std::string module_path, ResolveModulePath(uri, options));
  VHSM_ASSIGN_OR_RETURN(SecretBytes pin, ResolvePin(uri, options));
  if (!pin.empty()) key->pin_ = std::move(pin);
  VHSM_ASSIGN_OR_RETURN(key->module_, internal::AcquireModule(module_path));
  CK_FUNCTION_LIST_PTR f = key->module_->f();

  if (uri.library_manufacturer || uri.library_description || uri.library_version) {
    CK_INFO info;
    CK_RV rv = f->C_GetInfo(&info);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_GetInfo");
    const bool ok = FieldMatches(uri.library_manufacturer, info.manufacturerID, 32) &&
                    FieldMatches(uri.library_description, info.libraryDescription, 32) &&
                    (!uri.library_version || (uri.library_version->major == info.libraryVersion.major &&
                                              uri.library_version->minor == info.libraryVersion.minor));
    if (!ok) return NotFoundError("PKCS#11 module '" + module_path + "': library-* attributes do not match " +
                                  key->description_);
  }

  CK_ULONG n = 0;
  CK_RV rv = f->C_GetSlotList(CK_TRUE, nullptr, &n);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_GetSlotList");
  std::vector<CK_SLOT_ID> slots(n);
  if (n > 0) {
    rv = f->C_GetSlotList(CK_TRUE, slots.data(), &n);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_GetSlotList");
    slots.resize(n);
  }
  std::vector<CK_SLOT_ID> matches;
  for (CK_SLOT_ID slot : slots) {
    if (uri.slot_id && *uri.slot_id != slot) continue;
    if (uri.slot_manufacturer || uri.slot_description) {
      CK_SLOT_INFO si;
      if (f->C_GetSlotInfo(slot, &si) != CKR_OK) continue;
      if (!FieldMatches(uri.slot_manufacturer, si.manufacturerID, 32) ||
          !FieldMatches(uri.slot_description, si.slotDescription, 64)) {
        continue;
      }
    }
    CK_TOKEN_INFO ti;
    if (f->C_GetTokenInfo(slot, &ti) != CKR_OK) continue;
    if ((ti.flags & CKF_TOKEN_INITIALIZED) == 0) continue;
    if (FieldMatches(uri.token, ti.label, 32) && FieldMatches(uri.manufacturer, ti.manufacturerID, 32) &&
        FieldMatches(uri.serial, ti.serialNumber, 16) && FieldMatches(uri.model, ti.model, 16)) {
      matches.push_back(slot);
    }
  }
  if (matches.empty()) return NotFoundError("PKCS#11: no initialised token matches " + key->description_);
  if (matches.size() > 1) {
    return FailedPreconditionError("PKCS#11: " + std::to_string(matches.size()) + " tokens match " +
                                   key->description_ + "; add token=, serial= or slot-id= to pick one");
  }
  key->slot_ = matches.front();
  {
    std::lock_guard<std::mutex> lock(key->mu_);
    VHSM_RETURN_IF_ERROR(key->OpenSessionLocked());
    VHSM_RETURN_IF_ERROR(key->FindObjectsLocked());
  }
  return key;
}

Status Key::OpenSessionLocked() const {
  CK_FUNCTION_LIST_PTR f = module_->f();
  if (session_ != 0) {
    f->C_CloseSession(session_);
    session_ = 0;
  }
  CK_SESSION_HANDLE s = 0;
  CK_RV rv = f->C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &s);
  if (rv != CKR_OK) return CkrToStatus(rv, "C_OpenSession");
  if (pin_) {
    // Login state is per token and application: other sessions of this process share it.
    rv = f->C_Login(s, CKU_USER, const_cast<CK_UTF8CHAR_PTR>(pin_->Expose().data()),
                    static_cast<CK_ULONG>(pin_->size()));
    if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
      f->C_CloseSession(s);
      return CkrToStatus(rv, "C_Login (PIN not shown)");
    }
  }
  session_ = s;
  return OkStatus();
}

Status Key::FindObjectsLocked() {
  CK_FUNCTION_LIST_PTR f = module_->f();
  auto find = [&](CK_OBJECT_CLASS cls, std::string_view what, CK_OBJECT_HANDLE& out) -> Status {
    std::vector<CK_ATTRIBUTE> tmpl;
    tmpl.push_back({CKA_CLASS, &cls, sizeof(cls)});
    if (uri_.object) {
      tmpl.push_back({CKA_LABEL, const_cast<char*>(uri_.object->data()), static_cast<CK_ULONG>(uri_.object->size())});
    }
    if (uri_.id) {
      tmpl.push_back({CKA_ID, const_cast<uint8_t*>(uri_.id->data()), static_cast<CK_ULONG>(uri_.id->size())});
    }
    CK_RV rv = f->C_FindObjectsInit(session_, tmpl.data(), static_cast<CK_ULONG>(tmpl.size()));
    if (rv != CKR_OK) return CkrToStatus(rv, "C_FindObjectsInit");
    CK_OBJECT_HANDLE found[2] = {0, 0};
    CK_ULONG count = 0;
    rv = f->C_FindObjects(session_, found, 2, &count);
    f->C_FindObjectsFinal(session_);
    if (rv != CKR_OK) return CkrToStatus(rv, "C_FindObjects");
    if (count > 1) {
      return FailedPreconditionError("PKCS#11: several " + std::string(what) + " objects match " + description_ +
                                     "; add object= or id= to pick one");
    }
    out = count == 1 ? found[0] : 0;
    return OkStatus();
  };
  const bool any = !uri_.type;
  if (any || uri_.type == ObjectType::kPrivate) VHSM_RETURN_IF_ERROR(find(CKO_PRIVATE_KEY, "private key", private_key_));
  if (any || uri_.type == ObjectType::kPublic) VHSM_RETURN_IF_ERROR(find(CKO_PUBLIC_KEY, "public key", public_key_));
  if (any || uri_.type == ObjectType::kSecretKey) VHSM_RETURN_IF_ERROR(find(CKO_SECRET_KEY, "secret key", secret_key_));
  if (private_key_ == 0 && public_key_ == 0 && secret_key_ == 0) {
    return NotFoundError("PKCS#11: no key object matches " + description_ +
                         (pin_ ? "" : " (no PIN given: private objects are invisible without login)"));
  }
  for (CK_OBJECT_HANDLE o : {public_key_, private_key_}) {
    if (o == 0) continue;
    Result<Bytes> params = GetAttribute(f, session_, o, CKA_EC_PARAMS, "CKA_EC_PARAMS");
    if (params.ok()) {
      curve_ = CurveFromParams(*params);
      break;
    }
  }
  return OkStatus();
}

template <typename T, typename Op>
Result<T> Key::WithSession(const char* what, Op op) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (int attempt = 0;; ++attempt) {
    if (session_ == 0) VHSM_RETURN_IF_ERROR(OpenSessionLocked());
    CK_RV rv = CKR_OK;
    std::optional<Result<T>> done = op(static_cast<CK_SESSION_HANDLE>(session_), rv);
    if (done) return std::move(*done);
    if (!SessionLost(rv) || attempt == 1) return CkrToStatus(rv, what);
    session_ = 0;
  }
}

Result<Bytes> Key::SignDigestEcdsa(ByteSpan digest) const {
  if (private_key_ == 0) return FailedPreconditionError("PKCS#11: no private key object matches " + description_);
  if (digest.empty() || digest.size() > 64) {
    return InvalidArgumentError("ECDSA digest: want 1..64 bytes, got " + std::to_string(digest.size()));
  }
  const size_t coord = CoordSize(curve_);
  if (coord == 0) return FailedPreconditionError("PKCS#11: " + description_ + ": not a P-256/P-384/P-521 EC key");
  CK_FUNCTION_LIST_PTR f = module_->f();
  return WithSession<Bytes>("C_Sign(CKM_ECDSA)", [&](CK_SESSION_HANDLE session, CK_RV& rv) -> std::optional<Result<Bytes>> {
    CK_MECHANISM mech{CKM_ECDSA, nullptr, 0};
    if ((rv = f->C_SignInit(session, &mech, private_key_)) != CKR_OK) return std::nullopt;
    Bytes sig(2 * coord);
    CK_ULONG len = static_cast<CK_ULONG>(sig.size());
    rv = f->C_Sign(session, const_cast<uint8_t*>(digest.data()), static_cast<CK_ULONG>(digest.size()), sig.data(), &len);
    if (rv != CKR_OK) return std::nullopt;
    if (len != sig.size()) {
      return Result<Bytes>(InternalError("C_Sign(CKM_ECDSA): got " + std::to_string(len) + " signature bytes, want " +
                                         std::to_string(sig.size())));
    }
    return Result<Bytes>(std::move(sig));
  });
}

Result<Bytes> Key::PublicKeySpki() const {
  CK_FUNCTION_LIST_PTR f = module_->f();
  std::lock_guard<std::mutex> lock(mu_);
  if (session_ == 0) VHSM_RETURN_IF_ERROR(OpenSessionLocked());
  if (public_key_ != 0) {
    Result<Bytes> params = GetAttribute(f, session_, public_key_, CKA_EC_PARAMS, "CKA_EC_PARAMS");
    Result<Bytes> point = GetAttribute(f, session_, public_key_, CKA_EC_POINT, "CKA_EC_POINT");
    if (params.ok() && point.ok()) {
      VHSM_ASSIGN_OR_RETURN(crypto::EcCurve c, ToCryptoCurve(CurveFromParams(*params)));
      VHSM_ASSIGN_OR_RETURN(Bytes raw, UnwrapEcPoint(*point, crypto::EcCoordinateSize(c)));
      VHSM_ASSIGN_OR_RETURN(crypto::PublicKey pk, crypto::PublicKey::FromEcUncompressed(c, raw));
      return pk.ToDer();
    }
  }
  for (CK_OBJECT_HANDLE o : {public_key_, private_key_}) {
    if (o == 0) continue;
    Result<Bytes> info = GetAttribute(f, session_, o, CKA_PUBLIC_KEY_INFO, "CKA_PUBLIC_KEY_INFO");
    if (info.ok() && !info->empty()) {
      VHSM_ASSIGN_OR_RETURN(crypto::PublicKey pk, crypto::PublicKey::FromDer(*info));
      return pk.ToDer();
    }
  }
  return FailedPreconditionError("PKCS#11: " + description_ +
                                 ": no public key object with CKA_EC_POINT and no CKA_PUBLIC_KEY_INFO");
}

namespace {
Status CheckAeadSizes(ByteSpan iv, ByteSpan aad, size_t data) {
  if (iv.empty() || iv.size() > 128) return InvalidArgumentError("AES-GCM iv: want 1..128 bytes, got " + std::to_string(iv.size()));
  if (aad.size() > kMaxAeadAadBytes) {
    return InvalidArgumentError("AES-GCM aad: " + std::to_string(aad.size()) + " bytes, limit " +
                                std::to_string(kMaxAeadAadBytes));
  }
  if (data > kMaxAeadPlaintextBytes + kGcmTagBytes) {
    return InvalidArgumentError("AES-GCM data: " + std::to_string(data) + " bytes, limit " +
                                std::to_string(kMaxAeadPlaintextBytes));
  }
  return OkStatus();
}

CK_GCM_PARAMS GcmParams(ByteSpan iv, ByteSpan aad) {
  CK_GCM_PARAMS p;
  p.iv_ptr = const_cast<uint8_t*>(iv.data());
  p.iv_len = static_cast<CK_ULONG>(iv.size());
  p.iv_bits = static_cast<CK_ULONG>(iv.size() * 8);
  p.aad_ptr = const_cast<uint8_t*>(aad.data());
  p.aad_len = static_cast<CK_ULONG>(aad.size());
  p.tag_bits = kGcmTagBits;
  return p;
}
}  // namespace

Result<Bytes> Key::AeadEncrypt(ByteSpan iv, ByteSpan aad, ByteSpan plaintext) const {
  if (secret_key_ == 0) return FailedPreconditionError("PKCS#11: no secret key object matches " + description_);
  VHSM_RETURN_IF_ERROR(CheckAeadSizes(iv, aad, plaintext.size()));
  if (plaintext.size() > kMaxAeadPlaintextBytes) return InvalidArgumentError("AES-GCM plaintext: over 1 MiB");
  CK_FUNCTION_LIST_PTR f = module_->f();
  return WithSession<Bytes>("C_Encrypt(CKM_AES_GCM)", [&](CK_SESSION_HANDLE session, CK_RV& rv) -> std::optional<Result<Bytes>> {
    CK_GCM_PARAMS params = GcmParams(iv, aad);
    CK_MECHANISM mech{CKM_AES_GCM, &params, sizeof(params)};
    if ((rv = f->C_EncryptInit(session, &mech, secret_key_)) != CKR_OK) return std::nullopt;
    Bytes out(plaintext.size() + kGcmTagBytes);
    CK_ULONG len = static_cast<CK_ULONG>(out.size());
    // Some modules (SoftHSM2) reject a NULL input pointer even for zero bytes.
    uint8_t empty = 0;
    uint8_t* in = plaintext.empty() ? &empty : const_cast<uint8_t*>(plaintext.data());
    if ((rv = f->C_Encrypt(session, in, static_cast<CK_ULONG>(plaintext.size()), out.data(), &len)) != CKR_OK) {
      return std::nullopt;
    }
    if (len != out.size()) {
      return Result<Bytes>(InternalError("C_Encrypt(CKM_AES_GCM): got " + std::to_string(len) + " bytes, want " +
                                         std::to_string(out.size())));
    }
    return Result<Bytes>(std::move(out));
  });
}

Result<SecretBytes> Key::AeadDecrypt(ByteSpan iv, ByteSpan aad, ByteSpan ct) const {
  if (secret_key_ == 0) return FailedPreconditionError("PKCS#11: no secret key object matches " + description_);
  VHSM_RETURN_IF_ERROR(CheckAeadSizes(iv, aad, ct.size()));
  if (ct.size() < kGcmTagBytes) {
    return InvalidArgumentError("AES-GCM ciphertext: want at least the 16-byte tag, got " + std::to_string(ct.size()));
  }
  CK_FUNCTION_LIST_PTR f = module_->f();
  return WithSession<SecretBytes>(
      "C_Decrypt(CKM_AES_GCM)", [&](CK_SESSION_HANDLE session, CK_RV& rv) -> std::optional<Result<SecretBytes>> {
        CK_GCM_PARAMS params = GcmParams(iv, aad);
        CK_MECHANISM mech{CKM_AES_GCM, &params, sizeof(params)};
        if ((rv = f->C_DecryptInit(session, &mech, secret_key_)) != CKR_OK) return std::nullopt;
        // Room for the whole input: some modules want the upper bound, not the exact length.
        SecretBytes buf(ct.size());
        CK_ULONG len = static_cast<CK_ULONG>(buf.size());
        rv = f->C_Decrypt(session, const_cast<uint8_t*>(ct.data()), static_cast<CK_ULONG>(ct.size()),
                          buf.MutableExpose().data(), &len);
        if (rv == CKR_OK) {
          if (len != ct.size() - kGcmTagBytes) {
            return Result<SecretBytes>(InternalError("C_Decrypt(CKM_AES_GCM): got " + std::to_string(len) +
                                                     " bytes, want " + std::to_string(ct.size() - kGcmTagBytes)));
          }
          return Result<SecretBytes>(SecretBytes(buf.Expose().first(len)));
        }
        // A tag mismatch: modules report it as ENCRYPTED_DATA_INVALID (the spec's code) or, like
        // SoftHSM2, as a generic failure. Either way nothing is released.
        if (rv == CKR_ENCRYPTED_DATA_INVALID || rv == CKR_FUNCTION_FAILED || rv == CKR_GENERAL_ERROR ||
            rv == CKR_ENCRYPTED_DATA_LEN_RANGE) {
          return Result<SecretBytes>(UnauthenticatedError(
              "AES-GCM: tag does not verify (key, iv, aad or ciphertext differ; " + CkrName(rv) + ")"));
        }
        return std::nullopt;
      });
}

}  // namespace vhsm::p11
