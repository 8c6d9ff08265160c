#include "crypto/keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <cstring>
#include <mutex>
#include <string>

#include "crypto/error.h"

namespace vhsm::crypto {

// Each curve's domain parameters, made once (defined with PrivateKey below); nullptr if OpenSSL
// could not make them.
EVP_PKEY* CurveParams(EcCurve curve);

namespace {

constexpr size_t kMaxEncodedKeySize = 64 * 1024;
constexpr int kRsaMaxImportBits = 8192;

struct CurveInfo {
  EcCurve curve;
  const char* group;  // OpenSSL group name
  int nid;
  size_t size;
};
constexpr CurveInfo kCurves[] = {
    {EcCurve::kP256, "prime256v1", NID_X9_62_prime256v1, 32},
    {EcCurve::kP384, "secp384r1", NID_secp384r1, 48},
    {EcCurve::kP521, "secp521r1", NID_secp521r1, 66},
};

const CurveInfo& Info(EcCurve curve) {
  for (const CurveInfo& c : kCurves) {
    if (c.curve == curve) return c;
  }
  return kCurves[0];
}

struct Classified {
  KeyType type;
  std::optional<EcCurve> curve;
};

// Names the key type and curve of an EVP_PKEY, rejecting anything vhsm does not support.
Result<Classified> Classify(EVP_PKEY* pkey, bool is_private) {
  if (pkey == nullptr) return InvalidArgumentError("key: null");
  const int id = EVP_PKEY_get_base_id(pkey);
  if (id == EVP_PKEY_ED25519) return Classified{KeyType::kEd25519, std::nullopt};
  if (id == EVP_PKEY_RSA) {
    const int bits = EVP_PKEY_get_bits(pkey);
    const int max_bits = is_private ? kRsaMaxBits : kRsaMaxImportBits;
    if (bits < kRsaMinBits || bits > max_bits) {
      return InvalidArgumentError("RSA key: got " + std::to_string(bits) + " bits, want " +
                                  std::to_string(kRsaMinBits) + ".." + std::to_string(max_bits));
    }
    return Classified{KeyType::kRsa, std::nullopt};
  }
  if (id == EVP_PKEY_EC) {
    char name[64] = {};
    size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) != 1) {
      return OpenSslError("EC key: no named curve", StatusCode::kInvalidArgument);
    }
    const int nid = OBJ_sn2nid(name) != NID_undef ? OBJ_sn2nid(name) : EC_curve_nist2nid(name);
    for (const CurveInfo& c : kCurves) {
      if (c.nid == nid) return Classified{KeyType::kEc, c.curve};
    }
    return InvalidArgumentError(std::string("EC key: curve ") + name +
                                " not supported, want P-256, P-384 or P-521");
  }
  return InvalidArgumentError("key: type " + std::to_string(id) +
                              " not supported, want EC, RSA or Ed25519");
}

Bytes BnToBytes(const BIGNUM* bn, size_t pad_to = 0) {
  const size_t n = static_cast<size_t>(BN_num_bytes(bn));
  Bytes out(pad_to > n ? pad_to : n);
  BN_bn2binpad(bn, out.data(), static_cast<int>(out.size()));
  return out;
}

SecretBytes BnToSecret(const BIGNUM* bn, size_t pad_to = 0) {
  const size_t n = static_cast<size_t>(BN_num_bytes(bn));
  SecretBytes out(pad_to > n ? pad_to : n);
  BN_bn2binpad(bn, out.MutableExpose().data(), static_cast<int>(out.size()));
  return out;
}

Result<BnPtr> GetBn(EVP_PKEY* pkey, const char* param) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(pkey, param, &raw) != 1) {
    return OpenSslError(std::string("key parameter ") + param);
  }
  return BnPtr(raw);
}

// The public point of an EC key (public or private), uncompressed: 0x04 || X || Y, each
// coordinate `coord` bytes. One export of the encoded point: asking for EC_PUB_X and EC_PUB_Y
// separately converts the point to affine coordinates (a field inversion) twice.
Result<Bytes> EcUncompressedPoint(EVP_PKEY* pkey, size_t coord) {
  Bytes point(1 + 2 * coord);
  size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point.data(), point.size(), &len) ==
          1 &&
      len == point.size() && point[0] == 0x04) {
    return point;
  }
  // A key set to the compressed form (or an unexpected length): take the coordinates one by one.
  VHSM_ASSIGN_OR_RETURN(BnPtr x, GetBn(pkey, OSSL_PKEY_PARAM_EC_PUB_X));
  VHSM_ASSIGN_OR_RETURN(BnPtr y, GetBn(pkey, OSSL_PKEY_PARAM_EC_PUB_Y));
  point.assign(1 + 2 * coord, 0);
  point[0] = 0x04;
  BN_bn2binpad(x.get(), point.data() + 1, static_cast<int>(coord));
  BN_bn2binpad(y.get(), point.data() + 1 + coord, static_cast<int>(coord));
  return point;
}

// The same point as its two coordinates.
Result<EcPoint> EcCoordinatesOf(EVP_PKEY* pkey, size_t coord) {
  VHSM_ASSIGN_OR_RETURN(Bytes point, EcUncompressedPoint(pkey, coord));
  const auto mid = point.begin() + 1 + static_cast<std::ptrdiff_t>(coord);
  return EcPoint{Bytes(point.begin() + 1, mid), Bytes(mid, point.end())};
}

Result<BnPtr> BytesToBn(ByteSpan b, std::string_view what) {
  if (b.empty()) return InvalidArgumentError(std::string(what) + ": empty");
  BnPtr bn(BN_bin2bn(b.data(), static_cast<int>(b.size()), nullptr));
  if (!bn) return OpenSslError(std::string(what));
  return bn;
}

Result<EvpPkeyPtr> FromData(const char* type, OSSL_PARAM_BLD* bld, int selection) {
  OsslParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  if (!params) return OpenSslError("OSSL_PARAM_BLD_to_param");
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) return OpenSslError("EVP_PKEY_fromdata_init");
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1) {
    return OpenSslError(std::string(type) + " key import", StatusCode::kInvalidArgument);
  }
  return EvpPkeyPtr(raw);
}

Status CheckPublic(EVP_PKEY* pkey, std::string_view what) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx) return OpenSslError("EVP_PKEY_CTX_new_from_pkey");
  // The quick check (point on the curve, not at infinity) is complete for P-256/384/521: their
  // cofactor is 1, so every curve point has order n and the full check's n*Q costs a scalar
  // multiplication for nothing.
  if (EVP_PKEY_public_check_quick(ctx.get()) != 1) {
    return OpenSslError(std::string(what) + ": public key check failed", StatusCode::kInvalidArgument);
  }
  return OkStatus();
}

Status CheckPair(EVP_PKEY* pkey, std::string_view what) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx) return OpenSslError("EVP_PKEY_CTX_new_from_pkey");
  if (EVP_PKEY_pairwise_check(ctx.get()) != 1) {
    return OpenSslError(std::string(what) + ": private and public parts do not match",
                        StatusCode::kInvalidArgument);
  }
  return OkStatus();
}

Status CheckEncodedSize(size_t n, std::string_view what) {
  if (n == 0) return InvalidArgumentError(std::string(what) + ": empty");
  if (n > kMaxEncodedKeySize) {
    return ResourceExhaustedError(std::string(what) + ": " + std::to_string(n) +
                                  " bytes, limit " + std::to_string(kMaxEncodedKeySize));
  }
  return OkStatus();
}

Result<Bytes> BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len < 0) return InternalError("BIO_get_mem_data");
  return Bytes(data, data + len);
}

struct SchemeInfo {
  KeyType type;
  const char* md;  // nullptr for Ed25519
  bool pss;
};

SchemeInfo Scheme(SignatureScheme s) {
  switch (s) {
    case SignatureScheme::kEcdsaSha256: return {KeyType::kEc, "SHA256", false};
    case SignatureScheme::kEcdsaSha384: return {KeyType::kEc, "SHA384", false};
    case SignatureScheme::kEcdsaSha512: return {KeyType::kEc, "SHA512", false};
    case SignatureScheme::kEd25519: return {KeyType::kEd25519, nullptr, false};
    case SignatureScheme::kRsaPkcs1Sha256: return {KeyType::kRsa, "SHA256", false};
    case SignatureScheme::kRsaPkcs1Sha384: return {KeyType::kRsa, "SHA384", false};
    case SignatureScheme::kRsaPkcs1Sha512: return {KeyType::kRsa, "SHA512", false};
    case SignatureScheme::kRsaPssSha256: return {KeyType::kRsa, "SHA256", true};
    case SignatureScheme::kRsaPssSha384: return {KeyType::kRsa, "SHA384", true};
    case SignatureScheme::kRsaPssSha512: return {KeyType::kRsa, "SHA512", true};
  }
  return {KeyType::kEc, "SHA256", false};
}

Status CheckSchemeFits(const SchemeInfo& info, KeyType type) {
  if (info.type != type) {
    return InvalidArgumentError(std::string("signature scheme wants a ") +
                                std::string(KeyTypeName(info.type)) + " key, got " +
                                std::string(KeyTypeName(type)));
  }
  return OkStatus();
}

Status ConfigurePss(EVP_PKEY_CTX* pctx, const SchemeInfo& info) {
  if (!info.pss) {
    if (info.type == KeyType::kRsa && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) {
      return OpenSslError("RSA PKCS#1 padding");
    }
    return OkStatus();
  }
  if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1) {
    return OpenSslError("RSA-PSS parameters");
  }
  return OkStatus();
}

size_t CoordSize(const std::optional<EcCurve>& curve) {
  return curve ? EcCoordinateSize(*curve) : 0;
}

Result<const EVP_MD*> MdByName(const char* name) {
  const EVP_MD* md = EVP_get_digestbyname(name);
  if (md == nullptr) return OpenSslError(std::string("digest ") + name);
  return md;
}

Status ConfigureOaep(EVP_PKEY_CTX* ctx, HashAlg hash, ByteSpan label) {
  if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EvpMd(hash)) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EvpMd(hash)) != 1) {
    return OpenSslError("RSA-OAEP parameters");
  }
  if (!label.empty()) {
    void* copy = OPENSSL_memdup(label.data(), label.size());
    if (copy == nullptr) return InternalError("RSA-OAEP label: out of memory");
    // set0 takes ownership of the OPENSSL_malloc'd copy.
    if (EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, copy, static_cast<int>(label.size())) != 1) {
      OPENSSL_free(copy);
      return OpenSslError("RSA-OAEP label");
    }
  }
  return OkStatus();
}

EvpPkeyPtr UpRef(EVP_PKEY* pkey) {
  VHSM_CHECK(EVP_PKEY_up_ref(pkey) == 1, "EVP_PKEY_up_ref");
  return EvpPkeyPtr(pkey);
}

std::string DescribeKey(KeyType type, const std::optional<EcCurve>& curve, int bits) {
  switch (type) {
    case KeyType::kEc: return "EC " + std::string(EcCurveName(curve.value_or(EcCurve::kP256)));
    case KeyType::kRsa: return "RSA " + std::to_string(bits);
    case KeyType::kEd25519: return "Ed25519";
  }
  return "?";
}

}  // namespace

std::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEc: return "EC";
    case KeyType::kRsa: return "RSA";
    case KeyType::kEd25519: return "Ed25519";
  }
  return "?";
}

std::string_view EcCurveName(EcCurve curve) {
  switch (curve) {
    case EcCurve::kP256: return "P-256";
    case EcCurve::kP384: return "P-384";
    case EcCurve::kP521: return "P-521";
  }
  return "?";
}

Result<EcCurve> EcCurveFromName(std::string_view name) {
  if (name == "P-256") return EcCurve::kP256;
  if (name == "P-384") return EcCurve::kP384;
  if (name == "P-521") return EcCurve::kP521;
  return InvalidArgumentError("EC curve: got \"" + std::string(name.substr(0, 32)) +
                              "\", want P-256, P-384 or P-521");
}

size_t EcCoordinateSize(EcCurve curve) { return Info(curve).size; }

// ---------------------------------------------------------------------------------------------
// ECDSA signature encodings

Result<Bytes> EcdsaDerToRaw(ByteSpan der, size_t coord_size) {
  if (der.empty() || der.size() > 2 * coord_size + 16) {
    return InvalidArgumentError("ECDSA signature: got " + std::to_string(der.size()) +
                                " DER bytes, too short or too long");
  }
  const unsigned char* p = der.data();
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig || p != der.data() + der.size()) {
    ClearOpenSslErrors();
    return InvalidArgumentError("ECDSA signature: not a DER ECDSA-Sig-Value");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  if (static_cast<size_t>(BN_num_bytes(r)) > coord_size ||
      static_cast<size_t>(BN_num_bytes(s)) > coord_size) {
    return InvalidArgumentError("ECDSA signature: r or s longer than the curve order");
  }
  Bytes out(2 * coord_size);
  BN_bn2binpad(r, out.data(), static_cast<int>(coord_size));
  BN_bn2binpad(s, out.data() + coord_size, static_cast<int>(coord_size));
  return out;
}

Result<Bytes> EcdsaRawToDer(ByteSpan raw, size_t coord_size) {
  if (raw.size() != 2 * coord_size) {
    return InvalidArgumentError("ECDSA signature: got " + std::to_string(raw.size()) +
                                " bytes, want " + std::to_string(2 * coord_size) + " (r||s)");
  }
  EcdsaSigPtr sig(ECDSA_SIG_new());
  BnPtr r(BN_bin2bn(raw.data(), static_cast<int>(coord_size), nullptr));
  BnPtr s(BN_bin2bn(raw.data() + coord_size, static_cast<int>(coord_size), nullptr));
  if (!sig || !r || !s) return OpenSslError("ECDSA_SIG");
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return OpenSslError("ECDSA_SIG_set0");
  // ECDSA_SIG_set0 took ownership of r and s.
  (void)r.release();
  (void)s.release();
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return OpenSslError("i2d_ECDSA_SIG");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// ---------------------------------------------------------------------------------------------
// PublicKey

Result<PublicKey> PublicKey::FromEvp(EvpPkeyPtr pkey) {
  VHSM_ASSIGN_OR_RETURN(Classified c, Classify(pkey.get(), /*is_private=*/false));
  if (c.type == KeyType::kEc) VHSM_RETURN_IF_ERROR(CheckPublic(pkey.get(), "EC public key"));
  return PublicKey(std::move(pkey), c.type, c.curve);
}

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  VHSM_RETURN_IF_ERROR(CheckEncodedSize(pem.size(), "public key PEM"));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslError("BIO_new_mem_buf");
  EvpPkeyPtr pkey(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!pkey) {
    return OpenSslError("public key PEM: want \"BEGIN PUBLIC KEY\" (SubjectPublicKeyInfo)",
                        StatusCode::kInvalidArgument);
  }
  VHSM_RETURN_IF_ERROR(CheckPublic(pkey.get(), "public key PEM"));
  return FromEvp(std::move(pkey));
}

Result<PublicKey> PublicKey::FromDer(ByteSpan spki_der) {
  VHSM_RETURN_IF_ERROR(CheckEncodedSize(spki_der.size(), "public key DER"));
  const unsigned char* p = spki_der.data();
  EvpPkeyPtr pkey(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki_der.size())));
  if (!pkey) {
    return OpenSslError("public key DER: not a SubjectPublicKeyInfo", StatusCode::kInvalidArgument);
  }
  if (p != spki_der.data() + spki_der.size()) {
    return InvalidArgumentError("public key DER: trailing bytes after SubjectPublicKeyInfo");
  }
  VHSM_RETURN_IF_ERROR(CheckPublic(pkey.get(), "public key DER"));
  return FromEvp(std::move(pkey));
}

Result<PublicKey> PublicKey::FromEcUncompressed(EcCurve curve, ByteSpan point) {
  const size_t n = EcCoordinateSize(curve);
  if (point.size() != 1 + 2 * n || point[0] != 0x04) {
    return InvalidArgumentError("EC point: got " + std::to_string(point.size()) +
                                " bytes, want " + std::to_string(1 + 2 * n) +
                                " starting with 0x04 (uncompressed)");
  }
  EvpPkeyPtr pkey;
  if (EVP_PKEY* params = CurveParams(curve); params != nullptr) {
    // A copy of the curve's cached domain parameters with the point set: 46 -> 12 µs for P-256
    // against EVP_PKEY_fromdata, which rebuilds the group from its name (the TEE key of every
    // attestation request and the "epk" of every JWE come this way). Setting the point decodes
    // it and refuses one that is not on the curve.
    pkey.reset(EVP_PKEY_dup(params));
    if (!pkey) return OpenSslError("EC public key: EVP_PKEY_dup");
    if (EVP_PKEY_set1_encoded_public_key(pkey.get(), point.data(), point.size()) != 1) {
      return OpenSslError("EC key import", StatusCode::kInvalidArgument);
    }
  } else {
    OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld ||
        OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, Info(curve).group, 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
      return OpenSslError("EC public key params");
    }
    VHSM_ASSIGN_OR_RETURN(pkey, FromData("EC", bld.get(), EVP_PKEY_PUBLIC_KEY));
  }
  VHSM_RETURN_IF_ERROR(CheckPublic(pkey.get(), "EC point"));
  return PublicKey(std::move(pkey), KeyType::kEc, curve);
}

Result<PublicKey> PublicKey::FromEcCoordinates(EcCurve curve, ByteSpan x, ByteSpan y) {
  const size_t n = EcCoordinateSize(curve);
  if (x.size() != n || y.size() != n) {
    return InvalidArgumentError("EC " + std::string(EcCurveName(curve)) + " coordinates: got x " +
                                std::to_string(x.size()) + " and y " + std::to_string(y.size()) +
                                " bytes, want " + std::to_string(n) + " each");
  }
  Bytes point;
  point.reserve(1 + 2 * n);
  point.push_back(0x04);
  point.insert(point.end(), x.begin(), x.end());
  point.insert(point.end(), y.begin(), y.end());
  return FromEcUncompressed(curve, point);
}

Result<PublicKey> PublicKey::FromRsa(ByteSpan n, ByteSpan e) {
  if (n.size() > static_cast<size_t>(kRsaMaxImportBits / 8 + 1) || e.size() > 8) {
    return InvalidArgumentError("RSA public key: modulus or exponent too long");
  }
  VHSM_ASSIGN_OR_RETURN(BnPtr bn_n, BytesToBn(n, "RSA n"));
  VHSM_ASSIGN_OR_RETURN(BnPtr bn_e, BytesToBn(e, "RSA e"));
  if (!BN_is_odd(bn_e.get()) || BN_is_one(bn_e.get())) {
    return InvalidArgumentError("RSA e: must be odd and greater than 1");
  }
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return OpenSslError("RSA public key params");
  }
  VHSM_ASSIGN_OR_RETURN(EvpPkeyPtr pkey, FromData("RSA", bld.get(), EVP_PKEY_PUBLIC_KEY));
  return FromEvp(std::move(pkey));
}

Result<PublicKey> PublicKey::FromEd25519(ByteSpan raw32) {
  if (raw32.size() != 32) {
    return InvalidArgumentError("Ed25519 public key: got " + std::to_string(raw32.size()) +
                                " bytes, want 32");
  }
  EvpPkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw32.data(), raw32.size()));
  if (!pkey) return OpenSslError("Ed25519 public key", StatusCode::kInvalidArgument);
  return PublicKey(std::move(pkey), KeyType::kEd25519, std::nullopt);
}

PublicKey PublicKey::Clone() const { return PublicKey(UpRef(pkey_.get()), type_, curve_); }

int PublicKey::bits() const { return EVP_PKEY_get_bits(pkey_.get()); }

std::string PublicKey::Describe() const { return DescribeKey(type_, curve_, bits()); }

bool PublicKey::Equals(const PublicKey& other) const {
  const bool eq = EVP_PKEY_eq(pkey_.get(), other.pkey_.get()) == 1;
  ClearOpenSslErrors();
  return eq;
}

Result<std::string> PublicKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) != 1) return OpenSslError("PEM_write_bio_PUBKEY");
  VHSM_ASSIGN_OR_RETURN(Bytes b, BioContents(bio.get()));
  return std::string(b.begin(), b.end());
}

Result<Bytes> PublicKey::ToDer() const {
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(pkey_.get(), &der);
  if (len <= 0) return OpenSslError("i2d_PUBKEY");
  Bytes out(der, der + len);
  OPENSSL_free(der);
  return out;
}

Result<EcPoint> PublicKey::EcCoordinates() const {
  if (type_ != KeyType::kEc) return FailedPreconditionError("EC coordinates: key is " + Describe());
  return EcCoordinatesOf(pkey_.get(), CoordSize(curve_));
}

Result<Bytes> PublicKey::EcUncompressed() const {
  if (type_ != KeyType::kEc) return FailedPreconditionError("EC point: key is " + Describe());
  return EcUncompressedPoint(pkey_.get(), CoordSize(curve_));
}

Result<RsaPublicComponents> PublicKey::RsaComponents() const {
  if (type_ != KeyType::kRsa) return FailedPreconditionError("RSA components: key is " + Describe());
  VHSM_ASSIGN_OR_RETURN(BnPtr n, GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_N));
  VHSM_ASSIGN_OR_RETURN(BnPtr e, GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_E));
  return RsaPublicComponents{BnToBytes(n.get()), BnToBytes(e.get())};
}

Result<Bytes> PublicKey::Ed25519Raw() const {
  if (type_ != KeyType::kEd25519) return FailedPreconditionError("Ed25519 bytes: key is " + Describe());
  Bytes out(32);
  size_t len = out.size();
  if (EVP_PKEY_get_raw_public_key(pkey_.get(), out.data(), &len) != 1 || len != 32) {
    return OpenSslError("EVP_PKEY_get_raw_public_key");
  }
  return out;
}

Status PublicKey::Verify(SignatureScheme scheme, ByteSpan message, ByteSpan signature,
                         EcdsaFormat format) const {
  const SchemeInfo info = Scheme(scheme);
  VHSM_RETURN_IF_ERROR(CheckSchemeFits(info, type_));
  Bytes der;
  if (type_ == KeyType::kEc && format == EcdsaFormat::kRawRs) {
    auto converted = EcdsaRawToDer(signature, CoordSize(curve_));
    if (!converted.ok()) return UnauthenticatedError(converted.status().message());
    der = std::move(converted).value();
    signature = der;
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestVerifyInit_ex(ctx.get(), &pctx, info.md, nullptr, nullptr, pkey_.get(), nullptr) != 1) {
    return OpenSslError("signature verify init");
  }
  VHSM_RETURN_IF_ERROR(ConfigurePss(pctx, info));
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message.data(), message.size()) != 1) {
    ClearOpenSslErrors();
    return UnauthenticatedError(Describe() + " signature does not verify");
  }
  return OkStatus();
}

Status PublicKey::VerifyDigest(SignatureScheme scheme, ByteSpan digest, ByteSpan signature,
                               EcdsaFormat format) const {
  const SchemeInfo info = Scheme(scheme);
  VHSM_RETURN_IF_ERROR(CheckSchemeFits(info, type_));
  if (type_ == KeyType::kEd25519) return InvalidArgumentError("Ed25519 cannot verify a prehashed digest");
  Bytes der;
  if (type_ == KeyType::kEc && format == EcdsaFormat::kRawRs) {
    auto converted = EcdsaRawToDer(signature, CoordSize(curve_));
    if (!converted.ok()) return UnauthenticatedError(converted.status().message());
    der = std::move(converted).value();
    signature = der;
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  if (!ctx || EVP_PKEY_verify_init(ctx.get()) != 1) return OpenSslError("verify init");
  if (type_ == KeyType::kRsa) {
    VHSM_ASSIGN_OR_RETURN(const EVP_MD* md, MdByName(info.md));
    VHSM_RETURN_IF_ERROR(ConfigurePss(ctx.get(), info));
    if (EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1) return OpenSslError("signature md");
  }
  if (EVP_PKEY_verify(ctx.get(), signature.data(), signature.size(), digest.data(), digest.size()) != 1) {
    ClearOpenSslErrors();
    return UnauthenticatedError(Describe() + " signature does not verify");
  }
  return OkStatus();
}

Result<Bytes> PublicKey::RsaOaepEncrypt(HashAlg hash, ByteSpan plaintext, ByteSpan label) const {
  if (type_ != KeyType::kRsa) return InvalidArgumentError("RSA-OAEP: key is " + Describe());
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1) return OpenSslError("RSA-OAEP encrypt init");
  VHSM_RETURN_IF_ERROR(ConfigureOaep(ctx.get(), hash, label));
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, plaintext.data(), plaintext.size()) != 1) {
    return OpenSslError("RSA-OAEP encrypt", StatusCode::kInvalidArgument);
  }
  Bytes out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, plaintext.data(), plaintext.size()) != 1) {
    return OpenSslError("RSA-OAEP encrypt: plaintext too long for key?", StatusCode::kInvalidArgument);
  }
  out.resize(len);
  return out;
}

// ---------------------------------------------------------------------------------------------
// PrivateKey

Result<PrivateKey> PrivateKey::FromEvp(EvpPkeyPtr pkey) {
  VHSM_ASSIGN_OR_RETURN(Classified c, Classify(pkey.get(), /*is_private=*/true));
  return PrivateKey(std::move(pkey), c.type, c.curve);
}

// Domain parameters of each curve, made once: generating from them skips the name lookups and
// parameter parsing EVP_PKEY_Q_keygen repeats on every call (P-256 here: 61 -> 31 µs per key, which
// matters for the ephemeral key of every JWE and every vhsmd attestation). Read-only once built;
// EVP_PKEY_CTX_new_from_pkey only takes a reference, so threads share them.
EVP_PKEY* CurveParams(EcCurve curve) {
  static EVP_PKEY* params[std::size(kCurves)] = {};
  static std::once_flag once;
  std::call_once(once, [] {
    for (size_t i = 0; i < std::size(kCurves); ++i) {
      EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
      EVP_PKEY* p = nullptr;
      if (ctx && EVP_PKEY_paramgen_init(ctx.get()) == 1 &&
          EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx.get(), kCurves[i].nid) == 1 &&
          EVP_PKEY_paramgen(ctx.get(), &p) == 1) {
        params[i] = p;  // kept for the life of the process
      }
      ERR_clear_error();
    }
  });
  for (size_t i = 0; i < std::size(kCurves); ++i) {
    if (kCurves[i].curve == curve) return params[i];
  }
  return nullptr;
}

Result<PrivateKey> PrivateKey::GenerateEc(EcCurve curve) {
  EvpPkeyPtr pkey;
  if (EVP_PKEY* params = CurveParams(curve); params != nullptr) {
    EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, params, nullptr));
    EVP_PKEY* out = nullptr;
    if (ctx && EVP_PKEY_keygen_init(ctx.get()) == 1 && EVP_PKEY_generate(ctx.get(), &out) == 1) pkey.reset(out);
  } else {
    pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", Info(curve).group));
  }
  if (!pkey) return OpenSslError("EC key generation");
  return PrivateKey(std::move(pkey), KeyType::kEc, curve);
}

Result<PrivateKey> PrivateKey::GenerateRsa(int bits) {
  if (bits < kRsaMinBits || bits > kRsaMaxBits || bits % 8 != 0) {
    return InvalidArgumentError("RSA key size: got " + std::to_string(bits) + ", want " +
                                std::to_string(kRsaMinBits) + ".." + std::to_string(kRsaMaxBits) +
                                " in multiples of 8");
  }
  EvpPkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  if (!pkey) return OpenSslError("RSA key generation");
  return PrivateKey(std::move(pkey), KeyType::kRsa, std::nullopt);
}

Result<PrivateKey> PrivateKey::GenerateEd25519() {
  EvpPkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!pkey) return OpenSslError("Ed25519 key generation");
  return PrivateKey(std::move(pkey), KeyType::kEd25519, std::nullopt);
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  VHSM_RETURN_IF_ERROR(CheckEncodedSize(pem.size(), "private key PEM"));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslError("BIO_new_mem_buf");
  // A null password callback with an empty passphrase: encrypted PEM fails instead of prompting.
  char empty[] = "";
  EvpPkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, empty));
  if (!pkey) {
    return OpenSslError("private key PEM: want unencrypted \"BEGIN PRIVATE KEY\" (PKCS#8)",
                        StatusCode::kInvalidArgument);
  }
  return FromEvp(std::move(pkey));
}

Result<PrivateKey> PrivateKey::FromDer(ByteSpan pkcs8_der) {
  VHSM_RETURN_IF_ERROR(CheckEncodedSize(pkcs8_der.size(), "private key DER"));
  const unsigned char* p = pkcs8_der.data();
  EvpPkeyPtr pkey(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(pkcs8_der.size())));
  if (!pkey) return OpenSslError("private key DER: not PKCS#8", StatusCode::kInvalidArgument);
  if (p != pkcs8_der.data() + pkcs8_der.size()) {
    return InvalidArgumentError("private key DER: trailing bytes");
  }
  return FromEvp(std::move(pkey));
}

Result<PrivateKey> PrivateKey::FromEcScalar(EcCurve curve, ByteSpan d, ByteSpan x, ByteSpan y) {
  const CurveInfo& info = Info(curve);
  if (d.size() != info.size) {
    return InvalidArgumentError("EC " + std::string(EcCurveName(curve)) + " private scalar: got " +
                                std::to_string(d.size()) + " bytes, want " + std::to_string(info.size));
  }
  EcGroupPtr group(EC_GROUP_new_by_curve_name(info.nid));
  BnCtxPtr bn_ctx(BN_CTX_new());
  VHSM_ASSIGN_OR_RETURN(BnPtr bn_d, BytesToBn(d, "EC d"));
  if (!group || !bn_ctx) return OpenSslError("EC group");
  if (BN_is_zero(bn_d.get()) || BN_cmp(bn_d.get(), EC_GROUP_get0_order(group.get())) >= 0) {
    return InvalidArgumentError("EC private scalar: not in [1, n-1]");
  }
  EcPointPtr pub(EC_POINT_new(group.get()));
  if (!pub || EC_POINT_mul(group.get(), pub.get(), bn_d.get(), nullptr, nullptr, bn_ctx.get()) != 1) {
    return OpenSslError("EC public point");
  }
  Bytes point(1 + 2 * info.size);
  if (EC_POINT_point2oct(group.get(), pub.get(), POINT_CONVERSION_UNCOMPRESSED, point.data(),
                         point.size(), bn_ctx.get()) != point.size()) {
    return OpenSslError("EC_POINT_point2oct");
  }
  if (!x.empty() || !y.empty()) {
    Bytes want{0x04};
    want.insert(want.end(), x.begin(), x.end());
    want.insert(want.end(), y.begin(), y.end());
    if (want != point) return InvalidArgumentError("EC private key: x/y do not match d");
  }
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, info.group, 0) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, bn_d.get()) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return OpenSslError("EC private key params");
  }
  VHSM_ASSIGN_OR_RETURN(EvpPkeyPtr pkey, FromData("EC", bld.get(), EVP_PKEY_KEYPAIR));
  return PrivateKey(std::move(pkey), KeyType::kEc, curve);
}

Result<PrivateKey> PrivateKey::FromRsaComponents(const RsaPrivateComponents& c) {
  struct Part {
    const char* name;
    ByteSpan bytes;
  };
  const Part parts[] = {
      {OSSL_PKEY_PARAM_RSA_N, c.n},
      {OSSL_PKEY_PARAM_RSA_E, c.e},
      {OSSL_PKEY_PARAM_RSA_D, c.d.Expose()},
      {OSSL_PKEY_PARAM_RSA_FACTOR1, c.p.Expose()},
      {OSSL_PKEY_PARAM_RSA_FACTOR2, c.q.Expose()},
      {OSSL_PKEY_PARAM_RSA_EXPONENT1, c.dp.Expose()},
      {OSSL_PKEY_PARAM_RSA_EXPONENT2, c.dq.Expose()},
      {OSSL_PKEY_PARAM_RSA_COEFFICIENT1, c.qi.Expose()},
  };
  OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld) return OpenSslError("OSSL_PARAM_BLD_new");
  std::vector<BnPtr> keep;  // the builder references BNs until to_param
  for (const Part& part : parts) {
    if (part.bytes.size() > static_cast<size_t>(kRsaMaxBits / 8 + 1)) {
      return InvalidArgumentError(std::string("RSA ") + part.name + ": too long");
    }
    VHSM_ASSIGN_OR_RETURN(BnPtr bn, BytesToBn(part.bytes, std::string("RSA ") + part.name));
    if (OSSL_PARAM_BLD_push_BN(bld.get(), part.name, bn.get()) != 1) return OpenSslError("RSA params");
    keep.push_back(std::move(bn));
  }
  VHSM_ASSIGN_OR_RETURN(EvpPkeyPtr pkey, FromData("RSA", bld.get(), EVP_PKEY_KEYPAIR));
  VHSM_RETURN_IF_ERROR(CheckPair(pkey.get(), "RSA private key"));
  return FromEvp(std::move(pkey));
}

Result<PrivateKey> PrivateKey::FromEd25519Seed(ByteSpan seed32) {
  if (seed32.size() != 32) {
    return InvalidArgumentError("Ed25519 private key: got " + std::to_string(seed32.size()) +
                                " bytes, want 32");
  }
  EvpPkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed32.data(), seed32.size()));
  if (!pkey) return OpenSslError("Ed25519 private key", StatusCode::kInvalidArgument);
  return PrivateKey(std::move(pkey), KeyType::kEd25519, std::nullopt);
}

PrivateKey PrivateKey::Clone() const { return PrivateKey(UpRef(pkey_.get()), type_, curve_); }

int PrivateKey::bits() const { return EVP_PKEY_get_bits(pkey_.get()); }

std::string PrivateKey::Describe() const { return DescribeKey(type_, curve_, bits()); }

Result<EcPoint> PrivateKey::EcPublicCoordinates() const {
  if (type_ != KeyType::kEc) return FailedPreconditionError("EC coordinates: key is " + Describe());
  return EcCoordinatesOf(pkey_.get(), CoordSize(curve_));
}

PublicKey PrivateKey::Public() const {
  // Built from the raw public components rather than a DER round trip: OpenSSL 3's decoder
  // machinery costs more than the ECDH it would accompany in a JWE encryption.
  switch (type_) {
    case KeyType::kEc: {
      Result<Bytes> encoded = EcUncompressedPoint(pkey_.get(), CoordSize(curve_));
      VHSM_CHECK(encoded.ok(), "a valid EC private key has a public point");
      const Bytes& point = *encoded;
      OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
      VHSM_CHECK(bld && OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, Info(*curve_).group, 0) == 1 &&
                     OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) == 1,
                 "EC public key params");
      auto pub = FromData("EC", bld.get(), EVP_PKEY_PUBLIC_KEY);
      VHSM_CHECK(pub.ok(), "EC public key from a valid private key");
      return PublicKey(std::move(pub).value(), type_, curve_);
    }
    case KeyType::kEd25519: {
      uint8_t raw[32];
      size_t len = sizeof(raw);
      VHSM_CHECK(EVP_PKEY_get_raw_public_key(pkey_.get(), raw, &len) == 1 && len == 32, "Ed25519 public key");
      EvpPkeyPtr pub(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw, len));
      VHSM_CHECK(pub != nullptr, "Ed25519 public key");
      return PublicKey(std::move(pub), type_, curve_);
    }
    case KeyType::kRsa: {
      auto n = GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_N);
      auto e = GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_E);
      VHSM_CHECK(n.ok() && e.ok(), "a valid RSA private key has n and e");
      OsslParamBldPtr bld(OSSL_PARAM_BLD_new());
      VHSM_CHECK(bld && OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n->get()) == 1 &&
                     OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e->get()) == 1,
                 "RSA public key params");
      auto pub = FromData("RSA", bld.get(), EVP_PKEY_PUBLIC_KEY);
      VHSM_CHECK(pub.ok(), "RSA public key from a valid private key");
      return PublicKey(std::move(pub).value(), type_, curve_);
    }
  }
  VHSM_CHECK(false, "unknown key type");
  return PublicKey(nullptr, type_, curve_);
}

Result<SecretBytes> PrivateKey::ToPkcs8Der() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || i2d_PKCS8PrivateKey_bio(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("i2d_PKCS8PrivateKey_bio");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  SecretBytes out(ByteSpan(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len)));
  OPENSSL_cleanse(data, static_cast<size_t>(len));
  return out;
}

Result<SecretBytes> PrivateKey::ToPem() const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("PEM_write_bio_PKCS8PrivateKey");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  SecretBytes out(ByteSpan(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len)));
  OPENSSL_cleanse(data, static_cast<size_t>(len));
  return out;
}

Result<SecretBytes> PrivateKey::EcScalar() const {
  if (type_ != KeyType::kEc) return FailedPreconditionError("EC scalar: key is " + Describe());
  VHSM_ASSIGN_OR_RETURN(BnPtr d, GetBn(pkey_.get(), OSSL_PKEY_PARAM_PRIV_KEY));
  return BnToSecret(d.get(), CoordSize(curve_));
}

Result<RsaPrivateComponents> PrivateKey::RsaComponents() const {
  if (type_ != KeyType::kRsa) return FailedPreconditionError("RSA components: key is " + Describe());
  RsaPrivateComponents c;
  VHSM_ASSIGN_OR_RETURN(BnPtr n, GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_N));
  VHSM_ASSIGN_OR_RETURN(BnPtr e, GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_E));
  VHSM_ASSIGN_OR_RETURN(BnPtr d, GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_D));
  VHSM_ASSIGN_OR_RETURN(BnPtr p, GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_FACTOR1));
  VHSM_ASSIGN_OR_RETURN(BnPtr q, GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_FACTOR2));
  VHSM_ASSIGN_OR_RETURN(BnPtr dp, GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1));
  VHSM_ASSIGN_OR_RETURN(BnPtr dq, GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2));
  VHSM_ASSIGN_OR_RETURN(BnPtr qi, GetBn(pkey_.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1));
  c.n = BnToBytes(n.get());
  c.e = BnToBytes(e.get());
  c.d = BnToSecret(d.get());
  c.p = BnToSecret(p.get());
  c.q = BnToSecret(q.get());
  c.dp = BnToSecret(dp.get());
  c.dq = BnToSecret(dq.get());
  c.qi = BnToSecret(qi.get());
  return c;
}

Result<SecretBytes> PrivateKey::Ed25519Seed() const {
  if (type_ != KeyType::kEd25519) return FailedPreconditionError("Ed25519 seed: key is " + Describe());
  SecretBytes out(32);
  size_t len = out.size();
  if (EVP_PKEY_get_raw_private_key(pkey_.get(), out.MutableExpose().data(), &len) != 1 || len != 32) {
    return OpenSslError("EVP_PKEY_get_raw_private_key");
  }
  return out;
}

Result<Bytes> PrivateKey::Sign(SignatureScheme scheme, ByteSpan message, EcdsaFormat format) const {
  const SchemeInfo info = Scheme(scheme);
  VHSM_RETURN_IF_ERROR(CheckSchemeFits(info, type_));
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), &pctx, info.md, nullptr, nullptr, pkey_.get(), nullptr) != 1) {
    return OpenSslError("sign init");
  }
  VHSM_RETURN_IF_ERROR(ConfigurePss(pctx, info));
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, message.data(), message.size()) != 1) {
    return OpenSslError("sign size");
  }
  Bytes sig(len);
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(), message.size()) != 1) {
    return OpenSslError("sign");
  }
  sig.resize(len);
  if (type_ == KeyType::kEc && format == EcdsaFormat::kRawRs) return EcdsaDerToRaw(sig, CoordSize(curve_));
  return sig;
}

Result<Bytes> PrivateKey::SignDigest(SignatureScheme scheme, ByteSpan digest, EcdsaFormat format) const {
  const SchemeInfo info = Scheme(scheme);
  VHSM_RETURN_IF_ERROR(CheckSchemeFits(info, type_));
  if (type_ == KeyType::kEd25519) return InvalidArgumentError("Ed25519 cannot sign a prehashed digest");
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1) return OpenSslError("sign init");
  if (type_ == KeyType::kRsa) {
    VHSM_ASSIGN_OR_RETURN(const EVP_MD* md, MdByName(info.md));
    VHSM_RETURN_IF_ERROR(ConfigurePss(ctx.get(), info));
    if (EVP_PKEY_CTX_set_signature_md(ctx.get(), md) != 1) return OpenSslError("signature md");
    if (digest.size() != static_cast<size_t>(EVP_MD_get_size(md))) {
      return InvalidArgumentError("digest: got " + std::to_string(digest.size()) + " bytes, want " +
                                  std::to_string(EVP_MD_get_size(md)));
    }
  }
  size_t len = 0;
  if (EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()) != 1) {
    return OpenSslError("sign size", StatusCode::kInvalidArgument);
  }
  Bytes sig(len);
  if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest.size()) != 1) {
    return OpenSslError("sign", StatusCode::kInvalidArgument);
  }
  sig.resize(len);
  if (type_ == KeyType::kEc && format == EcdsaFormat::kRawRs) return EcdsaDerToRaw(sig, CoordSize(curve_));
  return sig;
}

Result<SecretBytes> PrivateKey::Ecdh(const PublicKey& peer) const {
  if (type_ != KeyType::kEc || peer.type() != KeyType::kEc || peer.curve() != curve_) {
    return InvalidArgumentError("ECDH: want two EC keys on the same curve, got " + Describe() +
                                " and " + peer.Describe());
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1) return OpenSslError("ECDH init");
  // Every PublicKey was checked on the curve when it was constructed (FromEvp, FromDer, FromPem,
  // FromEc*; Public() of a valid private key), so OpenSSL need not validate it again here.
  if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer.evp(), /*validate_peer=*/0) != 1) {
    return OpenSslError("ECDH peer key", StatusCode::kInvalidArgument);
  }
  size_t len = 0;
  if (EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1) return OpenSslError("ECDH size");
  SecretBytes out(len);
  if (EVP_PKEY_derive(ctx.get(), out.MutableExpose().data(), &len) != 1) return OpenSslError("ECDH");
  if (len != EcCoordinateSize(*curve_)) return InternalError("ECDH: unexpected shared secret length");
  return out;
}

Result<SecretBytes> PrivateKey::RsaOaepDecrypt(HashAlg hash, ByteSpan ciphertext, ByteSpan label) const {
  if (type_ != KeyType::kRsa) return InvalidArgumentError("RSA-OAEP: key is " + Describe());
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey_.get(), nullptr));
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1) return OpenSslError("RSA-OAEP decrypt init");
  VHSM_RETURN_IF_ERROR(ConfigureOaep(ctx.get(), hash, label));
  const size_t mod_len = static_cast<size_t>(EVP_PKEY_get_size(pkey_.get()));
  if (ciphertext.size() != mod_len) {
    return UnauthenticatedError("RSA-OAEP: decryption failed");
  }
  SecretBytes out(mod_len);
  size_t len = out.size();
  if (EVP_PKEY_decrypt(ctx.get(), out.MutableExpose().data(), &len, ciphertext.data(), ciphertext.size()) != 1) {
    ClearOpenSslErrors();
    return UnauthenticatedError("RSA-OAEP: decryption failed");
  }
  SecretBytes result(out.Expose().first(len));
  return result;
}

}  // namespace vhsm::crypto
