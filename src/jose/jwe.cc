#include "jose/jwe.h"

#include <algorithm>

#include "crypto/aead.h"
#include "crypto/kdf.h"
#include "crypto/keywrap.h"
#include "crypto/random.h"
#include "jose/json_util.h"
#include "jose/jwk.h"

namespace vhsm::jose {

using crypto::KeyType;
using nlohmann::json;

namespace {

constexpr std::string_view kDecryptFailed = "JWE: decryption failed (wrong key or modified JWE)";

struct AlgInfo {
  JweAlg alg;
  std::string_view name;
  bool ecdh;
  size_t kek_len;  // ECDH-ES+AxKW
};
constexpr AlgInfo kAlgs[] = {
    {JweAlg::kEcdhEsA128Kw, "ECDH-ES+A128KW", true, 16},
    {JweAlg::kEcdhEsA192Kw, "ECDH-ES+A192KW", true, 24},
    {JweAlg::kEcdhEsA256Kw, "ECDH-ES+A256KW", true, 32},
    {JweAlg::kRsaOaep, "RSA-OAEP", false, 0},
    {JweAlg::kRsaOaep256, "RSA-OAEP-256", false, 0},
};

struct EncInfo {
  JweEnc enc;
  std::string_view name;
  size_t key_len;
};
constexpr EncInfo kEncs[] = {
    {JweEnc::kA128Gcm, "A128GCM", 16},
    {JweEnc::kA192Gcm, "A192GCM", 24},
    {JweEnc::kA256Gcm, "A256GCM", 32},
};

const AlgInfo& Info(JweAlg alg) {
  for (const AlgInfo& a : kAlgs) {
    if (a.alg == alg) return a;
  }
  return kAlgs[2];
}
const EncInfo& Info(JweEnc enc) {
  for (const EncInfo& e : kEncs) {
    if (e.enc == enc) return e;
  }
  return kEncs[2];
}

// The additional authenticated data of RFC 7516 section 5.1 step 14.
Bytes MakeAad(std::string_view protected_b64, const std::optional<std::string>& aad_b64) {
  Bytes out(protected_b64.begin(), protected_b64.end());
  if (aad_b64) {
    out.push_back('.');
    out.insert(out.end(), aad_b64->begin(), aad_b64->end());
  }
  return out;
}

struct Sealed {
  std::string protected_b64;
  Bytes encrypted_key;
  crypto::AeadSealed content;
  std::optional<std::string> aad_b64;
};

Result<Sealed> Seal(const crypto::PublicKey& recipient, ByteSpan plaintext, const JweEncryptOptions& o) {
  if (plaintext.size() > kMaxJwePlaintextBytes) {
    return ResourceExhaustedError("JWE plaintext: " + std::to_string(plaintext.size()) + " bytes, limit " +
                                  std::to_string(kMaxJwePlaintextBytes));
  }
  const AlgInfo& alg = Info(o.alg);
  const EncInfo& enc = Info(o.enc);
  nlohmann::ordered_json header;
  header["alg"] = std::string(alg.name);
  header["enc"] = std::string(enc.name);
  if (!o.kid.empty()) header["kid"] = o.kid;
  if (!o.cty.empty()) header["cty"] = o.cty;
  VHSM_ASSIGN_OR_RETURN(SecretBytes cek, crypto::RandomSecret(enc.key_len));
  Sealed out;
  if (alg.ecdh) {
    if (recipient.type() != KeyType::kEc) {
      return InvalidArgumentError("JWE " + std::string(alg.name) + ": recipient key is " + recipient.Describe() + ", want EC");
    }
    VHSM_ASSIGN_OR_RETURN(crypto::PrivateKey eph, crypto::PrivateKey::GenerateEc(*recipient.curve()));
    VHSM_ASSIGN_OR_RETURN(SecretBytes z, eph.Ecdh(recipient));
    VHSM_ASSIGN_OR_RETURN(SecretBytes kek, crypto::JoseEcdhEsKdf(z, alg.name, o.apu, o.apv, alg.kek_len));
    VHSM_ASSIGN_OR_RETURN(out.encrypted_key, crypto::AesKeyWrap(kek, cek));
    VHSM_ASSIGN_OR_RETURN(crypto::EcPoint epk, eph.EcPublicCoordinates());
    nlohmann::ordered_json epk_ordered;
    epk_ordered["kty"] = "EC";
    epk_ordered["crv"] = std::string(crypto::EcCurveName(*recipient.curve()));
    epk_ordered["x"] = Base64UrlEncode(epk.x);
    epk_ordered["y"] = Base64UrlEncode(epk.y);
    header["epk"] = std::move(epk_ordered);
    if (!o.apu.empty()) header["apu"] = Base64UrlEncode(o.apu);
    if (!o.apv.empty()) header["apv"] = Base64UrlEncode(o.apv);
  } else {
    if (o.alg == JweAlg::kRsaOaep) {
      return InvalidArgumentError("JWE RSA-OAEP (SHA-1) is accepted for decryption only; use RSA-OAEP-256");
    }
    if (recipient.type() != KeyType::kRsa) {
      return InvalidArgumentError("JWE " + std::string(alg.name) + ": recipient key is " + recipient.Describe() + ", want RSA");
    }
    VHSM_ASSIGN_OR_RETURN(out.encrypted_key, recipient.RsaOaepEncrypt(crypto::HashAlg::kSha256, cek.Expose()));
  }
  if (!o.extra_protected.is_null()) {
    if (!o.extra_protected.is_object()) return InvalidArgumentError("JWE extra_protected: want an object");
    for (auto it = o.extra_protected.begin(); it != o.extra_protected.end(); ++it) {
      if (header.contains(it.key())) return InvalidArgumentError("JWE extra_protected: may not set \"" + it.key() + "\"");
      header[it.key()] = it.value();
    }
  }
  out.protected_b64 = Base64UrlEncode(AsBytes(DumpJson(header)));
  if (!o.aad.empty()) out.aad_b64 = Base64UrlEncode(o.aad);
  VHSM_ASSIGN_OR_RETURN(out.content, crypto::AesGcmSeal(cek, plaintext, MakeAad(out.protected_b64, out.aad_b64)));
  return out;
}

// Everything a decryption needs, from either serialization.
struct Parts {
  std::string protected_b64;
  json joint;
  Bytes encrypted_key;
  Bytes iv;
  Bytes ciphertext;
  Bytes tag;
  std::optional<std::string> aad_b64;
};

Status MergeHeader(json& joint, const json& part, std::string_view what) {
  if (!part.is_object()) return InvalidArgumentError("JWE " + std::string(what) + ": want a JSON object");
  for (auto it = part.begin(); it != part.end(); ++it) {
    if (joint.contains(it.key())) {
      return InvalidArgumentError("JWE header member \"" + it.key().substr(0, 64) + "\" appears more than once");
    }
    joint[it.key()] = it.value();
  }
  return OkStatus();
}

Result<json> DecodeProtected(std::string_view b64, const JweDecryptOptions& options) {
  if (b64.empty()) return InvalidArgumentError("JWE protected: missing or empty");
  if (b64.size() > options.max_header_bytes * 4 / 3 + 4) {
    return ResourceExhaustedError("JWE protected: longer than " + std::to_string(options.max_header_bytes) + " bytes");
  }
  auto bytes = Base64UrlDecode(b64);
  if (!bytes.ok()) return InvalidArgumentError("JWE protected: not base64url");
  JsonLimits limits;
  limits.max_bytes = options.max_header_bytes;
  limits.max_depth = 6;
  return ParseJsonObject(AsStringView(*bytes), "JWE protected header", limits);
}

Result<Bytes> DecodePart(std::string_view b64, std::string_view what) {
  auto bytes = Base64UrlDecode(b64);
  if (!bytes.ok()) return InvalidArgumentError("JWE " + std::string(what) + ": not base64url");
  return std::move(bytes).value();
}

Result<Parts> PartsFromFlattened(std::string_view text, const JweDecryptOptions& options) {
  JsonLimits limits;
  limits.max_bytes = options.max_bytes;
  limits.max_depth = 6;
  VHSM_ASSIGN_OR_RETURN(json j, ParseJsonObject(text, "JWE", limits));
  static constexpr std::string_view kKnown[] = {"protected", "unprotected", "header", "encrypted_key",
                                                "iv", "ciphertext", "tag", "aad"};
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() == "recipients") {
      return InvalidArgumentError("JWE: general JSON serialization (\"recipients\") not supported, want flattened");
    }
    if (std::find(std::begin(kKnown), std::end(kKnown), it.key()) == std::end(kKnown)) {
      return InvalidArgumentError("JWE: unknown member \"" + it.key().substr(0, 64) + "\"");
    }
  }
  Parts p;
  VHSM_ASSIGN_OR_RETURN(p.protected_b64, GetString(j, "protected", "JWE"));
  VHSM_ASSIGN_OR_RETURN(json prot, DecodeProtected(p.protected_b64, options));
  p.joint = json::object();
  VHSM_RETURN_IF_ERROR(MergeHeader(p.joint, prot, "protected"));
  if (j.contains("unprotected")) VHSM_RETURN_IF_ERROR(MergeHeader(p.joint, j["unprotected"], "unprotected"));
  if (j.contains("header")) VHSM_RETURN_IF_ERROR(MergeHeader(p.joint, j["header"], "header"));
  VHSM_ASSIGN_OR_RETURN(p.encrypted_key, GetBase64Url(j, "encrypted_key", "JWE"));
  VHSM_ASSIGN_OR_RETURN(p.iv, GetBase64Url(j, "iv", "JWE"));
  VHSM_ASSIGN_OR_RETURN(p.ciphertext, GetBase64Url(j, "ciphertext", "JWE"));
  VHSM_ASSIGN_OR_RETURN(p.tag, GetBase64Url(j, "tag", "JWE"));
  VHSM_ASSIGN_OR_RETURN(std::optional<std::string> aad, OptionalString(j, "aad", "JWE"));
  if (aad) VHSM_RETURN_IF_ERROR(DecodePart(*aad, "aad").status());
  p.aad_b64 = std::move(aad);
  return p;
}

Result<Parts> PartsFromCompact(std::string_view text, const JweDecryptOptions& options) {
  if (text.size() > options.max_bytes) {
    return ResourceExhaustedError("JWE: " + std::to_string(text.size()) + " bytes, limit " + std::to_string(options.max_bytes));
  }
  std::string_view part[5];
  std::string_view rest = text;
  for (int i = 0; i < 5; ++i) {
    const size_t dot = rest.find('.');
    if (i < 4) {
      if (dot == std::string_view::npos) return InvalidArgumentError("JWE compact: want five dot-separated parts");
      part[i] = rest.substr(0, dot);
      rest.remove_prefix(dot + 1);
    } else {
      if (dot != std::string_view::npos) return InvalidArgumentError("JWE compact: more than five parts");
      part[i] = rest;
    }
  }
  Parts p;
  p.protected_b64 = std::string(part[0]);
  VHSM_ASSIGN_OR_RETURN(p.joint, DecodeProtected(part[0], options));
  VHSM_ASSIGN_OR_RETURN(p.encrypted_key, DecodePart(part[1], "encrypted_key"));
  VHSM_ASSIGN_OR_RETURN(p.iv, DecodePart(part[2], "iv"));
  VHSM_ASSIGN_OR_RETURN(p.ciphertext, DecodePart(part[3], "ciphertext"));
  VHSM_ASSIGN_OR_RETURN(p.tag, DecodePart(part[4], "tag"));
  return p;
}

// Recovers the CEK. Every cryptographic failure becomes the same kUnauthenticated status; for
// RSA a random CEK is substituted so padding errors are not distinguishable (RFC 7516 11.5).
Result<SecretBytes> RecoverCek(const Parts& p, const AlgInfo& alg, const EncInfo& enc, const crypto::PrivateKey& key) {
  if (alg.ecdh) {
    if (key.type() != KeyType::kEc) {
      return InvalidArgumentError("JWE alg " + std::string(alg.name) + " needs an EC key, have " + key.Describe());
    }
    auto epk_it = p.joint.find("epk");
    if (epk_it == p.joint.end()) return InvalidArgumentError("JWE header.epk: missing");
    auto epk = Jwk::ParsePublic(*epk_it);
    if (!epk.ok()) return epk.status().Annotate("JWE header.epk");
    if (epk->public_key().type() != KeyType::kEc || epk->public_key().curve() != key.curve()) {
      return InvalidArgumentError("JWE header.epk: " + epk->public_key().Describe() + " does not match key " + key.Describe());
    }
    VHSM_ASSIGN_OR_RETURN(std::optional<Bytes> apu, OptionalBase64Url(p.joint, "apu", "JWE header"));
    VHSM_ASSIGN_OR_RETURN(std::optional<Bytes> apv, OptionalBase64Url(p.joint, "apv", "JWE header"));
    VHSM_ASSIGN_OR_RETURN(SecretBytes z, key.Ecdh(epk->public_key()));
    VHSM_ASSIGN_OR_RETURN(SecretBytes kek, crypto::JoseEcdhEsKdf(z, alg.name, apu.value_or(Bytes()),
                                                                 apv.value_or(Bytes()), alg.kek_len));
    if (p.encrypted_key.size() != enc.key_len + 8) return UnauthenticatedError(std::string(kDecryptFailed));
    auto cek = crypto::AesKeyUnwrap(kek, p.encrypted_key);
    if (!cek.ok()) return UnauthenticatedError(std::string(kDecryptFailed));
    return std::move(cek).value();
  }
  if (key.type() != KeyType::kRsa) {
    return InvalidArgumentError("JWE alg " + std::string(alg.name) + " needs an RSA key, have " + key.Describe());
  }
  const crypto::HashAlg hash = alg.alg == JweAlg::kRsaOaep ? crypto::HashAlg::kSha1 : crypto::HashAlg::kSha256;
  auto cek = key.RsaOaepDecrypt(hash, p.encrypted_key);
  if (cek.ok() && cek->size() == enc.key_len) return std::move(cek).value();
  return crypto::RandomSecret(enc.key_len);  // fails later at the tag check, like a wrong key
}

Result<JweDecrypted> DecryptParts(Parts p, const crypto::PrivateKey& key, const JweDecryptOptions& options) {
  VHSM_ASSIGN_OR_RETURN(std::string alg_name, GetString(p.joint, "alg", "JWE header"));
  VHSM_ASSIGN_OR_RETURN(std::string enc_name, GetString(p.joint, "enc", "JWE header"));
  VHSM_ASSIGN_OR_RETURN(JweAlg alg, ParseJweAlg(alg_name));
  VHSM_ASSIGN_OR_RETURN(JweEnc enc, ParseJweEnc(enc_name));
  const bool alg_ok = options.allowed_algs.empty()
                          ? alg != JweAlg::kRsaOaep
                          : std::find(options.allowed_algs.begin(), options.allowed_algs.end(), alg) != options.allowed_algs.end();
  if (!alg_ok) return UnauthenticatedError("JWE header.alg: " + alg_name + " not allowed here");
  if (!options.allowed_encs.empty() &&
      std::find(options.allowed_encs.begin(), options.allowed_encs.end(), enc) == options.allowed_encs.end()) {
    return UnauthenticatedError("JWE header.enc: " + enc_name + " not allowed here");
  }
  if (p.joint.contains("zip")) return UnimplementedError("JWE header.zip: compression not supported");
  if (p.joint.contains("crit")) return InvalidArgumentError("JWE header.crit: no extensions are understood");
  if (p.iv.size() != crypto::kAesGcmIvSize) {
    return InvalidArgumentError("JWE iv: got " + std::to_string(p.iv.size()) + " bytes, want 12");
  }
  if (p.tag.size() != crypto::kAesGcmTagSize) {
    return InvalidArgumentError("JWE tag: got " + std::to_string(p.tag.size()) + " bytes, want 16");
  }
  if (p.encrypted_key.empty()) return InvalidArgumentError("JWE encrypted_key: missing or empty");
  VHSM_ASSIGN_OR_RETURN(std::optional<std::string> kid, OptionalString(p.joint, "kid", "JWE header"));
  const EncInfo& enc_info = Info(enc);
  VHSM_ASSIGN_OR_RETURN(SecretBytes cek, RecoverCek(p, Info(alg), enc_info, key));
  auto plaintext = crypto::AesGcmOpen(cek, p.iv, p.ciphertext, p.tag, MakeAad(p.protected_b64, p.aad_b64));
  if (!plaintext.ok()) {
    if (plaintext.status().code() == StatusCode::kUnauthenticated) return UnauthenticatedError(std::string(kDecryptFailed));
    return plaintext.status();
  }
  JweDecrypted out;
  out.plaintext = std::move(plaintext).value();
  out.header = std::move(p.joint);
  out.alg = alg;
  out.enc = enc;
  out.kid = kid.value_or("");
  if (p.aad_b64) out.aad = Base64UrlDecode(*p.aad_b64).value_or(Bytes());
  return out;
}

}  // namespace

std::string_view JweAlgName(JweAlg alg) { return Info(alg).name; }
std::string_view JweEncName(JweEnc enc) { return Info(enc).name; }

Result<JweAlg> ParseJweAlg(std::string_view name) {
  for (const AlgInfo& a : kAlgs) {
    if (a.name == name) return a.alg;
  }
  return UnimplementedError("JWE header.alg: \"" + std::string(name.substr(0, 32)) +
                            "\" not supported, want ECDH-ES+A256KW or RSA-OAEP-256");
}

Result<JweEnc> ParseJweEnc(std::string_view name) {
  for (const EncInfo& e : kEncs) {
    if (e.name == name) return e.enc;
  }
  return UnimplementedError("JWE header.enc: \"" + std::string(name.substr(0, 32)) + "\" not supported, want A256GCM");
}

Result<JweAlg> DefaultJweAlgForKey(const crypto::PublicKey& key) {
  switch (key.type()) {
    case KeyType::kEc: return JweAlg::kEcdhEsA256Kw;
    case KeyType::kRsa: return JweAlg::kRsaOaep256;
    case KeyType::kEd25519: break;
  }
  return InvalidArgumentError("JWE: no key management algorithm for " + key.Describe() + ", want EC or RSA");
}

Result<json> EncryptFlattenedJson(const crypto::PublicKey& recipient, ByteSpan plaintext, const JweEncryptOptions& options) {
  VHSM_ASSIGN_OR_RETURN(Sealed s, Seal(recipient, plaintext, options));
  json out;
  out["protected"] = s.protected_b64;
  out["encrypted_key"] = Base64UrlEncode(s.encrypted_key);
  out["iv"] = Base64UrlEncode(s.content.iv);
  out["ciphertext"] = Base64UrlEncode(s.content.ciphertext);
  out["tag"] = Base64UrlEncode(s.content.tag);
  if (s.aad_b64) out["aad"] = *s.aad_b64;
  return out;
}

Result<std::string> EncryptFlattened(const crypto::PublicKey& recipient, ByteSpan plaintext, const JweEncryptOptions& options) {
  VHSM_ASSIGN_OR_RETURN(json j, EncryptFlattenedJson(recipient, plaintext, options));
  return DumpJson(j);
}

Result<std::string> EncryptCompact(const crypto::PublicKey& recipient, ByteSpan plaintext, const JweEncryptOptions& options) {
  if (!options.aad.empty()) return InvalidArgumentError("JWE compact serialization cannot carry aad");
  VHSM_ASSIGN_OR_RETURN(Sealed s, Seal(recipient, plaintext, options));
  return s.protected_b64 + "." + Base64UrlEncode(s.encrypted_key) + "." + Base64UrlEncode(s.content.iv) + "." +
         Base64UrlEncode(s.content.ciphertext) + "." + Base64UrlEncode(s.content.tag);
}

Result<JweDecrypted> DecryptFlattened(std::string_view json_text, const crypto::PrivateKey& key,
                                      const JweDecryptOptions& options) {
  VHSM_ASSIGN_OR_RETURN(Parts p, PartsFromFlattened(json_text, options));
  return DecryptParts(std::move(p), key, options);
}

Result<JweDecrypted> DecryptCompact(std::string_view compact, const crypto::PrivateKey& key,
                                    const JweDecryptOptions& options) {
  VHSM_ASSIGN_OR_RETURN(Parts p, PartsFromCompact(compact, options));
  return DecryptParts(std::move(p), key, options);
}

}  // namespace vhsm::jose
