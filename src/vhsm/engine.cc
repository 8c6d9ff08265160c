#include "vhsm/engine.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include <cstring>

#include "crypto/error.h"
#include "crypto/keys.h"
#include "crypto/keywrap.h"
#include "ipc/mech_params.h"

namespace vhsm::hsm {
namespace {

constexpr CK_FLAGS kSignVerify = CKF_SIGN | CKF_VERIFY;
constexpr CK_FLAGS kEncDec = CKF_ENCRYPT | CKF_DECRYPT;
constexpr CK_FLAGS kEcFlags = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;

constexpr MechanismEntry kMechanisms[] = {
    {CKM_AES_KEY_GEN, 16, 32, CKF_GENERATE},
    {CKM_AES_ECB, 16, 32, kEncDec},
    {CKM_AES_CBC, 16, 32, kEncDec},
    {CKM_AES_CBC_PAD, 16, 32, kEncDec},
    {CKM_AES_CTR, 16, 32, kEncDec},
    {CKM_AES_GCM, 16, 32, kEncDec},
    {CKM_GENERIC_SECRET_KEY_GEN, 8, 4096, CKF_GENERATE},
    {CKM_SHA_1_HMAC, 1, 512, kSignVerify},
    {CKM_SHA256_HMAC, 1, 512, kSignVerify},
    {CKM_SHA384_HMAC, 1, 512, kSignVerify},
    {CKM_SHA512_HMAC, 1, 512, kSignVerify},
    {CKM_EC_KEY_PAIR_GEN, 256, 521, CKF_GENERATE_KEY_PAIR | kEcFlags},
    {CKM_ECDSA, 256, 521, kSignVerify | kEcFlags},
    {CKM_ECDSA_SHA1, 256, 521, kSignVerify | kEcFlags},
    {CKM_ECDSA_SHA224, 256, 521, kSignVerify | kEcFlags},
    {CKM_ECDSA_SHA256, 256, 521, kSignVerify | kEcFlags},
    {CKM_ECDSA_SHA384, 256, 521, kSignVerify | kEcFlags},
    {CKM_ECDSA_SHA512, 256, 521, kSignVerify | kEcFlags},
    {CKM_RSA_PKCS_KEY_PAIR_GEN, 2048, 4096, CKF_GENERATE_KEY_PAIR},
    {CKM_RSA_PKCS, 2048, 4096, kSignVerify | kEncDec},
    {CKM_SHA1_RSA_PKCS, 2048, 4096, kSignVerify},
    {CKM_SHA224_RSA_PKCS, 2048, 4096, kSignVerify},
    {CKM_SHA256_RSA_PKCS, 2048, 4096, kSignVerify},
    {CKM_SHA384_RSA_PKCS, 2048, 4096, kSignVerify},
    {CKM_SHA512_RSA_PKCS, 2048, 4096, kSignVerify},
    {CKM_RSA_PKCS_PSS, 2048, 4096, kSignVerify},
    {CKM_SHA1_RSA_PKCS_PSS, 2048, 4096, kSignVerify},
    {CKM_SHA224_RSA_PKCS_PSS, 2048, 4096, kSignVerify},
    {CKM_SHA256_RSA_PKCS_PSS, 2048, 4096, kSignVerify},
    {CKM_SHA384_RSA_PKCS_PSS, 2048, 4096, kSignVerify},
    {CKM_SHA512_RSA_PKCS_PSS, 2048, 4096, kSignVerify},
    {CKM_RSA_PKCS_OAEP, 2048, 4096, kEncDec},
    {CKM_EC_EDWARDS_KEY_PAIR_GEN, 255, 255, CKF_GENERATE_KEY_PAIR},
    {CKM_EDDSA, 255, 255, kSignVerify},
    {CKM_ECDH1_DERIVE, 256, 521, CKF_DERIVE | kEcFlags},
    {CKM_AES_KEY_WRAP, 16, 32, CKF_WRAP | CKF_UNWRAP},
    {CKM_AES_KEY_WRAP_PAD, 16, 32, CKF_WRAP | CKF_UNWRAP},
    {CKM_AES_CMAC, 16, 32, kSignVerify},
    {CKM_AES_CMAC_GENERAL, 16, 32, kSignVerify},
    {CKM_SHA_1, 0, 0, CKF_DIGEST},
    {CKM_SHA224, 0, 0, CKF_DIGEST},
    {CKM_SHA256, 0, 0, CKF_DIGEST},
    {CKM_SHA384, 0, 0, CKF_DIGEST},
    {CKM_SHA512, 0, 0, CKF_DIGEST},
};

// CKD_SHA*_KDF → OpenSSL digest name for the ANSI X9.63 KDF; nullptr for anything else.
const char* X963Digest(CK_ULONG kdf) {
  switch (kdf) {
    case CKD_SHA1_KDF: return "SHA1";
    case CKD_SHA224_KDF: return "SHA224";
    case CKD_SHA256_KDF: return "SHA256";
    case CKD_SHA384_KDF: return "SHA384";
    case CKD_SHA512_KDF: return "SHA512";
    default: return nullptr;
  }
}

// Longest key the X9.63 KDF derives here (a generic secret of up to 4096 bits, as keygen allows).
constexpr CK_ULONG kMaxEcdhKdfOutput = 512;

// ANSI X9.63 KDF (SEC 1 v2 sec. 3.6.1): K = H(Z || counter_be32 || SharedInfo) for counter = 1, 2,
// ..., truncated to `out_len`; OpenSSL's "X963KDF".
Result<SecretBytes> X963Kdf(const char* md, const SecretBytes& z, ByteSpan shared_info, size_t out_len) {
  crypto::EvpKdfPtr kdf(EVP_KDF_fetch(nullptr, "X963KDF", nullptr));
  if (!kdf) return crypto::OpenSslError("EVP_KDF_fetch X963KDF");
  crypto::EvpKdfCtxPtr ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return crypto::OpenSslError("EVP_KDF_CTX_new");
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(md), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(z.Expose().data()), z.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(shared_info.data()),
                                        shared_info.size()),
      OSSL_PARAM_construct_end()};
  SecretBytes out(out_len);
  if (EVP_KDF_derive(ctx.get(), out.MutableExpose().data(), out.size(), params) != 1) {
    return crypto::OpenSslError("X963KDF derive");
  }
  return out;
}

struct Curve {
  Bytes oid_der;
  const char* name;
  size_t order_len;
  crypto::EcCurve curve;
};
const Curve kCurves[] = {
    {{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, "P-256", 32, crypto::EcCurve::kP256},
    {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, "P-384", 48, crypto::EcCurve::kP384},
    {{0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}, "P-521", 66, crypto::EcCurve::kP521},
};
const Curve* FindCurve(const Bytes& params) {
  for (const Curve& c : kCurves) {
    if (c.oid_der == params) return &c;
  }
  return nullptr;
}
const Curve* FindCurve(crypto::EcCurve curve) {
  for (const Curve& c : kCurves) {
    if (c.curve == curve) return &c;
  }
  return nullptr;
}

// CKA_EC_PARAMS of Ed25519 (PKCS#11 3.0 sec. 2.3.10): the OID 1.3.101.112 or the PrintableString
// "edwards25519".
const Bytes kEd25519Oid = {0x06, 0x03, 0x2b, 0x65, 0x70};
bool IsEd25519Params(const Bytes& p) {
  static const Bytes kName = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r', 'd', 's', '2', '5', '5', '1', '9'};
  return p == kEd25519Oid || p == kName;
}

// Strips a DER OCTET STRING wrapping when the whole value is exactly one; otherwise returns `v`.
// (CKA_EC_POINT is specified as DER, but many applications pass the raw point.)
ByteSpan UnwrapOctetString(ByteSpan v, size_t raw_len) {
  if (v.size() == raw_len) return v;
  if (v.size() < 2 || v[0] != 0x04) return v;
  size_t hdr = 2, len = v[1];
  if (v[1] == 0x81 && v.size() >= 3) {
    hdr = 3;
    len = v[2];
  } else if (v[1] >= 0x80) {
    return v;
  }
  if (hdr + len != v.size()) return v;
  return v.subspan(hdr);
}

crypto::EvpPkeyPtr UpRef(EVP_PKEY* p) {
  EVP_PKEY_up_ref(p);
  return crypto::EvpPkeyPtr(p);
}

// DER OCTET STRING wrapping (CKA_EC_POINT).
Bytes DerOctetString(ByteSpan v) {
  Bytes out{0x04};
  if (v.size() < 128) {
    out.push_back(static_cast<uint8_t>(v.size()));
  } else if (v.size() < 256) {
    out.push_back(0x81);
    out.push_back(static_cast<uint8_t>(v.size()));
  } else {
    out.push_back(0x82);
    out.push_back(static_cast<uint8_t>(v.size() >> 8));
    out.push_back(static_cast<uint8_t>(v.size()));
  }
  out.insert(out.end(), v.begin(), v.end());
  return out;
}

CK_RV Fail(CK_RV rv) {
  crypto::ClearOpenSslErrors();
  return rv;
}

Result<Bytes> BnParam(const EVP_PKEY* pkey, const char* name, size_t pad = 0) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, name, &raw) != 1) return crypto::OpenSslError(name);
  crypto::BnPtr bn(raw);
  size_t len = std::max(pad, static_cast<size_t>(BN_num_bytes(bn.get())));
  Bytes out(len);
  if (BN_bn2binpad(bn.get(), out.data(), static_cast<int>(len)) < 0) return crypto::OpenSslError(name);
  return out;
}

Result<Bytes> PublicKeyInfo(EVP_PKEY* pkey) {
  int len = i2d_PUBKEY(pkey, nullptr);
  if (len <= 0) return crypto::OpenSslError("i2d_PUBKEY");
  Bytes out(static_cast<size_t>(len));
  uint8_t* p = out.data();
  i2d_PUBKEY(pkey, &p);
  return out;
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::Create() {
  std::unique_ptr<Engine> e(new Engine());
  e->hmac_.reset(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  e->cmac_.reset(EVP_MAC_fetch(nullptr, "CMAC", nullptr));
  e->sha1_.reset(EVP_MD_fetch(nullptr, "SHA1", nullptr));
  e->sha224_.reset(EVP_MD_fetch(nullptr, "SHA224", nullptr));
  e->sha256_.reset(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  e->sha384_.reset(EVP_MD_fetch(nullptr, "SHA384", nullptr));
  e->sha512_.reset(EVP_MD_fetch(nullptr, "SHA512", nullptr));
  if (!e->hmac_ || !e->cmac_ || !e->sha1_ || !e->sha224_ || !e->sha256_ || !e->sha384_ || !e->sha512_) {
    return crypto::OpenSslError("fetching HMAC/SHA algorithms");
  }
  const char* modes[4] = {"ECB", "CBC", "CTR", "GCM"};
  const int bits[3] = {128, 192, 256};
  for (int m = 0; m < 4; ++m) {
    for (int k = 0; k < 3; ++k) {
      std::string name = "AES-" + std::to_string(bits[k]) + "-" + modes[m];
      e->aes_[m][k].reset(EVP_CIPHER_fetch(nullptr, name.c_str(), nullptr));
      if (!e->aes_[m][k]) return crypto::OpenSslError("fetching " + name);
    }
  }
  return e;
}

std::span<const MechanismEntry> Engine::Mechanisms() const { return kMechanisms; }

const MechanismEntry* Engine::FindMechanism(CK_MECHANISM_TYPE type) const {
  for (const MechanismEntry& m : kMechanisms) {
    if (m.type == type) return &m;
  }
  return nullptr;
}

namespace {

const EVP_MD* PickMd(CK_MECHANISM_TYPE hash_mech, const EVP_MD* s1, const EVP_MD* s224, const EVP_MD* s256,
                     const EVP_MD* s384, const EVP_MD* s512) {
  switch (hash_mech) {
    case CKM_SHA_1: return s1;
    case CKM_SHA224: return s224;
    case CKM_SHA256: return s256;
    case CKM_SHA384: return s384;
    case CKM_SHA512: return s512;
    default: return nullptr;
  }
}

CK_MECHANISM_TYPE MgfHash(CK_ULONG mgf) {
  switch (mgf) {
    case CKG_MGF1_SHA1: return CKM_SHA_1;
    case CKG_MGF1_SHA224: return CKM_SHA224;
    case CKG_MGF1_SHA256: return CKM_SHA256;
    case CKG_MGF1_SHA384: return CKM_SHA384;
    case CKG_MGF1_SHA512: return CKM_SHA512;
    default: return CKM_VENDOR_DEFINED;
  }
}

// Hash mechanism for the hashed sign mechanisms, or 0 for the raw ones.
CK_MECHANISM_TYPE HashOf(CK_MECHANISM_TYPE m) {
  switch (m) {
    case CKM_ECDSA_SHA1: case CKM_SHA1_RSA_PKCS: case CKM_SHA1_RSA_PKCS_PSS: case CKM_SHA_1_HMAC:
      return CKM_SHA_1;
    case CKM_ECDSA_SHA224: case CKM_SHA224_RSA_PKCS: case CKM_SHA224_RSA_PKCS_PSS: return CKM_SHA224;
    case CKM_ECDSA_SHA256: case CKM_SHA256_RSA_PKCS: case CKM_SHA256_RSA_PKCS_PSS: case CKM_SHA256_HMAC:
      return CKM_SHA256;
    case CKM_ECDSA_SHA384: case CKM_SHA384_RSA_PKCS: case CKM_SHA384_RSA_PKCS_PSS: case CKM_SHA384_HMAC:
      return CKM_SHA384;
    case CKM_ECDSA_SHA512: case CKM_SHA512_RSA_PKCS: case CKM_SHA512_RSA_PKCS_PSS: case CKM_SHA512_HMAC:
      return CKM_SHA512;
    default: return 0;
  }
}

enum class Family { kNone, kEcdsa, kRsaPkcs, kRsaPss, kHmac, kCmac, kEddsa };
Family FamilyOf(CK_MECHANISM_TYPE m) {
  switch (m) {
    case CKM_ECDSA: case CKM_ECDSA_SHA1: case CKM_ECDSA_SHA224: case CKM_ECDSA_SHA256:
    case CKM_ECDSA_SHA384: case CKM_ECDSA_SHA512:
      return Family::kEcdsa;
    case CKM_RSA_PKCS: case CKM_SHA1_RSA_PKCS: case CKM_SHA224_RSA_PKCS: case CKM_SHA256_RSA_PKCS:
    case CKM_SHA384_RSA_PKCS: case CKM_SHA512_RSA_PKCS:
      return Family::kRsaPkcs;
    case CKM_RSA_PKCS_PSS: case CKM_SHA1_RSA_PKCS_PSS: case CKM_SHA224_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS: case CKM_SHA384_RSA_PKCS_PSS: case CKM_SHA512_RSA_PKCS_PSS:
      return Family::kRsaPss;
    case CKM_SHA_1_HMAC: case CKM_SHA256_HMAC: case CKM_SHA384_HMAC: case CKM_SHA512_HMAC:
      return Family::kHmac;
    case CKM_AES_CMAC: case CKM_AES_CMAC_GENERAL: return Family::kCmac;
    case CKM_EDDSA: return Family::kEddsa;
    default: return Family::kNone;
  }
}

size_t EcOrderLen(const EVP_PKEY* pkey) { return static_cast<size_t>((EVP_PKEY_get_bits(pkey) + 7) / 8); }

}  // namespace

#define VHSM_MD(m) PickMd((m), sha1_.get(), sha224_.get(), sha256_.get(), sha384_.get(), sha512_.get())

CK_RV Engine::GenerateSecret(const ipc::WireMechanism& mech, Object* obj) const {
  std::optional<CK_ULONG> len = obj->GetUlong(CKA_VALUE_LEN);
  if (!len) return CKR_TEMPLATE_INCOMPLETE;
  if (mech.type == CKM_AES_KEY_GEN) {
    if (*len != 16 && *len != 24 && *len != 32) return CKR_ATTRIBUTE_VALUE_INVALID;
  } else if (mech.type == CKM_GENERIC_SECRET_KEY_GEN) {
    if (*len < 1 || *len > 512) return CKR_ATTRIBUTE_VALUE_INVALID;
  } else {
    return CKR_MECHANISM_INVALID;
  }
  if (!mech.param.empty()) return CKR_MECHANISM_PARAM_INVALID;
  SecretBytes key(*len);
  if (RAND_priv_bytes(key.MutableExpose().data(), static_cast<int>(key.size())) != 1) {
    return Fail(CKR_FUNCTION_FAILED);
  }
  obj->secret = std::move(key);
  return CKR_OK;
}

CK_RV Engine::GenerateKeyPair(const ipc::WireMechanism& mech, Object* pub, Object* priv) const {
  if (!mech.param.empty()) return CKR_MECHANISM_PARAM_INVALID;
  crypto::EvpPkeyPtr pkey;
  if (mech.type == CKM_EC_KEY_PAIR_GEN) {
    const Bytes* params = pub->Get(CKA_EC_PARAMS);
    if (params == nullptr) return CKR_TEMPLATE_INCOMPLETE;
    const Curve* curve = nullptr;
    for (const Curve& c : kCurves) {
      if (c.oid_der == *params) curve = &c;
    }
    if (curve == nullptr) return CKR_CURVE_NOT_SUPPORTED;
    crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                       const_cast<char*>(curve->name), 0),
                      OSSL_PARAM_construct_end()};
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_params(ctx.get(), p) != 1 ||
        EVP_PKEY_generate(ctx.get(), &raw) != 1) {
      return Fail(CKR_FUNCTION_FAILED);
    }
    pkey.reset(raw);
    uint8_t point[160];
    size_t point_len = 0;
    if (EVP_PKEY_get_octet_string_param(pkey.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof(point),
                                        &point_len) != 1) {
      return Fail(CKR_FUNCTION_FAILED);
    }
    // `params` points into pub->attrs: copy it before inserting into that map (FlatMap).
    priv->attrs[CKA_EC_PARAMS] = *params;
    pub->attrs[CKA_EC_POINT] = DerOctetString(ByteSpan(point, point_len));
  } else if (mech.type == CKM_RSA_PKCS_KEY_PAIR_GEN) {
    std::optional<CK_ULONG> bits = pub->GetUlong(CKA_MODULUS_BITS);
    if (!bits) return CKR_TEMPLATE_INCOMPLETE;
    if (*bits < 2048 || *bits > 4096 || *bits % 8 != 0) return CKR_KEY_SIZE_RANGE;
    crypto::BnPtr e(BN_new());
    const Bytes* exp = pub->Get(CKA_PUBLIC_EXPONENT);
    if (exp != nullptr && !exp->empty()) {
      BN_bin2bn(exp->data(), static_cast<int>(exp->size()), e.get());
    } else {
      BN_set_word(e.get(), 65537);
    }
    if (BN_is_odd(e.get()) == 0 || BN_num_bits(e.get()) < 17 || BN_num_bits(e.get()) > 64) {
      return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), static_cast<int>(*bits)) != 1 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx.get(), e.get()) != 1 || EVP_PKEY_generate(ctx.get(), &raw) != 1) {
      return Fail(CKR_FUNCTION_FAILED);
    }
    pkey.reset(raw);
    Result<Bytes> n = BnParam(pkey.get(), OSSL_PKEY_PARAM_RSA_N);
    Result<Bytes> pe = BnParam(pkey.get(), OSSL_PKEY_PARAM_RSA_E);
    if (!n.ok() || !pe.ok()) return Fail(CKR_FUNCTION_FAILED);
    pub->attrs[CKA_MODULUS] = *n;
    pub->attrs[CKA_PUBLIC_EXPONENT] = *pe;
    priv->attrs[CKA_MODULUS] = *n;
    priv->attrs[CKA_PUBLIC_EXPONENT] = *pe;
  } else if (mech.type == CKM_EC_EDWARDS_KEY_PAIR_GEN) {
    const Bytes* params = pub->Get(CKA_EC_PARAMS);
    if (params == nullptr) return CKR_TEMPLATE_INCOMPLETE;
    if (!IsEd25519Params(*params)) return CKR_CURVE_NOT_SUPPORTED;
    crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "ED25519", nullptr));
    EVP_PKEY* raw = nullptr;
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_generate(ctx.get(), &raw) != 1) {
      return Fail(CKR_FUNCTION_FAILED);
    }
    pkey.reset(raw);
    uint8_t point[32];
    size_t point_len = sizeof(point);
    if (EVP_PKEY_get_raw_public_key(pkey.get(), point, &point_len) != 1) return Fail(CKR_FUNCTION_FAILED);
    // `params` points into pub->attrs: copy it before inserting into that map (FlatMap).
    priv->attrs[CKA_EC_PARAMS] = *params;
    pub->attrs[CKA_EC_POINT] = DerOctetString(ByteSpan(point, point_len));
  } else {
    return CKR_MECHANISM_INVALID;
  }
  Result<Bytes> spki = PublicKeyInfo(pkey.get());
  if (!spki.ok()) return Fail(CKR_FUNCTION_FAILED);
  pub->attrs[CKA_PUBLIC_KEY_INFO] = *spki;
  priv->attrs[CKA_PUBLIC_KEY_INFO] = *spki;
  int len = i2d_PrivateKey(pkey.get(), nullptr);
  if (len <= 0) return Fail(CKR_FUNCTION_FAILED);
  SecretBytes der(static_cast<size_t>(len));
  uint8_t* p = der.MutableExpose().data();
  i2d_PrivateKey(pkey.get(), &p);
  priv->secret = std::move(der);
  priv->pkey = std::move(pkey);
  const uint8_t* q = pub->attrs[CKA_PUBLIC_KEY_INFO].data();
  pub->pkey.reset(d2i_PUBKEY(nullptr, &q, static_cast<long>(pub->attrs[CKA_PUBLIC_KEY_INFO].size())));
  if (!pub->pkey) return Fail(CKR_FUNCTION_FAILED);
  return CKR_OK;
}

Status Engine::Prepare(Object* obj) const {
  if (obj->cls() == CKO_PRIVATE_KEY) {
    const uint8_t* p = obj->secret.Expose().data();
    obj->pkey.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(obj->secret.size())));
    if (!obj->pkey) return crypto::OpenSslError("private key DER", StatusCode::kDataLoss);
  } else if (obj->cls() == CKO_PUBLIC_KEY) {
    const Bytes* spki = obj->Get(CKA_PUBLIC_KEY_INFO);
    if (spki == nullptr) return DataLossError("public key object without CKA_PUBLIC_KEY_INFO");
    const uint8_t* p = spki->data();
    obj->pkey.reset(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki->size())));
    if (!obj->pkey) return crypto::OpenSslError("public key DER", StatusCode::kDataLoss);
  }
  return OkStatus();
}

CK_RV Engine::ExportComponent(const Object& key, CK_ATTRIBUTE_TYPE type, Bytes* out) const {
  if (key.cls() == CKO_SECRET_KEY && type == CKA_VALUE) {
    out->assign(key.secret.Expose().begin(), key.secret.Expose().end());
    return CKR_OK;
  }
  if (key.cls() != CKO_PRIVATE_KEY || !key.pkey) return CKR_ATTRIBUTE_TYPE_INVALID;
  const char* name = nullptr;
  size_t pad = 0;
  if (key.key_type() == CKK_EC_EDWARDS && type == CKA_VALUE) {
    Bytes raw(32);
    size_t len = raw.size();
    if (EVP_PKEY_get_raw_private_key(key.pkey.get(), raw.data(), &len) != 1) return Fail(CKR_FUNCTION_FAILED);
    raw.resize(len);
    *out = std::move(raw);
    return CKR_OK;
  }
  if (key.key_type() == CKK_EC && type == CKA_VALUE) {
    name = OSSL_PKEY_PARAM_PRIV_KEY;
    pad = EcOrderLen(key.pkey.get());
  } else if (key.key_type() == CKK_RSA) {
    switch (type) {
      case CKA_PRIVATE_EXPONENT: name = OSSL_PKEY_PARAM_RSA_D; break;
      case CKA_PRIME_1: name = OSSL_PKEY_PARAM_RSA_FACTOR1; break;
      case CKA_PRIME_2: name = OSSL_PKEY_PARAM_RSA_FACTOR2; break;
      case CKA_EXPONENT_1: name = OSSL_PKEY_PARAM_RSA_EXPONENT1; break;
      case CKA_EXPONENT_2: name = OSSL_PKEY_PARAM_RSA_EXPONENT2; break;
      case CKA_COEFFICIENT: name = OSSL_PKEY_PARAM_RSA_COEFFICIENT1; break;
      default: break;
    }
  }
  if (name == nullptr) return CKR_ATTRIBUTE_TYPE_INVALID;
  Result<Bytes> v = BnParam(key.pkey.get(), name, pad);
  if (!v.ok()) return Fail(CKR_FUNCTION_FAILED);
  *out = std::move(*v);
  return CKR_OK;
}

namespace {

// Applies RSA padding parameters to a signing/verifying context.
CK_RV ConfigureRsa(EVP_PKEY_CTX* pctx, Family fam, const ipc::WireMechanism& mech, const EVP_MD* pss_md,
                   const EVP_MD* mgf_md, int salt_len) {
  if (fam == Family::kRsaPkcs) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) return Fail(CKR_FUNCTION_FAILED);
    return CKR_OK;
  }
  (void)mech;
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      (pss_md != nullptr && EVP_PKEY_CTX_set_signature_md(pctx, pss_md) != 1) ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf_md) != 1 || EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len) != 1) {
    return Fail(CKR_MECHANISM_PARAM_INVALID);
  }
  return CKR_OK;
}

}  // namespace

// Shared by Sign and Verify: validates the mechanism against the key and runs the operation.
// `sig` is the output for sign and the input for verify.
#define VHSM_CHECK_KEY_CLASS(want)                                   \
  if (key.cls() != (want)) return CKR_KEY_TYPE_INCONSISTENT;          \
  if (!key.pkey && (want) != CKO_SECRET_KEY) return CKR_KEY_HANDLE_INVALID

CK_RV Engine::Sign(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, Bytes* out) const {
  Family fam = FamilyOf(mech.type);
  if (fam == Family::kNone) return CKR_MECHANISM_INVALID;
  if (!key.GetBool(CKA_SIGN)) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  if (fam == Family::kHmac) return Hmac(mech, key, data, out);
  if (fam == Family::kCmac) return Cmac(mech, key, data, out);
  VHSM_CHECK_KEY_CLASS(CKO_PRIVATE_KEY);
  if (fam == Family::kEddsa) {
    // Ed25519 (pure EdDSA): no hash, no parameters (Ed25519ctx/ph are not offered).
    if (key.key_type() != CKK_EC_EDWARDS) return CKR_KEY_TYPE_INCONSISTENT;
    if (!mech.param.empty()) return CKR_MECHANISM_PARAM_INVALID;
    crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    size_t len = 64;
    out->resize(len);
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key.pkey.get()) != 1 ||
        EVP_DigestSign(ctx.get(), out->data(), &len, data.data(), data.size()) != 1) {
      return Fail(CKR_FUNCTION_FAILED);
    }
    out->resize(len);
    return CKR_OK;
  }
  const EVP_MD* md = VHSM_MD(HashOf(mech.type));
  const EVP_MD* pss_md = nullptr;
  const EVP_MD* mgf_md = nullptr;
  int salt = 0;
  if (fam == Family::kEcdsa) {
    if (key.key_type() != CKK_EC) return CKR_KEY_TYPE_INCONSISTENT;
    if (!mech.param.empty()) return CKR_MECHANISM_PARAM_INVALID;
  } else {
    if (key.key_type() != CKK_RSA) return CKR_KEY_TYPE_INCONSISTENT;
    if (fam == Family::kRsaPss) {
      Result<ipc::PssParams> p = ipc::DecodePss(mech.param);
      if (!p.ok()) return CKR_MECHANISM_PARAM_INVALID;
      pss_md = VHSM_MD(p->hash_mechanism);
      mgf_md = VHSM_MD(MgfHash(p->mgf));
      if (pss_md == nullptr || mgf_md == nullptr || p->salt_len > 512) return CKR_MECHANISM_PARAM_INVALID;
      if (md != nullptr && md != pss_md) return CKR_MECHANISM_PARAM_INVALID;
      salt = static_cast<int>(p->salt_len);
      if (md == nullptr && data.size() != static_cast<size_t>(EVP_MD_get_size(pss_md))) return CKR_DATA_LEN_RANGE;
    } else if (!mech.param.empty()) {
      return CKR_MECHANISM_PARAM_INVALID;
    } else if (md == nullptr && data.size() + 11 > static_cast<size_t>(EVP_PKEY_get_size(key.pkey.get()))) {
      return CKR_DATA_LEN_RANGE;
    }
  }
  size_t len = 0;
  crypto::EvpMdCtxPtr mctx;
  crypto::EvpPkeyCtxPtr own;
  EVP_PKEY_CTX* pctx = nullptr;
  if (md != nullptr) {
    mctx.reset(EVP_MD_CTX_new());
    if (!mctx || EVP_DigestSignInit(mctx.get(), &pctx, md, nullptr, key.pkey.get()) != 1) {
      return Fail(CKR_FUNCTION_FAILED);
    }
  } else {
    own.reset(EVP_PKEY_CTX_new(key.pkey.get(), nullptr));
    pctx = own.get();
    if (pctx == nullptr || EVP_PKEY_sign_init(pctx) != 1) return Fail(CKR_FUNCTION_FAILED);
  }
  if (fam != Family::kEcdsa) {
    CK_RV rv = ConfigureRsa(pctx, fam, mech, md == nullptr ? pss_md : nullptr, mgf_md, salt);
    if (rv != CKR_OK) return rv;
  }
  Bytes sig;
  if (md != nullptr) {
    if (EVP_DigestSign(mctx.get(), nullptr, &len, data.data(), data.size()) != 1) return Fail(CKR_FUNCTION_FAILED);
    sig.resize(len);
    if (EVP_DigestSign(mctx.get(), sig.data(), &len, data.data(), data.size()) != 1) {
      return Fail(CKR_FUNCTION_FAILED);
    }
  } else {
    if (EVP_PKEY_sign(pctx, nullptr, &len, data.data(), data.size()) != 1) return Fail(CKR_FUNCTION_FAILED);
    sig.resize(len);
    if (EVP_PKEY_sign(pctx, sig.data(), &len, data.data(), data.size()) != 1) return Fail(CKR_DATA_LEN_RANGE);
  }
  sig.resize(len);
  if (fam != Family::kEcdsa) {
    *out = std::move(sig);
    return CKR_OK;
  }
  // ECDSA: DER SEQUENCE{r,s} -> r || s, each padded to the order length (PKCS#11 2.40 sec. 2.3.1).
  const uint8_t* p = sig.data();
  crypto::EcdsaSigPtr es(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size())));
  if (!es) return Fail(CKR_FUNCTION_FAILED);
  size_t n = EcOrderLen(key.pkey.get());
  out->assign(2 * n, 0);
  if (BN_bn2binpad(ECDSA_SIG_get0_r(es.get()), out->data(), static_cast<int>(n)) < 0 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(es.get()), out->data() + n, static_cast<int>(n)) < 0) {
    return Fail(CKR_FUNCTION_FAILED);
  }
  return CKR_OK;
}

CK_RV Engine::Verify(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, ByteSpan sig) const {
  Family fam = FamilyOf(mech.type);
  if (fam == Family::kNone) return CKR_MECHANISM_INVALID;
  if (!key.GetBool(CKA_VERIFY)) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  if (fam == Family::kHmac || fam == Family::kCmac) {
    Bytes mac;
    CK_RV rv = fam == Family::kHmac ? Hmac(mech, key, data, &mac) : Cmac(mech, key, data, &mac);
    if (rv != CKR_OK) return rv;
    if (sig.size() != mac.size()) return CKR_SIGNATURE_LEN_RANGE;
    return CRYPTO_memcmp(mac.data(), sig.data(), mac.size()) == 0 ? CKR_OK : CKR_SIGNATURE_INVALID;
  }
  VHSM_CHECK_KEY_CLASS(CKO_PUBLIC_KEY);
  if (fam == Family::kEddsa) {
    if (key.key_type() != CKK_EC_EDWARDS) return CKR_KEY_TYPE_INCONSISTENT;
    if (!mech.param.empty()) return CKR_MECHANISM_PARAM_INVALID;
    if (sig.size() != 64) return CKR_SIGNATURE_LEN_RANGE;
    crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.pkey.get()) != 1) {
      return Fail(CKR_FUNCTION_FAILED);
    }
    int ok = EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data.data(), data.size());
    crypto::ClearOpenSslErrors();
    return ok == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
  }
  const EVP_MD* md = VHSM_MD(HashOf(mech.type));
  const EVP_MD* pss_md = nullptr;
  const EVP_MD* mgf_md = nullptr;
  int salt = 0;
  Bytes der_sig;
  ByteSpan check = sig;
  if (fam == Family::kEcdsa) {
    if (key.key_type() != CKK_EC) return CKR_KEY_TYPE_INCONSISTENT;
    if (!mech.param.empty()) return CKR_MECHANISM_PARAM_INVALID;
    size_t n = EcOrderLen(key.pkey.get());
    if (sig.size() != 2 * n) return CKR_SIGNATURE_LEN_RANGE;
    crypto::EcdsaSigPtr es(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(sig.data(), static_cast<int>(n), nullptr);
    BIGNUM* s = BN_bin2bn(sig.data() + n, static_cast<int>(n), nullptr);
    if (!es || r == nullptr || s == nullptr) {
      BN_free(r);
      BN_free(s);
      return Fail(CKR_HOST_MEMORY);
    }
    ECDSA_SIG_set0(es.get(), r, s);  // takes ownership of r and s
    int len = i2d_ECDSA_SIG(es.get(), nullptr);
    der_sig.resize(static_cast<size_t>(len));
    uint8_t* p = der_sig.data();
    i2d_ECDSA_SIG(es.get(), &p);
    check = der_sig;
  } else {
    if (key.key_type() != CKK_RSA) return CKR_KEY_TYPE_INCONSISTENT;
    if (sig.size() != static_cast<size_t>(EVP_PKEY_get_size(key.pkey.get()))) return CKR_SIGNATURE_LEN_RANGE;
    if (fam == Family::kRsaPss) {
      Result<ipc::PssParams> p = ipc::DecodePss(mech.param);
      if (!p.ok()) return CKR_MECHANISM_PARAM_INVALID;
      pss_md = VHSM_MD(p->hash_mechanism);
      mgf_md = VHSM_MD(MgfHash(p->mgf));
      if (pss_md == nullptr || mgf_md == nullptr || p->salt_len > 512) return CKR_MECHANISM_PARAM_INVALID;
      if (md != nullptr && md != pss_md) return CKR_MECHANISM_PARAM_INVALID;
      salt = static_cast<int>(p->salt_len);
      if (md == nullptr && data.size() != static_cast<size_t>(EVP_MD_get_size(pss_md))) return CKR_DATA_LEN_RANGE;
    } else if (!mech.param.empty()) {
      return CKR_MECHANISM_PARAM_INVALID;
    }
  }
  crypto::EvpMdCtxPtr mctx;
  crypto::EvpPkeyCtxPtr own;
  EVP_PKEY_CTX* pctx = nullptr;
  if (md != nullptr) {
    mctx.reset(EVP_MD_CTX_new());
    if (!mctx || EVP_DigestVerifyInit(mctx.get(), &pctx, md, nullptr, key.pkey.get()) != 1) {
      return Fail(CKR_FUNCTION_FAILED);
    }
  } else {
    own.reset(EVP_PKEY_CTX_new(key.pkey.get(), nullptr));
    pctx = own.get();
    if (pctx == nullptr || EVP_PKEY_verify_init(pctx) != 1) return Fail(CKR_FUNCTION_FAILED);
  }
  if (fam != Family::kEcdsa) {
    CK_RV rv = ConfigureRsa(pctx, fam, mech, md == nullptr ? pss_md : nullptr, mgf_md, salt);
    if (rv != CKR_OK) return rv;
  }
  int ok = md != nullptr ? EVP_DigestVerify(mctx.get(), check.data(), check.size(), data.data(), data.size())
                         : EVP_PKEY_verify(pctx, check.data(), check.size(), data.data(), data.size());
  crypto::ClearOpenSslErrors();
  return ok == 1 ? CKR_OK : CKR_SIGNATURE_INVALID;
}

CK_RV Engine::Hmac(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, Bytes* out) const {
  if (key.cls() != CKO_SECRET_KEY || key.key_type() != CKK_GENERIC_SECRET) return CKR_KEY_TYPE_INCONSISTENT;
  if (!mech.param.empty()) return CKR_MECHANISM_PARAM_INVALID;
  const EVP_MD* md = VHSM_MD(HashOf(mech.type));
  crypto::EvpMacCtxPtr ctx(EVP_MAC_CTX_new(hmac_.get()));
  OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                     const_cast<char*>(EVP_MD_get0_name(md)), 0),
                    OSSL_PARAM_construct_end()};
  out->resize(static_cast<size_t>(EVP_MD_get_size(md)));
  size_t len = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), key.secret.Expose().data(), key.secret.size(), p) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out->data(), &len, out->size()) != 1) {
    return Fail(CKR_FUNCTION_FAILED);
  }
  out->resize(len);
  return CKR_OK;
}

CK_RV Engine::Encrypt(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, Bytes* out) const {
  if (!key.GetBool(CKA_ENCRYPT)) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  if (mech.type == CKM_RSA_PKCS || mech.type == CKM_RSA_PKCS_OAEP) {
    if (key.cls() != CKO_PUBLIC_KEY || key.key_type() != CKK_RSA || !key.pkey) return CKR_KEY_TYPE_INCONSISTENT;
  } else {
    return SymmetricCrypt(mech, key, data, true, out);
  }
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(key.pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1) return Fail(CKR_FUNCTION_FAILED);
  size_t k = static_cast<size_t>(EVP_PKEY_get_size(key.pkey.get()));
  if (mech.type == CKM_RSA_PKCS) {
    if (!mech.param.empty()) return CKR_MECHANISM_PARAM_INVALID;
    if (data.size() + 11 > k) return CKR_DATA_LEN_RANGE;
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) return Fail(CKR_FUNCTION_FAILED);
  } else {
    Result<ipc::OaepParams> p = ipc::DecodeOaep(mech.param);
    if (!p.ok()) return CKR_MECHANISM_PARAM_INVALID;
    const EVP_MD* md = VHSM_MD(p->hash_mechanism);
    const EVP_MD* mgf = VHSM_MD(MgfHash(p->mgf));
    if (md == nullptr || mgf == nullptr || (p->source != 0 && p->source != CKZ_DATA_SPECIFIED)) {
      return CKR_MECHANISM_PARAM_INVALID;
    }
    if (data.size() + 2 * static_cast<size_t>(EVP_MD_get_size(md)) + 2 > k) return CKR_DATA_LEN_RANGE;
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), mgf) != 1) {
      return Fail(CKR_FUNCTION_FAILED);
    }
    if (!p->label.empty()) {
      void* label = OPENSSL_memdup(p->label.data(), p->label.size());
      // set0 takes ownership of `label`.
      if (label == nullptr || EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label, static_cast<int>(p->label.size())) != 1) {
        OPENSSL_free(label);
        return Fail(CKR_FUNCTION_FAILED);
      }
    }
  }
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, data.data(), data.size()) != 1) return Fail(CKR_FUNCTION_FAILED);
  out->resize(len);
  if (EVP_PKEY_encrypt(ctx.get(), out->data(), &len, data.data(), data.size()) != 1) {
    return Fail(CKR_FUNCTION_FAILED);
  }
  out->resize(len);
  return CKR_OK;
}

CK_RV Engine::Decrypt(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, Bytes* out) const {
  if (!key.GetBool(CKA_DECRYPT)) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  if (mech.type != CKM_RSA_PKCS && mech.type != CKM_RSA_PKCS_OAEP) {
    return SymmetricCrypt(mech, key, data, false, out);
  }
  if (key.cls() != CKO_PRIVATE_KEY || key.key_type() != CKK_RSA || !key.pkey) return CKR_KEY_TYPE_INCONSISTENT;
  size_t k = static_cast<size_t>(EVP_PKEY_get_size(key.pkey.get()));
  if (data.size() != k) return CKR_ENCRYPTED_DATA_LEN_RANGE;
  crypto::EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(key.pkey.get(), nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1) return Fail(CKR_FUNCTION_FAILED);
  if (mech.type == CKM_RSA_PKCS) {
    if (!mech.param.empty()) return CKR_MECHANISM_PARAM_INVALID;
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1) return Fail(CKR_FUNCTION_FAILED);
  } else {
    Result<ipc::OaepParams> p = ipc::DecodeOaep(mech.param);
    if (!p.ok()) return CKR_MECHANISM_PARAM_INVALID;
    const EVP_MD* md = VHSM_MD(p->hash_mechanism);
    const EVP_MD* mgf = VHSM_MD(MgfHash(p->mgf));
    if (md == nullptr || mgf == nullptr || (p->source != 0 && p->source != CKZ_DATA_SPECIFIED)) {
      return CKR_MECHANISM_PARAM_INVALID;
    }
    if (EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), mgf) != 1) {
      return Fail(CKR_FUNCTION_FAILED);
    }
    if (!p->label.empty()) {
      void* label = OPENSSL_memdup(p->label.data(), p->label.size());
      // set0 takes ownership of `label`.
      if (label == nullptr || EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), label, static_cast<int>(p->label.size())) != 1) {
        OPENSSL_free(label);
        return Fail(CKR_FUNCTION_FAILED);
      }
    }
  }
  size_t len = k;
  out->resize(k);
  if (EVP_PKEY_decrypt(ctx.get(), out->data(), &len, data.data(), data.size()) != 1) {
    out->clear();
    return Fail(CKR_ENCRYPTED_DATA_INVALID);
  }
  out->resize(len);
  return CKR_OK;
}

CK_RV Engine::SymmetricCrypt(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, bool encrypt,
                             Bytes* out) const {
  int mode;
  switch (mech.type) {
    case CKM_AES_ECB: mode = 0; break;
    case CKM_AES_CBC: case CKM_AES_CBC_PAD: mode = 1; break;
    case CKM_AES_CTR: mode = 2; break;
    case CKM_AES_GCM: mode = 3; break;
    default: return CKR_MECHANISM_INVALID;
  }
  if (key.cls() != CKO_SECRET_KEY || key.key_type() != CKK_AES) return CKR_KEY_TYPE_INCONSISTENT;
  size_t ki = key.secret.size() == 16 ? 0 : key.secret.size() == 24 ? 1 : key.secret.size() == 32 ? 2 : 3;
  if (ki == 3) return CKR_KEY_SIZE_RANGE;
  const bool pad = mech.type == CKM_AES_CBC_PAD;
  Bytes iv;
  ipc::GcmParams gcm;
  size_t tag_len = 0;
  if (mode == 0) {
    if (!mech.param.empty()) return CKR_MECHANISM_PARAM_INVALID;
  } else if (mode == 1) {
    if (mech.param.size() != 16) return CKR_MECHANISM_PARAM_INVALID;
    iv = mech.param;
  } else if (mode == 2) {
    Result<ipc::CtrParams> p = ipc::DecodeCtr(mech.param);
    // OpenSSL increments the whole 128-bit block; accept only counter widths that behave the same.
    if (!p.ok() || p->ctr_bits == 0 || p->ctr_bits > 128) return CKR_MECHANISM_PARAM_INVALID;
    iv = p->counter_block;
  } else {
    Result<ipc::GcmParams> p = ipc::DecodeGcm(mech.param);
    if (!p.ok() || p->iv.empty() || p->tag_length_bits % 8 != 0 || p->tag_length_bits < 32 || p->tag_length_bits > 128) {
      return CKR_MECHANISM_PARAM_INVALID;
    }
    gcm = std::move(*p);
    iv = gcm.iv;
    tag_len = gcm.tag_length_bits / 8;
  }
  if ((mode <= 1 && !pad) && data.size() % 16 != 0) {
    return encrypt ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE;
  }
  if (pad && !encrypt && (data.size() % 16 != 0 || data.empty())) return CKR_ENCRYPTED_DATA_LEN_RANGE;
  ByteSpan body = data;
  ByteSpan tag;
  if (mode == 3 && !encrypt) {
    if (data.size() < tag_len) return CKR_ENCRYPTED_DATA_LEN_RANGE;
    body = data.first(data.size() - tag_len);
    tag = data.last(tag_len);
  }
  crypto::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  size_t ivlen = iv.size();
  OSSL_PARAM ivp[] = {OSSL_PARAM_construct_size_t(OSSL_CIPHER_PARAM_AEAD_IVLEN, &ivlen), OSSL_PARAM_construct_end()};
  if (!ctx || EVP_CipherInit_ex2(ctx.get(), aes_[mode][ki].get(), nullptr, nullptr, encrypt ? 1 : 0,
                                 mode == 3 ? ivp : nullptr) != 1 ||
      EVP_CipherInit_ex2(ctx.get(), nullptr, key.secret.Expose().data(), iv.empty() ? nullptr : iv.data(),
                         encrypt ? 1 : 0, nullptr) != 1 ||
      EVP_CIPHER_CTX_set_padding(ctx.get(), pad ? 1 : 0) != 1) {
    return Fail(CKR_FUNCTION_FAILED);
  }
  int outl = 0;
  if (mode == 3 && !gcm.aad.empty() &&
      EVP_CipherUpdate(ctx.get(), nullptr, &outl, gcm.aad.data(), static_cast<int>(gcm.aad.size())) != 1) {
    return Fail(CKR_FUNCTION_FAILED);
  }
  out->resize(body.size() + 16 + tag_len);
  int total = 0;
  if (!body.empty()) {
    if (EVP_CipherUpdate(ctx.get(), out->data(), &outl, body.data(), static_cast<int>(body.size())) != 1) {
      return Fail(CKR_FUNCTION_FAILED);
    }
    total = outl;
  }
  if (mode == 3 && !encrypt) {
    OSSL_PARAM tp[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG,
                                                         const_cast<uint8_t*>(tag.data()), tag.size()),
                       OSSL_PARAM_construct_end()};
    if (EVP_CIPHER_CTX_set_params(ctx.get(), tp) != 1) return Fail(CKR_FUNCTION_FAILED);
  }
  if (EVP_CipherFinal_ex(ctx.get(), out->data() + total, &outl) != 1) {
    OPENSSL_cleanse(out->data(), out->size());
    out->clear();
    return Fail(CKR_ENCRYPTED_DATA_INVALID);
  }
  total += outl;
  if (mode == 3 && encrypt) {
    OSSL_PARAM tp[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out->data() + total, tag_len),
                       OSSL_PARAM_construct_end()};
    if (EVP_CIPHER_CTX_get_params(ctx.get(), tp) != 1) return Fail(CKR_FUNCTION_FAILED);
    total += static_cast<int>(tag_len);
  }
  out->resize(static_cast<size_t>(total));
  return CKR_OK;
}

CK_RV Engine::Digest(const ipc::WireMechanism& mech, ByteSpan data, Bytes* out) const {
  const EVP_MD* md = VHSM_MD(mech.type);
  if (md == nullptr) return CKR_MECHANISM_INVALID;
  if (!mech.param.empty()) return CKR_MECHANISM_PARAM_INVALID;
  out->resize(static_cast<size_t>(EVP_MD_get_size(md)));
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out->data(), &len, md, nullptr) != 1) return Fail(CKR_FUNCTION_FAILED);
  out->resize(len);
  return CKR_OK;
}

CK_RV Engine::Cmac(const ipc::WireMechanism& mech, const Object& key, ByteSpan data, Bytes* out) const {
  if (key.cls() != CKO_SECRET_KEY || key.key_type() != CKK_AES) return CKR_KEY_TYPE_INCONSISTENT;
  size_t mac_len = 16;
  if (mech.type == CKM_AES_CMAC_GENERAL) {
    // CK_MAC_GENERAL_PARAMS is a CK_ULONG: the MAC length in bytes, 1..16.
    CK_ULONG want = 0;
    if (mech.param.size() != sizeof(want)) return CKR_MECHANISM_PARAM_INVALID;
    std::memcpy(&want, mech.param.data(), sizeof(want));
    if (want < 1 || want > 16) return CKR_MECHANISM_PARAM_INVALID;
    mac_len = want;
  } else if (!mech.param.empty()) {
    return CKR_MECHANISM_PARAM_INVALID;
  }
  const char* cipher = key.secret.size() == 16   ? "AES-128-CBC"
                       : key.secret.size() == 24 ? "AES-192-CBC"
                       : key.secret.size() == 32 ? "AES-256-CBC"
                                                 : nullptr;
  if (cipher == nullptr) return CKR_KEY_SIZE_RANGE;
  crypto::EvpMacCtxPtr ctx(EVP_MAC_CTX_new(cmac_.get()));
  OSSL_PARAM p[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, const_cast<char*>(cipher), 0),
                    OSSL_PARAM_construct_end()};
  out->resize(16);
  size_t len = 0;
  if (!ctx || EVP_MAC_init(ctx.get(), key.secret.Expose().data(), key.secret.size(), p) != 1 ||
      EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx.get(), out->data(), &len, out->size()) != 1 || len != 16) {
    return Fail(CKR_FUNCTION_FAILED);
  }
  out->resize(mac_len);
  return CKR_OK;
}

CK_RV Engine::FinishPrivate(crypto::EvpPkeyPtr pkey, Object* priv) const {
  Result<Bytes> spki = PublicKeyInfo(pkey.get());
  if (!spki.ok()) return Fail(CKR_FUNCTION_FAILED);
  priv->attrs[CKA_PUBLIC_KEY_INFO] = *spki;
  if (EVP_PKEY_is_a(pkey.get(), "RSA")) {
    Result<Bytes> n = BnParam(pkey.get(), OSSL_PKEY_PARAM_RSA_N);
    Result<Bytes> e = BnParam(pkey.get(), OSSL_PKEY_PARAM_RSA_E);
    if (!n.ok() || !e.ok()) return Fail(CKR_FUNCTION_FAILED);
    priv->attrs[CKA_MODULUS] = *n;
    priv->attrs[CKA_PUBLIC_EXPONENT] = *e;
  }
  int len = i2d_PrivateKey(pkey.get(), nullptr);
  if (len <= 0) return Fail(CKR_FUNCTION_FAILED);
  SecretBytes der(static_cast<size_t>(len));
  uint8_t* q = der.MutableExpose().data();
  i2d_PrivateKey(pkey.get(), &q);
  priv->secret = std::move(der);
  priv->pkey = std::move(pkey);
  return CKR_OK;
}

namespace {

// A template attribute as a byte span; nullptr when absent.
const Bytes* Attr(const AttrMap& m, CK_ATTRIBUTE_TYPE t) {
  auto it = m.find(t);
  return it == m.end() ? nullptr : &it->second;
}

// Big-endian integer left-padded (or stripped of leading zeros) to exactly `n` bytes.
std::optional<Bytes> FixedWidth(const Bytes& v, size_t n) {
  size_t skip = 0;
  while (v.size() - skip > n && v[skip] == 0) ++skip;
  if (v.size() - skip > n) return std::nullopt;
  Bytes out(n - (v.size() - skip), 0);
  out.insert(out.end(), v.begin() + static_cast<std::ptrdiff_t>(skip), v.end());
  return out;
}

}  // namespace

CK_RV Engine::ImportKey(const AttrMap& c, Object* obj) const {
  const CK_OBJECT_CLASS cls = obj->cls();
  const CK_KEY_TYPE kt = obj->key_type();
  if (cls != CKO_PUBLIC_KEY && cls != CKO_PRIVATE_KEY) return CKR_ATTRIBUTE_VALUE_INVALID;
  if (kt == CKK_EC || kt == CKK_EC_EDWARDS) {
    const Bytes* params = Attr(c, CKA_EC_PARAMS);
    if (params == nullptr) return CKR_TEMPLATE_INCOMPLETE;
    const Curve* curve = kt == CKK_EC ? FindCurve(*params) : nullptr;
    if (kt == CKK_EC ? curve == nullptr : !IsEd25519Params(*params)) return CKR_CURVE_NOT_SUPPORTED;
    if (cls == CKO_PUBLIC_KEY) {
      const Bytes* point = Attr(c, CKA_EC_POINT);
      if (point == nullptr) return CKR_TEMPLATE_INCOMPLETE;
      const size_t raw_len = kt == CKK_EC ? 1 + 2 * curve->order_len : 32;
      ByteSpan raw = UnwrapOctetString(*point, raw_len);
      if (raw.size() != raw_len) return CKR_ATTRIBUTE_VALUE_INVALID;
      Result<crypto::PublicKey> pk = kt == CKK_EC ? crypto::PublicKey::FromEcUncompressed(curve->curve, raw)
                                                  : crypto::PublicKey::FromEd25519(raw);
      if (!pk.ok()) return Fail(CKR_ATTRIBUTE_VALUE_INVALID);
      obj->attrs[CKA_EC_POINT] = DerOctetString(raw);
      obj->pkey = UpRef(pk->evp());
    } else {
      const Bytes* value = Attr(c, CKA_VALUE);
      if (value == nullptr) return CKR_TEMPLATE_INCOMPLETE;
      Result<crypto::PrivateKey> k = [&]() -> Result<crypto::PrivateKey> {
        if (kt == CKK_EC_EDWARDS) {
          if (value->size() != 32) return InvalidArgumentError("Ed25519 CKA_VALUE must be 32 bytes");
          return crypto::PrivateKey::FromEd25519Seed(*value);
        }
        std::optional<Bytes> d = FixedWidth(*value, curve->order_len);
        if (!d) return InvalidArgumentError("EC CKA_VALUE longer than the curve order");
        return crypto::PrivateKey::FromEcScalar(curve->curve, *d);
      }();
      if (!k.ok()) return Fail(CKR_ATTRIBUTE_VALUE_INVALID);
      return FinishPrivate(UpRef(k->evp()), obj);
    }
  } else if (kt == CKK_RSA) {
    const Bytes* n = Attr(c, CKA_MODULUS);
    const Bytes* e = Attr(c, CKA_PUBLIC_EXPONENT);
    if (n == nullptr || e == nullptr) return CKR_TEMPLATE_INCOMPLETE;
    const size_t bits = [&] {
      size_t i = 0;
      while (i < n->size() && (*n)[i] == 0) ++i;
      return (n->size() - i) * 8;
    }();
    if (bits < 2048 || bits > 4096) return CKR_ATTRIBUTE_VALUE_INVALID;
    if (cls == CKO_PUBLIC_KEY) {
      Result<crypto::PublicKey> pk = crypto::PublicKey::FromRsa(*n, *e);
      if (!pk.ok()) return Fail(CKR_ATTRIBUTE_VALUE_INVALID);
      obj->pkey = UpRef(pk->evp());
      obj->attrs[CKA_MODULUS_BITS] = UlongValue(static_cast<CK_ULONG>(EVP_PKEY_get_bits(obj->pkey.get())));
    } else {
      // CRT form only (all of d, p, q, dp, dq, qinv), as every exporter produces.
      const CK_ATTRIBUTE_TYPE need[] = {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2,
                                        CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT};
      for (CK_ATTRIBUTE_TYPE t : need) {
        if (Attr(c, t) == nullptr) return CKR_TEMPLATE_INCOMPLETE;
      }
      crypto::RsaPrivateComponents rc;
      rc.n = *n;
      rc.e = *e;
      rc.d = SecretBytes(*Attr(c, CKA_PRIVATE_EXPONENT));
      rc.p = SecretBytes(*Attr(c, CKA_PRIME_1));
      rc.q = SecretBytes(*Attr(c, CKA_PRIME_2));
      rc.dp = SecretBytes(*Attr(c, CKA_EXPONENT_1));
      rc.dq = SecretBytes(*Attr(c, CKA_EXPONENT_2));
      rc.qi = SecretBytes(*Attr(c, CKA_COEFFICIENT));
      Result<crypto::PrivateKey> k = crypto::PrivateKey::FromRsaComponents(rc);
      if (!k.ok()) return Fail(CKR_ATTRIBUTE_VALUE_INVALID);
      return FinishPrivate(UpRef(k->evp()), obj);
    }
  } else {
    return CKR_ATTRIBUTE_VALUE_INVALID;
  }
  Result<Bytes> spki = PublicKeyInfo(obj->pkey.get());
  if (!spki.ok()) return Fail(CKR_FUNCTION_FAILED);
  obj->attrs[CKA_PUBLIC_KEY_INFO] = *spki;
  return CKR_OK;
}

namespace {
bool IsKeyWrap(CK_MECHANISM_TYPE m) { return m == CKM_AES_KEY_WRAP || m == CKM_AES_KEY_WRAP_PAD; }
}  // namespace

CK_RV Engine::Wrap(const ipc::WireMechanism& mech, const Object& wk, const Object& key, Bytes* out) const {
  if (!IsKeyWrap(mech.type)) return CKR_MECHANISM_INVALID;
  if (!mech.param.empty()) return CKR_MECHANISM_PARAM_INVALID;  // only the default IVs of RFC 3394/5649
  if (wk.cls() != CKO_SECRET_KEY || wk.key_type() != CKK_AES) return CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
  if (wk.secret.size() != 16 && wk.secret.size() != 24 && wk.secret.size() != 32) return CKR_WRAPPING_KEY_SIZE_RANGE;
  if (!wk.GetBool(CKA_WRAP)) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  SecretBytes material;
  if (key.cls() == CKO_SECRET_KEY) {
    material = key.secret.Clone();
  } else if (key.cls() == CKO_PRIVATE_KEY && key.pkey) {
    Result<crypto::PrivateKey> k = crypto::PrivateKey::FromEvp(UpRef(key.pkey.get()));
    if (!k.ok()) return Fail(CKR_KEY_NOT_WRAPPABLE);
    Result<SecretBytes> der = k->ToPkcs8Der();
    if (!der.ok()) return Fail(CKR_FUNCTION_FAILED);
    material = std::move(*der);
  } else {
    return CKR_KEY_NOT_WRAPPABLE;
  }
  if (material.size() > crypto::kMaxWrappedKeySize) return CKR_KEY_SIZE_RANGE;
  if (mech.type == CKM_AES_KEY_WRAP && (material.size() % 8 != 0 || material.size() < 16)) {
    return CKR_KEY_SIZE_RANGE;
  }
  Result<Bytes> w = mech.type == CKM_AES_KEY_WRAP ? crypto::AesKeyWrap(wk.secret, material)
                                                  : crypto::AesKeyWrapPad(wk.secret, material);
  if (!w.ok()) return Fail(CKR_FUNCTION_FAILED);
  *out = std::move(*w);
  return CKR_OK;
}

CK_RV Engine::Unwrap(const ipc::WireMechanism& mech, const Object& uk, ByteSpan wrapped, Object* out) const {
  if (!IsKeyWrap(mech.type)) return CKR_MECHANISM_INVALID;
  if (!mech.param.empty()) return CKR_MECHANISM_PARAM_INVALID;
  if (uk.cls() != CKO_SECRET_KEY || uk.key_type() != CKK_AES) return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
  if (uk.secret.size() != 16 && uk.secret.size() != 24 && uk.secret.size() != 32) {
    return CKR_UNWRAPPING_KEY_SIZE_RANGE;
  }
  if (!uk.GetBool(CKA_UNWRAP)) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  const size_t min = mech.type == CKM_AES_KEY_WRAP ? 24 : 16;
  if (wrapped.size() % 8 != 0 || wrapped.size() < min || wrapped.size() > crypto::kMaxWrappedKeySize + 16) {
    return CKR_WRAPPED_KEY_LEN_RANGE;
  }
  Result<SecretBytes> key = mech.type == CKM_AES_KEY_WRAP ? crypto::AesKeyUnwrap(uk.secret, wrapped)
                                                          : crypto::AesKeyUnwrapPad(uk.secret, wrapped);
  if (!key.ok()) return Fail(CKR_WRAPPED_KEY_INVALID);
  const CK_KEY_TYPE kt = out->key_type();
  if (out->cls() == CKO_SECRET_KEY) {
    const size_t n = key->size();
    if (kt == CKK_AES ? (n != 16 && n != 24 && n != 32) : kt == CKK_GENERIC_SECRET ? (n == 0 || n > 512) : true) {
      return kt == CKK_AES || kt == CKK_GENERIC_SECRET ? CKR_WRAPPED_KEY_INVALID : CKR_TEMPLATE_INCONSISTENT;
    }
    if (std::optional<CK_ULONG> want = out->GetUlong(CKA_VALUE_LEN); want && *want != n) {
      return CKR_TEMPLATE_INCONSISTENT;
    }
    out->secret = std::move(*key);
    return CKR_OK;
  }
  if (out->cls() != CKO_PRIVATE_KEY) return CKR_TEMPLATE_INCONSISTENT;
  Result<crypto::PrivateKey> k = crypto::PrivateKey::FromDer(key->Expose());
  if (!k.ok()) return Fail(CKR_WRAPPED_KEY_INVALID);
  const bool match = (kt == CKK_EC && k->type() == crypto::KeyType::kEc) ||
                     (kt == CKK_RSA && k->type() == crypto::KeyType::kRsa) ||
                     (kt == CKK_EC_EDWARDS && k->type() == crypto::KeyType::kEd25519);
  if (!match) return CKR_TEMPLATE_INCONSISTENT;
  if (kt == CKK_EC) {
    const Curve* c = k->curve() ? FindCurve(*k->curve()) : nullptr;
    if (c == nullptr) return CKR_WRAPPED_KEY_INVALID;
    if (const Bytes* p = out->Get(CKA_EC_PARAMS); p != nullptr && *p != c->oid_der) return CKR_TEMPLATE_INCONSISTENT;
    out->attrs[CKA_EC_PARAMS] = c->oid_der;
  } else if (kt == CKK_EC_EDWARDS) {
    if (const Bytes* p = out->Get(CKA_EC_PARAMS); p != nullptr && !IsEd25519Params(*p)) return CKR_TEMPLATE_INCONSISTENT;
    if (out->Get(CKA_EC_PARAMS) == nullptr) out->attrs[CKA_EC_PARAMS] = kEd25519Oid;
  }
  return FinishPrivate(UpRef(k->evp()), out);
}

CK_RV Engine::Derive(const ipc::WireMechanism& mech, const Object& base, Object* out) const {
  if (mech.type != CKM_ECDH1_DERIVE) return CKR_MECHANISM_INVALID;
  Result<ipc::Ecdh1Params> p = ipc::DecodeEcdh1(mech.param);
  if (!p.ok()) return CKR_MECHANISM_PARAM_INVALID;
  // PKCS#11 2.40 sec. 2.3.18: CKD_NULL takes no shared data; the CKD_SHAx_KDF functions are the
  // ANSI X9.63 KDF with the shared data as SharedInfo.
  const char* kdf_md = X963Digest(p->kdf);
  if (p->kdf == CKD_NULL) {
    if (!p->shared_data.empty()) return CKR_MECHANISM_PARAM_INVALID;
  } else if (kdf_md == nullptr) {
    return CKR_MECHANISM_PARAM_INVALID;
  }
  if (base.cls() != CKO_PRIVATE_KEY || base.key_type() != CKK_EC || !base.pkey) return CKR_KEY_TYPE_INCONSISTENT;
  if (!base.GetBool(CKA_DERIVE)) return CKR_KEY_FUNCTION_NOT_PERMITTED;
  Result<crypto::PrivateKey> k = crypto::PrivateKey::FromEvp(UpRef(base.pkey.get()));
  if (!k.ok() || !k->curve()) return Fail(CKR_KEY_TYPE_INCONSISTENT);
  const size_t n = crypto::EcCoordinateSize(*k->curve());
  ByteSpan raw = UnwrapOctetString(p->public_data, 1 + 2 * n);
  if (raw.size() != 1 + 2 * n) return CKR_MECHANISM_PARAM_INVALID;
  Result<crypto::PublicKey> peer = crypto::PublicKey::FromEcUncompressed(*k->curve(), raw);
  if (!peer.ok()) return Fail(CKR_MECHANISM_PARAM_INVALID);
  Result<SecretBytes> z = k->Ecdh(*peer);
  if (!z.ok()) return Fail(CKR_FUNCTION_FAILED);
  const CK_KEY_TYPE kt = out->key_type();
  std::optional<CK_ULONG> len = out->GetUlong(CKA_VALUE_LEN);
  if (kt == CKK_AES) {
    if (!len) return CKR_TEMPLATE_INCOMPLETE;
    if (*len != 16 && *len != 24 && *len != 32) return CKR_ATTRIBUTE_VALUE_INVALID;
  } else if (kt == CKK_GENERIC_SECRET) {
    if (!len) len = z->size();
    if (*len == 0) return CKR_ATTRIBUTE_VALUE_INVALID;
  } else {
    return CKR_TEMPLATE_INCONSISTENT;
  }
  if (kdf_md != nullptr) {
    if (*len > kMaxEcdhKdfOutput) return CKR_KEY_SIZE_RANGE;
    Result<SecretBytes> derived = X963Kdf(kdf_md, *z, p->shared_data, *len);
    if (!derived.ok()) return Fail(CKR_FUNCTION_FAILED);
    out->secret = std::move(*derived);
    return CKR_OK;
  }
  if (*len > z->size()) return CKR_KEY_SIZE_RANGE;
  // Truncation keeps the leftmost bytes of Z.
  out->secret = SecretBytes(z->Expose().first(*len));
  return CKR_OK;
}

}  // namespace vhsm::hsm
