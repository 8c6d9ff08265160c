// signature.h: signature verification on OpenSSL EVP keys. ECDSA P-384/SHA-384 from raw
// big-endian (r, s) (the SEV-SNP report signature after byte reversal), and generic EVP
// DigestVerify for DER-encoded signatures. Verification failures are Unauthenticated; malformed
// inputs are InvalidArgument. The OpenSSL error queue is drained on every path.
#pragma once

#include <openssl/evp.h>

#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/digest.h"

namespace vhsm::crypto {

// DER ECDSA-Sig-Value SEQUENCE{INTEGER r, INTEGER s} from big-endian magnitudes (leading zeros
// allowed). InvalidArgument if either is zero or longer than 66 bytes.
Result<Bytes> EcdsaSigToDer(ByteSpan r_be, ByteSpan s_be);

// True if `key` is an EC key on P-384 (secp384r1).
bool IsEcP384Key(const EVP_PKEY* key);

// ECDSA P-384 with SHA-384 over `message`. `key` must be an EC P-384 key (else InvalidArgument).
// Defined in p384.cc: Nettle's P-384 when the build has it, else OpenSSL.
Status VerifyEcdsaP384Sha384(const EVP_PKEY* key, ByteSpan message, ByteSpan r_be, ByteSpan s_be);

// Generic EVP DigestVerify with `alg` and a DER/PKCS#1 signature as the key type expects.
Status VerifySignature(const EVP_PKEY* key, HashAlg alg, ByteSpan message, ByteSpan signature,
                       std::string_view what = "signature");

// RSASSA-PSS with MGF1 using the same hash, and the given salt length.
Status VerifyRsaPss(const EVP_PKEY* key, HashAlg alg, int salt_len, ByteSpan message,
                    ByteSpan signature, std::string_view what = "signature");

}  // namespace vhsm::crypto
