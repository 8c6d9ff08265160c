// aead.h: AES-GCM authenticated encryption (NIST SP 800-38D) on OpenSSL EVP, as used for sealing
// vHSM objects, encrypting resources at rest and the JWE content layer (A128GCM/A256GCM). IVs are
// always 12 bytes and tags 16 bytes; the key length picks AES-128/192/256 (32 bytes = AES-256,
// the default everywhere in vhsm). Opening never returns unauthenticated plaintext: any mismatch
// of key, IV, AAD, ciphertext or tag is kUnauthenticated. Stateless and thread-safe.
#pragma once

#include <cstddef>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"

namespace vhsm::crypto {

inline constexpr size_t kAesGcmIvSize = 12;
inline constexpr size_t kAesGcmTagSize = 16;
inline constexpr size_t kAes256KeySize = 32;
// Upper bound on one message (well under GCM's 2^36-32 bytes; keeps int conversions safe).
inline constexpr size_t kAesGcmMaxMessageSize = size_t{1} << 30;

struct AeadSealed {
  Bytes iv;          // 12 bytes
  Bytes ciphertext;  // same length as the plaintext
  Bytes tag;         // 16 bytes
};

// Encrypts with a fresh random IV. `key` must be 16, 24 or 32 bytes (kInvalidArgument otherwise).
Result<AeadSealed> AesGcmSeal(const SecretBytes& key, ByteSpan plaintext, ByteSpan aad);
// Encrypts with a caller-chosen IV (known-answer tests, JWE with injected RNG). WARNING: never
// reuse an IV with the same key.
Result<AeadSealed> AesGcmSealWithIv(const SecretBytes& key, ByteSpan iv, ByteSpan plaintext,
                                    ByteSpan aad);
// Decrypts and authenticates. kUnauthenticated when the tag does not verify; kInvalidArgument
// for a wrong key, IV or tag length.
Result<SecretBytes> AesGcmOpen(const SecretBytes& key, ByteSpan iv, ByteSpan ciphertext,
                               ByteSpan tag, ByteSpan aad);

// Single-buffer form for stored blobs: iv(12) || ciphertext || tag(16).
Result<Bytes> AesGcmSealCombined(const SecretBytes& key, ByteSpan plaintext, ByteSpan aad);
// Inverse of AesGcmSealCombined. kInvalidArgument when shorter than 28 bytes.
Result<SecretBytes> AesGcmOpenCombined(const SecretBytes& key, ByteSpan blob, ByteSpan aad);

}  // namespace vhsm::crypto
