// kds.h: finds the AMD collateral a SEV-SNP verifier needs (VCEK leaf, ASK/ASVK+ARK chain,
// CRL) from AMD's Key Distribution Service (KDS) and keeps it in an on-disk cache.
//
//   * URL builders for every KDS endpoint (Milan/Genoa 64-byte hwid; Turin fmcSPL + 8-byte hwid).
//   * HttpFetcher: an injectable GET interface; HttplibFetcher is the cpp-httplib implementation
//     with timeouts, a response size cap, and bounded exponential backoff on 429/502/503/504
//     that honours (a capped) Retry-After.
//   * CollateralCache: files under one root, keyed by product / hwid / TCB (VCEK) and by
//     product + signer (chains, CRLs), written atomically with mode 0644.
//   * CollateralProvider: cache first, then the fetcher unless offline.
//
// WARNING: nothing here trusts what it fetches or reads from the cache. Responses are only
// checked to be well-formed (a DER certificate, a PEM bundle of two certificates, a CRL) so
// garbage such as an HTML error page is never cached. Chain, signature, validity, revocation
// and CRL freshness judgements belong to attest::Verifier, which checks the chain against the
// pinned AMD roots.
// Spec: AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
// Specification" (57230); shared/docs/snp-facts.md section 7.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/status.h"
#include "snp/firmware.h"
#include "snp/product.h"
#include "snp/report.h"
#include "snp/tcb.h"

namespace vhsm::snp {

inline constexpr std::string_view kKdsDefaultBaseUrl = "https://kdsintf.amd.com";

// Which key family a chain or CRL belongs to: VCEK (ARK→ASK→VCEK) or VLEK (ARK→ASVK→VLEK).
enum class KdsSigner { kVcek, kVlek };
std::string_view KdsSignerName(KdsSigner s);  // "vcek" / "vlek" (also the KDS path segment)

// ---------------------------------------------------------------------------------------------
// URL building. Paths are relative to a base URL ("https://kdsintf.amd.com" or, in tests,
// "http://127.0.0.1:PORT"); *Url() functions prepend base_url (a trailing '/' is tolerated).

// The KDS hwid for a CHIP_ID: 128 lowercase hex chars (Milan/Genoa) or the first 8 bytes as 16
// hex chars (Turin). `chip_id` is the 64-byte report field (Turin also accepts the 8-byte hwID).
// FailedPrecondition when the hwid is all zero (MASK_CHIP_ID: a VCEK cannot be fetched; the host
// must supply it, e.g. in the extended-report certificate table). InvalidArgument on a wrong
// length or an unknown product.
Result<std::string> KdsHwid(Product product, ByteSpan chip_id);

// "/vcek/v1/{Product}/{hwid}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=.." (Milan/Genoa), or
// "/vcek/v1/Turin/{hwid16}?fmcSPL=..&blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..". SPLs are plain
// decimal. Turin requires tcb.fmc (InvalidArgument otherwise); fmc is ignored for Milan/Genoa.
Result<std::string> VcekPath(Product product, ByteSpan chip_id, const TcbParts& tcb);
Result<std::string> VcekUrl(Product product, ByteSpan chip_id, const TcbParts& tcb,
                            std::string_view base_url = kKdsDefaultBaseUrl);
// "/{vcek|vlek}/v1/{Product}/cert_chain": PEM, ASK (or ASVK) first, then ARK.
Result<std::string> CertChainPath(Product product, KdsSigner signer);
Result<std::string> CertChainUrl(Product product, KdsSigner signer,
                                 std::string_view base_url = kKdsDefaultBaseUrl);
// "/{vcek|vlek}/v1/{Product}/crl": DER CRL signed by the ARK.
Result<std::string> CrlPath(Product product, KdsSigner signer);
Result<std::string> CrlUrl(Product product, KdsSigner signer,
                           std::string_view base_url = kKdsDefaultBaseUrl);
// There is no VLEK leaf endpoint: the cloud provider installs the VLEK and the host hands it
// to the guest in the extended-report certificate table.

// ---------------------------------------------------------------------------------------------
// HTTP.

// One GET of an absolute URL. Implementations return the body of a 200 response, or:
// NotFound (404), InvalidArgument (400 or a malformed URL), ResourceExhausted (body larger
// than the configured limit; not retried), Unavailable (transport errors, 429/5xx after the
// retry budget, other statuses), DataLoss (200 with an empty body). Implementations must be
// callable from several threads.
class HttpFetcher {
 public:
  virtual ~HttpFetcher() = default;
  virtual Result<Bytes> Get(const std::string& url) = 0;
};

struct HttpFetcherOptions {
  int64_t connect_timeout_ms = 5000;
  int64_t read_timeout_ms = 10000;
  size_t max_body_bytes = 1u << 20;  // KDS answers are a few KiB
  int max_attempts = 4;              // total tries, including the first
  int64_t initial_backoff_ms = 500;  // doubles after each retryable failure
  int64_t max_backoff_ms = 8000;     // cap for both computed backoff and Retry-After
  std::string user_agent = "vhsm-kds/0.1";
  // PEM CA bundle for https (empty: the system store). TLS only protects the transport: trust
  // in the certificates comes from the pinned AMD roots, not from the TLS peer.
  std::string ca_cert_path;
  // How to wait between attempts; tests inject a recorder. Default: std::this_thread::sleep_for.
  std::function<void(std::chrono::milliseconds)> sleep;
};

// cpp-httplib client. http:// and https:// (OpenSSL). Does not follow redirects.
class HttplibFetcher final : public HttpFetcher {
 public:
  explicit HttplibFetcher(HttpFetcherOptions options = {});
  Result<Bytes> Get(const std::string& url) override;

 private:
  HttpFetcherOptions options_;
};

// Parses a Retry-After value in delta-seconds ("120", clamped to 1e9); nullopt for HTTP-dates
// or garbage, in which case the computed backoff is used. Exposed for tests.
std::optional<int64_t> ParseRetryAfterSeconds(std::string_view value);

// ---------------------------------------------------------------------------------------------
// On-disk cache. Layout under root (KDS path segments, so a cache can be built by hand with
// curl from a connected machine):
//   <root>/vcek/<Product>/<hwid hex>/<tcb>.der   tcb = "bl3-tee0-snp8-ucode115", Turin
//                                                "fmc0-bl0-tee0-snp0-ucode9"
//   <root>/{vcek|vlek}/<Product>/cert_chain.pem
//   <root>/{vcek|vlek}/<Product>/crl.der
// Files are written with WriteFileAtomic (0644); missing directories are created (umask applies).
// Reads are size-capped. The cache does not judge contents (see the WARNING above).
class CollateralCache {
 public:
  explicit CollateralCache(std::string root, size_t max_file_bytes = 1u << 20);

  const std::string& root() const { return root_; }
  // Cache file paths; errors as for KdsHwid/VcekPath.
  Result<std::string> VcekFile(Product product, ByteSpan chip_id, const TcbParts& tcb) const;
  Result<std::string> ChainFile(Product product, KdsSigner signer) const;
  Result<std::string> CrlFile(Product product, KdsSigner signer) const;

  // Read: NotFound (message names the path) when absent; DataLoss if unreadable/oversized.
  Result<Bytes> Read(const std::string& file) const;
  // Write: creates parent directories, then writes atomically with mode 0644.
  Status Write(const std::string& file, ByteSpan data) const;

 private:
  std::string root_;
  size_t max_file_bytes_;
};

// ---------------------------------------------------------------------------------------------
// Cache-first collateral lookup.

struct CollateralProviderOptions {
  std::string base_url = std::string(kKdsDefaultBaseUrl);
  // Never touch the network: a cache miss is NotFound naming the file that was looked for.
  bool offline = false;
  // Optional (must outlive the provider): downloads at Info, cache write failures at Warning.
  Logger* logger = nullptr;
};

// Thread-safe; calls are serialised (KDS throttles, and this keeps cache writes ordered).
class CollateralProvider {
 public:
  // `cache`, `clock` and `fetcher` must outlive the provider. `fetcher` may be null only when
  // options.offline is set (otherwise every miss is FailedPrecondition).
  CollateralProvider(const CollateralCache& cache, HttpFetcher* fetcher, const Clock& clock,
                     CollateralProviderOptions options = {});

  // DER VCEK for (product, CHIP_ID, REPORTED_TCB). FailedPrecondition for an all-zero CHIP_ID.
  Result<Bytes> GetVcek(Product product, ByteSpan chip_id, const TcbParts& reported_tcb);
  // PEM chain: ASK (VCEK) or ASVK (VLEK) first, then ARK.
  Result<Bytes> GetChain(Product product, KdsSigner signer);
  // DER CRL. A cached CRL whose nextUpdate has passed (by `clock`) is refetched when online;
  // offline, the stale CRL is returned as is and the verifier rejects it as stale (never a
  // silent pass). A failed refetch returns the fetch error.
  Result<Bytes> GetCrl(Product product, KdsSigner signer);

  // Number of fetcher calls made so far (for logs and tests).
  int fetch_count() const;

 private:
  enum class Kind { kVcek, kChain, kCrl };
  // The cached bytes, or nullopt for a miss. An unreadable entry (I/O error, oversized, a
  // path component that is a file) is an error offline; online it is logged and refetched.
  Result<std::optional<Bytes>> Lookup(const std::string& file);
  Result<Bytes> FetchAndStore(const std::string& url, const std::string& file, Kind kind);
  Result<Bytes> OfflineMiss(const std::string& file, std::string_view what) const;

  const CollateralCache& cache_;
  HttpFetcher* fetcher_;
  const Clock& clock_;
  CollateralProviderOptions options_;
  mutable std::mutex mu_;
  int fetch_count_ = 0;  // guarded by mu_
};

// Splits a KDS cert_chain PEM (intermediate first, then ARK) into two DER certificates.
// DataLoss naming `what` unless it holds exactly two PEM certificates.
struct KdsChainDer {
  Bytes intermediate;  // ASK (VCEK chain) or ASVK (VLEK chain)
  Bytes ark;
};
Result<KdsChainDer> SplitKdsChain(ByteSpan pem, std::string_view what);

// What CompleteCertificateSet may fetch besides the VCEK.
struct CompleteOptions {
  bool chain =
      false;         // fill empty ask/ark from the KDS cert_chain (else the verifier's pinned ones)
  bool crl = false;  // fill an empty crl from the KDS CRL of the report's signer
};

// Glue for `vhsm snp verify` and the attestation service: fills the EMPTY members of `certs`
// for `report` (a parsed report; `product` from ReportProduct() or configuration) and leaves
// present ones alone. VCEK-signed report: vcek from GetVcek(product, CHIP_ID,
// DecodeTcb(REPORTED_TCB)). VLEK-signed: the VLEK cannot be downloaded, so an empty vlek is
// FailedPrecondition. SIGNING_KEY none/reserved: InvalidArgument. Nothing is verified here:
// pass the result to attest::Verifier.
Status CompleteCertificateSet(CollateralProvider& provider, const AttestationReport& report,
                              Product product, const CompleteOptions& options,
                              CertificateSet& certs);

// Well-formedness checks applied before caching (not trust decisions). Exposed for tests.
// DataLoss naming `what` when the bytes are not a single DER certificate / a PEM bundle of
// exactly two certificates / a DER or PEM CRL.
Status CheckDerCertificate(ByteSpan der, std::string_view what);
Status CheckPemChain(ByteSpan pem, std::string_view what);
// Returns the CRL's nextUpdate (Unix seconds) or nullopt when it has none.
Result<std::optional<int64_t>> CrlNextUpdate(ByteSpan crl, std::string_view what);

}  // namespace vhsm::snp
