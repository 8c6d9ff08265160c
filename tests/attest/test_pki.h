// test_pki.h: a throwaway AMD-shaped PKI for tests: RSA-PSS (SHA-384, MGF1-SHA-384, salt 48)
// ARK/ASK/ASVK, EC P-384 VCEK/VLEK leaves with AMD extensions, ARK-signed CRLs, and reports
// signed with the leaf key. Used only through the Verifier's extra-trusted-root path; nothing
// here is AMD's. Keys are RSA-2048 to keep tests fast.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "crypto/ossl_ptr.h"
#include "snp/product.h"
#include "snp/report.h"

namespace vhsm::testpki {

inline constexpr int64_t kDay = 86400;

crypto::EvpPkeyPtr GenRsa(int bits = 2048);
crypto::EvpPkeyPtr GenP384();

struct Ext {
  std::string oid;
  Bytes value;  // extnValue contents (DER of the inner value, or raw bytes)
};

struct CertSpec {
  std::string subject_cn;
  std::string issuer_cn;
  Bytes serial = {0x01};  // big-endian
  int64_t not_before = 0;
  int64_t not_after = 0;
  std::vector<Ext> extensions;
  bool pss = true;       // RSASSA-PSS SHA-384 salt 48; false = PKCS#1 v1.5 SHA-384
  int salt_len = 48;
};

// Signs a certificate for `subject_key` with `issuer_key`.
Bytes MakeCert(const CertSpec& spec, EVP_PKEY* subject_key, EVP_PKEY* issuer_key);

struct CrlSpec {
  std::string issuer_cn;
  int64_t this_update = 0;
  int64_t next_update = 0;  // 0 = omit
  std::vector<Bytes> revoked_serials;
};
Bytes MakeCrl(const CrlSpec& spec, EVP_PKEY* issuer_key);

// DER helpers for AMD extension values.
Bytes DerInteger(uint64_t v);
Bytes DerIa5(const std::string& s);
Bytes DerOctetString(ByteSpan b);

// AMD VCEK/VLEK extensions for a TCB/product (Turin: fmc first, no spl_4, 8-byte hwID).
std::vector<Ext> AmdLeafExtensions(snp::Product product, uint64_t reported_tcb, ByteSpan chip_id, bool vlek,
                                   bool hwid_octet_string = false);

// A parseable report (version 3 with the product's CPUID) signed by `leaf_key`.
snp::AttestationReport MakeReport(snp::Product product, uint64_t reported_tcb, ByteSpan chip_id, bool vlek);
Bytes SignReport(snp::AttestationReport report, EVP_PKEY* leaf_key);

// A complete hierarchy for one product.
struct Hierarchy {
  snp::Product product = snp::Product::kMilan;
  crypto::EvpPkeyPtr ark_key, ask_key, leaf_key;
  Bytes ark, ask, leaf;
  Bytes chip_id;        // 64 bytes
  uint64_t tcb = 0;
  int64_t now = 0;      // a time inside every validity period
};
// `vlek`: intermediate is SEV-VLEK-<P>, leaf SEV-VLEK. ASK serial 0x10001, leaf serial 0.
Hierarchy MakeHierarchy(snp::Product product, bool vlek = false);

}  // namespace vhsm::testpki
