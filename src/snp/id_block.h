// id_block.h: builds the SEV-SNP ID block and ID authentication information structure a VMM
// passes to SNP_LAUNCH_FINISH (QEMU: sev-snp-guest id-block=/id-auth=, base64), signed with an
// ECDSA P-384 ID key and optionally endorsed by an author key. The firmware checks the ID block
// against the launch digest and reports the key digests (ID_KEY_DIGEST, AUTHOR_KEY_DIGEST), so
// this unit also computes those digests for registration as reference values.
// Spec: AMD SEV-SNP Firmware ABI 56860, tables ID_BLOCK, ID_AUTH_INFO, ECDSA public key and
// signature formats (P-384: curve id 2, components 72 bytes little-endian).
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "crypto/ossl_ptr.h"

namespace vhsm::snp {

inline constexpr size_t kIdBlockSize = 0x60;
inline constexpr size_t kIdAuthInfoSize = 0x1000;
inline constexpr size_t kAmdPublicKeySize = 0x404;
inline constexpr size_t kAmdSignatureSize = 0x200;
inline constexpr uint32_t kIdBlockVersion = 1;
inline constexpr uint32_t kAlgoEcdsaP384Sha384 = 1;
inline constexpr uint32_t kCurveP384 = 2;
// Default guest policy: bit 17 (must be one) and bit 16 (SMT allowed), ABI 0.0.
inline constexpr uint64_t kDefaultIdBlockPolicy = 0x30000;

// ID_AUTH_INFO offsets.
inline constexpr size_t kIdAuthIdKeyAlgoOff = 0x00;
inline constexpr size_t kIdAuthAuthorKeyAlgoOff = 0x04;
inline constexpr size_t kIdAuthIdBlockSigOff = 0x40;
inline constexpr size_t kIdAuthIdKeyOff = 0x240;
inline constexpr size_t kIdAuthIdKeySigOff = 0x680;
inline constexpr size_t kIdAuthAuthorKeyOff = 0x880;

struct IdBlockParams {
  std::array<uint8_t, 48> measurement{};  // LD: the expected launch digest
  std::array<uint8_t, 16> family_id{};
  std::array<uint8_t, 16> image_id{};
  uint32_t guest_svn = 0;
  uint64_t policy = kDefaultIdBlockPolicy;
};

struct IdBlockResult {
  Bytes id_block;                          // kIdBlockSize bytes
  Bytes id_auth;                           // kIdAuthInfoSize bytes
  Bytes id_key_digest;                     // SHA-384 of the ID key in AMD format
  std::optional<Bytes> author_key_digest;  // when an author key was given
};

// The 0x60-byte ID_BLOCK.
Bytes SerializeIdBlock(const IdBlockParams& params);

// Loads a PEM (PKCS#8 or SEC1) or DER private key and checks it is an EC P-384 key.
// InvalidArgument naming `what` otherwise.
Result<crypto::EvpPkeyPtr> LoadP384PrivateKey(const SecretBytes& encoded, std::string_view what);

// The 0x404-byte AMD public-key structure {u32 curve = 2, Qx[72], Qy[72], zero}. InvalidArgument
// if the key is not on P-384.
Result<Bytes> AmdPublicKey(EVP_PKEY* key);
// SHA-384 of AmdPublicKey(key): what the report carries as ID_KEY_DIGEST / AUTHOR_KEY_DIGEST.
Result<Bytes> AmdKeyDigest(EVP_PKEY* key);

// Builds and signs the ID block (with id_key) and, when author_key is set, signs the ID key
// with it. Signatures are randomized ECDSA, so id_auth differs per call; the digests do not.
Result<IdBlockResult> BuildIdBlock(const IdBlockParams& params, EVP_PKEY* id_key,
                                   EVP_PKEY* author_key);

// Converts an AMD-format signature (R, S little-endian 72 bytes each) to DER for OpenSSL
// verification. InvalidArgument for a wrong size.
Result<Bytes> AmdSignatureToDer(ByteSpan amd_signature);

}  // namespace vhsm::snp
