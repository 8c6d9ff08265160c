#include "snp/id_block.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <cstring>
#include <string>

#include "base/byte_reader.h"
#include "crypto/digest.h"
#include "crypto/error.h"

namespace vhsm::snp {
namespace {

constexpr size_t kComponentSize = 72;  // P-384 coordinates and R/S, little-endian, zero-extended
constexpr size_t kP384Bytes = 48;

Status CheckP384(EVP_PKEY* key, std::string_view what) {
  if (key == nullptr || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
    return InvalidArgumentError(std::string(what) + ": not an EC key, want ECDSA P-384");
  }
  char group[64] = {};
  size_t group_len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                     &group_len) != 1) {
    return crypto::OpenSslError(std::string(what) + ": reading the curve name",
                                StatusCode::kInvalidArgument);
  }
  if (std::string_view(group, group_len) != "secp384r1") {
    return InvalidArgumentError(std::string(what) + ": curve " + std::string(group, group_len) +
                                ", want secp384r1 (P-384)");
  }
  return OkStatus();
}

// Writes a BIGNUM as kComponentSize little-endian bytes at `out`.
Status PutLe(const BIGNUM* bn, uint8_t* out, std::string_view what) {
  if (BN_num_bytes(bn) > static_cast<int>(kP384Bytes) ||
      BN_bn2lebinpad(bn, out, static_cast<int>(kComponentSize)) != static_cast<int>(kComponentSize)) {
    return crypto::OpenSslError(std::string(what) + ": component does not fit 48 bytes");
  }
  return OkStatus();
}

// ECDSA P-384 / SHA-384 over `msg`, as the 0x200-byte AMD signature structure.
Result<Bytes> SignAmd(EVP_PKEY* key, ByteSpan msg, std::string_view what) {
  crypto::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA384", nullptr, nullptr, key, nullptr) != 1) {
    return crypto::OpenSslError(std::string(what) + ": sign init");
  }
  size_t der_len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &der_len, msg.data(), msg.size()) != 1) {
    return crypto::OpenSslError(std::string(what) + ": sign (size)");
  }
  Bytes der(der_len);
  if (EVP_DigestSign(ctx.get(), der.data(), &der_len, msg.data(), msg.size()) != 1) {
    return crypto::OpenSslError(std::string(what) + ": sign");
  }
  const uint8_t* p = der.data();
  crypto::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_len)));
  if (!sig) return crypto::OpenSslError(std::string(what) + ": parse own signature");
  Bytes out(kAmdSignatureSize, 0);
  VHSM_RETURN_IF_ERROR(PutLe(ECDSA_SIG_get0_r(sig.get()), out.data(), what));
  VHSM_RETURN_IF_ERROR(PutLe(ECDSA_SIG_get0_s(sig.get()), out.data() + kComponentSize, what));
  return out;
}

}  // namespace

Bytes SerializeIdBlock(const IdBlockParams& params) {
  ByteWriter w;
  w.WriteBytes(params.measurement);  // 0x00 LD
  w.WriteBytes(params.family_id);    // 0x30 FAMILY_ID
  w.WriteBytes(params.image_id);     // 0x40 IMAGE_ID
  w.WriteU32Le(kIdBlockVersion);     // 0x50 VERSION
  w.WriteU32Le(params.guest_svn);    // 0x54 GUEST_SVN
  w.WriteU64Le(params.policy);       // 0x58 POLICY
  return w.Take();
}

Result<crypto::EvpPkeyPtr> LoadP384PrivateKey(const SecretBytes& encoded, std::string_view what) {
  ByteSpan in = encoded.Expose();
  crypto::EvpPkeyPtr key;
  crypto::BioPtr bio(BIO_new_mem_buf(in.data(), static_cast<int>(in.size())));
  if (!bio) return crypto::OpenSslError(std::string(what) + ": BIO_new_mem_buf");
  key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    crypto::ClearOpenSslErrors();
    const uint8_t* p = in.data();
    key.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(in.size())));
  }
  if (!key) {
    crypto::ClearOpenSslErrors();
    return InvalidArgumentError(std::string(what) +
                                ": not a PEM or DER private key (want an unencrypted EC P-384 key)");
  }
  VHSM_RETURN_IF_ERROR(CheckP384(key.get(), what));
  return key;
}

Result<Bytes> AmdPublicKey(EVP_PKEY* key) {
  VHSM_RETURN_IF_ERROR(CheckP384(key, "public key"));
  BIGNUM* x_raw = nullptr;
  BIGNUM* y_raw = nullptr;
  const bool got_x = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x_raw) == 1;
  crypto::BnPtr x(x_raw);  // takes ownership of what get_bn_param allocated
  const bool got_y = EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y_raw) == 1;
  crypto::BnPtr y(y_raw);
  if (!got_x || !got_y) return crypto::OpenSslError("public key: reading Qx/Qy");
  Bytes out(kAmdPublicKeySize, 0);
  StoreU32Le(out.data(), kCurveP384);                                        // 0x00 CURVE
  VHSM_RETURN_IF_ERROR(PutLe(x.get(), out.data() + 0x04, "public key Qx"));  // 0x04 QX
  VHSM_RETURN_IF_ERROR(PutLe(y.get(), out.data() + 0x4C, "public key Qy"));  // 0x4C QY
  return out;
}

Result<Bytes> AmdKeyDigest(EVP_PKEY* key) {
  VHSM_ASSIGN_OR_RETURN(Bytes amd, AmdPublicKey(key));
  return crypto::Sha384(amd);
}

Result<IdBlockResult> BuildIdBlock(const IdBlockParams& params, EVP_PKEY* id_key,
                                   EVP_PKEY* author_key) {
  VHSM_RETURN_IF_ERROR(CheckP384(id_key, "id key"));
  if (author_key != nullptr) VHSM_RETURN_IF_ERROR(CheckP384(author_key, "author key"));

  IdBlockResult r;
  r.id_block = SerializeIdBlock(params);
  r.id_auth.assign(kIdAuthInfoSize, 0);
  uint8_t* auth = r.id_auth.data();

  StoreU32Le(auth + kIdAuthIdKeyAlgoOff, kAlgoEcdsaP384Sha384);
  VHSM_ASSIGN_OR_RETURN(Bytes id_block_sig, SignAmd(id_key, r.id_block, "id block signature"));
  std::memcpy(auth + kIdAuthIdBlockSigOff, id_block_sig.data(), kAmdSignatureSize);
  VHSM_ASSIGN_OR_RETURN(Bytes id_pub, AmdPublicKey(id_key));
  std::memcpy(auth + kIdAuthIdKeyOff, id_pub.data(), kAmdPublicKeySize);
  r.id_key_digest = crypto::Sha384(id_pub);

  if (author_key != nullptr) {
    StoreU32Le(auth + kIdAuthAuthorKeyAlgoOff, kAlgoEcdsaP384Sha384);
    VHSM_ASSIGN_OR_RETURN(Bytes id_key_sig, SignAmd(author_key, id_pub, "id key signature"));
    std::memcpy(auth + kIdAuthIdKeySigOff, id_key_sig.data(), kAmdSignatureSize);
    VHSM_ASSIGN_OR_RETURN(Bytes author_pub, AmdPublicKey(author_key));
    std::memcpy(auth + kIdAuthAuthorKeyOff, author_pub.data(), kAmdPublicKeySize);
    r.author_key_digest = crypto::Sha384(author_pub);
  }
  return r;
}

Result<Bytes> AmdSignatureToDer(ByteSpan amd_signature) {
  if (amd_signature.size() != kAmdSignatureSize) {
    return InvalidArgumentError("signature: got " + std::to_string(amd_signature.size()) +
                                " bytes, want 512");
  }
  crypto::BnPtr r(BN_lebin2bn(amd_signature.data(), static_cast<int>(kComponentSize), nullptr));
  crypto::BnPtr s(BN_lebin2bn(amd_signature.data() + kComponentSize,
                              static_cast<int>(kComponentSize), nullptr));
  crypto::EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig) return crypto::OpenSslError("signature: allocation");
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return crypto::OpenSslError("signature: ECDSA_SIG_set0");
  }
  // ECDSA_SIG_set0 took ownership of both components.
  (void)r.release();
  (void)s.release();
  const int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return crypto::OpenSslError("signature: DER size");
  Bytes der(static_cast<size_t>(len));
  uint8_t* p = der.data();
  if (i2d_ECDSA_SIG(sig.get(), &p) != len) return crypto::OpenSslError("signature: DER encode");
  return der;
}

}  // namespace vhsm::snp
