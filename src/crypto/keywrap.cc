#include "crypto/keywrap.h"

#include <openssl/evp.h>

#include <string>

#include "crypto/error.h"
#include "crypto/ossl_ptr.h"

namespace vhsm::crypto {
namespace {

Result<const EVP_CIPHER*> WrapCipher(size_t kek_len, bool pad) {
  switch (kek_len) {
    case 16: return pad ? EVP_aes_128_wrap_pad() : EVP_aes_128_wrap();
    case 24: return pad ? EVP_aes_192_wrap_pad() : EVP_aes_192_wrap();
    case 32: return pad ? EVP_aes_256_wrap_pad() : EVP_aes_256_wrap();
    default:
      return InvalidArgumentError("AES key wrap KEK: got " + std::to_string(kek_len) +
                                  " bytes, want 16, 24 or 32");
  }
}

// One-shot wrap (encrypt) or unwrap; `out_cap` bounds the output. Unwrap failures are integrity
// failures: the only way a well-sized input fails is a wrong KEK or modified bytes.
Result<SecretBytes> Run(const SecretBytes& kek, ByteSpan in, bool pad, bool wrap, size_t out_cap) {
  VHSM_ASSIGN_OR_RETURN(const EVP_CIPHER* cipher, WrapCipher(kek.size(), pad));
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpenSslError("EVP_CIPHER_CTX_new");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  if (EVP_CipherInit_ex(ctx.get(), cipher, nullptr, kek.Expose().data(), nullptr, wrap ? 1 : 0) != 1) {
    return OpenSslError("AES key wrap init");
  }
  SecretBytes out(out_cap + 16);  // OpenSSL may want a block of slack
  int len = 0;
  if (EVP_CipherUpdate(ctx.get(), out.MutableExpose().data(), &len, in.data(), static_cast<int>(in.size())) != 1) {
    if (wrap) return OpenSslError("AES key wrap");
    ClearOpenSslErrors();
    return UnauthenticatedError("AES key unwrap: integrity check failed (wrong KEK or modified data)");
  }
  int final_len = 0;
  if (EVP_CipherFinal_ex(ctx.get(), out.MutableExpose().data() + len, &final_len) != 1) {
    if (wrap) return OpenSslError("AES key wrap final");
    ClearOpenSslErrors();
    return UnauthenticatedError("AES key unwrap: integrity check failed (wrong KEK or modified data)");
  }
  const size_t total = static_cast<size_t>(len) + static_cast<size_t>(final_len);
  if (total > out_cap) return InternalError("AES key wrap: output longer than expected");
  return SecretBytes(out.Expose().first(total));
}

Bytes ToPlain(const SecretBytes& s) { return Bytes(s.Expose().begin(), s.Expose().end()); }

}  // namespace

Result<Bytes> AesKeyWrap(const SecretBytes& kek, const SecretBytes& key) {
  if (key.size() < 16 || key.size() % 8 != 0 || key.size() > kMaxWrappedKeySize) {
    return InvalidArgumentError("AES key wrap: key of " + std::to_string(key.size()) +
                                " bytes, want a multiple of 8 from 16 to " +
                                std::to_string(kMaxWrappedKeySize));
  }
  VHSM_ASSIGN_OR_RETURN(SecretBytes out, Run(kek, key.Expose(), false, true, key.size() + 8));
  return ToPlain(out);  // wrapped keys are safe to hold in ordinary memory
}

Result<SecretBytes> AesKeyUnwrap(const SecretBytes& kek, ByteSpan wrapped) {
  if (wrapped.size() < 24 || wrapped.size() % 8 != 0 || wrapped.size() > kMaxWrappedKeySize + 8) {
    return InvalidArgumentError("AES key unwrap: got " + std::to_string(wrapped.size()) +
                                " bytes, want a multiple of 8 from 24 to " +
                                std::to_string(kMaxWrappedKeySize + 8));
  }
  return Run(kek, wrapped, false, false, wrapped.size() - 8);
}

Result<Bytes> AesKeyWrapPad(const SecretBytes& kek, const SecretBytes& key) {
  if (key.empty() || key.size() > kMaxWrappedKeySize) {
    return InvalidArgumentError("AES key wrap with padding: key of " + std::to_string(key.size()) +
                                " bytes, want 1.." + std::to_string(kMaxWrappedKeySize));
  }
  const size_t padded = (key.size() + 7) / 8 * 8;
  VHSM_ASSIGN_OR_RETURN(SecretBytes out, Run(kek, key.Expose(), true, true, padded + 8));
  return ToPlain(out);
}

Result<SecretBytes> AesKeyUnwrapPad(const SecretBytes& kek, ByteSpan wrapped) {
  if (wrapped.size() < 16 || wrapped.size() % 8 != 0 || wrapped.size() > kMaxWrappedKeySize + 8) {
    return InvalidArgumentError("AES key unwrap with padding: got " + std::to_string(wrapped.size()) +
                                " bytes, want a multiple of 8 from 16 to " +
                                std::to_string(kMaxWrappedKeySize + 8));
  }
  return Run(kek, wrapped, true, false, wrapped.size() - 8);
}

}  // namespace vhsm::crypto
