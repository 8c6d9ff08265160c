// kdf.h: key derivation and MACs on OpenSSL 3 EVP_KDF / EVP_MAC: HKDF (RFC 5869) for sealing keys,
// the single-step "Concat" KDF of NIST SP 800-56A rev. 3 section 5.8 that JWA ECDH-ES uses
// (RFC 7518 section 4.6.2), and HMAC (RFC 2104). Inputs that are key material are SecretBytes;
// derived keys are returned as SecretBytes. Stateless and thread-safe.
#pragma once

#include <string_view>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/digest.h"

namespace vhsm::crypto {

// Largest output any KDF here will produce (bytes); larger requests are kInvalidArgument.
inline constexpr size_t kMaxDerivedKeySize = 1024;

// HKDF extract-and-expand with SHA-256/384/512. `out_len` in (0, 255 * hash size].
Result<SecretBytes> Hkdf(HashAlg hash, const SecretBytes& ikm, ByteSpan salt, ByteSpan info,
                         size_t out_len);

// SP 800-56A single-step KDF with a hash: K = H(counter || Z || OtherInfo) for counter = 1, 2, ...,
// truncated to `out_len` bytes.
Result<SecretBytes> ConcatKdf(HashAlg hash, const SecretBytes& z, ByteSpan other_info,
                              size_t out_len);

// OtherInfo for JWA ECDH-ES (RFC 7518 section 4.6.2): AlgorithmID, PartyUInfo and PartyVInfo each
// as a 32-bit big-endian length followed by the bytes; SuppPubInfo = key length in bits as a
// 32-bit big-endian integer; SuppPrivInfo empty. `algorithm_id` is the "alg" value for key
// agreement with key wrapping (e.g. "ECDH-ES+A256KW") or the "enc" value for direct agreement.
Bytes JoseConcatKdfOtherInfo(std::string_view algorithm_id, ByteSpan apu, ByteSpan apv,
                             size_t key_len_bytes);

// The JWA ECDH-ES KDF: SHA-256 Concat KDF over Z with the OtherInfo above.
Result<SecretBytes> JoseEcdhEsKdf(const SecretBytes& z, std::string_view algorithm_id, ByteSpan apu,
                                  ByteSpan apv, size_t key_len_bytes);

// HMAC with SHA-1/256/384/512. Any key length is accepted (RFC 2104).
Result<Bytes> Hmac(HashAlg hash, const SecretBytes& key, ByteSpan data);
// Constant-time check of `mac` against HMAC(key, data); kUnauthenticated on mismatch.
Status HmacVerify(HashAlg hash, const SecretBytes& key, ByteSpan data, ByteSpan mac);

}  // namespace vhsm::crypto
