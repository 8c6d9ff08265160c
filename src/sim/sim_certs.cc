// sim_certs.cc: X.509 generation for the simulator CA. Extension order and encodings copy what
// AMD's KDS certificates carry (checked against real Genoa, Milan and Turin VCEKs): Milan/Genoa
// .1 .2 .3.1 .3.2 .3.4 .3.5 .3.6 .3.7 .3.3 .3.8 .4; Turin .1 .2 .3.9 .3.1 .3.2 .3.3 .3.5 .3.6
// .3.7 .3.8 .4.
#include "sim/sim_certs.h"

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <vector>

#include "crypto/error.h"
#include "snp/tcb.h"

namespace vhsm::sim {
namespace {

using crypto::OpenSslError;

constexpr long kCaYears = 25;
constexpr long kVcekYears = 7;
constexpr long kVlekYears = 1;
// The O= attribute: AMD's chains say "Advanced Micro Devices"; ours must never be mistaken.
constexpr char kOrganization[] = "vhsm SEV-SNP simulator (TEST KEYS, not AMD)";

Status AddNameEntry(X509_NAME* name, const char* field, const std::string& value) {
  if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1, 0) != 1) {
    return OpenSslError(std::string("X509_NAME_add_entry_by_txt ") + field);
  }
  return OkStatus();
}

// Same attribute order as AMD: OU, C, L, ST, O, CN.
Result<crypto::X509NamePtr> MakeName(const std::string& cn) {
  crypto::X509NamePtr name(X509_NAME_new());
  if (!name) return OpenSslError("X509_NAME_new");
  VHSM_RETURN_IF_ERROR(AddNameEntry(name.get(), "OU", "Engineering"));
  VHSM_RETURN_IF_ERROR(AddNameEntry(name.get(), "C", "US"));
  VHSM_RETURN_IF_ERROR(AddNameEntry(name.get(), "L", "Santa Clara"));
  VHSM_RETURN_IF_ERROR(AddNameEntry(name.get(), "ST", "CA"));
  VHSM_RETURN_IF_ERROR(AddNameEntry(name.get(), "O", kOrganization));
  VHSM_RETURN_IF_ERROR(AddNameEntry(name.get(), "CN", cn));
  return name;
}

Result<crypto::X509Ptr> NewCert(uint64_t serial, const std::string& subject_cn, X509_NAME* issuer,
                                EVP_PKEY* pub, time_t not_before, long years) {
  crypto::X509Ptr x(X509_new());
  if (!x) return OpenSslError("X509_new");
  if (X509_set_version(x.get(), X509_VERSION_3) != 1) return OpenSslError("X509_set_version");
  if (ASN1_INTEGER_set_uint64(X509_get_serialNumber(x.get()), serial) != 1) {
    return OpenSslError("ASN1_INTEGER_set_uint64");
  }
  VHSM_ASSIGN_OR_RETURN(crypto::X509NamePtr subject, MakeName(subject_cn));
  if (X509_set_subject_name(x.get(), subject.get()) != 1) return OpenSslError("X509_set_subject_name");
  if (X509_set_issuer_name(x.get(), issuer != nullptr ? issuer : subject.get()) != 1) {
    return OpenSslError("X509_set_issuer_name");
  }
  time_t t = not_before;
  if (X509_time_adj_ex(X509_getm_notBefore(x.get()), 0, 0, &t) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(x.get()), static_cast<int>(years * 365 + years / 4), 0, &t) ==
          nullptr) {
    return OpenSslError("X509_time_adj_ex");
  }
  if (X509_set_pubkey(x.get(), pub) != 1) return OpenSslError("X509_set_pubkey");
  return x;
}

Status AddConfExtension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert, cert, nullptr, nullptr, 0);
  crypto::X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!ext) return OpenSslError(std::string("X509V3_EXT_conf_nid ") + OBJ_nid2sn(nid));
  if (X509_add_ext(cert, ext.get(), -1) != 1) return OpenSslError("X509_add_ext");
  return OkStatus();
}

// An extension whose extnValue holds exactly `value` (already DER, or raw bytes for hwID).
Status AddRawExtension(X509* cert, const std::string& oid, ByteSpan value) {
  crypto::Asn1ObjectPtr obj(OBJ_txt2obj(oid.c_str(), 1));
  if (!obj) return OpenSslError("OBJ_txt2obj " + oid);
  crypto::Asn1OctetStringPtr os(ASN1_OCTET_STRING_new());
  if (!os || ASN1_OCTET_STRING_set(os.get(), value.data(), static_cast<int>(value.size())) != 1) {
    return OpenSslError("ASN1_OCTET_STRING_set");
  }
  crypto::X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, os.get()));
  if (!ext) return OpenSslError("X509_EXTENSION_create_by_OBJ " + oid);
  if (X509_add_ext(cert, ext.get(), -1) != 1) return OpenSslError("X509_add_ext " + oid);
  return OkStatus();
}

// DER INTEGER for a small non-negative value (minimal, with a 0x00 before a high bit).
Bytes DerInteger(uint64_t v) {
  uint8_t be[9] = {};
  size_t n = 0;
  for (int shift = 56; shift >= 0; shift -= 8) {
    uint8_t b = static_cast<uint8_t>(v >> shift);
    if (n == 0 && b == 0 && shift != 0) continue;  // minimal: skip leading zero bytes
    if (n == 0 && (b & 0x80) != 0) be[n++] = 0;    // keep it non-negative
    be[n++] = b;
  }
  Bytes out = {0x02, static_cast<uint8_t>(n)};
  out.insert(out.end(), be, be + n);
  return out;
}

Bytes DerIa5(std::string_view s) {
  Bytes out(2 + s.size());
  out[0] = 0x16;
  out[1] = static_cast<uint8_t>(s.size());  // callers keep s under 128 bytes
  std::copy(s.begin(), s.end(), out.begin() + 2);
  return out;
}

Status SignPss(X509* cert, EVP_PKEY* key) {
  crypto::EvpMdCtxPtr md(EVP_MD_CTX_new());
  if (!md) return OpenSslError("EVP_MD_CTX_new");
  EVP_PKEY_CTX* pctx = nullptr;  // owned by md
  if (EVP_DigestSignInit(md.get(), &pctx, EVP_sha384(), nullptr, key) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 48) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha384()) != 1) {
    return OpenSslError("RSASSA-PSS signing setup");
  }
  if (X509_sign_ctx(cert, md.get()) <= 0) return OpenSslError("X509_sign_ctx");
  return OkStatus();
}

Result<Bytes> ToDer(X509* cert) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) return OpenSslError("i2d_X509");
  Bytes out(static_cast<size_t>(len));
  unsigned char* p = out.data();
  if (i2d_X509(cert, &p) != len) return OpenSslError("i2d_X509");
  return out;
}

Result<crypto::X509Ptr> FromDer(ByteSpan der, std::string_view what) {
  const unsigned char* p = der.data();
  crypto::X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x || p != der.data() + der.size()) {
    return OpenSslError(std::string(what) + ": not one DER certificate", StatusCode::kInvalidArgument);
  }
  return x;
}

std::string CrlUrl(snp::Product product, bool vlek) {
  return std::string("URI:https://kdsintf.amd.com/") + (vlek ? "vlek" : "vcek") + "/v1/" +
         std::string(snp::ProductName(product)) + "/crl";
}

}  // namespace

Result<crypto::EvpPkeyPtr> GenerateRsaKey(int bits) {
  if (bits < 2048 || bits > 8192) {
    return InvalidArgumentError("rsa_bits: got " + std::to_string(bits) + ", want 2048..8192");
  }
  crypto::EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  if (!key) return OpenSslError("RSA key generation");
  return key;
}

Result<crypto::EvpPkeyPtr> GenerateP384Key() {
  crypto::EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  if (!key) return OpenSslError("EC P-384 key generation");
  return key;
}

std::string_view VcekProductName(snp::Product product) {
  switch (product) {
    case snp::Product::kMilan: return "Milan-B0";
    case snp::Product::kGenoa: return "Genoa";
    case snp::Product::kTurin: return "Turin";
    case snp::Product::kUnknown: break;
  }
  return "unknown";
}

Result<Bytes> MakeArkCert(EVP_PKEY* ark_key, snp::Product product, time_t not_before) {
  std::string cn = "ARK-" + std::string(snp::ProductName(product));
  VHSM_ASSIGN_OR_RETURN(crypto::X509Ptr x, NewCert(0x20000, cn, nullptr, ark_key, not_before, kCaYears));
  X509* c = x.get();
  VHSM_RETURN_IF_ERROR(AddConfExtension(c, nullptr, NID_key_usage, "critical,keyCertSign,cRLSign"));
  VHSM_RETURN_IF_ERROR(AddConfExtension(c, nullptr, NID_subject_key_identifier, "hash"));
  VHSM_RETURN_IF_ERROR(AddConfExtension(c, nullptr, NID_basic_constraints, "critical,CA:TRUE"));
  VHSM_RETURN_IF_ERROR(AddConfExtension(c, nullptr, NID_crl_distribution_points,
                                        CrlUrl(product, false).c_str()));
  VHSM_RETURN_IF_ERROR(SignPss(c, ark_key));
  return ToDer(c);
}

Result<Bytes> MakeAskCert(EVP_PKEY* ask_pub, EVP_PKEY* ark_key, ByteSpan ark_der, snp::Product product,
                          bool asvk, time_t not_before) {
  VHSM_ASSIGN_OR_RETURN(crypto::X509Ptr ark, FromDer(ark_der, "ARK"));
  std::string cn = (asvk ? "SEV-VLEK-" : "SEV-") + std::string(snp::ProductName(product));
  VHSM_ASSIGN_OR_RETURN(crypto::X509Ptr x, NewCert(asvk ? 0x20003 : 0x20002, cn,
                                                   X509_get_subject_name(ark.get()), ask_pub,
                                                   not_before, kCaYears));
  X509* c = x.get();
  VHSM_RETURN_IF_ERROR(AddConfExtension(c, ark.get(), NID_subject_key_identifier, "hash"));
  VHSM_RETURN_IF_ERROR(AddConfExtension(c, ark.get(), NID_authority_key_identifier, "keyid:always"));
  VHSM_RETURN_IF_ERROR(AddConfExtension(c, ark.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0"));
  VHSM_RETURN_IF_ERROR(AddConfExtension(c, ark.get(), NID_key_usage, "critical,keyCertSign"));
  VHSM_RETURN_IF_ERROR(AddConfExtension(c, ark.get(), NID_crl_distribution_points,
                                        CrlUrl(product, asvk).c_str()));
  VHSM_RETURN_IF_ERROR(SignPss(c, ark_key));
  return ToDer(c);
}

Result<Bytes> MakeLeafCert(EVP_PKEY* leaf_pub, EVP_PKEY* issuer_key, ByteSpan issuer_der,
                           const LeafSpec& spec, time_t not_before) {
  if (spec.product == snp::Product::kUnknown) return InvalidArgumentError("leaf product: unknown");
  VHSM_ASSIGN_OR_RETURN(crypto::X509Ptr issuer, FromDer(issuer_der, spec.vlek ? "ASVK" : "ASK"));
  VHSM_ASSIGN_OR_RETURN(crypto::X509Ptr x,
                        NewCert(0, spec.vlek ? "SEV-VLEK" : "SEV-VCEK", X509_get_subject_name(issuer.get()),
                                leaf_pub, not_before, spec.vlek ? kVlekYears : kVcekYears));
  X509* c = x.get();
  const std::string arc = kAmdExtensionArc;
  const bool turin = snp::HasTurinTcbLayout(spec.product);
  const snp::TcbParts tcb = snp::DecodeTcb(spec.reported_tcb, spec.product);
  auto tcb_byte = [&](int i) { return static_cast<uint8_t>(spec.reported_tcb >> (8 * i)); };
  auto add_int = [&](const std::string& suffix, uint64_t v) {
    return AddRawExtension(c, arc + suffix, DerInteger(v));
  };
  VHSM_RETURN_IF_ERROR(add_int(".1", turin ? 1 : 0));
  std::string_view pname = spec.vlek ? snp::ProductName(spec.product) : VcekProductName(spec.product);
  VHSM_RETURN_IF_ERROR(AddRawExtension(c, arc + ".2", DerIa5(pname)));
  if (turin) {
    VHSM_RETURN_IF_ERROR(add_int(".3.9", tcb.fmc.value_or(0)));
    VHSM_RETURN_IF_ERROR(add_int(".3.1", tcb.bootloader));
    VHSM_RETURN_IF_ERROR(add_int(".3.2", tcb.tee));
    VHSM_RETURN_IF_ERROR(add_int(".3.3", tcb.snp));
    VHSM_RETURN_IF_ERROR(add_int(".3.5", tcb_byte(4)));
    VHSM_RETURN_IF_ERROR(add_int(".3.6", tcb_byte(5)));
    VHSM_RETURN_IF_ERROR(add_int(".3.7", tcb_byte(6)));
    VHSM_RETURN_IF_ERROR(add_int(".3.8", tcb.microcode));
  } else {
    VHSM_RETURN_IF_ERROR(add_int(".3.1", tcb.bootloader));
    VHSM_RETURN_IF_ERROR(add_int(".3.2", tcb.tee));
    VHSM_RETURN_IF_ERROR(add_int(".3.4", tcb_byte(2)));
    VHSM_RETURN_IF_ERROR(add_int(".3.5", tcb_byte(3)));
    VHSM_RETURN_IF_ERROR(add_int(".3.6", tcb_byte(4)));
    VHSM_RETURN_IF_ERROR(add_int(".3.7", tcb_byte(5)));
    VHSM_RETURN_IF_ERROR(add_int(".3.3", tcb.snp));
    VHSM_RETURN_IF_ERROR(add_int(".3.8", tcb.microcode));
  }
  if (spec.vlek) {
    if (spec.csp_id.empty() || spec.csp_id.size() > 127) {
      return InvalidArgumentError("csp_id: want 1..127 characters for a VLEK, got " +
                                  std::to_string(spec.csp_id.size()));
    }
    VHSM_RETURN_IF_ERROR(AddRawExtension(c, arc + ".5", DerIa5(spec.csp_id)));
  } else {
    // hwID is stored RAW (no inner OCTET STRING), 64 bytes, or the 8 significant ones on Turin.
    ByteSpan hw_id(spec.chip_id.data(), turin ? 8 : spec.chip_id.size());
    VHSM_RETURN_IF_ERROR(AddRawExtension(c, arc + ".4", hw_id));
  }
  VHSM_RETURN_IF_ERROR(SignPss(c, issuer_key));
  return ToDer(c);
}

Result<SecretBytes> PrivateKeyToPem(EVP_PKEY* key) {
  crypto::BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) return OpenSslError("BIO_new");
  if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError("PEM_write_bio_PrivateKey");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0) return OpenSslError("BIO_get_mem_data");
  return SecretBytes(ByteSpan(reinterpret_cast<const uint8_t*>(data), static_cast<size_t>(len)));
}

Result<crypto::EvpPkeyPtr> PrivateKeyFromPem(ByteSpan pem, std::string_view what) {
  if (pem.size() > kMaxPemBytes) {
    return InvalidArgumentError(std::string(what) + ": " + std::to_string(pem.size()) +
                                " bytes exceeds the limit of " + std::to_string(kMaxPemBytes));
  }
  crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return OpenSslError("BIO_new_mem_buf");
  crypto::EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return OpenSslError(std::string(what) + ": not a PEM private key", StatusCode::kDataLoss);
  return key;
}

Result<std::string> CertDerToPem(ByteSpan der) {
  VHSM_ASSIGN_OR_RETURN(crypto::X509Ptr x, FromDer(der, "certificate"));
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), x.get()) != 1) return OpenSslError("PEM_write_bio_X509");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0) return OpenSslError("BIO_get_mem_data");
  return std::string(data, static_cast<size_t>(len));
}

Result<Bytes> CertToDer(ByteSpan pem_or_der, std::string_view what) {
  if (pem_or_der.size() > kMaxPemBytes) {
    return InvalidArgumentError(std::string(what) + ": " + std::to_string(pem_or_der.size()) +
                                " bytes exceeds the limit of " + std::to_string(kMaxPemBytes));
  }
  if (!pem_or_der.empty() && pem_or_der[0] == 0x30) {
    VHSM_ASSIGN_OR_RETURN(crypto::X509Ptr x, FromDer(pem_or_der, what));
    return ToDer(x.get());
  }
  crypto::BioPtr bio(BIO_new_mem_buf(pem_or_der.data(), static_cast<int>(pem_or_der.size())));
  if (!bio) return OpenSslError("BIO_new_mem_buf");
  crypto::X509Ptr x(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!x) return OpenSslError(std::string(what) + ": not a PEM or DER certificate", StatusCode::kInvalidArgument);
  return ToDer(x.get());
}

Result<bool> CertMatchesKey(ByteSpan cert_der, EVP_PKEY* key) {
  VHSM_ASSIGN_OR_RETURN(crypto::X509Ptr x, FromDer(cert_der, "certificate"));
  EVP_PKEY* pub = X509_get0_pubkey(x.get());  // owned by x
  if (pub == nullptr) return OpenSslError("X509_get0_pubkey");
  bool eq = EVP_PKEY_eq(pub, key) == 1;
  crypto::ClearOpenSslErrors();
  return eq;
}

Result<std::string> CertPublicKeyPem(ByteSpan cert_der) {
  VHSM_ASSIGN_OR_RETURN(crypto::X509Ptr x, FromDer(cert_der, "certificate"));
  EVP_PKEY* pub = X509_get0_pubkey(x.get());  // owned by x
  if (pub == nullptr) return OpenSslError("X509_get0_pubkey");
  crypto::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), pub) != 1) return OpenSslError("PEM_write_bio_PUBKEY");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0) return OpenSslError("BIO_get_mem_data");
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace vhsm::sim
