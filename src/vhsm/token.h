// token.h: one PKCS#11 token as vhsmd serves it (PKCS#11 2.40 semantics): token record (label,
// SO/user PIN as PBKDF2-HMAC-SHA256 hashes, lockout counters and the CKF_*_PIN_* flags),
// applications and their sessions (login state is shared by all sessions of an application, as
// the spec says), session and token objects with the attribute policy (CKA_SENSITIVE,
// CKA_EXTRACTABLE, ALWAYS_SENSITIVE/NEVER_EXTRACTABLE, usage flags), and the cryptographic calls
// routed to the Engine. Every entry point returns the spec's CK_RV. Token objects are written to
// the SealedStore before the call returns CKR_OK.
// Concurrency: objects are immutable snapshots in a table behind a shared_mutex (readers never
// block each other); each application has its own mutex for its sessions; the token record has
// its own mutex (PIN calls only). No lock is held during a cryptographic operation.
#pragma once

#include <p11-kit/pkcs11.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/bytes.h"
#include "base/log.h"
#include "ipc/codec.h"
#include "vhsm/engine.h"
#include "vhsm/object.h"
#include "vhsm/sealed_store.h"

namespace vhsm::hsm {

struct TokenOptions {
  uint32_t max_pin_failures = 5;       // lockout after this many consecutive wrong PINs
  uint32_t pbkdf2_iterations = 50000;  // PIN hashing cost
  size_t min_pin_len = 4;
  size_t max_pin_len = 64;
  // Threads that unseal, parse and prepare token objects at Open (0: one per online CPU, at most
  // 8). Start-up with 100k objects is dominated by this work, so it scales with the cores.
  unsigned load_workers = 0;
};

inline constexpr CK_USER_TYPE kNotLoggedIn = ~CK_USER_TYPE{0};

// One PKCS#11 application: a client process (all its connections share this).
struct App {
  uint64_t id = 0;
  std::mutex mu;
  CK_USER_TYPE login = kNotLoggedIn;                          // guarded by mu
  std::unordered_map<CK_SESSION_HANDLE, CK_FLAGS> sessions;  // guarded by mu
};

struct AttrResult {
  CK_RV rv = CKR_OK;  // CKR_OK, CKR_ATTRIBUTE_SENSITIVE or CKR_ATTRIBUTE_TYPE_INVALID
  Bytes value;
};

class Token {
 public:
  // Loads the token record and all token objects from `store` (which must outlive the token).
  static Result<std::unique_ptr<Token>> Open(SealedStore& store, const Engine& engine, TokenOptions options,
                                             Logger& log);

  std::shared_ptr<App> NewApp();
  // Drops an application: closes its sessions and destroys its session objects.
  void ReleaseApp(App& app);

  CK_RV GetTokenInfo(CK_TOKEN_INFO* info);
  CK_RV InitToken(ByteSpan so_pin, ByteSpan label);
  CK_RV InitPin(App& app, CK_SESSION_HANDLE s, ByteSpan pin);
  CK_RV SetPin(App& app, CK_SESSION_HANDLE s, ByteSpan old_pin, ByteSpan new_pin);
  CK_RV OpenSession(App& app, CK_FLAGS flags, CK_SESSION_HANDLE* out);
  CK_RV CloseSession(App& app, CK_SESSION_HANDLE s);
  CK_RV CloseAllSessions(App& app);
  CK_RV GetSessionInfo(App& app, CK_SESSION_HANDLE s, CK_STATE* state, CK_FLAGS* flags);
  CK_RV Login(App& app, CK_SESSION_HANDLE s, CK_USER_TYPE user, ByteSpan pin);
  CK_RV Logout(App& app, CK_SESSION_HANDLE s);

  CK_RV CreateObject(App& app, CK_SESSION_HANDLE s, const AttrMap& tmpl, CK_OBJECT_HANDLE* out);
  CK_RV DestroyObject(App& app, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h);
  CK_RV GetAttributes(App& app, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const std::vector<CK_ATTRIBUTE_TYPE>& types,
                      std::vector<AttrResult>* out);
  CK_RV SetAttributes(App& app, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const AttrMap& tmpl);
  CK_RV GetObjectSize(App& app, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ULONG* size);
  CK_RV FindObjects(App& app, CK_SESSION_HANDLE s, const AttrMap& tmpl, std::vector<CK_OBJECT_HANDLE>* out);

  CK_RV GenerateKey(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, const AttrMap& tmpl,
                    CK_OBJECT_HANDLE* out);
  CK_RV GenerateKeyPair(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, const AttrMap& pub_tmpl,
                        const AttrMap& priv_tmpl, CK_OBJECT_HANDLE* pub, CK_OBJECT_HANDLE* priv);

  CK_RV Sign(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, CK_OBJECT_HANDLE key, ByteSpan data,
             Bytes* out);
  CK_RV Verify(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, CK_OBJECT_HANDLE key, ByteSpan data,
               ByteSpan sig);
  CK_RV Encrypt(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, CK_OBJECT_HANDLE key, ByteSpan data,
                Bytes* out);
  CK_RV Decrypt(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, CK_OBJECT_HANDLE key, ByteSpan data,
                Bytes* out);
  CK_RV Digest(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, ByteSpan data, Bytes* out);

  // C_CopyObject: CKA_COPYABLE=FALSE gives CKR_ACTION_PROHIBITED; the template may change
  // CKA_TOKEN/PRIVATE/MODIFIABLE/DESTROYABLE/LABEL/ID/..., turn CKA_SENSITIVE on and
  // CKA_EXTRACTABLE/CKA_COPYABLE off; anything else that differs is CKR_ATTRIBUTE_READ_ONLY.
  CK_RV CopyObject(App& app, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const AttrMap& tmpl, CK_OBJECT_HANDLE* out);
  // C_WrapKey: the key must match the wrapping key's CKA_WRAP_TEMPLATE (CKR_KEY_NOT_WRAPPABLE),
  // be CKA_EXTRACTABLE (CKR_KEY_UNEXTRACTABLE) and, if
  // CKA_WRAP_WITH_TRUSTED, the wrapping key CKA_TRUSTED (CKR_KEY_NOT_WRAPPABLE).
  CK_RV WrapKey(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, CK_OBJECT_HANDLE wrapping_key,
                CK_OBJECT_HANDLE key, Bytes* out);
  // C_UnwrapKey: the unwrapping key's CKA_UNWRAP_TEMPLATE is merged into `tmpl` (a conflicting
  // value is CKR_TEMPLATE_INCONSISTENT); the new key is not CKA_LOCAL, never ALWAYS_SENSITIVE /
  // NEVER_EXTRACTABLE.
  CK_RV UnwrapKey(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, CK_OBJECT_HANDLE unwrapping_key,
                  ByteSpan wrapped, const AttrMap& tmpl, CK_OBJECT_HANDLE* out);
  // C_DeriveKey: the base key's CKA_DERIVE_TEMPLATE is merged as for unwrap;
  // ALWAYS_SENSITIVE / NEVER_EXTRACTABLE inherit from the base key.
  CK_RV DeriveKey(App& app, CK_SESSION_HANDLE s, const ipc::WireMechanism& mech, CK_OBJECT_HANDLE base,
                  const AttrMap& tmpl, CK_OBJECT_HANDLE* out);
  CK_RV GenerateRandom(App& app, CK_SESSION_HANDLE s, CK_ULONG len, Bytes* out);

  const Engine& engine() const { return engine_; }

  // Provisioning (additive): publishes `objects` as token objects under fresh handles, sealed in
  // ONE store transaction. Token objects whose CKA_LABEL equals `label` are removed in that same
  // transaction when `replace` is true; otherwise kAlreadyExists and nothing changes. A crash at
  // any point leaves either the old set or the new one. `after_write` as in
  // SealedStore::ApplyObjectBatch (test seam).
  struct ImportedObjects {
    std::vector<CK_OBJECT_HANDLE> handles;  // of `objects`, in order
    std::vector<CK_OBJECT_HANDLE> removed;  // replaced objects
  };
  Result<ImportedObjects> ImportObjects(std::vector<std::unique_ptr<Object>> objects, std::string_view label,
                                        bool replace, const std::function<void(size_t)>& after_write = nullptr);
  // Handles of token objects whose CKA_LABEL equals `label`.
  std::vector<CK_OBJECT_HANDLE> TokenObjectsWithLabel(std::string_view label);

 private:
  struct PinHash {
    Bytes salt;
    Bytes hash;
    uint32_t iterations = 0;
    bool set() const { return !hash.empty(); }
  };
  struct Record {
    bool initialized = false;
    Bytes label;  // 32 bytes, blank padded
    PinHash so;
    PinHash user;
    uint32_t so_failures = 0;
    uint32_t user_failures = 0;
  };

  Token(SealedStore& store, const Engine& engine, TokenOptions options, Logger& log)
      : store_(store), engine_(engine), options_(options), log_(log) {}

  // Session check; returns the app's login state and the session's flags.
  CK_RV CheckSession(App& app, CK_SESSION_HANDLE s, CK_USER_TYPE* login, CK_FLAGS* flags);
  // Finds an object the app may see; `invalid` is the code for "no such object".
  CK_RV Lookup(App& app, CK_OBJECT_HANDLE h, CK_USER_TYPE login, CK_RV invalid,
               std::shared_ptr<const Object>* out);
  CK_RV UseKey(App& app, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, std::shared_ptr<const Object>* out);
  // Checks rights to create an object with these attributes in this session.
  CK_RV CheckCreate(CK_USER_TYPE login, CK_FLAGS flags, const Object& obj);
  // Publishes a new object (persisting token objects first).
  CK_RV Publish(App& app, CK_SESSION_HANDLE s, std::unique_ptr<Object> obj, CK_OBJECT_HANDLE* out);
  void DestroySessionObjects(uint64_t app_id, CK_SESSION_HANDLE s, bool all_of_app);
  bool AnySession();

  PinHash HashPin(ByteSpan pin, ByteSpan salt, uint32_t iterations) const;
  PinHash NewPinHash(ByteSpan pin) const;
  bool PinMatches(const PinHash& h, ByteSpan pin) const;
  Status SaveRecord();  // requires record_mu_
  CK_RV CheckPinLen(ByteSpan pin) const;

  SealedStore& store_;
  const Engine& engine_;
  TokenOptions options_;
  Logger& log_;

  std::mutex record_mu_;
  Record record_;  // guarded by record_mu_

  std::mutex apps_mu_;
  std::unordered_map<uint64_t, std::weak_ptr<App>> apps_;  // guarded by apps_mu_
  std::atomic<uint64_t> next_app_{1};
  std::atomic<CK_SESSION_HANDLE> next_session_{1};
  std::atomic<CK_OBJECT_HANDLE> next_object_{1};

  std::shared_mutex objects_mu_;
  std::unordered_map<CK_OBJECT_HANDLE, std::shared_ptr<const Object>> objects_;  // guarded by objects_mu_
  std::unordered_multimap<std::string, CK_OBJECT_HANDLE> by_label_;               // guarded by objects_mu_
};

}  // namespace vhsm::hsm
