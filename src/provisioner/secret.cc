#include "provisioner/secret.h"

#include <string>

namespace vhsm::provisioner {

Result<SecretKeyType> ParseSecretKeyType(std::string_view name) {
  if (name == "aes") return SecretKeyType::kAes;
  if (name == "hmac") return SecretKeyType::kHmac;
  if (name == "generic") return SecretKeyType::kGeneric;
  if (name == "ec") return SecretKeyType::kEc;
  if (name == "rsa") return SecretKeyType::kRsa;
  return InvalidArgumentError("key type: got \"" + std::string(name) + "\", want aes, hmac, generic, ec or rsa");
}

std::string_view SecretKeyTypeName(SecretKeyType type) {
  switch (type) {
    case SecretKeyType::kAes: return "aes";
    case SecretKeyType::kHmac: return "hmac";
    case SecretKeyType::kGeneric: return "generic";
    case SecretKeyType::kEc: return "ec";
    case SecretKeyType::kRsa: return "rsa";
  }
  return "?";
}

namespace {

bool LooksLikePem(const SecretBytes& raw) {
  std::string_view text(reinterpret_cast<const char*>(raw.Expose().data()), raw.size());
  return text.find("-----BEGIN") != std::string_view::npos;
}

Result<crypto::PrivateKey> ParsePrivateKey(const SecretBytes& raw, std::string_view what) {
  if (raw.size() > kMaxPrivateKeyBytes) {
    return InvalidArgumentError(std::string(what) + ": got " + std::to_string(raw.size()) + " bytes, want at most " +
                                std::to_string(kMaxPrivateKeyBytes));
  }
  Result<crypto::PrivateKey> key =
      LooksLikePem(raw)
          ? crypto::PrivateKey::FromPem(
                std::string_view(reinterpret_cast<const char*>(raw.Expose().data()), raw.size()))
          : crypto::PrivateKey::FromDer(raw.Expose());
  if (!key.ok()) {
    return InvalidArgumentError(std::string(what) + ": not a PKCS#8 private key (DER or PEM): " +
                                key.status().message());
  }
  return key;
}

}  // namespace

Result<ValidatedSecret> ValidateSecret(SecretKeyType type, SecretBytes raw) {
  ValidatedSecret out;
  out.type = type;
  const std::string what = "secret for key type " + std::string(SecretKeyTypeName(type));
  switch (type) {
    case SecretKeyType::kAes:
      if (raw.size() != 16 && raw.size() != 24 && raw.size() != 32) {
        return InvalidArgumentError(what + ": got " + std::to_string(raw.size()) + " bytes, want 16, 24 or 32");
      }
      out.bits = static_cast<int>(raw.size() * 8);
      out.material = std::move(raw);
      return out;
    case SecretKeyType::kHmac:
    case SecretKeyType::kGeneric:
      if (raw.size() < kMinGenericSecretBytes || raw.size() > kMaxGenericSecretBytes) {
        return InvalidArgumentError(what + ": got " + std::to_string(raw.size()) + " bytes, want " +
                                    std::to_string(kMinGenericSecretBytes) + ".." +
                                    std::to_string(kMaxGenericSecretBytes));
      }
      out.bits = static_cast<int>(raw.size() * 8);
      out.material = std::move(raw);
      return out;
    case SecretKeyType::kEc:
    case SecretKeyType::kRsa: {
      VHSM_ASSIGN_OR_RETURN(crypto::PrivateKey key, ParsePrivateKey(raw, what));
      const crypto::KeyType want = type == SecretKeyType::kEc ? crypto::KeyType::kEc : crypto::KeyType::kRsa;
      if (key.type() != want) {
        return InvalidArgumentError(what + ": got a " + key.Describe() + " private key, want " +
                                    std::string(crypto::KeyTypeName(want)));
      }
      if (type == SecretKeyType::kRsa && (key.bits() < crypto::kRsaMinBits || key.bits() > crypto::kRsaMaxBits)) {
        return InvalidArgumentError(what + ": got RSA " + std::to_string(key.bits()) + ", want " +
                                    std::to_string(crypto::kRsaMinBits) + ".." + std::to_string(crypto::kRsaMaxBits) +
                                    " bits");
      }
      out.curve = key.curve();
      out.bits = key.bits();
      VHSM_ASSIGN_OR_RETURN(out.material, key.ToPkcs8Der());
      return out;
    }
  }
  return InvalidArgumentError(what + ": unknown key type");
}

}  // namespace vhsm::provisioner
