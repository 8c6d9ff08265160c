#include "crypto/aead.h"

#include <openssl/evp.h>

#include <string>

#include "crypto/error.h"
#include "crypto/ossl_ptr.h"
#include "crypto/random.h"

namespace vhsm::crypto {
namespace {

Result<const EVP_CIPHER*> GcmCipher(size_t key_len) {
  switch (key_len) {
    case 16: return EVP_aes_128_gcm();
    case 24: return EVP_aes_192_gcm();
    case 32: return EVP_aes_256_gcm();
    default:
      return InvalidArgumentError("AES-GCM key: got " + std::to_string(key_len) +
                                  " bytes, want 16, 24 or 32");
  }
}

Status CheckSizes(ByteSpan iv, size_t text_len, size_t aad_len) {
  if (iv.size() != kAesGcmIvSize) {
    return InvalidArgumentError("AES-GCM IV: got " + std::to_string(iv.size()) + " bytes, want 12");
  }
  if (text_len > kAesGcmMaxMessageSize || aad_len > kAesGcmMaxMessageSize) {
    return ResourceExhaustedError("AES-GCM: message or AAD larger than " +
                                  std::to_string(kAesGcmMaxMessageSize) + " bytes");
  }
  return OkStatus();
}

// Creates a context keyed for `encrypt` with AAD already absorbed.
Result<EvpCipherCtxPtr> InitGcm(const SecretBytes& key, ByteSpan iv, ByteSpan aad, bool encrypt) {
  VHSM_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, GcmCipher(key.size()));
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpenSslError("EVP_CIPHER_CTX_new");
  const int enc = encrypt ? 1 : 0;
  if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, nullptr, nullptr, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(iv.size()), nullptr) != 1 ||
      EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, key.Expose().data(), iv.data(), enc) != 1) {
    return OpenSslError("AES-GCM init");
  }
  if (!aad.empty()) {
    int out_len = 0;
    if (EVP_CipherUpdate(ctx.get(), nullptr, &out_len, aad.data(), static_cast<int>(aad.size())) != 1) {
      return OpenSslError("AES-GCM AAD");
    }
  }
  return ctx;
}

}  // namespace

Result<AeadSealed> AesGcmSealWithIv(const SecretBytes& key, ByteSpan iv, ByteSpan plaintext,
                                    ByteSpan aad) {
  VHSM_RETURN_IF_ERROR(CheckSizes(iv, plaintext.size(), aad.size()));
  VHSM_ASSIGN_OR_RETURN(EvpCipherCtxPtr ctx, InitGcm(key, iv, aad, /*encrypt=*/true));
  AeadSealed out;
  out.iv.assign(iv.begin(), iv.end());
  out.ciphertext.resize(plaintext.size());
  int len = 0;
  if (!plaintext.empty() &&
      EVP_EncryptUpdate(ctx.get(), out.ciphertext.data(), &len, plaintext.data(),
                        static_cast<int>(plaintext.size())) != 1) {
    return OpenSslError("AES-GCM encrypt");
  }
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), out.ciphertext.data() + len, &final_len) != 1) {
    return OpenSslError("AES-GCM encrypt final");
  }
  out.tag.resize(kAesGcmTagSize);
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(kAesGcmTagSize),
                          out.tag.data()) != 1) {
    return OpenSslError("AES-GCM get tag");
  }
  return out;
}

Result<AeadSealed> AesGcmSeal(const SecretBytes& key, ByteSpan plaintext, ByteSpan aad) {
  VHSM_ASSIGN_OR_RETURN(Bytes iv, RandomBytes(kAesGcmIvSize));
  return AesGcmSealWithIv(key, iv, plaintext, aad);
}

Result<SecretBytes> AesGcmOpen(const SecretBytes& key, ByteSpan iv, ByteSpan ciphertext,
                               ByteSpan tag, ByteSpan aad) {
  VHSM_RETURN_IF_ERROR(CheckSizes(iv, ciphertext.size(), aad.size()));
  if (tag.size() != kAesGcmTagSize) {
    return InvalidArgumentError("AES-GCM tag: got " + std::to_string(tag.size()) +
                                " bytes, want 16");
  }
  VHSM_ASSIGN_OR_RETURN(EvpCipherCtxPtr ctx, InitGcm(key, iv, aad, /*encrypt=*/false));
  SecretBytes out(ciphertext.size());
  int len = 0;
  if (!ciphertext.empty() &&
      EVP_DecryptUpdate(ctx.get(), out.MutableExpose().data(), &len, ciphertext.data(),
                        static_cast<int>(ciphertext.size())) != 1) {
    return OpenSslError("AES-GCM decrypt");
  }
  // The ctrl takes a non-const pointer but only reads the tag.
  Bytes tag_copy(tag.begin(), tag.end());
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_copy.size()),
                          tag_copy.data()) != 1) {
    return OpenSslError("AES-GCM set tag");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.MutableExpose().data() + len, &final_len) != 1) {
    ClearOpenSslErrors();
    out.Clear();  // never hand out unauthenticated plaintext
    return UnauthenticatedError("AES-GCM: authentication tag does not verify");
  }
  return out;
}

Result<Bytes> AesGcmSealCombined(const SecretBytes& key, ByteSpan plaintext, ByteSpan aad) {
  VHSM_ASSIGN_OR_RETURN(AeadSealed s, AesGcmSeal(key, plaintext, aad));
  Bytes out;
  out.reserve(s.iv.size() + s.ciphertext.size() + s.tag.size());
  out.insert(out.end(), s.iv.begin(), s.iv.end());
  out.insert(out.end(), s.ciphertext.begin(), s.ciphertext.end());
  out.insert(out.end(), s.tag.begin(), s.tag.end());
  return out;
}

Result<SecretBytes> AesGcmOpenCombined(const SecretBytes& key, ByteSpan blob, ByteSpan aad) {
  if (blob.size() < kAesGcmIvSize + kAesGcmTagSize) {
    return InvalidArgumentError("AES-GCM blob: got " + std::to_string(blob.size()) +
                                " bytes, want at least 28 (iv || ciphertext || tag)");
  }
  ByteSpan iv = blob.first(kAesGcmIvSize);
  ByteSpan tag = blob.last(kAesGcmTagSize);
  ByteSpan ct = blob.subspan(kAesGcmIvSize, blob.size() - kAesGcmIvSize - kAesGcmTagSize);
  return AesGcmOpen(key, iv, ct, tag, aad);
}

}  // namespace vhsm::crypto
