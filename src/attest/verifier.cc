// verifier.cc: SEV-SNP evidence verification (chain, validity, CRL, signature, cross-checks).
#include "attest/verifier.h"

#include <algorithm>
#include <cstdio>
#include <deque>

#include "base/byte_reader.h"
#include "crypto/digest.h"
#include "crypto/signature.h"
#include "crypto/x509.h"
#include "snp/amd_roots.h"

namespace vhsm::attest {

using crypto::Certificate;
using crypto::SigProfile;
using snp::AmdCertKind;
using snp::Product;
using snp::SigningKey;

namespace internal {
// A chain whose signatures, names, key type and leaf extensions were verified. Validity periods
// and CRLs depend on time and are re-checked on every use.
struct CachedChain {
  Product product = Product::kUnknown;
  SigningKey signer = SigningKey::kVcek;
  std::shared_ptr<const Certificate> root;
  std::optional<Certificate> inter;
  std::optional<Certificate> leaf;
  snp::AmdCertInfo leaf_info;
  bool amd_root = true;
  std::vector<Check> checks;
};
}  // namespace internal

namespace {

constexpr Product kAllProducts[] = {Product::kMilan, Product::kGenoa, Product::kTurin};

struct PinnedSet {
  std::shared_ptr<const Certificate> ark;
  std::optional<Certificate> ask;
  std::optional<Certificate> asvk;
};

std::string LeafName(SigningKey s) { return s == SigningKey::kVlek ? "VLEK" : "VCEK"; }
std::string InterName(SigningKey s) { return s == SigningKey::kVlek ? "ASVK" : "ASK"; }
std::string InterCheck(SigningKey s) { return s == SigningKey::kVlek ? "asvk" : "ask"; }
AmdCertKind InterKind(SigningKey s) { return s == SigningKey::kVlek ? AmdCertKind::kAsvk : AmdCertKind::kAsk; }

std::string Hex2(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", v);
  return buf;
}

// Collects checks; the first failure sets the status.
class Recorder {
 public:
  explicit Recorder(std::vector<Check>* checks) : checks_(checks) {}
  void Pass(std::string name, std::string detail) {
    checks_->push_back({std::move(name), true, std::move(detail)});
  }
  Status Fail(std::string name, Status status) {
    checks_->push_back({std::move(name), false, status.message()});
    return status;
  }
  // Records `status` under `name`; returns it.
  Status Record(std::string name, Status status, std::string ok_detail) {
    if (status.ok()) {
      Pass(std::move(name), std::move(ok_detail));
      return status;
    }
    return Fail(std::move(name), std::move(status));
  }

 private:
  std::vector<Check>* checks_;
};

}  // namespace

struct Verifier::Impl {
  VerifierOptions options;
  SystemClock system_clock;
  const Clock* clock = nullptr;
  std::vector<std::shared_ptr<const Certificate>> extra_roots;
  std::vector<crypto::Crl> crls;
  PinnedSet pinned[4];  // indexed by Product

  mutable std::mutex mu;
  mutable std::unordered_map<std::string, std::shared_ptr<const internal::CachedChain>> cache;  // guarded by mu
  mutable std::deque<std::string> cache_order;                                                // guarded by mu
  mutable std::unordered_map<std::string, bool> verified_crls;                                // guarded by mu

  const PinnedSet& Pinned(Product p) const { return pinned[static_cast<int>(p)]; }

  Result<std::shared_ptr<const internal::CachedChain>> BuildChain(Product product, SigningKey signer,
                                                                   const snp::CertificateSet& certs,
                                                                   const Bytes& leaf_bytes,
                                                                   std::vector<Check>* checks) const;
  Status CheckTimeAndCrls(const internal::CachedChain& chain, const snp::CertificateSet& certs,
                          Recorder& rec) const;
  void Verify(const Evidence& evidence, VerifyOutcome& out) const;
};

Verifier::Verifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Verifier::~Verifier() = default;

Result<std::unique_ptr<Verifier>> Verifier::Create(VerifierOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->clock = impl->options.clock != nullptr ? impl->options.clock : &impl->system_clock;
  for (Product p : kAllProducts) {
    PinnedSet& set = impl->pinned[static_cast<int>(p)];
    VHSM_ASSIGN_OR_RETURN(Certificate ark, snp::PinnedCertificate(AmdCertKind::kArk, p));
    VHSM_ASSIGN_OR_RETURN(set.ask, snp::PinnedCertificate(AmdCertKind::kAsk, p));
    VHSM_ASSIGN_OR_RETURN(set.asvk, snp::PinnedCertificate(AmdCertKind::kAsvk, p));
    set.ark = std::make_shared<const Certificate>(std::move(ark));
  }
  for (size_t i = 0; i < impl->options.extra_trusted_roots.size(); ++i) {
    std::string what = "trusted root " + std::to_string(i);
    auto root = Certificate::Parse(impl->options.extra_trusted_roots[i]);
    if (!root.ok()) return InvalidArgumentError(what + ": " + root.status().message());
    Status self = root->VerifySignedBy(root->public_key(), SigProfile::kRsaPssSha384Salt48, what);
    if (!self.ok()) return InvalidArgumentError(self.message() + " (a trusted root must be self-signed)");
    impl->extra_roots.push_back(std::make_shared<const Certificate>(std::move(root).value()));
  }
  for (size_t i = 0; i < impl->options.crls.size(); ++i) {
    auto crl = crypto::Crl::Parse(impl->options.crls[i]);
    if (!crl.ok()) return InvalidArgumentError("configured CRL " + std::to_string(i) + ": " + crl.status().message());
    impl->crls.push_back(std::move(crl).value());
  }
  return std::unique_ptr<Verifier>(new Verifier(std::move(impl)));
}

size_t Verifier::cached_chains() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->cache.size();
}

Result<VerifiedReport> Verifier::Verify(const Evidence& evidence) const {
  VerifyOutcome out = VerifyWithChecks(evidence);
  if (!out.status.ok()) return out.status;
  return std::move(*out.verified);
}

VerifyOutcome Verifier::VerifyWithChecks(const Evidence& evidence) const {
  VerifyOutcome out;
  impl_->Verify(evidence, out);
  if (out.status.ok() && !out.verified.has_value()) out.status = InternalError("verifier: no result");
  return out;
}

Result<snp::AmdCertInfo> Verifier::VerifyCertificateChain(Product product, SigningKey signer,
                                                          const snp::CertificateSet& certs,
                                                          std::vector<Check>* checks) const {
  std::vector<Check> local;
  std::vector<Check>* out = checks != nullptr ? checks : &local;
  Recorder rec(out);
  if (product == Product::kUnknown) {
    return rec.Fail("product", InvalidArgumentError("product: unknown, expected Milan, Genoa or Turin"));
  }
  if (signer != SigningKey::kVcek && signer != SigningKey::kVlek) {
    return rec.Fail("leaf.kind", InvalidArgumentError("leaf kind: expected VCEK or VLEK"));
  }
  const Bytes& leaf = signer == SigningKey::kVlek ? certs.vlek : certs.vcek;
  if (leaf.empty()) {
    return rec.Fail("leaf.parse", FailedPreconditionError("leaf: no " + LeafName(signer) + " supplied"));
  }
  VHSM_ASSIGN_OR_RETURN(std::shared_ptr<const internal::CachedChain> chain,
                        impl_->BuildChain(product, signer, certs, leaf, out));
  VHSM_RETURN_IF_ERROR(impl_->CheckTimeAndCrls(*chain, certs, rec));
  return chain->leaf_info;
}

// Chain: root → ASK/ASVK → leaf, names, signatures, leaf key and extensions, productName.
Result<std::shared_ptr<const internal::CachedChain>> Verifier::Impl::BuildChain(
    Product product, SigningKey signer, const snp::CertificateSet& certs, const Bytes& leaf_bytes,
    std::vector<Check>* checks) const {
  Recorder rec(checks);
  const std::string inter_name = InterName(signer);
  const std::string inter_check = InterCheck(signer);
  const std::string leaf_name = LeafName(signer);
  const std::string pname(ProductName(product));

  // Cache lookup on the exact supplied bytes.
  std::string key;
  if (options.chain_cache_entries > 0) {
    crypto::Hasher h(crypto::HashAlg::kSha256);
    uint8_t hdr[2] = {static_cast<uint8_t>(product), static_cast<uint8_t>(signer)};
    h.Update(hdr);
    for (const Bytes* b : {&certs.ark, &certs.ask, &leaf_bytes}) {
      uint8_t len[8];
      StoreU64Le(len, b->size());
      h.Update(len);
      h.Update(*b);
    }
    Bytes digest = h.Finish();
    key.assign(digest.begin(), digest.end());
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) {
      for (const Check& c : it->second->checks) checks->push_back({c.name, c.ok, c.detail + " (cached)"});
      return it->second;
    }
  }

  auto chain = std::make_shared<internal::CachedChain>();
  chain->product = product;
  chain->signer = signer;
  const PinnedSet& pinned_set = Pinned(product);

  // 1. Root: a supplied ARK must be AMD's pinned ARK for the product or an explicitly trusted
  //    root, byte for byte. It is never trusted on its own.
  std::vector<std::shared_ptr<const Certificate>> roots;
  if (!certs.ark.empty()) {
    auto ark = Certificate::Parse(certs.ark);
    if (!ark.ok()) return rec.Fail("ark.parse", ark.status().Annotate("ARK"));
    if (ark->der() == pinned_set.ark->der()) {
      roots.push_back(pinned_set.ark);
      rec.Pass("ark.pinned", "supplied ARK is byte-identical to AMD's pinned " + pinned_set.ark->SubjectCn());
    } else {
      for (const auto& r : extra_roots) {
        if (r->der() == ark->der()) roots.push_back(r);
      }
      if (roots.empty()) {
        for (Product other : kAllProducts) {
          if (other != product && Pinned(other).ark->der() == ark->der()) {
            return rec.Fail("ark.pinned", UnauthenticatedError(
                "ARK: supplied " + ark->SubjectCn() + " is AMD's " + std::string(ProductName(other)) +
                " root, but the report is from a " + pname + " processor; expected " +
                pinned_set.ark->SubjectCn()));
          }
        }
        return rec.Fail("ark.pinned", UnauthenticatedError(
            "ARK: supplied root CN=" + ark->SubjectCn() + " (sha256 " + ark->Sha256Hex() +
            ") is not AMD's pinned " + pinned_set.ark->SubjectCn() + " and is not a trusted root"));
      }
      rec.Pass("ark.trusted", "supplied ARK CN=" + ark->SubjectCn() + " is an explicitly trusted root (sha256 " +
                                  ark->Sha256Hex() + "), not AMD's");
    }
  } else {
    roots.push_back(pinned_set.ark);
    for (const auto& r : extra_roots) roots.push_back(r);
  }

  // 2. Intermediate: supplied, or AMD's pinned one for the product.
  std::optional<Certificate> inter;
  bool inter_pinned = false;
  if (!certs.ask.empty()) {
    auto parsed = Certificate::Parse(certs.ask);
    if (!parsed.ok()) return rec.Fail(inter_check + ".parse", parsed.status().Annotate(inter_name));
    inter = std::move(parsed).value();
  } else {
    inter = (signer == SigningKey::kVlek ? pinned_set.asvk : pinned_set.ask)->Clone();
    inter_pinned = true;
  }
  const std::string want_inter_cn = snp::ExpectedAmdCn(InterKind(signer), product);
  if (inter->SubjectCn() != want_inter_cn) {
    std::string why = inter_name + ": subject CN=" + inter->SubjectCn() + ", expected " + want_inter_cn + " for a " +
                      pname + " " + leaf_name + " chain";
    if (signer == SigningKey::kVlek && inter->SubjectCn() == snp::ExpectedAmdCn(AmdCertKind::kAsk, product)) {
      why += " (SIGNING_KEY=VLEK selects the ASVK path; a VLEK is never issued by the ASK)";
    } else if (signer == SigningKey::kVcek && inter->SubjectCn() == snp::ExpectedAmdCn(AmdCertKind::kAsvk, product)) {
      why += " (SIGNING_KEY=VCEK selects the ASK path)";
    }
    return rec.Fail(inter_check + ".subject", UnauthenticatedError(why));
  }
  rec.Pass(inter_check + ".subject", "CN=" + want_inter_cn + (inter_pinned ? " (AMD's pinned copy; none supplied)" : ""));

  // Pick the root that signed the intermediate.
  std::shared_ptr<const Certificate> root;
  Status first_err;
  for (const auto& r : roots) {
    if (inter_pinned && r != pinned_set.ark) continue;  // AMD's ASK is only under AMD's ARK
    Status s = inter->VerifySignedBy(r->public_key(), SigProfile::kRsaPssSha384Salt48,
                                     inter_name + " CN=" + inter->SubjectCn() + " signed by " + r->SubjectCn());
    if (s.ok()) {
      root = r;
      break;
    }
    if (first_err.ok()) first_err = s;
  }
  if (!root) {
    if (first_err.ok()) first_err = UnauthenticatedError(inter_name + ": no trusted root to verify it");
    return rec.Fail(inter_check + ".signature", first_err);
  }
  chain->amd_root = root == pinned_set.ark;
  const std::string want_ark_cn = snp::ExpectedAmdCn(AmdCertKind::kArk, product);
  if (root->SubjectCn() != want_ark_cn) {
    return rec.Fail("ark.subject", UnauthenticatedError("ARK: subject CN=" + root->SubjectCn() + ", expected " +
                                                        want_ark_cn + " for a " + pname + " report"));
  }
  if (certs.ark.empty()) {
    rec.Pass(chain->amd_root ? "ark.pinned" : "ark.trusted",
             chain->amd_root ? "AMD's pinned " + want_ark_cn + " (none supplied)"
                             : "explicitly trusted root CN=" + want_ark_cn + " (sha256 " + root->Sha256Hex() +
                                   "), not AMD's");
  }
  VHSM_RETURN_IF_ERROR(rec.Record(
      "ark.self_signature",
      root->VerifySignedBy(root->public_key(), SigProfile::kRsaPssSha384Salt48, "ARK " + want_ark_cn + " self-signature"),
      want_ark_cn + " self-signature verifies (RSASSA-PSS SHA-384, salt 48)"));
  if (inter->IssuerCn() != root->SubjectCn()) {
    return rec.Fail(inter_check + ".issuer", UnauthenticatedError(inter_name + ": issuer CN=" + inter->IssuerCn() +
                                                                  ", expected " + root->SubjectCn()));
  }
  rec.Pass(inter_check + ".signature", want_inter_cn + " signed by " + want_ark_cn + " (RSASSA-PSS SHA-384, salt 48)");

  // 3. Leaf.
  auto leaf = Certificate::Parse(leaf_bytes);
  if (!leaf.ok()) return rec.Fail("leaf.parse", leaf.status().Annotate(leaf_name));
  const std::string want_leaf_cn = signer == SigningKey::kVlek ? "SEV-VLEK" : "SEV-VCEK";
  if (leaf->SubjectCn() != want_leaf_cn) {
    return rec.Fail("leaf.subject", PermissionDeniedError(
        leaf_name + ": subject CN=" + leaf->SubjectCn() + ", but report SIGNING_KEY=" + leaf_name + " expects CN=" +
        want_leaf_cn));
  }
  if (leaf->IssuerCn() != inter->SubjectCn()) {
    return rec.Fail("leaf.issuer", UnauthenticatedError(leaf_name + ": issuer CN=" + leaf->IssuerCn() +
                                                        ", expected " + inter->SubjectCn()));
  }
  rec.Pass("leaf.subject", "CN=" + want_leaf_cn + ", issuer CN=" + inter->SubjectCn());
  VHSM_RETURN_IF_ERROR(rec.Record(
      "leaf.signature",
      leaf->VerifySignedBy(inter->public_key(), SigProfile::kRsaPssSha384Salt48,
                           leaf_name + " not signed by " + want_inter_cn),
      leaf_name + " signed by " + want_inter_cn + " (RSASSA-PSS SHA-384, salt 48)"));
  if (!crypto::IsEcP384Key(leaf->public_key())) {
    return rec.Fail("leaf.key", UnauthenticatedError(leaf_name + ": public key is not EC P-384"));
  }
  rec.Pass("leaf.key", "EC P-384");
  auto info = snp::ParseAmdCertInfo(*leaf);
  if (!info.ok()) return rec.Fail("leaf.extensions", info.status());
  if (!info->product_name.has_value()) {
    return rec.Fail("leaf.product", PermissionDeniedError(leaf_name + ": productName extension missing"));
  }
  auto leaf_product = snp::ParseProduct(*info->product_name);
  if (!leaf_product.ok() || *leaf_product != product) {
    return rec.Fail("leaf.product", PermissionDeniedError(leaf_name + ".productName: \"" + *info->product_name +
                                                          "\", expected " + pname));
  }
  rec.Pass("leaf.product", "productName \"" + *info->product_name + "\" is " + pname);
  rec.Pass("leaf.extensions", "AMD extensions decoded" + std::string(info->hw_id_was_octet_string
                                                                          ? " (hwID was OCTET STRING-wrapped)"
                                                                          : ""));

  chain->root = root;
  chain->inter = std::move(inter);
  chain->leaf = std::move(leaf).value();
  chain->leaf_info = std::move(info).value();
  chain->checks = *checks;
  if (options.chain_cache_entries > 0) {
    std::lock_guard<std::mutex> lock(mu);
    if (cache.emplace(key, chain).second) {
      cache_order.push_back(key);
      while (cache.size() > options.chain_cache_entries && !cache_order.empty()) {
        cache.erase(cache_order.front());
        cache_order.pop_front();
      }
    }
  }
  return std::shared_ptr<const internal::CachedChain>(chain);
}

Status Verifier::Impl::CheckTimeAndCrls(const internal::CachedChain& chain, const snp::CertificateSet& certs,
                                        Recorder& rec) const {
  const int64_t now = clock->NowUnix();
  const std::string leaf_name = LeafName(chain.signer);
  const std::string inter_name = InterName(chain.signer);
  const std::string inter_check = InterCheck(chain.signer);
  const std::string now_s = FormatRfc3339(now);
  VHSM_RETURN_IF_ERROR(rec.Record("ark.validity", chain.root->CheckValidAt(now, "ARK " + chain.root->SubjectCn()),
                                  "valid " + FormatRfc3339(chain.root->not_before()) + ".." +
                                      FormatRfc3339(chain.root->not_after()) + " at " + now_s));
  VHSM_RETURN_IF_ERROR(rec.Record(inter_check + ".validity",
                                  chain.inter->CheckValidAt(now, inter_name + " " + chain.inter->SubjectCn()),
                                  "valid " + FormatRfc3339(chain.inter->not_before()) + ".." +
                                      FormatRfc3339(chain.inter->not_after()) + " at " + now_s));
  VHSM_RETURN_IF_ERROR(rec.Record("leaf.validity", chain.leaf->CheckValidAt(now, leaf_name),
                                  "valid " + FormatRfc3339(chain.leaf->not_before()) + ".." +
                                      FormatRfc3339(chain.leaf->not_after()) + " at " + now_s));

  // CRLs: the evidence's (must be the chain ARK's) plus configured ones issued by the chain ARK.
  std::vector<const crypto::Crl*> applicable;
  std::optional<crypto::Crl> evidence_crl;
  const std::string ark_cn = chain.root->SubjectCn();
  if (!certs.crl.empty()) {
    auto crl = crypto::Crl::Parse(certs.crl);
    if (!crl.ok()) return rec.Fail("crl.parse", crl.status());
    evidence_crl = std::move(crl).value();
    if (evidence_crl->IssuerCn() != ark_cn) {
      return rec.Fail("crl.issuer", UnauthenticatedError("CRL: issuer CN=" + evidence_crl->IssuerCn() +
                                                         ", expected " + ark_cn));
    }
    applicable.push_back(&*evidence_crl);
  }
  for (const crypto::Crl& c : crls) {
    if (c.IssuerCn() == ark_cn) applicable.push_back(&c);
  }
  if (applicable.empty()) {
    if (options.crl_mode == CrlMode::kRequire) {
      return rec.Fail("crl", FailedPreconditionError("CRL: required, but no CRL issued by " + ark_cn +
                                                     " was supplied"));
    }
    rec.Pass("crl", "no CRL supplied (not required); revocation not checked");
    return OkStatus();
  }
  for (const crypto::Crl* crl : applicable) {
    std::string ckey = HexEncode(crypto::Sha256(crl->der())) + chain.root->Sha256Hex();
    bool known = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      known = verified_crls.count(ckey) != 0;
    }
    if (!known) {
      Status s = crl->VerifySignedBy(chain.root->public_key(), SigProfile::kRsaPssSha384Salt48,
                                     "CRL: not signed by " + ark_cn);
      if (!s.ok()) return rec.Fail("crl.signature", s);
      std::lock_guard<std::mutex> lock(mu);
      if (verified_crls.size() > 1024) verified_crls.clear();
      verified_crls[ckey] = true;
    }
    rec.Pass("crl.signature", "CRL signed by " + ark_cn + " (RSASSA-PSS SHA-384, salt 48)");
    if (crl->this_update() > now) {
      return rec.Fail("crl.freshness", FailedPreconditionError("CRL: thisUpdate " + FormatRfc3339(crl->this_update()) +
                                                               " is after the verification time " + now_s));
    }
    if (!crl->next_update().has_value()) {
      return rec.Fail("crl.freshness", FailedPreconditionError("CRL: no nextUpdate, freshness cannot be established"));
    }
    if (*crl->next_update() < now) {
      return rec.Fail("crl.freshness", FailedPreconditionError("CRL: stale, nextUpdate " +
                                                               FormatRfc3339(*crl->next_update()) +
                                                               " is before the verification time " + now_s));
    }
    rec.Pass("crl.freshness", "thisUpdate " + FormatRfc3339(crl->this_update()) + ", nextUpdate " +
                                  FormatRfc3339(*crl->next_update()));
    if (crl->IsRevoked(chain.inter->SerialBytes())) {
      return rec.Fail(inter_check + ".revocation",
                      PermissionDeniedError(inter_name + " " + chain.inter->SubjectCn() + ": serial 0x" +
                                            chain.inter->SerialHex() + " is revoked by the " + ark_cn + " CRL"));
    }
    rec.Pass(inter_check + ".revocation", "serial 0x" + chain.inter->SerialHex() + " not revoked");
    if (crl->IsRevoked(chain.leaf->SerialBytes())) {
      return rec.Fail("leaf.revocation", PermissionDeniedError(leaf_name + ": serial 0x" + chain.leaf->SerialHex() +
                                                               " is revoked by the " + ark_cn + " CRL"));
    }
    rec.Pass("leaf.revocation", "serial 0x" + chain.leaf->SerialHex() + " not revoked");
  }
  return OkStatus();
}

void Verifier::Impl::Verify(const Evidence& evidence, VerifyOutcome& out) const {
  Recorder rec(&out.checks);
  // 1. Structure.
  auto parsed = snp::ParseReport(evidence.report);
  if (!parsed.ok()) {
    out.status = rec.Fail("report.parse", parsed.status());
    return;
  }
  const snp::AttestationReport& report = *parsed;
  out.report = report;
  rec.Pass("report.parse", "1184 bytes, version " + std::to_string(report.version) + ", signature algorithm " +
                               std::to_string(report.signature_algo) + " (ECDSA P-384 SHA-384)");

  // 2. Signing key.
  const uint8_t sk = report.signing_key_raw();
  if (sk != 0 && sk != 1) {
    out.status = rec.Fail("report.signing_key", InvalidArgumentError(
        "report.signer_info.SIGNING_KEY: " + snp::SigningKeyName(sk) + " (" + std::to_string(sk) +
        "), expected VCEK (0) or VLEK (1)"));
    return;
  }
  if (report.mask_chip_key()) {
    out.status = rec.Fail("report.signing_key", InvalidArgumentError(
        "report.signer_info.MASK_CHIP_KEY: set, the firmware did not sign this report"));
    return;
  }
  const SigningKey signer = sk == 1 ? SigningKey::kVlek : SigningKey::kVcek;
  out.signer = signer;
  const Bytes& leaf_bytes = signer == SigningKey::kVlek ? evidence.certs.vlek : evidence.certs.vcek;
  if (leaf_bytes.empty()) {
    const bool other = signer == SigningKey::kVlek ? !evidence.certs.vcek.empty() : !evidence.certs.vlek.empty();
    out.status = rec.Fail("report.signing_key", FailedPreconditionError(
        "leaf: report SIGNING_KEY=" + LeafName(signer) + " but no " + LeafName(signer) + " was supplied" +
        (other ? " (only a " + LeafName(signer == SigningKey::kVlek ? SigningKey::kVcek : SigningKey::kVlek) +
                     ", which cannot have signed it)"
               : "")));
    return;
  }
  rec.Pass("report.signing_key", "SIGNING_KEY=" + LeafName(signer) + ": " + LeafName(signer) + " path (ARK -> " +
                                     InterName(signer) + " -> " + LeafName(signer) + ")");

  // 3. Product.
  Product hint_product = Product::kUnknown;
  if (evidence.product.has_value()) {
    hint_product = *evidence.product;
  } else if (options.product.has_value()) {
    hint_product = *options.product;
  }
  const bool has_hint = hint_product != Product::kUnknown;
  std::vector<Product> candidates;
  std::string product_source;
  if (report.has_cpuid()) {
    auto p = snp::ReportProduct(report);
    if (!p.has_value() || *p == Product::kUnknown) {
      out.status = rec.Fail("product", InvalidArgumentError(
          "report.cpuid: family " + Hex2(report.cpuid_fam_id) + " model " + Hex2(report.cpuid_mod_id) +
          " is not a known SEV-SNP product (Milan, Genoa, Turin)"));
      return;
    }
    if (has_hint && hint_product != *p) {
      out.status = rec.Fail("product", PermissionDeniedError(
          "product: configured " + std::string(ProductName(hint_product)) + ", but report CPUID (family " +
          Hex2(report.cpuid_fam_id) + " model " + Hex2(report.cpuid_mod_id) + ") says " +
          std::string(ProductName(*p))));
      return;
    }
    candidates = {*p};
    product_source = "from report CPUID family " + Hex2(report.cpuid_fam_id) + " model " + Hex2(report.cpuid_mod_id);
  } else if (has_hint) {
    candidates = {hint_product};
    product_source = "configured (v2 report has no CPUID)";
  } else {
    candidates.assign(std::begin(kAllProducts), std::end(kAllProducts));
    product_source = "v2 report: the only pinned chain that verifies";
  }

  // 4. Chain (for v2 without a hint: the first product whose chain verifies).
  std::shared_ptr<const internal::CachedChain> chain;
  std::vector<Check> best_checks;
  Status best_status;
  Product best_product = candidates.front();
  if (candidates.size() > 1) {
    // Report the failure for the product the leaf names, when it names one.
    if (auto leaf = Certificate::Parse(leaf_bytes); leaf.ok()) {
      if (auto info = snp::ParseAmdCertInfo(*leaf); info.ok() && info->product_name.has_value()) {
        if (auto p = snp::ParseProduct(*info->product_name); p.ok()) best_product = *p;
      }
    }
  }
  for (Product p : candidates) {
    std::vector<Check> attempt;
    auto c = BuildChain(p, signer, evidence.certs, leaf_bytes, &attempt);
    if (c.ok()) {
      chain = *c;
      best_checks = std::move(attempt);
      break;
    }
    if (p == best_product || best_checks.empty()) {
      best_checks = std::move(attempt);
      best_status = c.status();
    }
  }
  out.product = chain ? chain->product : best_product;
  if (!chain) {
    out.checks.push_back({"product", true, std::string(ProductName(best_product)) + " (" + product_source + ")"});
    out.checks.insert(out.checks.end(), best_checks.begin(), best_checks.end());
    out.status = best_status.ok() ? InternalError("chain: no result") : best_status;
    return;
  }
  const Product product = chain->product;
  rec.Pass("product", std::string(ProductName(product)) + " (" + product_source + ")");
  out.checks.insert(out.checks.end(), best_checks.begin(), best_checks.end());

  // 5. Time-dependent checks and revocation.
  if (Status s = CheckTimeAndCrls(*chain, evidence.certs, rec); !s.ok()) {
    out.status = s;
    return;
  }

  // 6. Report signature over [0, 0x2A0); R and S little-endian → big-endian.
  ByteSpan bytes(evidence.report);
  Bytes r(report.signature_r.rbegin(), report.signature_r.rend());
  Bytes s(report.signature_s.rbegin(), report.signature_s.rend());
  Status sig = crypto::VerifyEcdsaP384Sha384(chain->leaf->public_key(), bytes.first(snp::kSignedRegionSize), r, s);
  if (!sig.ok()) {
    out.status = rec.Fail("report.signature", UnauthenticatedError(
        "report.signature: ECDSA P-384 signature over bytes 0x000-0x29F does not verify with the " +
        LeafName(signer) + " public key"));
    return;
  }
  rec.Pass("report.signature", "ECDSA P-384/SHA-384 over bytes 0x000-0x29F verifies with the " + LeafName(signer));

  // 7. Cross-checks between the report and the leaf.
  if (Status t = snp::CheckTcbMatchesCert(chain->leaf_info, report.reported_tcb, product); !t.ok()) {
    out.status = rec.Fail("report.reported_tcb", t.Annotate("REPORTED_TCB vs " + LeafName(signer)));
    return;
  }
  rec.Pass("report.reported_tcb", "leaf SPLs equal REPORTED_TCB (" +
                                      snp::TcbToString(snp::DecodeTcb(report.reported_tcb, product)) + ")");
  if (signer == SigningKey::kVcek) {
    if (IsAllZero(report.chip_id)) {
      rec.Pass("report.chip_id", "CHIP_ID masked (all zero); the VCEK signature still binds the chip");
    } else {
      Status h = snp::CheckHwIdMatchesChipId(chain->leaf_info, report.chip_id, product);
      if (!h.ok()) {
        out.status = rec.Fail("report.chip_id", h);
        return;
      }
      rec.Pass("report.chip_id", std::string("VCEK hwID equals CHIP_ID") +
                                     (HasTurinTcbLayout(product) ? " (first 8 bytes, Turin)" : ""));
    }
  } else {
    rec.Pass("report.chip_id", "VLEK: CHIP_ID is not bound to the key, not compared");
  }

  VerifiedReport v;
  v.report_ = report;
  v.report_bytes_ = evidence.report;
  v.product_ = product;
  v.signer_ = signer;
  v.leaf_info_ = chain->leaf_info;
  v.leaf_der_ = chain->leaf->der();
  v.amd_root_ = chain->amd_root;
  v.root_cn_ = chain->root->SubjectCn();
  v.checks_ = out.checks;
  out.verified = std::move(v);
  out.status = OkStatus();
}

}  // namespace vhsm::attest
