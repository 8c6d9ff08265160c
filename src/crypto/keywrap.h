// keywrap.h: AES Key Wrap (RFC 3394, NIST SP 800-38F KW) and AES Key Wrap with Padding (RFC 5649,
// KWP) on OpenSSL EVP wrap ciphers. JWE uses KW for "A256KW" / "ECDH-ES+A256KW" (RFC 7518
// section 4.4); KWP wraps keys whose length is not a multiple of 8. The KEK length picks AES-128,
// -192 or -256. Unwrapping checks the integrity value and returns kUnauthenticated on any
// mismatch, so a wrong KEK or a modified blob never yields key bytes. Thread-safe.
#pragma once

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"

namespace vhsm::crypto {

// Largest key these functions wrap (bytes).
inline constexpr size_t kMaxWrappedKeySize = 4096;

// RFC 3394: `key` must be a multiple of 8 bytes and at least 16; output is 8 bytes longer.
Result<Bytes> AesKeyWrap(const SecretBytes& kek, const SecretBytes& key);
Result<SecretBytes> AesKeyUnwrap(const SecretBytes& kek, ByteSpan wrapped);

// RFC 5649: any key length from 1 byte; output is the length rounded up to 8, plus 8.
Result<Bytes> AesKeyWrapPad(const SecretBytes& kek, const SecretBytes& key);
Result<SecretBytes> AesKeyUnwrapPad(const SecretBytes& kek, ByteSpan wrapped);

}  // namespace vhsm::crypto
