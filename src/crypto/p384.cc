// p384.cc: ECDSA P-384/SHA-384 on Nettle (when built with it) and on OpenSSL.
#include "crypto/p384.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>

#include "crypto/digest.h"
#include "crypto/error.h"
#include "crypto/keys.h"
#include "crypto/ossl_ptr.h"
#include "crypto/signature.h"

#if VHSM_HAVE_NETTLE
#include <gmp.h>
#include <nettle/bignum.h>
#include <nettle/dsa.h>
#include <nettle/ecc-curve.h>
#include <nettle/ecc.h>
#include <nettle/ecdsa.h>
#endif

namespace vhsm::crypto {
namespace {

using Sha384Digest = std::array<uint8_t, 48>;

Sha384Digest HashSha384(ByteSpan message) {
  Sha384Digest d{};
  unsigned int len = 0;
  // EVP_Digest cannot fail for SHA-384 on valid memory short of allocation failure; a zero
  // digest then makes the verification fail and the signature wrong, never a false accept.
  if (EVP_Digest(message.data(), message.size(), d.data(), &len, EvpMd(HashAlg::kSha384), nullptr) != 1) {
    ClearOpenSslErrors();
    d.fill(0);
  }
  return d;
}

ByteSpan StripLeadingZeros(ByteSpan b) {
  size_t z = 0;
  while (z < b.size() && b[z] == 0) ++z;
  return b.subspan(z);
}

// The contract shared by both verifiers for r and s as given: zero or longer than 66 bytes is
// malformed (InvalidArgument), as EcdsaSigToDer has it.
Status CheckComponent(ByteSpan v, const char* name) {
  ByteSpan m = StripLeadingZeros(v);
  if (m.empty()) return InvalidArgumentError(std::string("ECDSA signature: ") + name + " is zero");
  if (m.size() > 66) return InvalidArgumentError(std::string("ECDSA signature: ") + name + " longer than 66 bytes");
  return OkStatus();
}

Status NotP384(const char* what) {
  return InvalidArgumentError(std::string(what) + ": key is not an EC P-384 key");
}

// A BIGNUM parameter of `key` as 48 big-endian bytes into `out`. False if absent or too long.
bool GetBnParam48(const EVP_PKEY* key, const char* name, uint8_t* out) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
    ClearOpenSslErrors();
    return false;
  }
  const bool ok = BN_bn2binpad(bn, out, static_cast<int>(kP384ScalarSize)) == static_cast<int>(kP384ScalarSize);
  BN_clear_free(bn);
  return ok;
}

#if VHSM_HAVE_NETTLE

constexpr size_t kLimbs = kP384ScalarSize / sizeof(mp_limb_t);
static_assert(kP384ScalarSize % sizeof(mp_limb_t) == 0);

// 48 big-endian bytes as GMP limbs, least significant limb first.
void BeToLimbs(const uint8_t* be, mp_limb_t* out) {
  for (size_t i = 0; i < kLimbs; ++i) {
    const uint8_t* p = be + kP384ScalarSize - (i + 1) * sizeof(mp_limb_t);
    mp_limb_t v = 0;
    for (size_t j = 0; j < sizeof(mp_limb_t); ++j) v = (v << 8) | p[j];
    out[i] = v;
  }
}

// Nettle's random callback cannot fail; a failure of OpenSSL's DRBG is recorded and the
// signature made with the filler bytes is thrown away by the caller.
struct RandomState {
  bool failed = false;
};

void RandomBytes(void* ctx, size_t length, uint8_t* dst) {
  if (RAND_priv_bytes(dst, static_cast<int>(length)) != 1) {
    static_cast<RandomState*>(ctx)->failed = true;
    std::memset(dst, 0x5a, length);  // in range, so Nettle's rejection sampling ends
    ClearOpenSslErrors();
  }
}

// The public point of `key` as a Nettle point (which checks that it is on the curve).
class NettlePublic {
 public:
  NettlePublic() { ecc_point_init(&point_, nettle_get_secp_384r1()); }
  ~NettlePublic() { ecc_point_clear(&point_); }
  NettlePublic(const NettlePublic&) = delete;
  NettlePublic& operator=(const NettlePublic&) = delete;

  bool Set(const EVP_PKEY* key) {
    uint8_t x[kP384ScalarSize], y[kP384ScalarSize];
    if (!GetBnParam48(key, OSSL_PKEY_PARAM_EC_PUB_X, x) || !GetBnParam48(key, OSSL_PKEY_PARAM_EC_PUB_Y, y)) {
      return false;
    }
    mp_limb_t xl[kLimbs], yl[kLimbs];
    BeToLimbs(x, xl);
    BeToLimbs(y, yl);
    mpz_t xz, yz;
    return ecc_point_set(&point_, mpz_roinit_n(xz, xl, kLimbs), mpz_roinit_n(yz, yl, kLimbs)) == 1;
  }
  const ecc_point* get() const { return &point_; }

 private:
  ecc_point point_;
};

#endif  // VHSM_HAVE_NETTLE

}  // namespace

bool P384UsesNettle() { return VHSM_HAVE_NETTLE != 0; }

Status VerifyEcdsaP384Sha384OpenSsl(const EVP_PKEY* key, ByteSpan message, ByteSpan r_be, ByteSpan s_be) {
  if (!IsEcP384Key(key)) return NotP384("ECDSA P-384");
  VHSM_ASSIGN_OR_RETURN(Bytes der, EcdsaSigToDer(r_be, s_be));
  return VerifySignature(key, HashAlg::kSha384, message, der, "ECDSA P-384/SHA-384");
}

Status VerifyEcdsaP384Sha384Nettle(const EVP_PKEY* key, ByteSpan message, ByteSpan r_be, ByteSpan s_be) {
#if VHSM_HAVE_NETTLE
  if (!IsEcP384Key(key)) return NotP384("ECDSA P-384");
  VHSM_RETURN_IF_ERROR(CheckComponent(r_be, "r"));
  VHSM_RETURN_IF_ERROR(CheckComponent(s_be, "s"));
  const Status bad = UnauthenticatedError("ECDSA P-384/SHA-384: signature does not verify");
  ByteSpan r = StripLeadingZeros(r_be), s = StripLeadingZeros(s_be);
  // A component of more than 48 significant bytes is >= 2^384 > n: out of range, as OpenSSL has it.
  if (r.size() > kP384ScalarSize || s.size() > kP384ScalarSize) return bad;
  uint8_t rb[kP384ScalarSize] = {}, sb[kP384ScalarSize] = {};
  std::memcpy(rb + kP384ScalarSize - r.size(), r.data(), r.size());
  std::memcpy(sb + kP384ScalarSize - s.size(), s.data(), s.size());
  mp_limb_t rl[kLimbs], sl[kLimbs];
  BeToLimbs(rb, rl);
  BeToLimbs(sb, sl);
  NettlePublic pub;
  // A key OpenSSL accepted as P-384 whose point Nettle finds off the curve cannot verify anything.
  if (!pub.Set(key)) return InvalidArgumentError("ECDSA P-384: public point is not on the curve");
  dsa_signature sig;
  mpz_roinit_n(sig.r, rl, kLimbs);  // read-only views of the stack limbs: nothing to free
  mpz_roinit_n(sig.s, sl, kLimbs);
  const Sha384Digest digest = HashSha384(message);
  // ecdsa_verify checks 0 < r, s < n itself.
  if (ecdsa_verify(pub.get(), digest.size(), digest.data(), &sig) != 1) return bad;
  return OkStatus();
#else
  (void)key, (void)message, (void)r_be, (void)s_be;
  return UnimplementedError("ECDSA P-384: this build has no Nettle");
#endif
}

Status VerifyEcdsaP384Sha384(const EVP_PKEY* key, ByteSpan message, ByteSpan r_be, ByteSpan s_be) {
#if VHSM_HAVE_NETTLE
  return VerifyEcdsaP384Sha384Nettle(key, message, r_be, s_be);
#else
  return VerifyEcdsaP384Sha384OpenSsl(key, message, r_be, s_be);
#endif
}

Result<EcdsaP384Signature> SignEcdsaP384Sha384OpenSsl(const EVP_PKEY* key, ByteSpan message) {
  if (!IsEcP384Key(key)) return NotP384("ECDSA P-384 sign");
  // PrivateKey::Sign with raw r||s output; the PrivateKey holds its own reference to `key`.
  if (EVP_PKEY_up_ref(const_cast<EVP_PKEY*>(key)) != 1) return OpenSslError("ECDSA P-384 sign: EVP_PKEY_up_ref");
  VHSM_ASSIGN_OR_RETURN(PrivateKey pk, PrivateKey::FromEvp(EvpPkeyPtr(const_cast<EVP_PKEY*>(key))));
  VHSM_ASSIGN_OR_RETURN(Bytes raw, pk.Sign(SignatureScheme::kEcdsaSha384, message, EcdsaFormat::kRawRs));
  if (raw.size() != 2 * kP384ScalarSize) return InternalError("ECDSA P-384 sign: raw signature of unexpected size");
  EcdsaP384Signature out;
  std::copy(raw.begin(), raw.begin() + kP384ScalarSize, out.r.begin());
  std::copy(raw.begin() + kP384ScalarSize, raw.end(), out.s.begin());
  return out;
}

Result<EcdsaP384Signature> SignEcdsaP384Sha384Nettle(const EVP_PKEY* key, ByteSpan message) {
#if VHSM_HAVE_NETTLE
  if (!IsEcP384Key(key)) return NotP384("ECDSA P-384 sign");
  const ecc_curve* curve = nettle_get_secp_384r1();
  uint8_t d[kP384ScalarSize];
  mp_limb_t dl[kLimbs];
  if (!GetBnParam48(key, OSSL_PKEY_PARAM_PRIV_KEY, d)) {
    OPENSSL_cleanse(d, sizeof d);
    return InvalidArgumentError("ECDSA P-384 sign: key has no private scalar");
  }
  BeToLimbs(d, dl);
  OPENSSL_cleanse(d, sizeof d);
  ecc_scalar scalar;
  ecc_scalar_init(&scalar, curve);
  mpz_t dz;
  const bool in_range = ecc_scalar_set(&scalar, mpz_roinit_n(dz, dl, kLimbs)) == 1;
  OPENSSL_cleanse(dl, sizeof dl);
  auto wipe_scalar = [&] {
    OPENSSL_cleanse(scalar.p, static_cast<size_t>(ecc_size(curve)) * sizeof(mp_limb_t));
    ecc_scalar_clear(&scalar);
  };
  if (!in_range) {
    wipe_scalar();
    return InvalidArgumentError("ECDSA P-384 sign: private scalar out of range");
  }
  const Sha384Digest digest = HashSha384(message);
  dsa_signature sig;
  dsa_signature_init(&sig);
  RandomState rs;
  ecdsa_sign(&scalar, &rs, RandomBytes, digest.size(), digest.data(), &sig);
  wipe_scalar();
  EcdsaP384Signature out;
  nettle_mpz_get_str_256(out.r.size(), out.r.data(), sig.r);
  nettle_mpz_get_str_256(out.s.size(), out.s.data(), sig.s);
  dsa_signature_clear(&sig);
  if (rs.failed) return InternalError("ECDSA P-384 sign: the random generator failed");
  return out;
#else
  (void)key, (void)message;
  return UnimplementedError("ECDSA P-384 sign: this build has no Nettle");
#endif
}

Result<EcdsaP384Signature> SignEcdsaP384Sha384(const EVP_PKEY* key, ByteSpan message) {
#if VHSM_HAVE_NETTLE
  return SignEcdsaP384Sha384Nettle(key, message);
#else
  return SignEcdsaP384Sha384OpenSsl(key, message);
#endif
}

}  // namespace vhsm::crypto
