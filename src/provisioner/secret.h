// secret.h: what a released secret must look like for the key type it will become inside the
// vHSM. The Provisioning Service releases opaque bytes; before anything is imported the bytes are
// checked here: AES 16/24/32 bytes, HMAC/generic secret 16..512 bytes, EC and RSA private keys as
// PKCS#8 (DER or PEM) that parses to that type (EC on P-256/P-384/P-521, RSA 2048..4096). Private
// keys are normalised to PKCS#8 DER. Errors name the resource field and what was found, never the
// secret bytes. Stateless and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/keys.h"

namespace vhsm::provisioner {

enum class SecretKeyType { kAes, kHmac, kGeneric, kEc, kRsa };

// "aes", "hmac", "generic", "ec", "rsa" (case-sensitive); kInvalidArgument otherwise.
Result<SecretKeyType> ParseSecretKeyType(std::string_view name);
std::string_view SecretKeyTypeName(SecretKeyType type);

inline constexpr size_t kMinGenericSecretBytes = 16;
inline constexpr size_t kMaxGenericSecretBytes = 512;
inline constexpr size_t kMaxPrivateKeyBytes = 16 * 1024;

struct ValidatedSecret {
  SecretKeyType type = SecretKeyType::kAes;
  SecretBytes material;                 // raw key bytes, or PKCS#8 DER for ec/rsa
  std::optional<crypto::EcCurve> curve;  // ec only
  int bits = 0;                          // key size in bits (AES/HMAC: 8 * length)
};

// Checks `raw` for `type` and returns it in the form the vHSM stores. kInvalidArgument with a
// message like "secret for key type aes: got 20 bytes, want 16, 24 or 32".
Result<ValidatedSecret> ValidateSecret(SecretKeyType type, SecretBytes raw);

}  // namespace vhsm::provisioner
