#include "provisioner/import.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include <openssl/crypto.h>

#include "crypto/digest.h"
#include "crypto/keys.h"
#include "vhsm/object.h"

namespace vhsm::provisioner {

namespace {

using hsm::BoolValue;
using hsm::Object;
using hsm::UlongValue;

Bytes CurveOid(crypto::EcCurve c) {
  switch (c) {
    case crypto::EcCurve::kP256: return {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    case crypto::EcCurve::kP384: return {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
    case crypto::EcCurve::kP521: return {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
  }
  return {};
}

Bytes DerOctetString(ByteSpan v) {
  Bytes out{0x04};
  if (v.size() < 128) {
    out.push_back(static_cast<uint8_t>(v.size()));
  } else {
    out.push_back(0x81);
    out.push_back(static_cast<uint8_t>(v.size()));
  }
  out.insert(out.end(), v.begin(), v.end());
  return out;
}

// Attributes shared by every imported key object.
void CommonAttrs(Object* o, CK_OBJECT_CLASS cls, CK_KEY_TYPE kt, const ProvisionedSecret& s,
                 const ImportOptions& opt, const Bytes& id) {
  auto& a = o->attrs;
  a[CKA_CLASS] = UlongValue(cls);
  a[CKA_KEY_TYPE] = UlongValue(kt);
  a[CKA_TOKEN] = BoolValue(true);
  a[CKA_PRIVATE] = BoolValue(cls != CKO_PUBLIC_KEY);
  a[CKA_MODIFIABLE] = BoolValue(false);
  a[CKA_COPYABLE] = BoolValue(false);
  a[CKA_DESTROYABLE] = BoolValue(true);
  a[CKA_LABEL] = ToBytes(opt.label);
  a[CKA_ID] = id;
  a[CKA_START_DATE] = Bytes();
  a[CKA_END_DATE] = Bytes();
  a[CKA_DERIVE] = BoolValue(false);
  a[CKA_LOCAL] = BoolValue(false);
  a[CKA_KEY_GEN_MECHANISM] = UlongValue(CK_UNAVAILABLE_INFORMATION);
  a[kCkaVhsmResource] = ToBytes(s.path.ToString());
  a[kCkaVhsmTokenJti] = ToBytes(s.jti);
  if (cls == CKO_PUBLIC_KEY) return;
  a[CKA_SENSITIVE] = BoolValue(true);
  a[CKA_EXTRACTABLE] = BoolValue(false);
  a[CKA_WRAP_WITH_TRUSTED] = BoolValue(false);
  // The bytes existed outside this vHSM (in the Provisioning Service), so not "always" sensitive.
  a[CKA_ALWAYS_SENSITIVE] = BoolValue(false);
  a[CKA_NEVER_EXTRACTABLE] = BoolValue(false);
}

Result<std::vector<std::unique_ptr<Object>>> BuildObjects(const hsm::Engine& engine, const ProvisionedSecret& s,
                                                          const ImportOptions& opt) {
  Bytes id = opt.id;
  if (id.empty()) {
    Bytes h = crypto::Sha256(AsBytes(opt.label));
    id.assign(h.begin(), h.begin() + 8);
  }
  std::vector<std::unique_ptr<Object>> out;
  const ValidatedSecret& v = s.secret;
  if (v.type == SecretKeyType::kAes || v.type == SecretKeyType::kHmac || v.type == SecretKeyType::kGeneric) {
    auto o = std::make_unique<Object>();
    const bool aes = v.type == SecretKeyType::kAes;
    CommonAttrs(o.get(), CKO_SECRET_KEY, aes ? CKK_AES : CKK_GENERIC_SECRET, s, opt, id);
    auto& a = o->attrs;
    a[CKA_ENCRYPT] = BoolValue(aes);
    a[CKA_DECRYPT] = BoolValue(aes);
    a[CKA_WRAP] = BoolValue(false);
    a[CKA_UNWRAP] = BoolValue(false);
    a[CKA_SIGN] = BoolValue(!aes);
    a[CKA_VERIFY] = BoolValue(!aes);
    a[CKA_TRUSTED] = BoolValue(false);
    a[CKA_VALUE_LEN] = UlongValue(v.material.size());
    o->secret = v.material.Clone();
    out.push_back(std::move(o));
    return out;
  }
  VHSM_ASSIGN_OR_RETURN(crypto::PrivateKey key, crypto::PrivateKey::FromDer(v.material.Expose()));
  const bool rsa = v.type == SecretKeyType::kRsa;
  VHSM_ASSIGN_OR_RETURN(Bytes spki, key.Public().ToDer());
  auto priv = std::make_unique<Object>();
  auto pub = std::make_unique<Object>();
  CommonAttrs(priv.get(), CKO_PRIVATE_KEY, rsa ? CKK_RSA : CKK_EC, s, opt, id);
  CommonAttrs(pub.get(), CKO_PUBLIC_KEY, rsa ? CKK_RSA : CKK_EC, s, opt, id);
  for (Object* o : {priv.get(), pub.get()}) o->attrs[CKA_PUBLIC_KEY_INFO] = spki;
  if (rsa) {
    VHSM_ASSIGN_OR_RETURN(crypto::RsaPublicComponents c, key.Public().RsaComponents());
    for (Object* o : {priv.get(), pub.get()}) {
      o->attrs[CKA_MODULUS] = c.n;
      o->attrs[CKA_PUBLIC_EXPONENT] = c.e;
    }
    pub->attrs[CKA_MODULUS_BITS] = UlongValue(static_cast<CK_ULONG>(key.bits()));
  } else {
    if (!key.curve()) return InvalidArgumentError("ec key without a curve");
    VHSM_ASSIGN_OR_RETURN(Bytes point, key.Public().EcUncompressed());
    for (Object* o : {priv.get(), pub.get()}) o->attrs[CKA_EC_PARAMS] = CurveOid(*key.curve());
    pub->attrs[CKA_EC_POINT] = DerOctetString(point);
  }
  auto& pa = priv->attrs;
  pa[CKA_SIGN] = BoolValue(true);
  pa[CKA_DECRYPT] = BoolValue(rsa);
  pa[CKA_UNWRAP] = BoolValue(false);
  pa[CKA_SIGN_RECOVER] = BoolValue(false);
  pa[CKA_ALWAYS_AUTHENTICATE] = BoolValue(false);
  pa[CKA_SUBJECT] = Bytes();
  priv->secret = v.material.Clone();
  auto& ua = pub->attrs;
  ua[CKA_VERIFY] = BoolValue(true);
  ua[CKA_ENCRYPT] = BoolValue(rsa);
  ua[CKA_WRAP] = BoolValue(false);
  ua[CKA_VERIFY_RECOVER] = BoolValue(false);
  ua[CKA_TRUSTED] = BoolValue(false);
  ua[CKA_SUBJECT] = Bytes();
  out.push_back(std::move(priv));
  out.push_back(std::move(pub));
  // Prove both load exactly as the token will load them.
  for (auto& o : out) VHSM_RETURN_IF_ERROR(engine.Prepare(o.get()).Annotate("imported object"));
  return out;
}

struct Existing {
  uint64_t id;
  CK_OBJECT_CLASS cls;
};

Result<std::vector<Existing>> ScanLabel(hsm::SealedStore& store, std::string_view label, uint64_t* max_id) {
  std::vector<Existing> found;
  *max_id = 0;
  auto visit = [&](uint64_t id, SecretBytes body) -> Status {
    *max_id = std::max(*max_id, id);
    Object o;
    if (Status s = hsm::ParseObjectBody(body.Expose(), &o); !s.ok()) return s.Annotate("object " + std::to_string(id));
    const Bytes* l = o.Get(CKA_LABEL);
    if (l != nullptr && AsStringView(*l) == label) found.push_back({id, o.cls()});
    return OkStatus();
  };
  VHSM_RETURN_IF_ERROR(store.ForEachObject(visit));
  return found;
}

}  // namespace

Result<OnDuplicate> ParseOnDuplicate(std::string_view name) {
  if (name == "replace") return OnDuplicate::kReplace;
  if (name == "refuse") return OnDuplicate::kRefuse;
  if (name == "keep") return OnDuplicate::kKeep;
  return InvalidArgumentError("on duplicate label: got \"" + std::string(name) + "\", want replace, refuse or keep");
}

Result<std::vector<uint64_t>> FindObjectsByLabel(hsm::SealedStore& store, std::string_view label) {
  uint64_t max_id = 0;
  VHSM_ASSIGN_OR_RETURN(std::vector<Existing> found, ScanLabel(store, label, &max_id));
  std::vector<uint64_t> ids;
  for (const Existing& e : found) ids.push_back(e.id);
  return ids;
}

Result<ImportResult> ImportProvisioned(hsm::SealedStore& store, const hsm::Engine& engine,
                                       const ProvisionedSecret& secret, const ImportOptions& options) {
  if (options.label.empty()) return InvalidArgumentError("label: empty");
  VHSM_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Object>> objects, BuildObjects(engine, secret, options));
  uint64_t max_id = 0;
  VHSM_ASSIGN_OR_RETURN(std::vector<Existing> existing, ScanLabel(store, options.label, &max_id));
  ImportResult result;
  if (!existing.empty()) {
    if (options.on_duplicate != OnDuplicate::kReplace) {
      return AlreadyExistsError("label \"" + options.label + "\": already on the token (" +
                                std::to_string(existing.size()) + " objects) and on_duplicate is refuse");
    }
    result.replaced = true;
  }
  // Reuse the existing ids of the same class (stable handles across a replace).
  std::vector<bool> reused(existing.size(), false);
  std::vector<Bytes> bodies;
  for (auto& o : objects) {
    uint64_t id = 0;
    for (size_t i = 0; i < existing.size(); ++i) {
      if (!reused[i] && existing[i].cls == o->cls()) {
        id = existing[i].id;
        reused[i] = true;
        break;
      }
    }
    if (id == 0) id = ++max_id;
    o->handle = static_cast<CK_OBJECT_HANDLE>(id);
    o->is_token = true;
    bodies.push_back(hsm::SerializeObjectBody(*o));
    result.object_ids.push_back(id);
  }
  std::vector<std::pair<uint64_t, ByteSpan>> puts;
  for (size_t i = 0; i < bodies.size(); ++i) puts.emplace_back(result.object_ids[i], ByteSpan(bodies[i]));
  // Objects of the old import that the new one does not reuse (e.g. ec -> aes) go in the same
  // transaction: the whole set changes at once or not at all.
  std::vector<uint64_t> deletes;
  for (size_t i = 0; i < existing.size(); ++i) {
    if (!reused[i]) deletes.push_back(existing[i].id);
  }
  Status put = store.ApplyObjectBatch(puts, deletes, options.after_write);
  for (Bytes& b : bodies) OPENSSL_cleanse(b.data(), b.size());
  if (!put.ok()) return put.Annotate("import of label \"" + options.label + "\"");
  return result;
}

Result<ImportResult> ImportIntoToken(hsm::Token& token, const ProvisionedSecret& secret,
                                     const ImportOptions& options) {
  if (options.label.empty()) return InvalidArgumentError("label: empty");
  if (options.on_duplicate == OnDuplicate::kKeep) {
    return InvalidArgumentError("on_duplicate: keep is decided before the fetch; want replace or refuse here");
  }
  VHSM_ASSIGN_OR_RETURN(std::vector<std::unique_ptr<Object>> objects, BuildObjects(token.engine(), secret, options));
  Result<hsm::Token::ImportedObjects> r =
      token.ImportObjects(std::move(objects), options.label, options.on_duplicate == OnDuplicate::kReplace,
                          options.after_write);
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kAlreadyExists) {
      return AlreadyExistsError("label \"" + options.label + "\": already on the token and on_duplicate is refuse");
    }
    return r.status().Annotate("import of label \"" + options.label + "\"");
  }
  ImportResult out;
  for (CK_OBJECT_HANDLE h : r->handles) out.object_ids.push_back(h);
  out.replaced = !r->removed.empty();
  return out;
}

std::function<void(size_t)> AfterWriteHookFromEnv() {
  const char* v = std::getenv("VHSM_TEST_IMPORT_PAUSE_MS");
  if (v == nullptr || *v == '\0') return nullptr;
  char* end = nullptr;
  unsigned long ms = std::strtoul(v, &end, 10);
  if (end == nullptr || *end != '\0' || ms > 600000) return nullptr;
  return [ms](size_t i) {
    if (i != 0) return;  // between the first and the second write of a batch
    std::fprintf(stderr, "provision: TEST HOOK: import paused %lu ms after write 1 (transaction open)\n", ms);
    std::fflush(stderr);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  };
}

}  // namespace vhsm::provisioner
