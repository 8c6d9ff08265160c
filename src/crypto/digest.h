// digest.h: SHA-1/SHA-2 one-shot and incremental hashing on OpenSSL EVP.
#pragma once

#include <openssl/evp.h>

#include <string_view>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ossl_ptr.h"

namespace vhsm::crypto {

enum class HashAlg { kSha1, kSha256, kSha384, kSha512 };

const EVP_MD* EvpMd(HashAlg alg);
size_t DigestSize(HashAlg alg);
std::string_view HashAlgName(HashAlg alg);  // "SHA-384"

Bytes Digest(HashAlg alg, ByteSpan data);
inline Bytes Sha256(ByteSpan d) { return Digest(HashAlg::kSha256, d); }
inline Bytes Sha384(ByteSpan d) { return Digest(HashAlg::kSha384, d); }
inline Bytes Sha512(ByteSpan d) { return Digest(HashAlg::kSha512, d); }

// Incremental hashing. Copyable via Clone() (for precomputed prefixes).
class Hasher {
 public:
  explicit Hasher(HashAlg alg);
  void Update(ByteSpan data);
  Bytes Finish();
  Hasher Clone() const;

 private:
  Hasher(HashAlg alg, EvpMdCtxPtr ctx) : alg_(alg), ctx_(std::move(ctx)) {}
  HashAlg alg_;
  EvpMdCtxPtr ctx_;
};

}  // namespace vhsm::crypto
