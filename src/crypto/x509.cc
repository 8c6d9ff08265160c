// x509.cc: certificate/CRL parsing and profile-checked signature verification on OpenSSL 3.
#include "crypto/x509.h"

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <array>
#include <climits>
#include <cstring>
#include <ctime>

#include "crypto/digest.h"
#include "crypto/error.h"

namespace vhsm::crypto {
namespace {

constexpr std::string_view kPemCertBegin = "-----BEGIN CERTIFICATE-----";
constexpr std::string_view kPemCertEnd = "-----END CERTIFICATE-----";
constexpr std::string_view kPemCrlBegin = "-----BEGIN X509 CRL-----";
constexpr std::string_view kPemCrlEnd = "-----END X509 CRL-----";

// DER of the AlgorithmIdentifier AMD uses for every RSA signature:
// SEQUENCE { OID rsassaPss, SEQUENCE { [0] {sha384, NULL}, [1] {mgf1, {sha384, NULL}}, [2] 48 } }.
// Accepted variants: hash AlgorithmIdentifiers with or without the NULL parameter, and an
// explicit trailerField of 1 (RFC 4055 allows both); anything else is rejected.
constexpr std::array<uint8_t, 11> kOidRsassaPss = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                                   0x0d, 0x01, 0x01, 0x0a};
constexpr std::array<uint8_t, 11> kOidMgf1 = {0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                                              0x0d, 0x01, 0x01, 0x08};
constexpr std::array<uint8_t, 11> kOidSha384 = {0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
                                                0x03, 0x04, 0x02, 0x02};

bool SpanEquals(ByteSpan a, ByteSpan b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

std::string_view Trim(std::string_view s) {
  size_t b = 0;
  while (b < s.size() && (s[b] == ' ' || s[b] == '\n' || s[b] == '\r' || s[b] == '\t')) ++b;
  size_t e = s.size();
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\n' || s[e - 1] == '\r' || s[e - 1] == '\t')) --e;
  return s.substr(b, e - b);
}

bool LooksLikePem(ByteSpan bytes) {
  std::string_view s = Trim(AsStringView(bytes.first(std::min<size_t>(bytes.size(), 64))));
  return s.rfind("-----BEGIN", 0) == 0;
}

// Base64 body of one PEM block (line breaks removed) → DER.
Result<Bytes> PemBodyToDer(std::string_view body, std::string_view what) {
  std::string joined;
  joined.reserve(body.size());
  for (char c : body) {
    if (c == '\n' || c == '\r' || c == ' ' || c == '\t') continue;
    joined.push_back(c);
  }
  auto der = Base64Decode(joined);
  if (!der.ok()) return InvalidArgumentError(std::string(what) + ": PEM body is not valid base64");
  return der;
}

// Splits text into PEM blocks of the given type; anything but whitespace between them is an
// error. Returns DER bodies.
Result<std::vector<Bytes>> SplitPem(std::string_view text, std::string_view begin,
                                    std::string_view end, size_t max_blocks,
                                    std::string_view what) {
  std::vector<Bytes> out;
  size_t pos = 0;
  while (true) {
    std::string_view rest = text.substr(pos);
    std::string_view trimmed = Trim(rest);
    if (trimmed.empty()) break;
    size_t skip = static_cast<size_t>(trimmed.data() - rest.data());
    if (trimmed.rfind(begin, 0) != 0) {
      return InvalidArgumentError(std::string(what) + ": expected '" + std::string(begin) +
                                  "' at offset " + std::to_string(pos + skip));
    }
    size_t body_start = pos + skip + begin.size();
    size_t end_pos = text.find(end, body_start);
    if (end_pos == std::string_view::npos) {
      return InvalidArgumentError(std::string(what) + ": PEM block without '" + std::string(end) + "'");
    }
    if (out.size() >= max_blocks) {
      return ResourceExhaustedError(std::string(what) + ": more than " + std::to_string(max_blocks) +
                                    " PEM blocks");
    }
    VHSM_ASSIGN_OR_RETURN(Bytes der, PemBodyToDer(text.substr(body_start, end_pos - body_start), what));
    out.push_back(std::move(der));
    pos = end_pos + end.size();
  }
  if (out.empty()) return InvalidArgumentError(std::string(what) + ": no PEM block found");
  return out;
}

Result<int64_t> Asn1TimeToUnix(const ASN1_TIME* t, std::string_view what) {
  if (t == nullptr) return InvalidArgumentError(std::string(what) + ": missing");
  struct tm tm {};
  if (ASN1_TIME_to_tm(t, &tm) != 1) {
    ClearOpenSslErrors();
    return InvalidArgumentError(std::string(what) + ": malformed time");
  }
  return static_cast<int64_t>(timegm(&tm));
}

std::string CnOf(const X509_NAME* name) {
  if (name == nullptr) return "";
  int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (idx < 0) return "";
  const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, idx);
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(e);
  if (s == nullptr) return "";
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) {
    ClearOpenSslErrors();
    return "";
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

Bytes Asn1IntegerMagnitude(const ASN1_INTEGER* i) {
  if (i == nullptr) return {};
  const unsigned char* d = ASN1_STRING_get0_data(i);
  int n = ASN1_STRING_length(i);
  Bytes out(d, d + n);
  size_t z = 0;
  while (z < out.size() && out[z] == 0) ++z;
  out.erase(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(z));
  return out;
}

std::string FormatTime(int64_t t) {
  time_t tt = static_cast<time_t>(t);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Result<Bytes> AlgorithmDer(const X509_ALGOR* alg, std::string_view what) {
  unsigned char* der = nullptr;
  int n = i2d_X509_ALGOR(alg, &der);
  if (n <= 0) return OpenSslError(std::string(what) + ": cannot encode signature algorithm");
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

// Checks a hash AlgorithmIdentifier is SHA-384 with absent or NULL parameters.
Status CheckSha384AlgId(ByteSpan seq_content, std::string_view what) {
  VHSM_ASSIGN_OR_RETURN(DerTlv oid, ReadDerTlv(seq_content, what));
  if (!SpanEquals(seq_content.first(oid.total_len), kOidSha384)) {
    return UnauthenticatedError(std::string(what) + ": expected SHA-384");
  }
  ByteSpan rest = seq_content.subspan(oid.total_len);
  if (rest.empty()) return OkStatus();
  static constexpr uint8_t kNull[] = {0x05, 0x00};
  if (!SpanEquals(rest, kNull)) return UnauthenticatedError(std::string(what) + ": unexpected parameters");
  return OkStatus();
}

Status CheckPssParams(ByteSpan params_content, std::string_view what) {
  // [0] hashAlgorithm
  ByteSpan in = params_content;
  VHSM_ASSIGN_OR_RETURN(DerTlv hash, ReadDerTlv(in, what));
  if (hash.tag != 0xA0) {
    return UnauthenticatedError(std::string(what) +
                                ": RSASSA-PSS hashAlgorithm absent (default SHA-1), expected SHA-384");
  }
  VHSM_ASSIGN_OR_RETURN(ByteSpan hash_seq, ReadDerExact(hash.value, 0x30, what));
  VHSM_RETURN_IF_ERROR(CheckSha384AlgId(hash_seq, std::string(what) + ": RSASSA-PSS hashAlgorithm"));
  in = in.subspan(hash.total_len);
  // [1] maskGenAlgorithm
  VHSM_ASSIGN_OR_RETURN(DerTlv mgf, ReadDerTlv(in, what));
  if (mgf.tag != 0xA1) {
    return UnauthenticatedError(std::string(what) + ": RSASSA-PSS maskGenAlgorithm absent, expected MGF1-SHA-384");
  }
  VHSM_ASSIGN_OR_RETURN(ByteSpan mgf_seq, ReadDerExact(mgf.value, 0x30, what));
  VHSM_ASSIGN_OR_RETURN(DerTlv mgf_oid, ReadDerTlv(mgf_seq, what));
  if (!SpanEquals(mgf_seq.first(mgf_oid.total_len), kOidMgf1)) {
    return UnauthenticatedError(std::string(what) + ": RSASSA-PSS maskGenAlgorithm is not MGF1");
  }
  VHSM_ASSIGN_OR_RETURN(ByteSpan mgf_hash, ReadDerExact(mgf_seq.subspan(mgf_oid.total_len), 0x30, what));
  VHSM_RETURN_IF_ERROR(CheckSha384AlgId(mgf_hash, std::string(what) + ": MGF1 hash"));
  in = in.subspan(mgf.total_len);
  // [2] saltLength
  VHSM_ASSIGN_OR_RETURN(DerTlv salt, ReadDerTlv(in, what));
  if (salt.tag != 0xA2) {
    return UnauthenticatedError(std::string(what) + ": RSASSA-PSS saltLength absent (default 20), expected 48");
  }
  VHSM_ASSIGN_OR_RETURN(ByteSpan salt_int, ReadDerExact(salt.value, 0x02, what));
  VHSM_ASSIGN_OR_RETURN(uint64_t salt_len, DerIntegerToUint(salt_int, 1u << 16, what));
  if (salt_len != 48) {
    return UnauthenticatedError(std::string(what) + ": RSASSA-PSS saltLength " + std::to_string(salt_len) +
                                ", expected 48");
  }
  in = in.subspan(salt.total_len);
  // [3] trailerField, optional, must be 1.
  if (!in.empty()) {
    VHSM_ASSIGN_OR_RETURN(DerTlv trailer, ReadDerTlv(in, what));
    if (trailer.tag != 0xA3 || trailer.total_len != in.size()) {
      return UnauthenticatedError(std::string(what) + ": unexpected fields after RSASSA-PSS saltLength");
    }
    VHSM_ASSIGN_OR_RETURN(ByteSpan t_int, ReadDerExact(trailer.value, 0x02, what));
    VHSM_ASSIGN_OR_RETURN(uint64_t t, DerIntegerToUint(t_int, 255, what));
    if (t != 1) return UnauthenticatedError(std::string(what) + ": RSASSA-PSS trailerField must be 1");
  }
  return OkStatus();
}

Status CheckIssuerKeyForProfile(const EVP_PKEY* key, SigProfile profile, std::string_view what) {
  if (key == nullptr) return InvalidArgumentError(std::string(what) + ": no issuer key");
  switch (profile) {
    case SigProfile::kRsaPssSha384Salt48:
      if (!EVP_PKEY_is_a(key, "RSA") && !EVP_PKEY_is_a(key, "RSA-PSS")) {
        return UnauthenticatedError(std::string(what) + ": issuer key is not RSA");
      }
      if (EVP_PKEY_get_bits(key) < 2048) {
        return UnauthenticatedError(std::string(what) + ": issuer RSA key has " +
                                    std::to_string(EVP_PKEY_get_bits(key)) + " bits, expected >= 2048");
      }
      return OkStatus();
  }
  return InternalError("unknown signature profile");
}

}  // namespace

// ---------------- DER ----------------

Result<DerTlv> ReadDerTlv(ByteSpan in, std::string_view what) {
  if (in.size() < 2) return InvalidArgumentError(std::string(what) + ": truncated DER (need tag and length)");
  DerTlv tlv;
  tlv.tag = in[0];
  if ((tlv.tag & 0x1F) == 0x1F) return InvalidArgumentError(std::string(what) + ": multi-byte DER tag");
  size_t len = 0;
  size_t hdr = 2;
  uint8_t l0 = in[1];
  if (l0 < 0x80) {
    len = l0;
  } else {
    size_t n = l0 & 0x7F;
    if (n == 0) return InvalidArgumentError(std::string(what) + ": indefinite DER length");
    if (n > 4) return InvalidArgumentError(std::string(what) + ": DER length over 4 octets");
    if (in.size() < 2 + n) return InvalidArgumentError(std::string(what) + ": truncated DER length");
    for (size_t i = 0; i < n; ++i) len = (len << 8) | in[2 + i];
    if (in[2] == 0 || len < 0x80) return InvalidArgumentError(std::string(what) + ": non-minimal DER length");
    hdr = 2 + n;
  }
  if (len > in.size() - hdr) {
    return InvalidArgumentError(std::string(what) + ": DER value of " + std::to_string(len) +
                                " bytes exceeds the " + std::to_string(in.size() - hdr) + " available");
  }
  tlv.value = in.subspan(hdr, len);
  tlv.total_len = hdr + len;
  return tlv;
}

Result<ByteSpan> ReadDerExact(ByteSpan in, uint8_t tag, std::string_view what) {
  VHSM_ASSIGN_OR_RETURN(DerTlv tlv, ReadDerTlv(in, what));
  if (tlv.tag != tag) {
    char buf[64];
    std::snprintf(buf, sizeof buf, ": DER tag 0x%02x, expected 0x%02x", tlv.tag, tag);
    return InvalidArgumentError(std::string(what) + buf);
  }
  if (tlv.total_len != in.size()) {
    return InvalidArgumentError(std::string(what) + ": " + std::to_string(in.size() - tlv.total_len) +
                                " trailing bytes after DER value");
  }
  return tlv.value;
}

Result<uint64_t> DerIntegerToUint(ByteSpan content, uint64_t max_value, std::string_view what) {
  if (content.empty()) return InvalidArgumentError(std::string(what) + ": empty INTEGER");
  if (content[0] & 0x80) return InvalidArgumentError(std::string(what) + ": negative INTEGER");
  if (content.size() > 1 && content[0] == 0 && (content[1] & 0x80) == 0) {
    return InvalidArgumentError(std::string(what) + ": non-minimal INTEGER encoding");
  }
  ByteSpan mag = content[0] == 0 ? content.subspan(1) : content;
  if (mag.size() > 8) return InvalidArgumentError(std::string(what) + ": INTEGER too large");
  uint64_t v = 0;
  for (uint8_t b : mag) v = (v << 8) | b;
  if (v > max_value) {
    return InvalidArgumentError(std::string(what) + ": value " + std::to_string(v) + " exceeds " +
                                std::to_string(max_value));
  }
  return v;
}

Status CheckAlgorithmIdentifier(ByteSpan alg_der, SigProfile profile, std::string_view what) {
  switch (profile) {
    case SigProfile::kRsaPssSha384Salt48: {
      VHSM_ASSIGN_OR_RETURN(ByteSpan seq, ReadDerExact(alg_der, 0x30, what));
      VHSM_ASSIGN_OR_RETURN(DerTlv oid, ReadDerTlv(seq, what));
      if (!SpanEquals(seq.first(oid.total_len), kOidRsassaPss)) {
        return UnauthenticatedError(std::string(what) +
                                    ": signature algorithm is not RSASSA-PSS (expected RSASSA-PSS SHA-384 salt 48)");
      }
      VHSM_ASSIGN_OR_RETURN(ByteSpan params, ReadDerExact(seq.subspan(oid.total_len), 0x30, what));
      return CheckPssParams(params, what);
    }
  }
  return InternalError("unknown signature profile");
}

// ---------------- Certificate ----------------

Result<Certificate> Certificate::FromX509(X509Ptr x509, Bytes der) {
  Certificate c;
  c.der_ = std::move(der);
  c.serial_ = Asn1IntegerMagnitude(X509_get0_serialNumber(x509.get()));
  VHSM_ASSIGN_OR_RETURN(c.not_before_, Asn1TimeToUnix(X509_get0_notBefore(x509.get()), "certificate notBefore"));
  VHSM_ASSIGN_OR_RETURN(c.not_after_, Asn1TimeToUnix(X509_get0_notAfter(x509.get()), "certificate notAfter"));
  int n = X509_get_ext_count(x509.get());
  if (n < 0 || static_cast<size_t>(n) > kMaxExtensions) {
    return InvalidArgumentError("certificate: " + std::to_string(n) + " extensions, at most " +
                                std::to_string(kMaxExtensions) + " allowed");
  }
  for (int i = 0; i < n; ++i) {
    X509_EXTENSION* e = X509_get_ext(x509.get(), i);
    Extension ext;
    char oid[128];
    int len = OBJ_obj2txt(oid, sizeof oid, X509_EXTENSION_get_object(e), 1);
    if (len <= 0 || static_cast<size_t>(len) >= sizeof oid) {
      ClearOpenSslErrors();
      return InvalidArgumentError("certificate: extension " + std::to_string(i) + " has an unreadable OID");
    }
    ext.oid.assign(oid, static_cast<size_t>(len));
    ext.critical = X509_EXTENSION_get_critical(e) == 1;
    const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(e);
    const unsigned char* d = ASN1_STRING_get0_data(v);
    ext.value.assign(d, d + ASN1_STRING_length(v));
    c.extensions_.push_back(std::move(ext));
  }
  if (X509_get0_pubkey(x509.get()) == nullptr) {
    ClearOpenSslErrors();
    return InvalidArgumentError("certificate: subject public key cannot be decoded");
  }
  c.x509_ = std::move(x509);
  return c;
}

Result<Certificate> Certificate::FromDer(ByteSpan der) {
  if (der.size() > kMaxCertificateBytes) {
    return ResourceExhaustedError("certificate: " + std::to_string(der.size()) + " bytes, at most " +
                                  std::to_string(kMaxCertificateBytes));
  }
  if (der.empty()) return InvalidArgumentError("certificate: empty");
  // The outer TLV must span the input exactly (no trailing bytes).
  VHSM_RETURN_IF_ERROR(ReadDerExact(der, 0x30, "certificate DER").status());
  const unsigned char* p = der.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x) return OpenSslError("certificate: not a DER X.509 certificate", StatusCode::kInvalidArgument);
  if (p != der.data() + der.size()) return InvalidArgumentError("certificate: trailing bytes after DER");
  return FromX509(std::move(x), Bytes(der.begin(), der.end()));
}

Result<Certificate> Certificate::FromPem(std::string_view pem) {
  if (pem.size() > kMaxCertificateBytes) {
    return ResourceExhaustedError("certificate: PEM of " + std::to_string(pem.size()) + " bytes, at most " +
                                  std::to_string(kMaxCertificateBytes));
  }
  VHSM_ASSIGN_OR_RETURN(std::vector<Bytes> ders, SplitPem(pem, kPemCertBegin, kPemCertEnd, 1, "certificate PEM"));
  return FromDer(ders[0]);
}

Result<Certificate> Certificate::Parse(ByteSpan bytes) {
  if (LooksLikePem(bytes)) return FromPem(AsStringView(bytes));
  return FromDer(bytes);
}

Certificate Certificate::Clone() const {
  Certificate c;
  X509_up_ref(x509_.get());
  c.x509_.reset(x509_.get());
  c.der_ = der_;
  c.serial_ = serial_;
  c.not_before_ = not_before_;
  c.not_after_ = not_after_;
  c.extensions_ = extensions_;
  return c;
}

std::string Certificate::Sha256Hex() const { return HexEncode(Sha256(der_)); }
std::string Certificate::SubjectCn() const { return CnOf(X509_get_subject_name(x509_.get())); }
std::string Certificate::IssuerCn() const { return CnOf(X509_get_issuer_name(x509_.get())); }
std::string Certificate::SerialHex() const { return serial_.empty() ? "0" : HexEncode(serial_); }
const EVP_PKEY* Certificate::public_key() const { return X509_get0_pubkey(x509_.get()); }

Status Certificate::CheckValidAt(int64_t now, std::string_view what) const {
  if (now < not_before_) {
    return FailedPreconditionError(std::string(what) + ": not valid until " + FormatTime(not_before_) +
                                   ", verification time " + FormatTime(now));
  }
  if (now > not_after_) {
    return FailedPreconditionError(std::string(what) + ": expired at " + FormatTime(not_after_) +
                                   ", verification time " + FormatTime(now));
  }
  return OkStatus();
}

Status Certificate::VerifySignedBy(const EVP_PKEY* issuer_key, SigProfile profile,
                                   std::string_view what) const {
  VHSM_RETURN_IF_ERROR(CheckIssuerKeyForProfile(issuer_key, profile, what));
  const ASN1_BIT_STRING* sig = nullptr;
  const X509_ALGOR* alg = nullptr;
  X509_get0_signature(&sig, &alg, x509_.get());
  VHSM_ASSIGN_OR_RETURN(Bytes outer, AlgorithmDer(alg, what));
  VHSM_RETURN_IF_ERROR(CheckAlgorithmIdentifier(outer, profile, what));
  // The signed TBSCertificate carries its own copy of the algorithm; they must agree.
  VHSM_ASSIGN_OR_RETURN(Bytes inner, AlgorithmDer(X509_get0_tbs_sigalg(x509_.get()), what));
  if (inner != outer) {
    return UnauthenticatedError(std::string(what) + ": TBSCertificate signature algorithm differs from the outer one");
  }
  // X509_verify takes a non-const key but does not modify it.
  int rc = X509_verify(x509_.get(), const_cast<EVP_PKEY*>(issuer_key));
  if (rc != 1) {
    ClearOpenSslErrors();
    return UnauthenticatedError(std::string(what) + ": RSASSA-PSS signature does not verify with the issuer key");
  }
  return OkStatus();
}

Result<std::vector<Certificate>> ParseCertificateBundle(ByteSpan bytes) {
  if (bytes.size() > kMaxBundleBytes) {
    return ResourceExhaustedError("certificate bundle: " + std::to_string(bytes.size()) + " bytes, at most " +
                                  std::to_string(kMaxBundleBytes));
  }
  std::vector<Certificate> out;
  if (!LooksLikePem(bytes)) {
    VHSM_ASSIGN_OR_RETURN(Certificate c, Certificate::FromDer(bytes));
    out.push_back(std::move(c));
    return out;
  }
  VHSM_ASSIGN_OR_RETURN(std::vector<Bytes> ders, SplitPem(AsStringView(bytes), kPemCertBegin, kPemCertEnd,
                                                          kMaxBundleCertificates, "certificate bundle"));
  for (size_t i = 0; i < ders.size(); ++i) {
    auto c = Certificate::FromDer(ders[i]);
    if (!c.ok()) return c.status().Annotate("certificate bundle entry " + std::to_string(i));
    out.push_back(std::move(c).value());
  }
  return out;
}

// ---------------- CRL ----------------

Result<Crl> Crl::FromDer(ByteSpan der) {
  if (der.size() > kMaxCrlBytes) {
    return ResourceExhaustedError("CRL: " + std::to_string(der.size()) + " bytes, at most " +
                                  std::to_string(kMaxCrlBytes));
  }
  if (der.empty()) return InvalidArgumentError("CRL: empty");
  VHSM_RETURN_IF_ERROR(ReadDerExact(der, 0x30, "CRL DER").status());
  const unsigned char* p = der.data();
  X509CrlPtr crl(d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size())));
  if (!crl) return OpenSslError("CRL: not a DER X.509 CRL", StatusCode::kInvalidArgument);
  if (p != der.data() + der.size()) return InvalidArgumentError("CRL: trailing bytes after DER");
  Crl c;
  VHSM_ASSIGN_OR_RETURN(c.this_update_, Asn1TimeToUnix(X509_CRL_get0_lastUpdate(crl.get()), "CRL thisUpdate"));
  if (const ASN1_TIME* nu = X509_CRL_get0_nextUpdate(crl.get()); nu != nullptr) {
    VHSM_ASSIGN_OR_RETURN(int64_t next, Asn1TimeToUnix(nu, "CRL nextUpdate"));
    c.next_update_ = next;
  }
  c.crl_ = std::move(crl);
  c.der_.assign(der.begin(), der.end());
  return c;
}

Result<Crl> Crl::Parse(ByteSpan bytes) {
  if (bytes.size() > kMaxCrlBytes) {
    return ResourceExhaustedError("CRL: " + std::to_string(bytes.size()) + " bytes, at most " +
                                  std::to_string(kMaxCrlBytes));
  }
  if (LooksLikePem(bytes)) {
    VHSM_ASSIGN_OR_RETURN(std::vector<Bytes> ders, SplitPem(AsStringView(bytes), kPemCrlBegin, kPemCrlEnd, 1, "CRL PEM"));
    return FromDer(ders[0]);
  }
  return FromDer(bytes);
}

std::string Crl::IssuerCn() const { return CnOf(X509_CRL_get_issuer(crl_.get())); }

size_t Crl::revoked_count() const {
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl_.get());
  return revoked == nullptr ? 0 : static_cast<size_t>(sk_X509_REVOKED_num(revoked));
}

bool Crl::IsRevoked(ByteSpan serial_be) const {
  STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl_.get());
  if (revoked == nullptr) return false;
  Bytes want(serial_be.begin(), serial_be.end());
  size_t z = 0;
  while (z < want.size() && want[z] == 0) ++z;
  want.erase(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(z));
  int n = sk_X509_REVOKED_num(revoked);
  for (int i = 0; i < n; ++i) {
    const X509_REVOKED* r = sk_X509_REVOKED_value(revoked, i);
    if (Asn1IntegerMagnitude(X509_REVOKED_get0_serialNumber(r)) == want) return true;
  }
  return false;
}

Status Crl::VerifySignedBy(const EVP_PKEY* issuer_key, SigProfile profile, std::string_view what) const {
  VHSM_RETURN_IF_ERROR(CheckIssuerKeyForProfile(issuer_key, profile, what));
  const ASN1_BIT_STRING* sig = nullptr;
  const X509_ALGOR* alg = nullptr;
  X509_CRL_get0_signature(crl_.get(), &sig, &alg);
  VHSM_ASSIGN_OR_RETURN(Bytes outer, AlgorithmDer(alg, what));
  VHSM_RETURN_IF_ERROR(CheckAlgorithmIdentifier(outer, profile, what));
  // TBSCertList.signature must equal the outer algorithm (RFC 5280 5.1.2.2); OpenSSL's
  // X509_CRL_verify does not compare them, so read it from the DER.
  {
    VHSM_ASSIGN_OR_RETURN(ByteSpan list, ReadDerExact(der_, 0x30, what));
    VHSM_ASSIGN_OR_RETURN(DerTlv tbs, ReadDerTlv(list, what));
    ByteSpan fields = tbs.value;
    VHSM_ASSIGN_OR_RETURN(DerTlv first, ReadDerTlv(fields, what));
    if (first.tag == 0x02) fields = fields.subspan(first.total_len);  // optional version
    VHSM_ASSIGN_OR_RETURN(DerTlv inner, ReadDerTlv(fields, what));
    if (!SpanEquals(fields.first(inner.total_len), outer)) {
      return UnauthenticatedError(std::string(what) + ": TBSCertList signature algorithm differs from the outer one");
    }
  }
  int rc = X509_CRL_verify(crl_.get(), const_cast<EVP_PKEY*>(issuer_key));
  if (rc != 1) {
    ClearOpenSslErrors();
    return UnauthenticatedError(std::string(what) + ": RSASSA-PSS signature does not verify with the issuer key");
  }
  return OkStatus();
}

}  // namespace vhsm::crypto
