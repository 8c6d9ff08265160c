// signature.cc: EVP-based signature verification.
#include "crypto/signature.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include <cstring>

#include "crypto/error.h"
#include "crypto/ossl_ptr.h"

namespace vhsm::crypto {
namespace {

ByteSpan StripLeadingZeros(ByteSpan b) {
  size_t z = 0;
  while (z < b.size() && b[z] == 0) ++z;
  return b.subspan(z);
}

Status DigestVerify(const EVP_PKEY* key, HashAlg alg, ByteSpan message, ByteSpan signature,
                    std::string_view what, int pss_salt_len) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return OpenSslError("EVP_MD_CTX_new");
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (EVP_DigestVerifyInit_ex(ctx.get(), &pctx, std::string(HashAlgName(alg)).c_str(), nullptr, nullptr,
                              const_cast<EVP_PKEY*>(key), nullptr) != 1) {
    return OpenSslError(std::string(what) + ": cannot initialise verification", StatusCode::kInvalidArgument);
  }
  if (pss_salt_len >= 0) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_salt_len) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, std::string(HashAlgName(alg)).c_str(), nullptr) != 1) {
      return OpenSslError(std::string(what) + ": cannot configure RSASSA-PSS", StatusCode::kInvalidArgument);
    }
  }
  int rc = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size());
  if (rc != 1) {
    ClearOpenSslErrors();
    return UnauthenticatedError(std::string(what) + ": signature does not verify");
  }
  return OkStatus();
}

}  // namespace

Result<Bytes> EcdsaSigToDer(ByteSpan r_be, ByteSpan s_be) {
  ByteSpan r = StripLeadingZeros(r_be);
  ByteSpan s = StripLeadingZeros(s_be);
  if (r.empty() || s.empty()) return InvalidArgumentError("ECDSA signature: r or s is zero");
  if (r.size() > 66 || s.size() > 66) return InvalidArgumentError("ECDSA signature: r or s longer than 66 bytes");
  BnPtr br(BN_bin2bn(r.data(), static_cast<int>(r.size()), nullptr));
  BnPtr bs(BN_bin2bn(s.data(), static_cast<int>(s.size()), nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!br || !bs || !sig) return OpenSslError("ECDSA_SIG allocation");
  // ECDSA_SIG_set0 takes ownership of both BIGNUMs on success.
  if (ECDSA_SIG_set0(sig.get(), br.get(), bs.get()) != 1) return OpenSslError("ECDSA_SIG_set0");
  br.release();
  bs.release();
  unsigned char* der = nullptr;
  int n = i2d_ECDSA_SIG(sig.get(), &der);
  if (n <= 0) return OpenSslError("i2d_ECDSA_SIG");
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

bool IsEcP384Key(const EVP_PKEY* key) {
  if (key == nullptr || !EVP_PKEY_is_a(key, "EC")) return false;
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1) {
    ClearOpenSslErrors();
    return false;
  }
  return std::strcmp(group, "secp384r1") == 0;
}

Status VerifySignature(const EVP_PKEY* key, HashAlg alg, ByteSpan message, ByteSpan signature,
                       std::string_view what) {
  if (key == nullptr) return InvalidArgumentError(std::string(what) + ": no key");
  return DigestVerify(key, alg, message, signature, what, -1);
}

Status VerifyRsaPss(const EVP_PKEY* key, HashAlg alg, int salt_len, ByteSpan message, ByteSpan signature,
                    std::string_view what) {
  if (key == nullptr) return InvalidArgumentError(std::string(what) + ": no key");
  if (!EVP_PKEY_is_a(key, "RSA") && !EVP_PKEY_is_a(key, "RSA-PSS")) {
    return InvalidArgumentError(std::string(what) + ": key is not RSA");
  }
  if (salt_len < 0) return InvalidArgumentError(std::string(what) + ": negative salt length");
  return DigestVerify(key, alg, message, signature, what, salt_len);
}

}  // namespace vhsm::crypto
