#include "crypto/kdf.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <cstdio>
#include <string>

#include "base/byte_reader.h"
#include "crypto/error.h"
#include "crypto/ossl_ptr.h"

namespace vhsm::crypto {
namespace {

const char* MdName(HashAlg hash) {
  switch (hash) {
    case HashAlg::kSha1: return "SHA1";
    case HashAlg::kSha256: return "SHA256";
    case HashAlg::kSha384: return "SHA384";
    case HashAlg::kSha512: return "SHA512";
  }
  return "SHA256";
}

Status CheckOutLen(size_t out_len, std::string_view what) {
  if (out_len == 0 || out_len > kMaxDerivedKeySize) {
    return InvalidArgumentError(std::string(what) + ": output length " + std::to_string(out_len) +
                                ", want 1.." + std::to_string(kMaxDerivedKeySize));
  }
  return OkStatus();
}

// OSSL_PARAM octet strings take non-const pointers but only read them.
void* Mut(ByteSpan b) { return const_cast<uint8_t*>(b.data()); }

Result<SecretBytes> RunKdf(const char* kdf_name, OSSL_PARAM* params, size_t out_len) {
  EvpKdfPtr kdf(EVP_KDF_fetch(nullptr, kdf_name, nullptr));
  if (!kdf) return OpenSslError(std::string("EVP_KDF_fetch ") + kdf_name);
  EvpKdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return OpenSslError("EVP_KDF_CTX_new");
  SecretBytes out(out_len);
  if (EVP_KDF_derive(ctx.get(), out.MutableExpose().data(), out.size(), params) != 1) {
    return OpenSslError(std::string(kdf_name) + " derive", StatusCode::kInvalidArgument);
  }
  return out;
}

}  // namespace

Result<SecretBytes> Hkdf(HashAlg hash, const SecretBytes& ikm, ByteSpan salt, ByteSpan info,
                         size_t out_len) {
  VHSM_RETURN_IF_ERROR(CheckOutLen(out_len, "HKDF"));
  if (out_len > 255 * DigestSize(hash)) {
    return InvalidArgumentError("HKDF: output length " + std::to_string(out_len) +
                                " exceeds 255 * hash length");
  }
  char md[16];
  std::snprintf(md, sizeof(md), "%s", MdName(hash));
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md, 0);
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, Mut(ikm.Expose()), ikm.size());
  // An absent salt means HashLen zero bytes (RFC 5869 section 2.2), which is OpenSSL's default.
  if (!salt.empty()) params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, Mut(salt), salt.size());
  params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, Mut(info), info.size());
  params[n] = OSSL_PARAM_construct_end();
  return RunKdf("HKDF", params, out_len);
}

Result<SecretBytes> ConcatKdf(HashAlg hash, const SecretBytes& z, ByteSpan other_info, size_t out_len) {
  VHSM_RETURN_IF_ERROR(CheckOutLen(out_len, "Concat KDF"));
  if (z.empty()) return InvalidArgumentError("Concat KDF: empty shared secret Z");
  char md[16];
  std::snprintf(md, sizeof(md), "%s", MdName(hash));
  OSSL_PARAM params[4];
  params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, md, 0);
  params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, Mut(z.Expose()), z.size());
  params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, Mut(other_info), other_info.size());
  params[3] = OSSL_PARAM_construct_end();
  // OpenSSL's SSKDF is SP 800-56C rev. 1 option 1, the same construction as 56A's Concat KDF.
  return RunKdf("SSKDF", params, out_len);
}

Bytes JoseConcatKdfOtherInfo(std::string_view algorithm_id, ByteSpan apu, ByteSpan apv,
                             size_t key_len_bytes) {
  ByteWriter w;
  w.WriteU32Be(static_cast<uint32_t>(algorithm_id.size()));
  w.WriteBytes(AsBytes(algorithm_id));
  w.WriteU32Be(static_cast<uint32_t>(apu.size()));
  w.WriteBytes(apu);
  w.WriteU32Be(static_cast<uint32_t>(apv.size()));
  w.WriteBytes(apv);
  w.WriteU32Be(static_cast<uint32_t>(key_len_bytes * 8));
  return w.Take();
}

Result<SecretBytes> JoseEcdhEsKdf(const SecretBytes& z, std::string_view algorithm_id, ByteSpan apu,
                                  ByteSpan apv, size_t key_len_bytes) {
  return ConcatKdf(HashAlg::kSha256, z, JoseConcatKdfOtherInfo(algorithm_id, apu, apv, key_len_bytes),
                   key_len_bytes);
}

Result<Bytes> Hmac(HashAlg hash, const SecretBytes& key, ByteSpan data) {
  EvpMacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (!mac) return OpenSslError("EVP_MAC_fetch HMAC");
  EvpMacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
  if (!ctx) return OpenSslError("EVP_MAC_CTX_new");
  char md[16];
  std::snprintf(md, sizeof(md), "%s", MdName(hash));
  OSSL_PARAM params[2] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, md, 0),
                          OSSL_PARAM_construct_end()};
  // EVP_MAC_init treats a zero-length key as "no key". HMAC pads keys with zeros to the block
  // size, so the empty key and a single zero byte give the same MAC.
  static const uint8_t kZero = 0;
  const uint8_t* k = key.empty() ? &kZero : key.Expose().data();
  const size_t k_len = key.empty() ? 1 : key.size();
  if (EVP_MAC_init(ctx.get(), k, k_len, params) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1) {
    return OpenSslError("HMAC");
  }
  Bytes out(EVP_MAX_MD_SIZE);
  size_t len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1) return OpenSslError("HMAC final");
  out.resize(len);
  return out;
}

Status HmacVerify(HashAlg hash, const SecretBytes& key, ByteSpan data, ByteSpan mac) {
  VHSM_ASSIGN_OR_RETURN(Bytes want, Hmac(hash, key, data));
  if (!ConstantTimeEquals(want, mac)) return UnauthenticatedError("HMAC does not verify");
  return OkStatus();
}

}  // namespace vhsm::crypto
