// test_pki.cc: see test_pki.h. Test-only code: failures abort via VHSM_CHECK.
#include "test_pki.h"

#include <openssl/core_names.h>
#include <openssl/rsa.h>

#include "snp/tcb.h"

namespace vhsm::testpki {
namespace {

using crypto::Asn1IntegerPtr;
using crypto::Asn1OctetStringPtr;
using crypto::Asn1TimePtr;
using crypto::EvpMdCtxPtr;
using crypto::EvpPkeyPtr;

Asn1IntegerPtr ToAsn1Integer(ByteSpan be) {
  crypto::BnPtr bn(BN_bin2bn(be.data(), static_cast<int>(be.size()), nullptr));
  VHSM_CHECK(bn != nullptr, "BN_bin2bn");
  Asn1IntegerPtr i(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  VHSM_CHECK(i != nullptr, "BN_to_ASN1_INTEGER");
  return i;
}

Asn1TimePtr ToTime(int64_t t) {
  Asn1TimePtr a(ASN1_TIME_set(nullptr, static_cast<time_t>(t)));
  VHSM_CHECK(a != nullptr, "ASN1_TIME_set");
  return a;
}

EvpMdCtxPtr SignCtx(EVP_PKEY* key, bool pss, int salt_len) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  VHSM_CHECK(EVP_DigestSignInit_ex(ctx.get(), &pctx, "SHA384", nullptr, nullptr, key, nullptr) == 1, "sign init");
  if (pss) {
    VHSM_CHECK(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1, "pss");
    VHSM_CHECK(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt_len) == 1, "salt");
    VHSM_CHECK(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA384", nullptr) == 1, "mgf1");
  }
  return ctx;
}

Bytes DerLen(size_t n) {
  if (n < 0x80) return {static_cast<uint8_t>(n)};
  if (n < 0x100) return {0x81, static_cast<uint8_t>(n)};
  return {0x82, static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
}

Bytes Tlv(uint8_t tag, ByteSpan v) {
  Bytes out{tag};
  Bytes l = DerLen(v.size());
  out.insert(out.end(), l.begin(), l.end());
  out.insert(out.end(), v.begin(), v.end());
  return out;
}

void SetName(X509_NAME* name, const std::string& cn) {
  VHSM_CHECK(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                        reinterpret_cast<const unsigned char*>("vhsm test PKI"), -1, -1, 0) == 1,
             "O");
  VHSM_CHECK(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                        reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0) == 1,
             "CN");
}

}  // namespace

EvpPkeyPtr GenRsa(int bits) {
  EvpPkeyPtr k(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  VHSM_CHECK(k != nullptr, "RSA keygen");
  return k;
}

EvpPkeyPtr GenP384() {
  EvpPkeyPtr k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
  VHSM_CHECK(k != nullptr, "EC keygen");
  return k;
}

Bytes DerInteger(uint64_t v) {
  Bytes mag;
  for (int i = 7; i >= 0; --i) {
    uint8_t b = static_cast<uint8_t>(v >> (8 * i));
    if (!mag.empty() || b != 0) mag.push_back(b);
  }
  if (mag.empty()) mag.push_back(0);
  if (mag[0] & 0x80) mag.insert(mag.begin(), 0);
  return Tlv(0x02, mag);
}

Bytes DerIa5(const std::string& s) { return Tlv(0x16, AsBytes(s)); }
Bytes DerOctetString(ByteSpan b) { return Tlv(0x04, b); }

Bytes MakeCert(const CertSpec& spec, EVP_PKEY* subject_key, EVP_PKEY* issuer_key) {
  crypto::X509Ptr x(X509_new());
  VHSM_CHECK(X509_set_version(x.get(), X509_VERSION_3) == 1, "version");
  Asn1IntegerPtr serial = ToAsn1Integer(spec.serial);
  VHSM_CHECK(X509_set_serialNumber(x.get(), serial.get()) == 1, "serial");
  SetName(X509_get_subject_name(x.get()), spec.subject_cn);
  SetName(X509_get_issuer_name(x.get()), spec.issuer_cn);
  VHSM_CHECK(X509_set1_notBefore(x.get(), ToTime(spec.not_before).get()) == 1, "notBefore");
  VHSM_CHECK(X509_set1_notAfter(x.get(), ToTime(spec.not_after).get()) == 1, "notAfter");
  VHSM_CHECK(X509_set_pubkey(x.get(), subject_key) == 1, "pubkey");
  for (const Ext& e : spec.extensions) {
    crypto::Asn1ObjectPtr obj(OBJ_txt2obj(e.oid.c_str(), 1));
    Asn1OctetStringPtr os(ASN1_OCTET_STRING_new());
    VHSM_CHECK(ASN1_OCTET_STRING_set(os.get(), e.value.data(), static_cast<int>(e.value.size())) == 1, "os");
    crypto::X509ExtensionPtr ext(X509_EXTENSION_create_by_OBJ(nullptr, obj.get(), 0, os.get()));
    VHSM_CHECK(ext != nullptr && X509_add_ext(x.get(), ext.get(), -1) == 1, "add ext");
  }
  EvpMdCtxPtr ctx = SignCtx(issuer_key, spec.pss, spec.salt_len);
  VHSM_CHECK(X509_sign_ctx(x.get(), ctx.get()) > 0, "X509_sign_ctx");
  unsigned char* der = nullptr;
  int n = i2d_X509(x.get(), &der);
  VHSM_CHECK(n > 0, "i2d_X509");
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

Bytes MakeCrl(const CrlSpec& spec, EVP_PKEY* issuer_key) {
  crypto::X509CrlPtr crl(X509_CRL_new());
  VHSM_CHECK(X509_CRL_set_version(crl.get(), 1) == 1, "crl version");
  crypto::X509NamePtr name(X509_NAME_new());
  SetName(name.get(), spec.issuer_cn);
  VHSM_CHECK(X509_CRL_set_issuer_name(crl.get(), name.get()) == 1, "issuer");
  VHSM_CHECK(X509_CRL_set1_lastUpdate(crl.get(), ToTime(spec.this_update).get()) == 1, "thisUpdate");
  if (spec.next_update != 0) {
    VHSM_CHECK(X509_CRL_set1_nextUpdate(crl.get(), ToTime(spec.next_update).get()) == 1, "nextUpdate");
  }
  for (const Bytes& s : spec.revoked_serials) {
    X509_REVOKED* r = X509_REVOKED_new();
    Asn1IntegerPtr serial = ToAsn1Integer(s);
    VHSM_CHECK(X509_REVOKED_set_serialNumber(r, serial.get()) == 1, "rev serial");
    VHSM_CHECK(X509_REVOKED_set_revocationDate(r, ToTime(spec.this_update).get()) == 1, "rev date");
    VHSM_CHECK(X509_CRL_add0_revoked(crl.get(), r) == 1, "add0_revoked");  // takes ownership of r
  }
  X509_CRL_sort(crl.get());
  EvpMdCtxPtr ctx = SignCtx(issuer_key, true, 48);
  VHSM_CHECK(X509_CRL_sign_ctx(crl.get(), ctx.get()) > 0, "X509_CRL_sign_ctx");
  unsigned char* der = nullptr;
  int n = i2d_X509_CRL(crl.get(), &der);
  VHSM_CHECK(n > 0, "i2d_X509_CRL");
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

std::vector<Ext> AmdLeafExtensions(snp::Product product, uint64_t tcb, ByteSpan chip_id, bool vlek,
                                   bool hwid_octet_string) {
  const std::string arc = "1.3.6.1.4.1.3704.1";
  const bool turin = product == snp::Product::kTurin;
  snp::TcbParts parts = snp::DecodeTcb(tcb, product);
  std::vector<Ext> ext;
  ext.push_back({arc + ".1", DerInteger(turin ? 1 : 0)});
  std::string pname = vlek ? std::string(snp::ProductName(product))
                           : (product == snp::Product::kMilan ? "Milan-B0" : std::string(snp::ProductName(product)));
  ext.push_back({arc + ".2", DerIa5(pname)});
  if (turin) ext.push_back({arc + ".3.9", DerInteger(parts.fmc.value_or(0))});
  ext.push_back({arc + ".3.1", DerInteger(parts.bootloader)});
  ext.push_back({arc + ".3.2", DerInteger(parts.tee)});
  if (!turin) ext.push_back({arc + ".3.4", DerInteger(0)});
  ext.push_back({arc + ".3.5", DerInteger(0)});
  ext.push_back({arc + ".3.6", DerInteger(0)});
  ext.push_back({arc + ".3.7", DerInteger(0)});
  ext.push_back({arc + ".3.3", DerInteger(parts.snp)});
  ext.push_back({arc + ".3.8", DerInteger(parts.microcode)});
  if (vlek) {
    ext.push_back({arc + ".5", DerIa5("CN=test.example")});
  } else {
    ByteSpan hw = chip_id.first(turin ? 8 : 64);
    ext.push_back({arc + ".4", hwid_octet_string ? DerOctetString(hw) : Bytes(hw.begin(), hw.end())});
  }
  return ext;
}

snp::AttestationReport MakeReport(snp::Product product, uint64_t tcb, ByteSpan chip_id, bool vlek) {
  snp::AttestationReport r;
  r.version = 3;
  r.policy = 0x30000;
  r.signature_algo = 1;
  r.current_tcb = r.reported_tcb = r.committed_tcb = r.launch_tcb = tcb;
  r.signer_info = vlek ? (1u << 2) : 0;
  for (size_t i = 0; i < r.report_data.size(); ++i) r.report_data[i] = static_cast<uint8_t>(i);
  for (size_t i = 0; i < r.measurement.size(); ++i) r.measurement[i] = static_cast<uint8_t>(0xA0 + i);
  r.report_id_ma.fill(0xFF);
  switch (product) {
    case snp::Product::kMilan: r.cpuid_fam_id = 0x19; r.cpuid_mod_id = 0x01; break;
    case snp::Product::kGenoa: r.cpuid_fam_id = 0x19; r.cpuid_mod_id = 0x11; break;
    default: r.cpuid_fam_id = 0x1A; r.cpuid_mod_id = 0x02; break;
  }
  r.cpuid_step = 1;
  std::copy(chip_id.begin(), chip_id.begin() + 64, r.chip_id.begin());
  r.current_version = {.build = 29, .minor = 55, .major = 1};
  r.committed_version = r.current_version;
  return r;
}

Bytes SignReport(snp::AttestationReport report, EVP_PKEY* leaf_key) {
  report.signature_r.fill(0);
  report.signature_s.fill(0);
  Bytes bytes = snp::SerializeReport(report);
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  VHSM_CHECK(EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA384", nullptr, nullptr, leaf_key, nullptr) == 1, "init");
  size_t len = 0;
  VHSM_CHECK(EVP_DigestSign(ctx.get(), nullptr, &len, bytes.data(), snp::kSignedRegionSize) == 1, "len");
  Bytes der(len);
  VHSM_CHECK(EVP_DigestSign(ctx.get(), der.data(), &len, bytes.data(), snp::kSignedRegionSize) == 1, "sign");
  const unsigned char* p = der.data();
  crypto::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len)));
  VHSM_CHECK(sig != nullptr, "d2i_ECDSA_SIG");
  VHSM_CHECK(BN_bn2lebinpad(ECDSA_SIG_get0_r(sig.get()), report.signature_r.data(), 72) == 72, "r");
  VHSM_CHECK(BN_bn2lebinpad(ECDSA_SIG_get0_s(sig.get()), report.signature_s.data(), 72) == 72, "s");
  return snp::SerializeReport(report);
}

Hierarchy MakeHierarchy(snp::Product product, bool vlek) {
  Hierarchy h;
  h.product = product;
  const std::string p(snp::ProductName(product));
  const int64_t t0 = 1700000000;  // 2023-11-14
  h.now = t0 + 30 * kDay;
  h.ark_key = GenRsa();
  h.ask_key = GenRsa();
  h.leaf_key = GenP384();
  h.chip_id.assign(64, 0);
  const bool turin = product == snp::Product::kTurin;
  for (size_t i = 0; i < (turin ? 8u : 64u); ++i) h.chip_id[i] = static_cast<uint8_t>(0x11 + i);
  h.tcb = turin ? 0x5000000004030201ull : 0x7318000000000a03ull;  // Turin: fmc1 bl2 tee3 snp4; Milan: bl3 tee10 snp0x18
  CertSpec ark{.subject_cn = "ARK-" + p, .issuer_cn = "ARK-" + p, .serial = {0x01, 0x00, 0x00},
               .not_before = t0, .not_after = t0 + 3650 * kDay};
  h.ark = MakeCert(ark, h.ark_key.get(), h.ark_key.get());
  std::string inter_cn = (vlek ? "SEV-VLEK-" : "SEV-") + p;
  CertSpec ask{.subject_cn = inter_cn, .issuer_cn = "ARK-" + p, .serial = {0x01, 0x00, 0x01},
               .not_before = t0, .not_after = t0 + 3650 * kDay};
  h.ask = MakeCert(ask, h.ask_key.get(), h.ark_key.get());
  CertSpec leaf{.subject_cn = vlek ? "SEV-VLEK" : "SEV-VCEK", .issuer_cn = inter_cn, .serial = {0x00},
                .not_before = t0, .not_after = t0 + 365 * kDay,
                .extensions = AmdLeafExtensions(product, h.tcb, h.chip_id, vlek)};
  h.leaf = MakeCert(leaf, h.leaf_key.get(), h.ask_key.get());
  return h;
}

}  // namespace vhsm::testpki
