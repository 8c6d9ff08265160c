#include "pkcs11/module.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <unistd.h>

#include <atomic>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "ipc/ckrv.h"
#include "ipc/mech_params.h"
#include "pkcs11/client.h"
#include "pkcs11/pkcs11_v3.h"

#define VHSM_EXPORT extern "C" __attribute__((visibility("default")))

namespace vhsm::pkcs11 {

CK_RV FlattenMechanism(const CK_MECHANISM* m, ipc::WireMechanism* out) {
  if (m == nullptr) return CKR_ARGUMENTS_BAD;
  out->type = m->mechanism;
  out->param.clear();
  if (m->pParameter == nullptr && m->ulParameterLen != 0) return CKR_MECHANISM_PARAM_INVALID;
  auto need = [&](size_t n) { return m->pParameter != nullptr && m->ulParameterLen == n; };
  switch (m->mechanism) {
    case CKM_AES_GCM: {
      if (!need(sizeof(CK_GCM_PARAMS))) return CKR_MECHANISM_PARAM_INVALID;
      const auto* p = static_cast<const CK_GCM_PARAMS*>(m->pParameter);
      if ((p->pIv == nullptr && p->ulIvLen != 0) || (p->pAAD == nullptr && p->ulAADLen != 0) || p->ulIvLen > 256 ||
          p->ulAADLen > ipc::kMaxAttributeValue) {
        return CKR_MECHANISM_PARAM_INVALID;
      }
      ipc::GcmParams g;
      g.iv.assign(p->pIv, p->pIv + p->ulIvLen);
      if (p->ulAADLen != 0) g.aad.assign(p->pAAD, p->pAAD + p->ulAADLen);
      g.tag_length_bits = p->ulTagBits;
      out->param = ipc::EncodeGcm(g);
      return CKR_OK;
    }
    case CKM_AES_CTR: {
      if (!need(sizeof(CK_AES_CTR_PARAMS))) return CKR_MECHANISM_PARAM_INVALID;
      const auto* p = static_cast<const CK_AES_CTR_PARAMS*>(m->pParameter);
      ipc::CtrParams c;
      c.ctr_bits = p->ulCounterBits;
      c.counter_block.assign(p->cb, p->cb + 16);
      out->param = ipc::EncodeCtr(c);
      return CKR_OK;
    }
    case CKM_RSA_PKCS_PSS: case CKM_SHA1_RSA_PKCS_PSS: case CKM_SHA224_RSA_PKCS_PSS: case CKM_SHA256_RSA_PKCS_PSS:
    case CKM_SHA384_RSA_PKCS_PSS: case CKM_SHA512_RSA_PKCS_PSS: {
      if (!need(sizeof(CK_RSA_PKCS_PSS_PARAMS))) return CKR_MECHANISM_PARAM_INVALID;
      const auto* p = static_cast<const CK_RSA_PKCS_PSS_PARAMS*>(m->pParameter);
      out->param = ipc::EncodePss({p->hashAlg, p->mgf, p->sLen});
      return CKR_OK;
    }
    case CKM_RSA_PKCS_OAEP: {
      if (!need(sizeof(CK_RSA_PKCS_OAEP_PARAMS))) return CKR_MECHANISM_PARAM_INVALID;
      const auto* p = static_cast<const CK_RSA_PKCS_OAEP_PARAMS*>(m->pParameter);
      if ((p->pSourceData == nullptr && p->ulSourceDataLen != 0) || p->ulSourceDataLen > ipc::kMaxAttributeValue) {
        return CKR_MECHANISM_PARAM_INVALID;
      }
      ipc::OaepParams o{p->hashAlg, p->mgf, p->source, {}};
      if (p->ulSourceDataLen != 0) {
        const auto* d = static_cast<const uint8_t*>(p->pSourceData);
        o.label.assign(d, d + p->ulSourceDataLen);
      }
      out->param = ipc::EncodeOaep(o);
      return CKR_OK;
    }
    case CKM_ECDH1_DERIVE: {
      if (!need(sizeof(CK_ECDH1_DERIVE_PARAMS))) return CKR_MECHANISM_PARAM_INVALID;
      const auto* p = static_cast<const CK_ECDH1_DERIVE_PARAMS*>(m->pParameter);
      if ((p->pSharedData == nullptr && p->ulSharedDataLen != 0) ||
          (p->pPublicData == nullptr && p->ulPublicDataLen != 0) || p->ulSharedDataLen > ipc::kMaxAttributeValue ||
          p->ulPublicDataLen > 1024) {
        return CKR_MECHANISM_PARAM_INVALID;
      }
      ipc::Ecdh1Params e;
      e.kdf = p->kdf;
      if (p->ulSharedDataLen != 0) e.shared_data.assign(p->pSharedData, p->pSharedData + p->ulSharedDataLen);
      if (p->ulPublicDataLen != 0) e.public_data.assign(p->pPublicData, p->pPublicData + p->ulPublicDataLen);
      out->param = ipc::EncodeEcdh1(e);
      return CKR_OK;
    }
    default:
      if (m->ulParameterLen > ipc::kMaxAttributeValue) return CKR_MECHANISM_PARAM_INVALID;
      if (m->ulParameterLen != 0) {
        const auto* d = static_cast<const uint8_t*>(m->pParameter);
        out->param.assign(d, d + m->ulParameterLen);
      }
      return CKR_OK;
  }
}

CK_RV FlattenTemplate(const CK_ATTRIBUTE* t, CK_ULONG n, bool with_values, ipc::WireTemplate* out) {
  if (t == nullptr && n != 0) return CKR_ARGUMENTS_BAD;
  if (n > ipc::kMaxAttributes) return CKR_TEMPLATE_INCONSISTENT;
  out->clear();
  out->reserve(n);
  for (CK_ULONG i = 0; i < n; ++i) {
    ipc::WireAttribute a;
    a.type = t[i].type;
    a.has_value = t[i].pValue != nullptr;
    if (with_values && a.has_value && ipc::IsArrayAttribute(a.type)) {
      // CKA_WRAP_TEMPLATE etc.: pValue is a CK_ATTRIBUTE array (one level; no nested arrays).
      if (t[i].ulValueLen % sizeof(CK_ATTRIBUTE) != 0) return CKR_ATTRIBUTE_VALUE_INVALID;
      const CK_ULONG inner_n = t[i].ulValueLen / sizeof(CK_ATTRIBUTE);
      const auto* inner = static_cast<const CK_ATTRIBUTE*>(t[i].pValue);
      for (CK_ULONG j = 0; j < inner_n && j <= ipc::kMaxAttributes; ++j) {
        if (ipc::IsArrayAttribute(inner[j].type)) return CKR_ATTRIBUTE_VALUE_INVALID;
      }
      ipc::WireTemplate flat;
      if (CK_RV rv = FlattenTemplate(inner, inner_n, true, &flat); rv != CKR_OK) return rv;
      a.value = ipc::EncodeAttrArray(flat);
      if (a.value.size() > ipc::kMaxAttributeValue) return CKR_ATTRIBUTE_VALUE_INVALID;
    } else if (with_values && a.has_value) {
      if (t[i].ulValueLen > ipc::kMaxAttributeValue) return CKR_ATTRIBUTE_VALUE_INVALID;
      const auto* v = static_cast<const uint8_t*>(t[i].pValue);
      a.value.assign(v, v + t[i].ulValueLen);
    } else if (with_values && t[i].ulValueLen != 0) {
      return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    out->push_back(std::move(a));
  }
  return CKR_OK;
}

CK_RV DeliverAttrArray(ByteSpan encoded, CK_ATTRIBUTE* out) {
  Result<ipc::WireTemplate> inner = ipc::DecodeAttrArray(encoded);
  if (!inner.ok()) return CKR_DEVICE_ERROR;
  const CK_ULONG need = static_cast<CK_ULONG>(inner->size() * sizeof(CK_ATTRIBUTE));
  if (out->pValue == nullptr) {
    out->ulValueLen = need;
    return CKR_OK;
  }
  if (out->ulValueLen < need) {
    out->ulValueLen = CK_UNAVAILABLE_INFORMATION;
    return CKR_BUFFER_TOO_SMALL;
  }
  CK_RV rv = CKR_OK;
  auto* arr = static_cast<CK_ATTRIBUTE*>(out->pValue);
  for (size_t j = 0; j < inner->size(); ++j) {
    const Bytes& v = (*inner)[j].value;
    arr[j].type = (*inner)[j].type;
    if (arr[j].pValue == nullptr) {
      arr[j].ulValueLen = v.size();
    } else if (arr[j].ulValueLen < v.size()) {
      arr[j].ulValueLen = CK_UNAVAILABLE_INFORMATION;
      rv = CKR_BUFFER_TOO_SMALL;
    } else {
      if (!v.empty()) std::memcpy(arr[j].pValue, v.data(), v.size());
      arr[j].ulValueLen = v.size();
    }
  }
  out->ulValueLen = need;
  return rv;
}

CK_RV DeliverOutput(ByteSpan result, CK_BYTE_PTR out, CK_ULONG_PTR out_len, bool* done) {
  *done = false;
  if (out_len == nullptr) {
    *done = true;
    return CKR_ARGUMENTS_BAD;
  }
  if (out == nullptr) {
    *out_len = result.size();
    return CKR_OK;
  }
  if (*out_len < result.size()) {
    *out_len = result.size();
    return CKR_BUFFER_TOO_SMALL;
  }
  if (!result.empty()) std::memcpy(out, result.data(), result.size());
  *out_len = result.size();
  *done = true;
  return CKR_OK;
}

namespace {

using ipc::MsgReader;
using ipc::MsgWriter;
using ipc::Opcode;

constexpr CK_SLOT_ID kSlot = 0;

// One pending cryptographic operation. Init is local (no round trip): the daemon validates key
// and mechanism when the data arrives, in the same message (spec-visible difference: an invalid
// key is reported by C_Sign rather than C_SignInit).
struct Op {
  bool active = false;
  ipc::WireMechanism mech;
  CK_OBJECT_HANDLE key = 0;
  bool multipart = false;
  Bytes buffer;                 // multi-part input collected until Final
  std::optional<Bytes> result;  // kept across a length query / short buffer
  Bytes result_input;           // the input `result` was computed for (one-shot calls)

  void Reset() {
    if (result) OPENSSL_cleanse(result->data(), result->size());
    OPENSSL_cleanse(buffer.data(), buffer.size());
    *this = Op();
  }
};

struct Session {
  std::mutex mu;
  Op sign, verify, encrypt, decrypt, digest;
  bool find_active = false;
  std::vector<CK_OBJECT_HANDLE> found;
  size_t found_pos = 0;
};

// This process's id without a getpid() system call on every PKCS#11 call (two per operation
// were measurable on the hot path): set by Initialize and refreshed in every forked child by a
// pthread_atfork handler (glibc unregisters it if the module is unloaded).
std::atomic<pid_t> g_pid{0};
void RefreshPidInChild() { g_pid.store(::getpid(), std::memory_order_relaxed); }
pid_t CurrentPid() {
  static std::once_flag once;
  std::call_once(once, [] {
    ::pthread_atfork(nullptr, nullptr, RefreshPidInChild);
    g_pid.store(::getpid(), std::memory_order_relaxed);
  });
  return g_pid.load(std::memory_order_relaxed);
}

class Module {
 public:
  CK_RV Initialize(CK_VOID_PTR args);
  CK_RV Finalize(CK_VOID_PTR reserved);
  // CKR_CRYPTOKI_NOT_INITIALIZED when not initialised in this process (also in a forked child).
  CK_RV Check() const {
    return initialized_ && pid_ == CurrentPid() ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
  }

  // One round trip; a transport failure becomes CKR_DEVICE_ERROR (logged once per failure).
  CK_RV Call(Opcode op, MsgWriter& w, Bytes* reply, MsgReader** reader_out = nullptr);

  std::shared_ptr<Session> Find(CK_SESSION_HANDLE h) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(h);
    return it == sessions_.end() ? nullptr : it->second;
  }
  void AddSession(CK_SESSION_HANDLE h) {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_[h] = std::make_shared<Session>();
  }
  void RemoveSession(CK_SESSION_HANDLE h) {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.erase(h);
  }
  void RemoveAllSessions() {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_.clear();
  }
  Client& client() { return *client_; }

 private:
  std::mutex mu_;
  bool initialized_ = false;
  pid_t pid_ = 0;
  std::unique_ptr<Client> client_;
  std::map<CK_SESSION_HANDLE, std::shared_ptr<Session>> sessions_;
};

Module& Mod() {
  static Module* m = new Module();  // never destroyed: entry points may run during exit
  return *m;
}

CK_RV Module::Initialize(CK_VOID_PTR args) {
  if (args != nullptr) {
    const auto* a = static_cast<const CK_C_INITIALIZE_ARGS*>(args);
    if (a->pReserved != nullptr) return CKR_ARGUMENTS_BAD;
    const bool all_null = a->CreateMutex == nullptr && a->DestroyMutex == nullptr && a->LockMutex == nullptr &&
                          a->UnlockMutex == nullptr;
    const bool all_set = a->CreateMutex != nullptr && a->DestroyMutex != nullptr && a->LockMutex != nullptr &&
                         a->UnlockMutex != nullptr;
    if (!all_null && !all_set) return CKR_ARGUMENTS_BAD;
    if (all_set && (a->flags & CKF_OS_LOCKING_OK) == 0) return CKR_CANT_LOCK;
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (initialized_ && pid_ == CurrentPid()) return CKR_CRYPTOKI_ALREADY_INITIALIZED;
  if (initialized_ && client_) {
    // Forked child: the parent's connections are shared descriptors; drop our copies silently.
    client_->AbandonAll();
  }
  sessions_.clear();
  const char* env = std::getenv("VHSM_SOCKET");
  ClientOptions opts;
  opts.socket_path = env != nullptr && *env != '\0' ? env : "/run/vhsm/vhsm.sock";
  // VHSM_SPIN_US: how long to poll for a reply before sleeping (default 2000; 0 = never spin).
  if (const char* spin = std::getenv("VHSM_SPIN_US"); spin != nullptr && *spin != '\0') {
    char* end = nullptr;
    const unsigned long v = std::strtoul(spin, &end, 10);
    if (*end == '\0' && v <= 10000) opts.spin_us = static_cast<unsigned>(v);
  }
  // VHSM_SHM=0: stay on the socket (no shared-memory lanes).
  if (const char* shm = std::getenv("VHSM_SHM"); shm != nullptr && std::string_view(shm) == "0") opts.shm = false;
  client_ = std::make_unique<Client>(opts);
  pid_ = CurrentPid();
  initialized_ = true;
  return CKR_OK;
}

CK_RV Module::Finalize(CK_VOID_PTR reserved) {
  if (reserved != nullptr) return CKR_ARGUMENTS_BAD;
  std::lock_guard<std::mutex> lock(mu_);
  if (!initialized_ || pid_ != CurrentPid()) return CKR_CRYPTOKI_NOT_INITIALIZED;
  sessions_.clear();
  client_.reset();  // closes the connections: the daemon drops this application's sessions
  initialized_ = false;
  return CKR_OK;
}

CK_RV Module::Call(Opcode op, MsgWriter& w, Bytes* reply, MsgReader** /*unused*/) {
  Bytes payload = w.Take();
  Result<Bytes> r = client_->Call(op, payload);
  OPENSSL_cleanse(payload.data(), payload.size());
  if (!r.ok()) {
    std::fprintf(stderr, "libvhsm-pkcs11: %s\n", r.status().ToString().c_str());
    return ipc::ToCkRv(r.status());
  }
  *reply = std::move(*r);
  return CKR_OK;
}

template <class F>
CK_RV Guard(F&& f) noexcept {
  try {
    if (CK_RV rv = Mod().Check(); rv != CKR_OK) return rv;
    return f();
  } catch (const std::bad_alloc&) {
    return CKR_HOST_MEMORY;
  } catch (...) {
    return CKR_GENERAL_ERROR;
  }
}

// Reads the CK_RV at the start of a reply; a malformed reply is a device error.
#define VHSM_RPC(op, w, reader)                                        \
  Bytes reply_bytes_;                                                  \
  if (CK_RV rv_ = Mod().Call((op), (w), &reply_bytes_); rv_ != CKR_OK) \
    return rv_;                                                        \
  MsgReader reader(reply_bytes_);                                      \
  CK_RV rpc_rv_ = CKR_DEVICE_ERROR;                                    \
  if (auto v_ = reader.GetU64("rv"); v_.ok()) rpc_rv_ = *v_

#define VHSM_READ(lhs, expr)                      \
  auto VHSM_CONCAT_(rd_, __LINE__) = (expr);      \
  if (!VHSM_CONCAT_(rd_, __LINE__).ok()) return CKR_DEVICE_ERROR; \
  lhs = std::move(VHSM_CONCAT_(rd_, __LINE__)).value()

void CopyPadded(unsigned char* dst, size_t n, const char* src) {
  std::memset(dst, ' ', n);
  std::memcpy(dst, src, std::min(n, std::strlen(src)));
}

CK_RV PingDaemon() {
  MsgWriter w;
  VHSM_RPC(Opcode::kGetTokenInfo, w, r);
  return rpc_rv_;
}

CK_RV FetchMechanisms(std::vector<std::pair<CK_MECHANISM_TYPE, CK_MECHANISM_INFO>>* out);

// The daemon's mechanism table, fetched once per C_Initialize, so C_*Init can reject a mechanism
// locally with CKR_MECHANISM_INVALID (callers probe mechanisms that way) without a round trip.
CK_RV MechanismAllowed(CK_MECHANISM_TYPE type, CK_FLAGS need) {
  static std::mutex mu;
  static std::vector<std::pair<CK_MECHANISM_TYPE, CK_MECHANISM_INFO>> cache;
  static const void* cache_owner = nullptr;
  std::lock_guard<std::mutex> lock(mu);
  const void* owner = &Mod().client();
  if (cache_owner != owner || cache.empty()) {
    cache.clear();
    if (CK_RV rv = FetchMechanisms(&cache); rv != CKR_OK) return rv;
    cache_owner = owner;
  }
  for (const auto& [t, info] : cache) {
    if (t == type) return (info.flags & need) != 0 ? CKR_OK : CKR_MECHANISM_INVALID;
  }
  return CKR_MECHANISM_INVALID;
}

// ---- crypto operations shared by sign/encrypt/decrypt/digest ----------------------------------

enum class Kind { kSign, kVerify, kEncrypt, kDecrypt, kDigest };

Op& OpOf(Session& s, Kind k) {
  switch (k) {
    case Kind::kSign: return s.sign;
    case Kind::kVerify: return s.verify;
    case Kind::kEncrypt: return s.encrypt;
    case Kind::kDecrypt: return s.decrypt;
    case Kind::kDigest: return s.digest;
  }
  return s.sign;
}

Opcode OpcodeOf(Kind k) {
  switch (k) {
    case Kind::kSign: return Opcode::kSign;
    case Kind::kVerify: return Opcode::kVerify;
    case Kind::kEncrypt: return Opcode::kEncrypt;
    case Kind::kDecrypt: return Opcode::kDecrypt;
    case Kind::kDigest: return Opcode::kDigest;
  }
  return Opcode::kSign;
}

CK_RV OpInit(CK_SESSION_HANDLE h, Kind k, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key) {
  std::shared_ptr<Session> s = Mod().Find(h);
  if (!s) return CKR_SESSION_HANDLE_INVALID;
  std::lock_guard<std::mutex> lock(s->mu);
  Op& op = OpOf(*s, k);
  if (op.active) return CKR_OPERATION_ACTIVE;
  ipc::WireMechanism m;
  if (CK_RV rv = FlattenMechanism(mech, &m); rv != CKR_OK) return rv;
  static constexpr CK_FLAGS kNeed[] = {CKF_SIGN, CKF_VERIFY, CKF_ENCRYPT, CKF_DECRYPT, CKF_DIGEST};
  if (CK_RV rv = MechanismAllowed(m.type, kNeed[static_cast<int>(k)]); rv != CKR_OK) return rv;
  op.Reset();
  op.active = true;
  op.mech = std::move(m);
  op.key = key;
  return CKR_OK;
}

// Runs the operation in the daemon on `data`; returns the output in *out.
CK_RV OpRun(CK_SESSION_HANDLE h, Kind k, const Op& op, ByteSpan data, Bytes* out) {
  MsgWriter w;
  w.PutU64(h);
  w.PutMechanism(op.mech);
  if (k != Kind::kDigest) w.PutU64(op.key);
  w.PutBytes(data);
  VHSM_RPC(OpcodeOf(k), w, r);
  if (rpc_rv_ != CKR_OK) return rpc_rv_;
  VHSM_READ(ByteSpan b, r.GetBytes("output", ipc::kMaxPayload));
  out->assign(b.begin(), b.end());
  return CKR_OK;
}

// Single-part call with output (C_Sign, C_Encrypt, C_Decrypt, C_Digest).
CK_RV OpOneShot(CK_SESSION_HANDLE h, Kind k, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  std::shared_ptr<Session> s = Mod().Find(h);
  if (!s) return CKR_SESSION_HANDLE_INVALID;
  std::lock_guard<std::mutex> lock(s->mu);
  Op& op = OpOf(*s, k);
  if (!op.active) return CKR_OPERATION_NOT_INITIALIZED;
  if (in == nullptr && in_len != 0) {
    op.Reset();
    return CKR_ARGUMENTS_BAD;
  }
  if (op.multipart) return CKR_OPERATION_ACTIVE;
  ByteSpan input(in, in_len);
  if (!op.result || op.result_input.size() != in_len ||
      (in_len != 0 && std::memcmp(op.result_input.data(), in, in_len) != 0)) {
    Bytes result;
    CK_RV rv = OpRun(h, k, op, input, &result);
    if (rv != CKR_OK) {
      op.Reset();
      return rv;
    }
    op.result = std::move(result);
    op.result_input.assign(input.begin(), input.end());
  }
  bool done = false;
  CK_RV rv = DeliverOutput(*op.result, out, out_len, &done);
  if (done) op.Reset();
  return rv;
}

CK_RV OpUpdate(CK_SESSION_HANDLE h, Kind k, CK_BYTE_PTR in, CK_ULONG in_len) {
  std::shared_ptr<Session> s = Mod().Find(h);
  if (!s) return CKR_SESSION_HANDLE_INVALID;
  std::lock_guard<std::mutex> lock(s->mu);
  Op& op = OpOf(*s, k);
  if (!op.active) return CKR_OPERATION_NOT_INITIALIZED;
  if ((in == nullptr && in_len != 0) || op.result) {
    op.Reset();
    return CKR_ARGUMENTS_BAD;
  }
  if (op.buffer.size() + in_len > ipc::kMaxBlob) {
    op.Reset();
    return CKR_DATA_LEN_RANGE;
  }
  op.multipart = true;
  if (in_len != 0) op.buffer.insert(op.buffer.end(), in, in + in_len);
  return CKR_OK;
}

CK_RV OpFinal(CK_SESSION_HANDLE h, Kind k, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  std::shared_ptr<Session> s = Mod().Find(h);
  if (!s) return CKR_SESSION_HANDLE_INVALID;
  std::lock_guard<std::mutex> lock(s->mu);
  Op& op = OpOf(*s, k);
  if (!op.active) return CKR_OPERATION_NOT_INITIALIZED;
  if (!op.result) {
    Bytes result;
    CK_RV rv = OpRun(h, k, op, op.buffer, &result);
    if (rv != CKR_OK) {
      op.Reset();
      return rv;
    }
    op.result = std::move(result);
    op.multipart = true;
  }
  bool done = false;
  CK_RV rv = DeliverOutput(*op.result, out, out_len, &done);
  if (done) op.Reset();
  return rv;
}

CK_RV VerifyRun(CK_SESSION_HANDLE h, Op& op, ByteSpan data, ByteSpan sig) {
  MsgWriter w;
  w.PutU64(h);
  w.PutMechanism(op.mech);
  w.PutU64(op.key);
  w.PutBytes(data);
  w.PutBytes(sig);
  op.Reset();
  VHSM_RPC(Opcode::kVerify, w, r);
  return rpc_rv_;
}

// ---- the C ABI -------------------------------------------------------------------------------

CK_FUNCTION_LIST* FunctionList();

}  // namespace
}  // namespace vhsm::pkcs11

using namespace vhsm;          // NOLINT: entry points below are thin wrappers
using namespace vhsm::pkcs11;  // NOLINT

VHSM_EXPORT CK_RV C_Initialize(CK_VOID_PTR args) {
  try {
    return Mod().Initialize(args);
  } catch (...) {
    return CKR_GENERAL_ERROR;
  }
}

VHSM_EXPORT CK_RV C_Finalize(CK_VOID_PTR reserved) {
  try {
    return Mod().Finalize(reserved);
  } catch (...) {
    return CKR_GENERAL_ERROR;
  }
}

VHSM_EXPORT CK_RV C_GetInfo(CK_INFO_PTR info) {
  return Guard([&]() -> CK_RV {
    if (info == nullptr) return CKR_ARGUMENTS_BAD;
    std::memset(info, 0, sizeof(*info));
    info->cryptokiVersion = {2, 40};
    CopyPadded(info->manufacturerID, 32, "vhsm project");
    CopyPadded(info->libraryDescription, 32, "vHSM PKCS#11 client");
    info->libraryVersion = {0, 1};
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list) {
  if (list == nullptr) return CKR_ARGUMENTS_BAD;
  *list = FunctionList();
  return CKR_OK;
}

VHSM_EXPORT CK_RV C_GetSlotList(CK_BBOOL token_present, CK_SLOT_ID_PTR slots, CK_ULONG_PTR count) {
  return Guard([&]() -> CK_RV {
    (void)token_present;
    if (count == nullptr) return CKR_ARGUMENTS_BAD;
    // The slot list is static, but an unreachable daemon must show up now, not later.
    if (CK_RV rv = PingDaemon(); rv != CKR_OK) return rv;
    if (slots == nullptr) {
      *count = 1;
      return CKR_OK;
    }
    if (*count < 1) {
      *count = 1;
      return CKR_BUFFER_TOO_SMALL;
    }
    slots[0] = kSlot;
    *count = 1;
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_GetSlotInfo(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info) {
  return Guard([&]() -> CK_RV {
    if (slot != kSlot) return CKR_SLOT_ID_INVALID;
    if (info == nullptr) return CKR_ARGUMENTS_BAD;
    std::memset(info, 0, sizeof(*info));
    CopyPadded(info->slotDescription, 64, "vHSM slot (vhsmd)");
    CopyPadded(info->manufacturerID, 32, "vhsm project");
    info->flags = CKF_TOKEN_PRESENT;
    info->hardwareVersion = {0, 1};
    info->firmwareVersion = {0, 1};
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info) {
  return Guard([&]() -> CK_RV {
    if (slot != kSlot) return CKR_SLOT_ID_INVALID;
    if (info == nullptr) return CKR_ARGUMENTS_BAD;
    MsgWriter w;
    VHSM_RPC(Opcode::kGetTokenInfo, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    std::memset(info, 0, sizeof(*info));
    auto text = [&](unsigned char* dst, size_t n) -> bool {
      auto b = r.GetBytes("text", n);
      if (!b.ok() || b->size() != n) return false;
      std::memcpy(dst, b->data(), n);
      return true;
    };
    if (!text(info->label, 32) || !text(info->manufacturerID, 32) || !text(info->model, 16) ||
        !text(info->serialNumber, 16)) {
      return CKR_DEVICE_ERROR;
    }
    CK_ULONG* fields[] = {&info->flags, &info->ulMaxSessionCount, &info->ulSessionCount, &info->ulMaxRwSessionCount,
                          &info->ulRwSessionCount, &info->ulMaxPinLen, &info->ulMinPinLen, &info->ulTotalPublicMemory,
                          &info->ulFreePublicMemory, &info->ulTotalPrivateMemory, &info->ulFreePrivateMemory};
    for (CK_ULONG* f : fields) {
      VHSM_READ(*f, r.GetU64("token_info"));
    }
    info->hardwareVersion = {0, 1};
    info->firmwareVersion = {0, 1};
    std::memset(info->utcTime, ' ', 16);
    return CKR_OK;
  });
}

namespace vhsm::pkcs11 {
namespace {
CK_RV FetchMechanisms(std::vector<std::pair<CK_MECHANISM_TYPE, CK_MECHANISM_INFO>>* out) {
  MsgWriter w;
  VHSM_RPC(Opcode::kGetMechanismList, w, r);
  if (rpc_rv_ != CKR_OK) return rpc_rv_;
  VHSM_READ(uint64_t n, r.GetU64("count"));
  if (n > 1024) return CKR_DEVICE_ERROR;
  for (uint64_t i = 0; i < n; ++i) {
    CK_MECHANISM_INFO info{};
    VHSM_READ(uint64_t type, r.GetU64("type"));
    VHSM_READ(info.ulMinKeySize, r.GetU64("min"));
    VHSM_READ(info.ulMaxKeySize, r.GetU64("max"));
    VHSM_READ(info.flags, r.GetU64("flags"));
    out->emplace_back(type, info);
  }
  return CKR_OK;
}
}  // namespace
}  // namespace vhsm::pkcs11

VHSM_EXPORT CK_RV C_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count) {
  return Guard([&]() -> CK_RV {
    if (slot != kSlot) return CKR_SLOT_ID_INVALID;
    if (count == nullptr) return CKR_ARGUMENTS_BAD;
    std::vector<std::pair<CK_MECHANISM_TYPE, CK_MECHANISM_INFO>> mechs;
    if (CK_RV rv = FetchMechanisms(&mechs); rv != CKR_OK) return rv;
    if (list == nullptr) {
      *count = mechs.size();
      return CKR_OK;
    }
    if (*count < mechs.size()) {
      *count = mechs.size();
      return CKR_BUFFER_TOO_SMALL;
    }
    for (size_t i = 0; i < mechs.size(); ++i) list[i] = mechs[i].first;
    *count = mechs.size();
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_GetMechanismInfo(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info) {
  return Guard([&]() -> CK_RV {
    if (slot != kSlot) return CKR_SLOT_ID_INVALID;
    if (info == nullptr) return CKR_ARGUMENTS_BAD;
    std::vector<std::pair<CK_MECHANISM_TYPE, CK_MECHANISM_INFO>> mechs;
    if (CK_RV rv = FetchMechanisms(&mechs); rv != CKR_OK) return rv;
    for (const auto& [t, i] : mechs) {
      if (t == type) {
        *info = i;
        return CKR_OK;
      }
    }
    return CKR_MECHANISM_INVALID;
  });
}

VHSM_EXPORT CK_RV C_InitToken(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label) {
  return Guard([&]() -> CK_RV {
    if (slot != kSlot) return CKR_SLOT_ID_INVALID;
    if ((pin == nullptr && pin_len != 0) || label == nullptr) return CKR_ARGUMENTS_BAD;
    MsgWriter w;
    w.PutBytes(ByteSpan(pin, pin_len));
    w.PutBytes(ByteSpan(label, 32));
    VHSM_RPC(Opcode::kInitToken, w, r);
    return rpc_rv_;
  });
}

VHSM_EXPORT CK_RV C_InitPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len) {
  return Guard([&]() -> CK_RV {
    if (pin == nullptr && pin_len != 0) return CKR_ARGUMENTS_BAD;
    MsgWriter w;
    w.PutU64(h);
    w.PutBytes(ByteSpan(pin, pin_len));
    VHSM_RPC(Opcode::kInitPin, w, r);
    return rpc_rv_;
  });
}

VHSM_EXPORT CK_RV C_SetPIN(CK_SESSION_HANDLE h, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len, CK_UTF8CHAR_PTR new_pin,
                           CK_ULONG new_len) {
  return Guard([&]() -> CK_RV {
    if ((old_pin == nullptr && old_len != 0) || (new_pin == nullptr && new_len != 0)) return CKR_ARGUMENTS_BAD;
    MsgWriter w;
    w.PutU64(h);
    w.PutBytes(ByteSpan(old_pin, old_len));
    w.PutBytes(ByteSpan(new_pin, new_len));
    VHSM_RPC(Opcode::kSetPin, w, r);
    return rpc_rv_;
  });
}

VHSM_EXPORT CK_RV C_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR, CK_NOTIFY, CK_SESSION_HANDLE_PTR out) {
  return Guard([&]() -> CK_RV {
    if (slot != kSlot) return CKR_SLOT_ID_INVALID;
    if (out == nullptr) return CKR_ARGUMENTS_BAD;
    if ((flags & CKF_SERIAL_SESSION) == 0) return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    MsgWriter w;
    w.PutU64(flags);
    VHSM_RPC(Opcode::kOpenSession, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    VHSM_READ(uint64_t h, r.GetU64("session"));
    Mod().AddSession(h);
    *out = h;
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_CloseSession(CK_SESSION_HANDLE h) {
  return Guard([&]() -> CK_RV {
    MsgWriter w;
    w.PutU64(h);
    VHSM_RPC(Opcode::kCloseSession, w, r);
    if (rpc_rv_ == CKR_OK || rpc_rv_ == CKR_SESSION_HANDLE_INVALID) Mod().RemoveSession(h);
    return rpc_rv_;
  });
}

VHSM_EXPORT CK_RV C_CloseAllSessions(CK_SLOT_ID slot) {
  return Guard([&]() -> CK_RV {
    if (slot != kSlot) return CKR_SLOT_ID_INVALID;
    MsgWriter w;
    VHSM_RPC(Opcode::kCloseAllSessions, w, r);
    if (rpc_rv_ == CKR_OK) Mod().RemoveAllSessions();
    return rpc_rv_;
  });
}

VHSM_EXPORT CK_RV C_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR info) {
  return Guard([&]() -> CK_RV {
    if (info == nullptr) return CKR_ARGUMENTS_BAD;
    MsgWriter w;
    w.PutU64(h);
    VHSM_RPC(Opcode::kGetSessionInfo, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    info->slotID = kSlot;
    VHSM_READ(info->state, r.GetU64("state"));
    VHSM_READ(info->flags, r.GetU64("flags"));
    info->ulDeviceError = 0;
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len) {
  return Guard([&]() -> CK_RV {
    if (pin == nullptr && pin_len != 0) return CKR_ARGUMENTS_BAD;
    MsgWriter w;
    w.PutU64(h);
    w.PutU64(user);
    w.PutBytes(ByteSpan(pin, pin_len));
    VHSM_RPC(Opcode::kLogin, w, r);
    return rpc_rv_;
  });
}

VHSM_EXPORT CK_RV C_Logout(CK_SESSION_HANDLE h) {
  return Guard([&]() -> CK_RV {
    MsgWriter w;
    w.PutU64(h);
    VHSM_RPC(Opcode::kLogout, w, r);
    return rpc_rv_;
  });
}

VHSM_EXPORT CK_RV C_CreateObject(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n, CK_OBJECT_HANDLE_PTR out) {
  return Guard([&]() -> CK_RV {
    if (out == nullptr) return CKR_ARGUMENTS_BAD;
    ipc::WireTemplate t;
    if (CK_RV rv = FlattenTemplate(tmpl, n, true, &t); rv != CKR_OK) return rv;
    MsgWriter w;
    w.PutU64(h);
    w.PutTemplate(t);
    for (auto& a : t) OPENSSL_cleanse(a.value.data(), a.value.size());
    VHSM_RPC(Opcode::kCreateObject, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    VHSM_READ(*out, r.GetU64("object"));
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_DestroyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj) {
  return Guard([&]() -> CK_RV {
    MsgWriter w;
    w.PutU64(h);
    w.PutU64(obj);
    VHSM_RPC(Opcode::kDestroyObject, w, r);
    return rpc_rv_;
  });
}

VHSM_EXPORT CK_RV C_GetObjectSize(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ULONG_PTR size) {
  return Guard([&]() -> CK_RV {
    if (size == nullptr) return CKR_ARGUMENTS_BAD;
    MsgWriter w;
    w.PutU64(h);
    w.PutU64(obj);
    VHSM_RPC(Opcode::kGetObjectSize, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    VHSM_READ(*size, r.GetU64("size"));
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n) {
  return Guard([&]() -> CK_RV {
    if (tmpl == nullptr && n != 0) return CKR_ARGUMENTS_BAD;
    ipc::WireTemplate t;
    if (CK_RV rv = FlattenTemplate(tmpl, n, false, &t); rv != CKR_OK) return rv;
    MsgWriter w;
    w.PutU64(h);
    w.PutU64(obj);
    w.PutTemplate(t);
    VHSM_RPC(Opcode::kGetAttributeValue, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    VHSM_READ(uint64_t count, r.GetU64("count"));
    if (count != n) return CKR_DEVICE_ERROR;
    CK_RV overall = CKR_OK;
    for (CK_ULONG i = 0; i < n; ++i) {
      VHSM_READ(uint64_t arv, r.GetU64("attr.rv"));
      VHSM_READ(ByteSpan v, r.GetBytes("attr.value", ipc::kMaxAttributeValue));
      if (arv != CKR_OK) {
        tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
        overall = arv;  // CKR_ATTRIBUTE_SENSITIVE or CKR_ATTRIBUTE_TYPE_INVALID
        continue;
      }
      if (ipc::IsArrayAttribute(tmpl[i].type)) {
        if (CK_RV rv = DeliverAttrArray(v, &tmpl[i]); rv != CKR_OK && overall == CKR_OK) overall = rv;
        continue;
      }
      if (tmpl[i].pValue == nullptr) {
        tmpl[i].ulValueLen = v.size();
      } else if (tmpl[i].ulValueLen < v.size()) {
        tmpl[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
        if (overall == CKR_OK) overall = CKR_BUFFER_TOO_SMALL;
      } else {
        if (!v.empty()) std::memcpy(tmpl[i].pValue, v.data(), v.size());
        tmpl[i].ulValueLen = v.size();
      }
    }
    OPENSSL_cleanse(reply_bytes_.data(), reply_bytes_.size());
    return overall;
  });
}

VHSM_EXPORT CK_RV C_SetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n) {
  return Guard([&]() -> CK_RV {
    ipc::WireTemplate t;
    if (CK_RV rv = FlattenTemplate(tmpl, n, true, &t); rv != CKR_OK) return rv;
    MsgWriter w;
    w.PutU64(h);
    w.PutU64(obj);
    w.PutTemplate(t);
    VHSM_RPC(Opcode::kSetAttributeValue, w, r);
    return rpc_rv_;
  });
}

VHSM_EXPORT CK_RV C_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n) {
  return Guard([&]() -> CK_RV {
    std::shared_ptr<Session> s = Mod().Find(h);
    if (!s) return CKR_SESSION_HANDLE_INVALID;
    std::lock_guard<std::mutex> lock(s->mu);
    if (s->find_active) return CKR_OPERATION_ACTIVE;
    ipc::WireTemplate t;
    if (CK_RV rv = FlattenTemplate(tmpl, n, true, &t); rv != CKR_OK) return rv;
    // One round trip fetches every match; C_FindObjects pages through them locally.
    MsgWriter w;
    w.PutU64(h);
    w.PutTemplate(t);
    VHSM_RPC(Opcode::kFindObjects, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    VHSM_READ(uint64_t count, r.GetU64("count"));
    if (count > ipc::kMaxPayload / 8) return CKR_DEVICE_ERROR;
    s->found.clear();
    s->found.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      VHSM_READ(uint64_t oh, r.GetU64("handle"));
      s->found.push_back(oh);
    }
    s->found_pos = 0;
    s->find_active = true;
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR count) {
  return Guard([&]() -> CK_RV {
    std::shared_ptr<Session> s = Mod().Find(h);
    if (!s) return CKR_SESSION_HANDLE_INVALID;
    if ((out == nullptr && max != 0) || count == nullptr) return CKR_ARGUMENTS_BAD;
    std::lock_guard<std::mutex> lock(s->mu);
    if (!s->find_active) return CKR_OPERATION_NOT_INITIALIZED;
    CK_ULONG n = 0;
    while (n < max && s->found_pos < s->found.size()) out[n++] = s->found[s->found_pos++];
    *count = n;
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE h) {
  return Guard([&]() -> CK_RV {
    std::shared_ptr<Session> s = Mod().Find(h);
    if (!s) return CKR_SESSION_HANDLE_INVALID;
    std::lock_guard<std::mutex> lock(s->mu);
    if (!s->find_active) return CKR_OPERATION_NOT_INITIALIZED;
    s->find_active = false;
    s->found.clear();
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return Guard([&] { return OpInit(h, Kind::kEncrypt, m, key); });
}
VHSM_EXPORT CK_RV C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return Guard([&] { return OpOneShot(h, Kind::kEncrypt, in, in_len, out, out_len); });
}
VHSM_EXPORT CK_RV C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR,
                                  CK_ULONG_PTR out_len) {
  return Guard([&]() -> CK_RV {
    if (out_len == nullptr) return CKR_ARGUMENTS_BAD;
    CK_RV rv = OpUpdate(h, Kind::kEncrypt, in, in_len);
    if (rv == CKR_OK) *out_len = 0;  // output is produced by C_EncryptFinal
    return rv;
  });
}
VHSM_EXPORT CK_RV C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return Guard([&] { return OpFinal(h, Kind::kEncrypt, out, out_len); });
}
VHSM_EXPORT CK_RV C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return Guard([&] { return OpInit(h, Kind::kDecrypt, m, key); });
}
VHSM_EXPORT CK_RV C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return Guard([&] { return OpOneShot(h, Kind::kDecrypt, in, in_len, out, out_len); });
}
VHSM_EXPORT CK_RV C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR,
                                  CK_ULONG_PTR out_len) {
  return Guard([&]() -> CK_RV {
    if (out_len == nullptr) return CKR_ARGUMENTS_BAD;
    CK_RV rv = OpUpdate(h, Kind::kDecrypt, in, in_len);
    if (rv == CKR_OK) *out_len = 0;
    return rv;
  });
}
VHSM_EXPORT CK_RV C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return Guard([&] { return OpFinal(h, Kind::kDecrypt, out, out_len); });
}
VHSM_EXPORT CK_RV C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m) {
  return Guard([&] { return OpInit(h, Kind::kDigest, m, 0); });
}
VHSM_EXPORT CK_RV C_Digest(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return Guard([&] { return OpOneShot(h, Kind::kDigest, in, in_len, out, out_len); });
}
VHSM_EXPORT CK_RV C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len) {
  return Guard([&] { return OpUpdate(h, Kind::kDigest, in, in_len); });
}
VHSM_EXPORT CK_RV C_DigestKey(CK_SESSION_HANDLE, CK_OBJECT_HANDLE) {
  return Guard([&] { return CKR_FUNCTION_NOT_SUPPORTED; });
}
VHSM_EXPORT CK_RV C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return Guard([&] { return OpFinal(h, Kind::kDigest, out, out_len); });
}
VHSM_EXPORT CK_RV C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return Guard([&] { return OpInit(h, Kind::kSign, m, key); });
}
VHSM_EXPORT CK_RV C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return Guard([&] { return OpOneShot(h, Kind::kSign, in, in_len, out, out_len); });
}
VHSM_EXPORT CK_RV C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len) {
  return Guard([&] { return OpUpdate(h, Kind::kSign, in, in_len); });
}
VHSM_EXPORT CK_RV C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return Guard([&] { return OpFinal(h, Kind::kSign, out, out_len); });
}
VHSM_EXPORT CK_RV C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return Guard([&] { return OpInit(h, Kind::kVerify, m, key); });
}
VHSM_EXPORT CK_RV C_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR sig, CK_ULONG sig_len) {
  return Guard([&]() -> CK_RV {
    std::shared_ptr<Session> s = Mod().Find(h);
    if (!s) return CKR_SESSION_HANDLE_INVALID;
    std::lock_guard<std::mutex> lock(s->mu);
    if (!s->verify.active) return CKR_OPERATION_NOT_INITIALIZED;
    if ((in == nullptr && in_len != 0) || (sig == nullptr && sig_len != 0)) {
      s->verify.Reset();
      return CKR_ARGUMENTS_BAD;
    }
    return VerifyRun(h, s->verify, ByteSpan(in, in_len), ByteSpan(sig, sig_len));
  });
}
VHSM_EXPORT CK_RV C_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len) {
  return Guard([&] { return OpUpdate(h, Kind::kVerify, in, in_len); });
}
VHSM_EXPORT CK_RV C_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len) {
  return Guard([&]() -> CK_RV {
    std::shared_ptr<Session> s = Mod().Find(h);
    if (!s) return CKR_SESSION_HANDLE_INVALID;
    std::lock_guard<std::mutex> lock(s->mu);
    if (!s->verify.active) return CKR_OPERATION_NOT_INITIALIZED;
    if (sig == nullptr && sig_len != 0) {
      s->verify.Reset();
      return CKR_ARGUMENTS_BAD;
    }
    Bytes data = s->verify.buffer;
    return VerifyRun(h, s->verify, data, ByteSpan(sig, sig_len));
  });
}

VHSM_EXPORT CK_RV C_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                                CK_OBJECT_HANDLE_PTR out) {
  return Guard([&]() -> CK_RV {
    if (out == nullptr) return CKR_ARGUMENTS_BAD;
    ipc::WireMechanism wm;
    if (CK_RV rv = FlattenMechanism(m, &wm); rv != CKR_OK) return rv;
    ipc::WireTemplate t;
    if (CK_RV rv = FlattenTemplate(tmpl, n, true, &t); rv != CKR_OK) return rv;
    MsgWriter w;
    w.PutU64(h);
    w.PutMechanism(wm);
    w.PutTemplate(t);
    VHSM_RPC(Opcode::kGenerateKey, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    VHSM_READ(*out, r.GetU64("key"));
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub_t, CK_ULONG pub_n,
                                    CK_ATTRIBUTE_PTR priv_t, CK_ULONG priv_n, CK_OBJECT_HANDLE_PTR pub,
                                    CK_OBJECT_HANDLE_PTR priv) {
  return Guard([&]() -> CK_RV {
    if (pub == nullptr || priv == nullptr) return CKR_ARGUMENTS_BAD;
    ipc::WireMechanism wm;
    if (CK_RV rv = FlattenMechanism(m, &wm); rv != CKR_OK) return rv;
    ipc::WireTemplate pt, st;
    if (CK_RV rv = FlattenTemplate(pub_t, pub_n, true, &pt); rv != CKR_OK) return rv;
    if (CK_RV rv = FlattenTemplate(priv_t, priv_n, true, &st); rv != CKR_OK) return rv;
    MsgWriter w;
    w.PutU64(h);
    w.PutMechanism(wm);
    w.PutTemplate(pt);
    w.PutTemplate(st);
    VHSM_RPC(Opcode::kGenerateKeyPair, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    VHSM_READ(*pub, r.GetU64("public"));
    VHSM_READ(*priv, r.GetU64("private"));
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR, CK_ULONG) {
  return Guard([&]() -> CK_RV {
    if (!Mod().Find(h)) return CKR_SESSION_HANDLE_INVALID;
    return CKR_RANDOM_SEED_NOT_SUPPORTED;
  });
}

VHSM_EXPORT CK_RV C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG len) {
  return Guard([&]() -> CK_RV {
    if (out == nullptr && len != 0) return CKR_ARGUMENTS_BAD;
    MsgWriter w;
    w.PutU64(h);
    w.PutU64(len);
    VHSM_RPC(Opcode::kGenerateRandom, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    VHSM_READ(ByteSpan b, r.GetBytes("random"));
    if (b.size() != len) return CKR_DEVICE_ERROR;
    if (len != 0) std::memcpy(out, b.data(), len);
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_CopyObject(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                               CK_OBJECT_HANDLE_PTR out) {
  return Guard([&]() -> CK_RV {
    if (out == nullptr) return CKR_ARGUMENTS_BAD;
    ipc::WireTemplate t;
    if (CK_RV rv = FlattenTemplate(tmpl, n, true, &t); rv != CKR_OK) return rv;
    MsgWriter w;
    w.PutU64(h);
    w.PutU64(obj);
    w.PutTemplate(t);
    VHSM_RPC(Opcode::kCopyObject, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    VHSM_READ(*out, r.GetU64("object"));
    return CKR_OK;
  });
}

// One round trip per call: a length query (NULL buffer) wraps in the daemon and returns the
// length; the next call wraps again (key wrap is deterministic, so the length holds).
VHSM_EXPORT CK_RV C_WrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE wrapping_key,
                            CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return Guard([&]() -> CK_RV {
    if (out_len == nullptr) return CKR_ARGUMENTS_BAD;
    ipc::WireMechanism wm;
    if (CK_RV rv = FlattenMechanism(m, &wm); rv != CKR_OK) return rv;
    if (CK_RV rv = MechanismAllowed(wm.type, CKF_WRAP); rv != CKR_OK) return rv;
    MsgWriter w;
    w.PutU64(h);
    w.PutMechanism(wm);
    w.PutU64(wrapping_key);
    w.PutU64(key);
    VHSM_RPC(Opcode::kWrapKey, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    VHSM_READ(ByteSpan b, r.GetBytes("wrapped_key"));
    bool done = false;
    return DeliverOutput(b, out, out_len, &done);
  });
}

VHSM_EXPORT CK_RV C_UnwrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE unwrapping_key,
                              CK_BYTE_PTR wrapped, CK_ULONG wrapped_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n,
                              CK_OBJECT_HANDLE_PTR out) {
  return Guard([&]() -> CK_RV {
    if (out == nullptr || (wrapped == nullptr && wrapped_len != 0)) return CKR_ARGUMENTS_BAD;
    if (wrapped_len > ipc::kMaxAttributeValue) return CKR_WRAPPED_KEY_LEN_RANGE;
    ipc::WireMechanism wm;
    if (CK_RV rv = FlattenMechanism(m, &wm); rv != CKR_OK) return rv;
    if (CK_RV rv = MechanismAllowed(wm.type, CKF_UNWRAP); rv != CKR_OK) return rv;
    ipc::WireTemplate t;
    if (CK_RV rv = FlattenTemplate(tmpl, n, true, &t); rv != CKR_OK) return rv;
    MsgWriter w;
    w.PutU64(h);
    w.PutMechanism(wm);
    w.PutU64(unwrapping_key);
    w.PutBytes(ByteSpan(wrapped, wrapped_len));
    w.PutTemplate(t);
    VHSM_RPC(Opcode::kUnwrapKey, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    VHSM_READ(*out, r.GetU64("key"));
    return CKR_OK;
  });
}

VHSM_EXPORT CK_RV C_DeriveKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE base, CK_ATTRIBUTE_PTR tmpl,
                              CK_ULONG n, CK_OBJECT_HANDLE_PTR out) {
  return Guard([&]() -> CK_RV {
    if (out == nullptr) return CKR_ARGUMENTS_BAD;
    ipc::WireMechanism wm;
    if (CK_RV rv = FlattenMechanism(m, &wm); rv != CKR_OK) return rv;
    if (CK_RV rv = MechanismAllowed(wm.type, CKF_DERIVE); rv != CKR_OK) return rv;
    ipc::WireTemplate t;
    if (CK_RV rv = FlattenTemplate(tmpl, n, true, &t); rv != CKR_OK) return rv;
    MsgWriter w;
    w.PutU64(h);
    w.PutMechanism(wm);
    w.PutU64(base);
    w.PutTemplate(t);
    VHSM_RPC(Opcode::kDeriveKey, w, r);
    if (rpc_rv_ != CKR_OK) return rpc_rv_;
    VHSM_READ(*out, r.GetU64("key"));
    return CKR_OK;
  });
}

// ---- PKCS#11 3.0 ----------------------------------------------------------------------------

// C_LoginUser: this token has no named users; with an empty user name it is C_Login.
VHSM_EXPORT CK_RV C_LoginUser(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                              CK_UTF8CHAR_PTR username, CK_ULONG username_len) {
  if (username != nullptr && username_len != 0) {
    return Guard([&] { return CKR_ARGUMENTS_BAD; });
  }
  return C_Login(h, user, pin, pin_len);
}

// C_SessionCancel: operations are held by the module until their data call, so cancelling is local.
VHSM_EXPORT CK_RV C_SessionCancel(CK_SESSION_HANDLE h, CK_FLAGS flags) {
  return Guard([&]() -> CK_RV {
    std::shared_ptr<Session> s = Mod().Find(h);
    if (!s) return CKR_SESSION_HANDLE_INVALID;
    std::lock_guard<std::mutex> lock(s->mu);
    if (flags & CKF_SIGN) s->sign.Reset();
    if (flags & CKF_VERIFY) s->verify.Reset();
    if (flags & CKF_ENCRYPT) s->encrypt.Reset();
    if (flags & CKF_DECRYPT) s->decrypt.Reset();
    if (flags & CKF_DIGEST) s->digest.Reset();
    if (flags & 0x00000040UL) {  // CKF_FIND_OBJECTS (3.0)
      s->find_active = false;
      s->found.clear();
    }
    return CKR_OK;
  });
}

// Functions this token does not offer (yet): the spec's code for each.
#define VHSM_UNSUPPORTED(name, params) \
  VHSM_EXPORT CK_RV name params { return Guard([&] { return CKR_FUNCTION_NOT_SUPPORTED; }); }

VHSM_UNSUPPORTED(C_GetOperationState, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR))
VHSM_UNSUPPORTED(C_SetOperationState, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_OBJECT_HANDLE, CK_OBJECT_HANDLE))
VHSM_UNSUPPORTED(C_SignRecoverInit, (CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE))
VHSM_UNSUPPORTED(C_SignRecover, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
VHSM_UNSUPPORTED(C_VerifyRecoverInit, (CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE))
VHSM_UNSUPPORTED(C_VerifyRecover, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
VHSM_UNSUPPORTED(C_DigestEncryptUpdate, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
VHSM_UNSUPPORTED(C_DecryptDigestUpdate, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
VHSM_UNSUPPORTED(C_SignEncryptUpdate, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
VHSM_UNSUPPORTED(C_DecryptVerifyUpdate, (CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR))
VHSM_UNSUPPORTED(C_WaitForSlotEvent, (CK_FLAGS, CK_SLOT_ID_PTR, CK_VOID_PTR))

// The 3.0 message-based functions (sec. 5.13-5.16) are not offered.
namespace vhsm::pkcs11 {
namespace {
CK_RV MsgInit(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
  return Guard([&] { return CKR_FUNCTION_NOT_SUPPORTED; });
}
CK_RV MsgFinal(CK_SESSION_HANDLE) { return Guard([&] { return CKR_FUNCTION_NOT_SUPPORTED; }); }
CK_RV MsgCrypt(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
               CK_ULONG_PTR) {
  return Guard([&] { return CKR_FUNCTION_NOT_SUPPORTED; });
}
CK_RV MsgCryptBegin(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG) {
  return Guard([&] { return CKR_FUNCTION_NOT_SUPPORTED; });
}
CK_RV MsgCryptNext(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR,
                   CK_FLAGS) {
  return Guard([&] { return CKR_FUNCTION_NOT_SUPPORTED; });
}
CK_RV MsgSign(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return Guard([&] { return CKR_FUNCTION_NOT_SUPPORTED; });
}
CK_RV MsgBegin(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG) { return Guard([&] { return CKR_FUNCTION_NOT_SUPPORTED; }); }
CK_RV MsgVerify(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG) {
  return Guard([&] { return CKR_FUNCTION_NOT_SUPPORTED; });
}

VhsmCkFunctionList30* FunctionList30();

char kInterfaceName[] = "PKCS 11";

// Index 0 is the default interface (3.0); index 1 is the 2.40 list.
VhsmCkInterface* Interfaces() {
  static VhsmCkInterface ifaces[2] = {
      {reinterpret_cast<CK_UTF8CHAR*>(kInterfaceName), FunctionList30(), kVhsmCkfInterfaceForkSafe},
      {reinterpret_cast<CK_UTF8CHAR*>(kInterfaceName), FunctionList(), kVhsmCkfInterfaceForkSafe},
  };
  return ifaces;
}
}  // namespace
}  // namespace vhsm::pkcs11

// Callable before C_Initialize (PKCS#11 3.0 sec. 5.4.3/5.4.4).
VHSM_EXPORT CK_RV C_GetInterfaceList(VhsmCkInterface* list, CK_ULONG_PTR count) {
  if (count == nullptr) return CKR_ARGUMENTS_BAD;
  if (list == nullptr) {
    *count = 2;
    return CKR_OK;
  }
  if (*count < 2) {
    *count = 2;
    return CKR_BUFFER_TOO_SMALL;
  }
  list[0] = Interfaces()[0];
  list[1] = Interfaces()[1];
  *count = 2;
  return CKR_OK;
}

VHSM_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, VhsmCkInterface** iface,
                                 CK_FLAGS flags) {
  if (iface == nullptr) return CKR_ARGUMENTS_BAD;
  *iface = nullptr;
  if (name != nullptr && std::strcmp(reinterpret_cast<const char*>(name), kInterfaceName) != 0) {
    return CKR_ARGUMENTS_BAD;
  }
  for (int i = 0; i < 2; ++i) {
    VhsmCkInterface* c = &Interfaces()[i];
    const CK_VERSION v = static_cast<CK_FUNCTION_LIST*>(c->pFunctionList)->version;
    if (version != nullptr && (version->major != v.major || version->minor != v.minor)) continue;
    if ((c->flags & flags) != flags) continue;
    *iface = c;
    return CKR_OK;
  }
  return CKR_ARGUMENTS_BAD;
}

VHSM_EXPORT CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE) {
  return Guard([&] { return CKR_FUNCTION_NOT_PARALLEL; });
}
VHSM_EXPORT CK_RV C_CancelFunction(CK_SESSION_HANDLE) {
  return Guard([&] { return CKR_FUNCTION_NOT_PARALLEL; });
}

namespace vhsm::pkcs11 {
namespace {
CK_FUNCTION_LIST* FunctionList() {
  static CK_FUNCTION_LIST list = [] {
    CK_FUNCTION_LIST l{};
    l.version = {2, 40};
#define VHSM_SET(fn) l.fn = ::fn
    VHSM_SET(C_Initialize); VHSM_SET(C_Finalize); VHSM_SET(C_GetInfo); VHSM_SET(C_GetFunctionList);
    VHSM_SET(C_GetSlotList); VHSM_SET(C_GetSlotInfo); VHSM_SET(C_GetTokenInfo); VHSM_SET(C_GetMechanismList);
    VHSM_SET(C_GetMechanismInfo); VHSM_SET(C_InitToken); VHSM_SET(C_InitPIN); VHSM_SET(C_SetPIN);
    VHSM_SET(C_OpenSession); VHSM_SET(C_CloseSession); VHSM_SET(C_CloseAllSessions); VHSM_SET(C_GetSessionInfo);
    VHSM_SET(C_GetOperationState); VHSM_SET(C_SetOperationState); VHSM_SET(C_Login); VHSM_SET(C_Logout);
    VHSM_SET(C_CreateObject); VHSM_SET(C_CopyObject); VHSM_SET(C_DestroyObject); VHSM_SET(C_GetObjectSize);
    VHSM_SET(C_GetAttributeValue); VHSM_SET(C_SetAttributeValue); VHSM_SET(C_FindObjectsInit);
    VHSM_SET(C_FindObjects); VHSM_SET(C_FindObjectsFinal); VHSM_SET(C_EncryptInit); VHSM_SET(C_Encrypt);
    VHSM_SET(C_EncryptUpdate); VHSM_SET(C_EncryptFinal); VHSM_SET(C_DecryptInit); VHSM_SET(C_Decrypt);
    VHSM_SET(C_DecryptUpdate); VHSM_SET(C_DecryptFinal); VHSM_SET(C_DigestInit); VHSM_SET(C_Digest);
    VHSM_SET(C_DigestUpdate); VHSM_SET(C_DigestKey); VHSM_SET(C_DigestFinal); VHSM_SET(C_SignInit);
    VHSM_SET(C_Sign); VHSM_SET(C_SignUpdate); VHSM_SET(C_SignFinal); VHSM_SET(C_SignRecoverInit);
    VHSM_SET(C_SignRecover); VHSM_SET(C_VerifyInit); VHSM_SET(C_Verify); VHSM_SET(C_VerifyUpdate);
    VHSM_SET(C_VerifyFinal); VHSM_SET(C_VerifyRecoverInit); VHSM_SET(C_VerifyRecover);
    VHSM_SET(C_DigestEncryptUpdate); VHSM_SET(C_DecryptDigestUpdate); VHSM_SET(C_SignEncryptUpdate);
    VHSM_SET(C_DecryptVerifyUpdate); VHSM_SET(C_GenerateKey); VHSM_SET(C_GenerateKeyPair); VHSM_SET(C_WrapKey);
    VHSM_SET(C_UnwrapKey); VHSM_SET(C_DeriveKey); VHSM_SET(C_SeedRandom); VHSM_SET(C_GenerateRandom);
    VHSM_SET(C_GetFunctionStatus); VHSM_SET(C_CancelFunction); VHSM_SET(C_WaitForSlotEvent);
#undef VHSM_SET
    return l;
  }();
  return &list;
}
}  // namespace
}  // namespace vhsm::pkcs11

namespace vhsm::pkcs11 {
namespace {
VhsmCkFunctionList30* FunctionList30() {
  static VhsmCkFunctionList30 list = [] {
    VhsmCkFunctionList30 l{};
    l.v240 = *FunctionList();
    l.v240.version = {3, 0};
    l.C_GetInterfaceList = ::C_GetInterfaceList;
    l.C_GetInterface = ::C_GetInterface;
    l.C_LoginUser = ::C_LoginUser;
    l.C_SessionCancel = ::C_SessionCancel;
    l.C_MessageEncryptInit = MsgInit;
    l.C_EncryptMessage = MsgCrypt;
    l.C_EncryptMessageBegin = MsgCryptBegin;
    l.C_EncryptMessageNext = MsgCryptNext;
    l.C_MessageEncryptFinal = MsgFinal;
    l.C_MessageDecryptInit = MsgInit;
    l.C_DecryptMessage = MsgCrypt;
    l.C_DecryptMessageBegin = MsgCryptBegin;
    l.C_DecryptMessageNext = MsgCryptNext;
    l.C_MessageDecryptFinal = MsgFinal;
    l.C_MessageSignInit = MsgInit;
    l.C_SignMessage = MsgSign;
    l.C_SignMessageBegin = MsgBegin;
    l.C_SignMessageNext = MsgSign;
    l.C_MessageSignFinal = MsgFinal;
    l.C_MessageVerifyInit = MsgInit;
    l.C_VerifyMessage = MsgVerify;
    l.C_VerifyMessageBegin = MsgBegin;
    l.C_VerifyMessageNext = MsgVerify;
    l.C_MessageVerifyFinal = MsgFinal;
    return l;
  }();
  return &list;
}
}  // namespace
}  // namespace vhsm::pkcs11
