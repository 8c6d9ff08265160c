// p384.h: ECDSA P-384 with SHA-384, the SEV-SNP report signature, on the faster of two
// implementations. OpenSSL 3.0 (Debian 12) runs P-384 on its generic prime-field code: about
// 1.3 ms per verification and 1.5 ms per signature on this project's 2-core VMs. Nettle's hogweed
// (3.8, the library under GnuTLS) has dedicated secp384r1 field arithmetic and signs with
// side-channel silent code: about 0.2 ms per signature and 0.65 ms per verification on the same
// machines. When vhsm is built with Nettle (VHSM_WITH_NETTLE, the default), VerifyEcdsaP384Sha384
// (signature.h) and SignEcdsaP384Sha384 use it; the OpenSSL paths stay available by name so the
// two are checked against each other (tests/crypto/p384_test.cc, fuzz/ecdsa_p384_fuzzer.cc).
//
// Keys stay OpenSSL EVP_PKEYs everywhere; they are converted on each call (public point: checked
// to be on the curve by Nettle; private scalar: through limb arrays on the stack that are wiped,
// never through a GMP allocation that would be freed unwiped).
#pragma once

#include <openssl/evp.h>

#include <array>

#include "base/bytes.h"
#include "base/status.h"

namespace vhsm::crypto {

inline constexpr size_t kP384ScalarSize = 48;

// An ECDSA P-384 signature as two big-endian, zero-padded 48-byte integers.
struct EcdsaP384Signature {
  std::array<uint8_t, kP384ScalarSize> r{};
  std::array<uint8_t, kP384ScalarSize> s{};
};

// True when this build verifies and signs P-384 with Nettle.
bool P384UsesNettle();

// Signs SHA-384(`message`) with the EC P-384 private key `key` (InvalidArgument if it is not one).
Result<EcdsaP384Signature> SignEcdsaP384Sha384(const EVP_PKEY* key, ByteSpan message);

// The two implementations behind VerifyEcdsaP384Sha384 and SignEcdsaP384Sha384, by name. Same
// contract as the public functions: Unauthenticated when the signature does not verify,
// InvalidArgument for a key that is not P-384 or an r/s longer than 66 bytes or zero. The Nettle
// ones return Unimplemented in a build without Nettle.
Status VerifyEcdsaP384Sha384OpenSsl(const EVP_PKEY* key, ByteSpan message, ByteSpan r_be, ByteSpan s_be);
Status VerifyEcdsaP384Sha384Nettle(const EVP_PKEY* key, ByteSpan message, ByteSpan r_be, ByteSpan s_be);
Result<EcdsaP384Signature> SignEcdsaP384Sha384OpenSsl(const EVP_PKEY* key, ByteSpan message);
Result<EcdsaP384Signature> SignEcdsaP384Sha384Nettle(const EVP_PKEY* key, ByteSpan message);

}  // namespace vhsm::crypto
