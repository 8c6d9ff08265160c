#include "crypto/digest.h"

#include "base/status.h"

namespace vhsm::crypto {

const EVP_MD* EvpMd(HashAlg alg) {
  switch (alg) {
    case HashAlg::kSha1: return EVP_sha1();
    case HashAlg::kSha256: return EVP_sha256();
    case HashAlg::kSha384: return EVP_sha384();
    case HashAlg::kSha512: return EVP_sha512();
  }
  return EVP_sha256();
}

size_t DigestSize(HashAlg alg) {
  switch (alg) {
    case HashAlg::kSha1: return 20;
    case HashAlg::kSha256: return 32;
    case HashAlg::kSha384: return 48;
    case HashAlg::kSha512: return 64;
  }
  return 0;
}

std::string_view HashAlgName(HashAlg alg) {
  switch (alg) {
    case HashAlg::kSha1: return "SHA-1";
    case HashAlg::kSha256: return "SHA-256";
    case HashAlg::kSha384: return "SHA-384";
    case HashAlg::kSha512: return "SHA-512";
  }
  return "?";
}

Bytes Digest(HashAlg alg, ByteSpan data) {
  Bytes out(DigestSize(alg));
  unsigned int len = 0;
  VHSM_CHECK(EVP_Digest(data.data(), data.size(), out.data(), &len, EvpMd(alg), nullptr) == 1,
             "EVP_Digest cannot fail for built-in digests");
  out.resize(len);
  return out;
}

Hasher::Hasher(HashAlg alg) : alg_(alg), ctx_(EVP_MD_CTX_new()) {
  VHSM_CHECK(ctx_ != nullptr, "out of memory");
  VHSM_CHECK(EVP_DigestInit_ex(ctx_.get(), EvpMd(alg), nullptr) == 1, "digest init");
}

void Hasher::Update(ByteSpan data) {
  VHSM_CHECK(EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) == 1, "digest update");
}

Bytes Hasher::Finish() {
  Bytes out(DigestSize(alg_));
  unsigned int len = 0;
  VHSM_CHECK(EVP_DigestFinal_ex(ctx_.get(), out.data(), &len) == 1, "digest final");
  out.resize(len);
  VHSM_CHECK(EVP_DigestInit_ex(ctx_.get(), EvpMd(alg_), nullptr) == 1, "digest reinit");
  return out;
}

Hasher Hasher::Clone() const {
  EvpMdCtxPtr c(EVP_MD_CTX_new());
  VHSM_CHECK(c != nullptr && EVP_MD_CTX_copy_ex(c.get(), ctx_.get()) == 1, "digest copy");
  return Hasher(alg_, std::move(c));
}

}  // namespace vhsm::crypto
