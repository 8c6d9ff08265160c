#include "snp/kds.h"

#include <httplib.h>  // built with CPPHTTPLIB_OPENSSL_SUPPORT (from the cpp-httplib pkg-config)
#include <openssl/pem.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <limits>
#include <thread>
#include <utility>

#include "base/file.h"
#include "crypto/error.h"
#include "crypto/ossl_ptr.h"

namespace vhsm::snp {
namespace {

// The KDS path segment. Kept here (not ProductName) so URL building has no other dependency.
Result<std::string_view> KdsProductSegment(Product product) {
  switch (product) {
    case Product::kMilan:
      return std::string_view("Milan");
    case Product::kGenoa:
      return std::string_view("Genoa");
    case Product::kTurin:
      return std::string_view("Turin");
    case Product::kUnknown:
      break;
  }
  return InvalidArgumentError("KDS: product: got unknown, want Milan, Genoa or Turin");
}

std::string JoinUrl(std::string_view base_url, std::string_view path) {
  while (!base_url.empty() && base_url.back() == '/') base_url.remove_suffix(1);
  return std::string(base_url) + std::string(path);
}

std::string TcbFileStem(const TcbParts& tcb, Product product) {
  std::string s;
  if (product == Product::kTurin && tcb.fmc.has_value()) s = "fmc" + std::to_string(*tcb.fmc) + "-";
  s += "bl" + std::to_string(tcb.bootloader) + "-tee" + std::to_string(tcb.tee) + "-snp" +
       std::to_string(tcb.snp) + "-ucode" + std::to_string(tcb.microcode);
  return s;
}

Status CheckTcbForProduct(Product product, const TcbParts& tcb) {
  if (product == Product::kTurin && !tcb.fmc.has_value()) {
    return InvalidArgumentError("KDS: Turin VCEK needs fmcSPL: TcbParts.fmc is unset");
  }
  return OkStatus();
}

// "scheme://authority" and "/path?query" from an absolute http(s) URL.
struct SplitUrl {
  std::string origin;
  std::string path;
};

Result<SplitUrl> SplitHttpUrl(const std::string& url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    return InvalidArgumentError("KDS URL: want scheme://host/path, got \"" + url + "\"");
  }
  std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") {
    return InvalidArgumentError("KDS URL: scheme: want http or https, got \"" + scheme + "\"");
  }
  size_t path_start = url.find('/', scheme_end + 3);
  if (path_start == scheme_end + 3) {
    return InvalidArgumentError("KDS URL: empty host in \"" + url + "\"");
  }
  SplitUrl out;
  out.origin = url.substr(0, path_start);
  out.path = path_start == std::string::npos ? "/" : url.substr(path_start);
  return out;
}

bool IsRetryableStatus(int status) {
  return status == 429 || status == 502 || status == 503 || status == 504;
}

// Outcome of one HTTP attempt.
struct Attempt {
  Result<Bytes> result = Bytes{};
  bool retryable = false;
  std::optional<int64_t> retry_after_s;
};

Result<int64_t> Asn1TimeToUnix(const ASN1_TIME* t, std::string_view what) {
  struct tm tm_value{};
  if (ASN1_TIME_to_tm(t, &tm_value) != 1) {
    return crypto::OpenSslError(std::string(what) + ": unreadable time", StatusCode::kDataLoss);
  }
  return static_cast<int64_t>(timegm(&tm_value));
}

}  // namespace

std::string_view KdsSignerName(KdsSigner s) { return s == KdsSigner::kVlek ? "vlek" : "vcek"; }

Result<std::string> KdsHwid(Product product, ByteSpan chip_id) {
  VHSM_ASSIGN_OR_RETURN(std::string_view segment, KdsProductSegment(product));
  ByteSpan hwid = chip_id;
  if (product == Product::kTurin) {
    // Turin's hwID is 8 bytes: the first 8 of CHIP_ID (the rest is zero in real reports).
    if (chip_id.size() != 64 && chip_id.size() != 8) {
      return InvalidArgumentError("KDS: Turin chip_id: got " + std::to_string(chip_id.size()) +
                                  " bytes, want 64 (report CHIP_ID) or 8 (hwID)");
    }
    hwid = chip_id.first(8);
  } else if (chip_id.size() != 64) {
    return InvalidArgumentError("KDS: " + std::string(segment) + " chip_id: got " +
                                std::to_string(chip_id.size()) + " bytes, want 64");
  }
  if (IsAllZero(hwid)) {
    return FailedPreconditionError(
        "KDS: chip_id is all zero (MASK_CHIP_ID set?): cannot fetch a VCEK by hwid; supply "
        "the VCEK (e.g. from the extended-report certificate table)");
  }
  return HexEncode(hwid);
}

Result<std::string> VcekPath(Product product, ByteSpan chip_id, const TcbParts& tcb) {
  VHSM_ASSIGN_OR_RETURN(std::string_view segment, KdsProductSegment(product));
  VHSM_ASSIGN_OR_RETURN(std::string hwid, KdsHwid(product, chip_id));
  VHSM_RETURN_IF_ERROR(CheckTcbForProduct(product, tcb));
  std::string path = "/vcek/v1/" + std::string(segment) + "/" + hwid + "?";
  // Turin puts fmcSPL first; Milan/Genoa have no FMC and KDS does not expect the parameter.
  if (product == Product::kTurin) path += "fmcSPL=" + std::to_string(*tcb.fmc) + "&";
  path += "blSPL=" + std::to_string(tcb.bootloader) + "&teeSPL=" + std::to_string(tcb.tee) +
          "&snpSPL=" + std::to_string(tcb.snp) + "&ucodeSPL=" + std::to_string(tcb.microcode);
  return path;
}

Result<std::string> VcekUrl(Product product, ByteSpan chip_id, const TcbParts& tcb,
                            std::string_view base_url) {
  VHSM_ASSIGN_OR_RETURN(std::string path, VcekPath(product, chip_id, tcb));
  return JoinUrl(base_url, path);
}

namespace {
// "/<signer>/v1/<product><leaf>". Appended piecewise: GCC 12 at -O3 reports a false
// -Wrestrict for `"/" + std::string(...)` (GCC bug 105651), which breaks the release build.
std::string KdsSignerPath(KdsSigner signer, std::string_view segment, std::string_view leaf) {
  std::string out;
  out.reserve(32 + segment.size() + leaf.size());
  out.append("/").append(KdsSignerName(signer)).append("/v1/").append(segment).append(leaf);
  return out;
}
}  // namespace

Result<std::string> CertChainPath(Product product, KdsSigner signer) {
  VHSM_ASSIGN_OR_RETURN(std::string_view segment, KdsProductSegment(product));
  return KdsSignerPath(signer, segment, "/cert_chain");
}

Result<std::string> CertChainUrl(Product product, KdsSigner signer, std::string_view base_url) {
  VHSM_ASSIGN_OR_RETURN(std::string path, CertChainPath(product, signer));
  return JoinUrl(base_url, path);
}

Result<std::string> CrlPath(Product product, KdsSigner signer) {
  VHSM_ASSIGN_OR_RETURN(std::string_view segment, KdsProductSegment(product));
  return KdsSignerPath(signer, segment, "/crl");
}

Result<std::string> CrlUrl(Product product, KdsSigner signer, std::string_view base_url) {
  VHSM_ASSIGN_OR_RETURN(std::string path, CrlPath(product, signer));
  return JoinUrl(base_url, path);
}

// ---------------------------------------------------------------------------------------------

namespace {

// Non-negative decimal with optional surrounding blanks, at most 18 digits (fits int64).
std::optional<int64_t> ParseDecimal(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  if (value.empty() || value.size() > 18) return std::nullopt;
  int64_t n = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
  }
  return n;
}

}  // namespace

std::optional<int64_t> ParseRetryAfterSeconds(std::string_view value) {
  // The HTTP-date form is not supported (nullopt: the computed backoff applies). Huge values
  // are clamped; the caller caps the wait anyway.
  std::optional<int64_t> s = ParseDecimal(value);
  if (s.has_value()) return std::min<int64_t>(*s, 1000000000);
  return std::nullopt;
}

HttplibFetcher::HttplibFetcher(HttpFetcherOptions options) : options_(std::move(options)) {
  if (!options_.sleep) {
    options_.sleep = [](std::chrono::milliseconds d) { std::this_thread::sleep_for(d); };
  }
  options_.max_attempts = std::max(1, options_.max_attempts);
}

namespace {

Attempt GetOnce(httplib::Client& client, const std::string& url, const std::string& path,
                const HttpFetcherOptions& options) {
  Attempt out;
  Bytes body;
  bool oversized = false;
  int status = 0;
  std::optional<int64_t> retry_after;
  const size_t max_body = options.max_body_bytes;
  httplib::Headers headers = {{"Accept", "*/*"}, {"User-Agent", options.user_agent}};
  httplib::Result res = client.Get(
      path, headers,
      [&](const httplib::Response& r) {
        status = r.status;
        if (r.has_header("Retry-After")) {
          retry_after = ParseRetryAfterSeconds(r.get_header_value("Retry-After"));
        }
        if (r.has_header("Content-Length")) {
          // Non-numeric values parse as "too large" too: the receiver would be unbounded anyway.
          std::optional<int64_t> declared = ParseDecimal(r.get_header_value("Content-Length"));
          if (!declared.has_value() || static_cast<uint64_t>(*declared) > max_body) {
            oversized = true;
            return false;
          }
        }
        return true;
      },
      [&](const char* data, size_t n) {
        if (n > max_body - body.size()) {
          oversized = true;
          return false;
        }
        body.insert(body.end(), data, data + n);
        return true;
      });
  const std::string what = "KDS GET " + url;
  if (oversized) {
    out.result = ResourceExhaustedError(what + ": response body exceeds the limit of " +
                                        std::to_string(max_body) + " bytes");
    return out;
  }
  if (!res) {
    httplib::Error err = res.error();
    out.result = UnavailableError(what + ": " + httplib::to_string(err));
    // A failed TLS verification will fail again; everything else on the wire may be transient.
    out.retryable =
        err != httplib::Error::SSLServerVerification && err != httplib::Error::SSLLoadingCerts;
    return out;
  }
  status = res->status;
  if (status == 200) {
    if (body.empty()) {
      out.result = DataLossError(what + ": 200 with an empty body");
    } else {
      out.result = std::move(body);
    }
    return out;
  }
  const std::string got = ": HTTP " + std::to_string(status);
  if (status == 404) {
    out.result = NotFoundError(what + got + " (KDS has no such object)");
  } else if (status == 400) {
    out.result = InvalidArgumentError(what + got + " (KDS rejected the request)");
  } else {
    out.result = UnavailableError(what + got);
    out.retryable = IsRetryableStatus(status);
    out.retry_after_s = retry_after;
  }
  return out;
}

}  // namespace

Result<Bytes> HttplibFetcher::Get(const std::string& url) {
  VHSM_ASSIGN_OR_RETURN(SplitUrl split, SplitHttpUrl(url));
  httplib::Client client(split.origin);
  if (!client.is_valid()) {
    return InvalidArgumentError("KDS URL: cannot use \"" + split.origin + "\"");
  }
  client.set_connection_timeout(std::chrono::milliseconds(options_.connect_timeout_ms));
  client.set_read_timeout(std::chrono::milliseconds(options_.read_timeout_ms));
  client.set_write_timeout(std::chrono::milliseconds(options_.read_timeout_ms));
  client.set_follow_location(false);
  client.enable_server_certificate_verification(true);
  if (!options_.ca_cert_path.empty()) client.set_ca_cert_path(options_.ca_cert_path);

  int64_t backoff_ms = std::max<int64_t>(0, options_.initial_backoff_ms);
  const int64_t cap_ms = std::max<int64_t>(0, options_.max_backoff_ms);
  for (int attempt = 1;; ++attempt) {
    Attempt a = GetOnce(client, url, split.path, options_);
    if (a.result.ok() || !a.retryable) return std::move(a.result);
    if (attempt >= options_.max_attempts) {
      return UnavailableError(a.result.status().message() + "; gave up after " +
                              std::to_string(attempt) + " attempts");
    }
    // Retry-After (clamped to 1e9 s, so no overflow) wins over the computed backoff; both capped.
    int64_t delay_ms = a.retry_after_s.has_value() ? *a.retry_after_s * 1000 : backoff_ms;
    delay_ms = std::min(delay_ms, cap_ms);
    options_.sleep(std::chrono::milliseconds(delay_ms));
    backoff_ms = std::min(cap_ms, backoff_ms * 2);
  }
}

// ---------------------------------------------------------------------------------------------

CollateralCache::CollateralCache(std::string root, size_t max_file_bytes)
    : root_(std::move(root)), max_file_bytes_(max_file_bytes) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

Result<std::string> CollateralCache::VcekFile(Product product, ByteSpan chip_id,
                                              const TcbParts& tcb) const {
  VHSM_ASSIGN_OR_RETURN(std::string_view segment, KdsProductSegment(product));
  VHSM_ASSIGN_OR_RETURN(std::string hwid, KdsHwid(product, chip_id));
  VHSM_RETURN_IF_ERROR(CheckTcbForProduct(product, tcb));
  return root_ + "/vcek/" + std::string(segment) + "/" + hwid + "/" + TcbFileStem(tcb, product) +
         ".der";
}

Result<std::string> CollateralCache::ChainFile(Product product, KdsSigner signer) const {
  VHSM_ASSIGN_OR_RETURN(std::string_view segment, KdsProductSegment(product));
  return root_ + "/" + std::string(KdsSignerName(signer)) + "/" + std::string(segment) +
         "/cert_chain.pem";
}

Result<std::string> CollateralCache::CrlFile(Product product, KdsSigner signer) const {
  VHSM_ASSIGN_OR_RETURN(std::string_view segment, KdsProductSegment(product));
  return root_ + "/" + std::string(KdsSignerName(signer)) + "/" + std::string(segment) + "/crl.der";
}

Result<Bytes> CollateralCache::Read(const std::string& file) const {
  Result<Bytes> r = ReadFileBytes(file, max_file_bytes_);
  if (r.ok() || r.status().code() == StatusCode::kNotFound) return r;
  return DataLossError("collateral cache: " + r.status().message());
}

Status CollateralCache::Write(const std::string& file, ByteSpan data) const {
  std::filesystem::path parent = std::filesystem::path(file).parent_path();
  std::error_code ec;
  std::filesystem::create_directories(parent, ec);
  if (ec) {
    return UnavailableError("collateral cache: cannot create directory " + parent.string() + ": " +
                            ec.message());
  }
  return WriteFileAtomic(file, data, 0644);
}

// ---------------------------------------------------------------------------------------------

Status CheckDerCertificate(ByteSpan der, std::string_view what) {
  if (der.size() > static_cast<size_t>(std::numeric_limits<long>::max())) {
    return DataLossError(std::string(what) + ": too large");
  }
  const unsigned char* p = der.data();
  crypto::X509Ptr cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!cert) {
    return crypto::OpenSslError(std::string(what) + ": not a DER X.509 certificate",
                                StatusCode::kDataLoss);
  }
  if (p != der.data() + der.size()) {
    return DataLossError(std::string(what) + ": " + std::to_string(der.data() + der.size() - p) +
                         " trailing bytes after the DER certificate");
  }
  return OkStatus();
}

Status CheckPemChain(ByteSpan pem, std::string_view what) {
  if (pem.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return DataLossError(std::string(what) + ": too large");
  }
  crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return crypto::OpenSslError(std::string(what) + ": BIO_new_mem_buf");
  int count = 0;
  while (count <= 2) {
    crypto::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    ++count;
  }
  crypto::ClearOpenSslErrors();  // the loop always ends with a "no start line" error
  if (count != 2) {
    return DataLossError(std::string(what) +
                         ": want a PEM bundle of 2 certificates (intermediate, ARK), got " +
                         (count > 2 ? std::string("more than 2") : std::to_string(count)));
  }
  return OkStatus();
}

Result<std::optional<int64_t>> CrlNextUpdate(ByteSpan crl_bytes, std::string_view what) {
  if (crl_bytes.size() > static_cast<size_t>(std::numeric_limits<int>::max())) {
    return DataLossError(std::string(what) + ": too large");
  }
  crypto::X509CrlPtr crl;
  std::string_view text = AsStringView(crl_bytes);
  if (text.find("-----BEGIN X509 CRL-----") != std::string_view::npos) {
    crypto::BioPtr bio(BIO_new_mem_buf(crl_bytes.data(), static_cast<int>(crl_bytes.size())));
    if (!bio) return crypto::OpenSslError(std::string(what) + ": BIO_new_mem_buf");
    crl.reset(PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr));
  } else {
    const unsigned char* p = crl_bytes.data();
    crl.reset(d2i_X509_CRL(nullptr, &p, static_cast<long>(crl_bytes.size())));
    if (crl && p != crl_bytes.data() + crl_bytes.size()) {
      return DataLossError(std::string(what) + ": trailing bytes after the DER CRL");
    }
  }
  if (!crl) {
    return crypto::OpenSslError(std::string(what) + ": not a DER or PEM X.509 CRL",
                                StatusCode::kDataLoss);
  }
  const ASN1_TIME* next = X509_CRL_get0_nextUpdate(crl.get());
  if (next == nullptr) return std::optional<int64_t>();
  VHSM_ASSIGN_OR_RETURN(int64_t t, Asn1TimeToUnix(next, std::string(what) + ": nextUpdate"));
  return std::optional<int64_t>(t);
}

Result<KdsChainDer> SplitKdsChain(ByteSpan pem, std::string_view what) {
  VHSM_RETURN_IF_ERROR(CheckPemChain(pem, what));
  crypto::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return crypto::OpenSslError(std::string(what) + ": BIO_new_mem_buf");
  Bytes der[2];
  for (Bytes& out : der) {
    crypto::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      return crypto::OpenSslError(std::string(what) + ": PEM certificate", StatusCode::kDataLoss);
    }
    int len = i2d_X509(cert.get(), nullptr);
    if (len <= 0) return crypto::OpenSslError(std::string(what) + ": DER encoding");
    out.resize(static_cast<size_t>(len));
    unsigned char* p = out.data();
    if (i2d_X509(cert.get(), &p) != len) {
      return crypto::OpenSslError(std::string(what) + ": DER encoding");
    }
  }
  return KdsChainDer{std::move(der[0]), std::move(der[1])};
}

// ---------------------------------------------------------------------------------------------

CollateralProvider::CollateralProvider(const CollateralCache& cache, HttpFetcher* fetcher,
                                       const Clock& clock, CollateralProviderOptions options)
    : cache_(cache), fetcher_(fetcher), clock_(clock), options_(std::move(options)) {}

int CollateralProvider::fetch_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return fetch_count_;
}

Result<Bytes> CollateralProvider::OfflineMiss(const std::string& file,
                                              std::string_view what) const {
  return NotFoundError("offline mode: no cached " + std::string(what) + "; looked for " + file);
}

Result<std::optional<Bytes>> CollateralProvider::Lookup(const std::string& file) {
  Result<Bytes> r = cache_.Read(file);
  if (r.ok()) return std::optional<Bytes>(std::move(r).value());
  if (r.status().code() == StatusCode::kNotFound) return std::optional<Bytes>();
  if (options_.offline) return r.status();
  if (options_.logger != nullptr) {
    options_.logger->Warn("KDS: ignoring unreadable cache entry: " + r.status().ToString());
  }
  return std::optional<Bytes>();  // refetched and overwritten
}

Result<Bytes> CollateralProvider::FetchAndStore(const std::string& url, const std::string& file,
                                                Kind kind) {
  if (fetcher_ == nullptr) {
    return FailedPreconditionError("collateral provider has no HTTP fetcher and " + file +
                                   " is not cached");
  }
  ++fetch_count_;
  VHSM_ASSIGN_OR_RETURN(Bytes body, fetcher_->Get(url));
  const std::string what = "KDS response from " + url;
  switch (kind) {
    case Kind::kVcek:
      VHSM_RETURN_IF_ERROR(CheckDerCertificate(body, what));
      break;
    case Kind::kChain:
      VHSM_RETURN_IF_ERROR(CheckPemChain(body, what));
      break;
    case Kind::kCrl: {
      VHSM_ASSIGN_OR_RETURN(std::optional<int64_t> next, CrlNextUpdate(body, what));
      (void)next;  // freshness of a fresh download is the verifier's call
      break;
    }
  }
  // A cache write failure does not hide the collateral we already have; it is retried next time.
  Status written = cache_.Write(file, body);
  if (options_.logger != nullptr) {
    if (written.ok()) {
      options_.logger->Info("KDS: fetched " + url + " (" + std::to_string(body.size()) +
                            " bytes) into " + file);
    } else {
      options_.logger->Warn("KDS: fetched " + url + " but could not cache it: " +
                            written.ToString());
    }
  }
  return body;
}

Result<Bytes> CollateralProvider::GetVcek(Product product, ByteSpan chip_id,
                                          const TcbParts& reported_tcb) {
  std::lock_guard<std::mutex> lock(mu_);
  VHSM_ASSIGN_OR_RETURN(std::string file, cache_.VcekFile(product, chip_id, reported_tcb));
  VHSM_ASSIGN_OR_RETURN(std::optional<Bytes> cached, Lookup(file));
  if (cached.has_value()) return std::move(*cached);
  if (options_.offline) return OfflineMiss(file, "VCEK");
  VHSM_ASSIGN_OR_RETURN(std::string url,
                        VcekUrl(product, chip_id, reported_tcb, options_.base_url));
  return FetchAndStore(url, file, Kind::kVcek);
}

Result<Bytes> CollateralProvider::GetChain(Product product, KdsSigner signer) {
  std::lock_guard<std::mutex> lock(mu_);
  VHSM_ASSIGN_OR_RETURN(std::string file, cache_.ChainFile(product, signer));
  VHSM_ASSIGN_OR_RETURN(std::optional<Bytes> cached, Lookup(file));
  if (cached.has_value()) return std::move(*cached);
  if (options_.offline) {
    return OfflineMiss(file, std::string(KdsSignerName(signer)) + " cert_chain");
  }
  VHSM_ASSIGN_OR_RETURN(std::string url, CertChainUrl(product, signer, options_.base_url));
  return FetchAndStore(url, file, Kind::kChain);
}

Result<Bytes> CollateralProvider::GetCrl(Product product, KdsSigner signer) {
  std::lock_guard<std::mutex> lock(mu_);
  VHSM_ASSIGN_OR_RETURN(std::string file, cache_.CrlFile(product, signer));
  VHSM_ASSIGN_OR_RETURN(std::optional<Bytes> cached, Lookup(file));
  if (cached.has_value()) {
    // Offline, a stale CRL goes to the verifier, which rejects it as stale: never a silent pass.
    if (options_.offline) return std::move(*cached);
    Result<std::optional<int64_t>> next = CrlNextUpdate(*cached, "cached CRL " + file);
    if (next.ok() && next->has_value() && clock_.NowUnix() < **next) return std::move(*cached);
    // Unparseable, no nextUpdate, or past it: refetch.
  } else if (options_.offline) {
    return OfflineMiss(file, std::string(KdsSignerName(signer)) + " CRL");
  }
  VHSM_ASSIGN_OR_RETURN(std::string url, CrlUrl(product, signer, options_.base_url));
  return FetchAndStore(url, file, Kind::kCrl);
}

// ---------------------------------------------------------------------------------------------

Status CompleteCertificateSet(CollateralProvider& provider, const AttestationReport& report,
                              Product product, const CompleteOptions& options,
                              CertificateSet& certs) {
  KdsSigner signer;
  switch (report.signing_key_raw()) {
    case 0:
      signer = KdsSigner::kVcek;
      break;
    case 1:
      signer = KdsSigner::kVlek;
      break;
    default:
      return InvalidArgumentError("report.signing_key: got " +
                                  SigningKeyName(report.signing_key_raw()) +
                                  ", want VCEK or VLEK to find collateral");
  }
  if (signer == KdsSigner::kVcek && certs.vcek.empty()) {
    VHSM_ASSIGN_OR_RETURN(certs.vcek, provider.GetVcek(product, report.chip_id,
                                                       DecodeTcb(report.reported_tcb, product)));
  }
  if (signer == KdsSigner::kVlek && certs.vlek.empty()) {
    return FailedPreconditionError(
        "report is VLEK-signed and no VLEK was supplied: KDS does not serve VLEKs; the host must "
        "provide it "
        "(extended-report certificate table)");
  }
  if (options.chain && (certs.ask.empty() || certs.ark.empty())) {
    VHSM_ASSIGN_OR_RETURN(Bytes pem, provider.GetChain(product, signer));
    VHSM_ASSIGN_OR_RETURN(KdsChainDer chain,
                          SplitKdsChain(pem, std::string(KdsSignerName(signer)) + " cert_chain"));
    if (certs.ask.empty()) certs.ask = std::move(chain.intermediate);
    if (certs.ark.empty()) certs.ark = std::move(chain.ark);
  }
  if (options.crl && certs.crl.empty()) {
    VHSM_ASSIGN_OR_RETURN(certs.crl, provider.GetCrl(product, signer));
  }
  return OkStatus();
}

}  // namespace vhsm::snp
