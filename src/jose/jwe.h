// jwe.h: JSON Web Encryption (RFC 7516) as vhsm uses it to release secrets to an attested vHSM:
// flattened JSON serialization (and compact), key management "ECDH-ES+A256KW" on P-256/P-384/P-521
// or "RSA-OAEP-256", content encryption "A256GCM" (RFC 7518 sections 4.6, 4.3, 5.3). For the
// RFC 7520 interop vectors decryption also accepts ECDH-ES+A128KW/A192KW, A128GCM/A192GCM and,
// only when explicitly allowed, "RSA-OAEP" (SHA-1); encryption never produces RSA-OAEP.
// The protected header (and the "aad" member) is the AEAD additional data. Decryption runs inside
// the holder of the private key (vhsmd); parsing is strict and bounded, and any failure of key
// unwrapping or authentication is one kUnauthenticated error, never a crash and never partial
// plaintext. Stateless and thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/keys.h"

namespace vhsm::jose {

enum class JweAlg { kEcdhEsA128Kw, kEcdhEsA192Kw, kEcdhEsA256Kw, kRsaOaep, kRsaOaep256 };
enum class JweEnc { kA128Gcm, kA192Gcm, kA256Gcm };

std::string_view JweAlgName(JweAlg alg);  // "ECDH-ES+A256KW"
std::string_view JweEncName(JweEnc enc);  // "A256GCM"
// kUnimplemented for names we do not support (naming them).
Result<JweAlg> ParseJweAlg(std::string_view name);
Result<JweEnc> ParseJweEnc(std::string_view name);
// ECDH-ES+A256KW for EC keys, RSA-OAEP-256 for RSA keys; kInvalidArgument for Ed25519.
Result<JweAlg> DefaultJweAlgForKey(const crypto::PublicKey& key);

struct JweEncryptOptions {
  JweAlg alg = JweAlg::kEcdhEsA256Kw;
  JweEnc enc = JweEnc::kA256Gcm;
  std::string kid;  // "kid" protected header when non-empty
  std::string cty;  // "cty" protected header when non-empty
  Bytes apu;        // ECDH-ES PartyUInfo, sent as "apu" when non-empty
  Bytes apv;        // ECDH-ES PartyVInfo, sent as "apv" when non-empty
  Bytes aad;        // flattened only: the "aad" member, authenticated but not encrypted
  // More protected header members (object or null); may not override the ones above.
  nlohmann::json extra_protected;
};

inline constexpr size_t kMaxJwePlaintextBytes = 1024 * 1024;

// Flattened JSON serialization: {"protected","encrypted_key","iv","ciphertext","tag"[,"aad"]}.
Result<nlohmann::json> EncryptFlattenedJson(const crypto::PublicKey& recipient, ByteSpan plaintext,
                                            const JweEncryptOptions& options = {});
Result<std::string> EncryptFlattened(const crypto::PublicKey& recipient, ByteSpan plaintext,
                                     const JweEncryptOptions& options = {});
// Compact serialization (five base64url parts). options.aad must be empty.
Result<std::string> EncryptCompact(const crypto::PublicKey& recipient, ByteSpan plaintext,
                                   const JweEncryptOptions& options = {});

struct JweDecryptOptions {
  // Empty: ECDH-ES+A128KW/A192KW/A256KW and RSA-OAEP-256 (not RSA-OAEP, which uses SHA-1).
  std::vector<JweAlg> allowed_algs;
  // Empty: A128GCM, A192GCM, A256GCM.
  std::vector<JweEnc> allowed_encs;
  size_t max_bytes = 2 * 1024 * 1024;     // whole serialization
  size_t max_header_bytes = 8 * 1024;     // decoded protected header
};

struct JweDecrypted {
  SecretBytes plaintext;
  nlohmann::json header;  // joint header: protected ∪ unprotected ∪ per-recipient
  JweAlg alg;
  JweEnc enc;
  std::string kid;  // empty when absent
  Bytes aad;        // the flattened "aad" member, empty when absent
};

// kInvalidArgument for malformed input (naming the member), kUnimplemented for unsupported
// algorithms or "zip", kUnauthenticated for a disallowed alg/enc and for every key-unwrap or
// authentication failure (wrong key, flipped bit anywhere), kResourceExhausted when too large.
// kInvalidArgument when the key type does not fit "alg" or the "epk" curve differs from the key's.
Result<JweDecrypted> DecryptFlattened(std::string_view json_text, const crypto::PrivateKey& key,
                                      const JweDecryptOptions& options = {});
Result<JweDecrypted> DecryptCompact(std::string_view compact, const crypto::PrivateKey& key,
                                    const JweDecryptOptions& options = {});

}  // namespace vhsm::jose
