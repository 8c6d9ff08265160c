// key.h: a key held in a PKCS#11 token, named by an RFC 7512 URI (uri.h), used through the
// module's C API. The module is dlopen()ed from the URI's module-path (or KeyOptions), the token
// and objects are found by the URI's path attributes, and a user session is logged in with the
// URI's pin-value / pin-source or KeyOptions::pin. Callers get exactly the operations vhsm
// needs, never key bytes:
//   - SignDigestEcdsa: CKM_ECDSA over a caller-computed digest, raw r||s (JOSE / P1363 form);
//     used by vhsm-attestd for EAR tokens (ES256/ES384).
//   - PublicKeySpki: DER SubjectPublicKeyInfo of the EC key pair (public object's CKA_EC_PARAMS +
//     CKA_EC_POINT, else CKA_PUBLIC_KEY_INFO); for the JWKS.
//   - AeadEncrypt / AeadDecrypt: CKM_AES_GCM (128-bit tag) with a secret-key object; for
//     vhsm-provisiond's key-encryption key.
// Thread-safe: one logged-in session per Key, calls serialised by a mutex (the session is
// reopened and logged in again once if the token drops it). A module is C_Initialize()d once per
// process and finalized when its last Key is destroyed (PKCS#11 state is process-wide, so modules
// are shared through an internal registry keyed by path). PINs are held in SecretBytes and never
// appear in messages or logs.
//
// Errors: kInvalidArgument (bad URI, wrong input sizes), kNotFound (no module / token / object
// matches; the message names the URI attributes, never the PIN), kFailedPrecondition (ambiguous
// match, object lacks the needed attribute or usage, unsupported curve), kUnauthenticated (wrong
// PIN; a GCM tag that does not verify), kUnavailable (token removed, device error), kInternal
// (other CKR_ values). Messages carry the CKR_ name.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "p11/uri.h"

namespace vhsm::p11 {

inline constexpr size_t kMaxAeadPlaintextBytes = size_t{1} << 20;  // 1 MiB per call
inline constexpr size_t kMaxAeadAadBytes = 64 * 1024;
inline constexpr size_t kGcmTagBytes = 16;

struct KeyOptions {
  // Used when the URI has no module-path (module-name is resolved as lib<name>.so via dlopen's
  // search path). Empty + no module in the URI = kInvalidArgument.
  std::string module_path;
  // Used when the URI has neither pin-value nor pin-source. Unset and none in the URI: no login
  // (public objects only).
  std::optional<SecretBytes> pin;
};

namespace internal {
class Module;
}

// The curve of an EC key found in the token (by CKA_EC_PARAMS).
enum class KeyCurve { kNone, kP256, kP384, kP521 };

class Key {
 public:
  // Loads the module, finds the token and the objects named by `uri`, logs in. Objects found:
  // the private key, public key and secret key whose CKA_LABEL/CKA_ID match (restricted to the
  // URI's type when given); at least one must exist.
  static Result<std::unique_ptr<Key>> Open(std::string_view uri, KeyOptions options = {});
  static Result<std::unique_ptr<Key>> Open(const Pkcs11Uri& uri, KeyOptions options = {});
  ~Key();
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;

  // CKM_ECDSA on the private key. `digest` 1..64 bytes (the caller hashes: SHA-256 for ES256,
  // SHA-384 for ES384). Returns r||s, each the curve's coordinate size.
  Result<Bytes> SignDigestEcdsa(ByteSpan digest) const;
  // DER SubjectPublicKeyInfo of the EC key (public object, else the private object's
  // CKA_PUBLIC_KEY_INFO). kFailedPrecondition when neither gives one.
  Result<Bytes> PublicKeySpki() const;
  KeyCurve curve() const { return curve_; }

  // CKM_AES_GCM with the secret key: returns ciphertext || 16-byte tag. `iv` 1..128 bytes (12
  // recommended; WARNING: never reuse an IV with the same key), `aad` at most kMaxAeadAadBytes,
  // `plaintext` at most kMaxAeadPlaintextBytes.
  Result<Bytes> AeadEncrypt(ByteSpan iv, ByteSpan aad, ByteSpan plaintext) const;
  // Inverse of AeadEncrypt on ciphertext || tag. kUnauthenticated when the tag does not verify.
  Result<SecretBytes> AeadDecrypt(ByteSpan iv, ByteSpan aad, ByteSpan ciphertext_and_tag) const;

  bool has_private_key() const { return private_key_ != 0; }
  bool has_public_key() const { return public_key_ != 0; }
  bool has_secret_key() const { return secret_key_ != 0; }
  // The URI without the PIN, for logs.
  const std::string& description() const { return description_; }

 private:
  Key() = default;
  // Opens a session on slot_ and logs in (caller holds mu_).
  Status OpenSessionLocked() const;
  Status FindObjectsLocked();
  // Runs one token operation under mu_ with the key's session (opened when needed, and reopened
  // once when the token reports it gone). `op(session, rv)` returns the outcome, or nullopt after
  // setting `rv` to the failing CKR_ value; `what` names the call in the error.
  template <typename T, typename Op>
  Result<T> WithSession(const char* what, Op op) const;

  std::shared_ptr<internal::Module> module_;
  unsigned long slot_ = 0;
  Pkcs11Uri uri_;
  std::optional<SecretBytes> pin_;
  std::string description_;
  mutable std::mutex mu_;
  mutable unsigned long session_ = 0;  // guarded by mu_; 0 = none
  unsigned long private_key_ = 0, public_key_ = 0, secret_key_ = 0;
  KeyCurve curve_ = KeyCurve::kNone;
};

// "CKR_PIN_INCORRECT" etc. for messages; "CKR_0x..." for unknown values.
std::string CkrName(unsigned long rv);
// The Status for a failed call: `what` names the call ("C_Login"), the code follows key.h's list.
Status CkrToStatus(unsigned long rv, std::string_view what);

}  // namespace vhsm::p11
