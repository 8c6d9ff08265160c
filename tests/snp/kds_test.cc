// kds_test.cc: KDS URL known answers from the real vectors, the cpp-httplib fetcher against a
// fake KDS on loopback (429 retries, give-up, 404, size limits), and the cache-first provider.
// The real KDS is never contacted.
#include "snp/kds.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "base/file.h"
#include "crypto/digest.h"
#include "crypto/ossl_ptr.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::snp {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr size_t kChipIdOffset = 0x1A0;
constexpr size_t kReportedTcbOffset = 0x180;

Bytes ChipIdOf(const Bytes& report) {
  EXPECT_EQ(report.size(), 1184u);
  if (report.size() != 1184) return Bytes(64, 0);
  return Bytes(report.begin() + kChipIdOffset, report.begin() + kChipIdOffset + 64);
}

// ---- Reading the AMD extensions of a real VCEK (independently of the codec) ----------------

crypto::X509Ptr ParseDer(const Bytes& der) {
  const unsigned char* p = der.data();
  return crypto::X509Ptr(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
}

Bytes ExtensionValue(X509* cert, const char* oid) {
  crypto::Asn1ObjectPtr obj(OBJ_txt2obj(oid, 1));
  int idx = X509_get_ext_by_OBJ(cert, obj.get(), -1);
  if (idx < 0) return {};
  const ASN1_OCTET_STRING* v = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
  return Bytes(ASN1_STRING_get0_data(v), ASN1_STRING_get0_data(v) + ASN1_STRING_length(v));
}

// SPL extensions hold a small DER INTEGER.
uint8_t SplOf(X509* cert, const char* oid) {
  Bytes v = ExtensionValue(cert, oid);
  if (v.size() < 3 || v[0] != 0x02 || v[1] + 2u != v.size()) {
    ADD_FAILURE() << "SPL extension " << oid << " is not a small INTEGER";
    return 0;
  }
  return v.back();
}

Bytes HwIdOf(X509* cert) {
  Bytes v = ExtensionValue(cert, "1.3.6.1.4.1.3704.1.4");
  if (v.size() > 2 && v[0] == 0x04 && v[1] + 2u == v.size()) v.erase(v.begin(), v.begin() + 2);
  return v;
}

TcbParts TcbOf(X509* cert, bool turin) {
  TcbParts t;
  t.bootloader = SplOf(cert, "1.3.6.1.4.1.3704.1.3.1");
  t.tee = SplOf(cert, "1.3.6.1.4.1.3704.1.3.2");
  t.snp = SplOf(cert, "1.3.6.1.4.1.3704.1.3.3");
  t.microcode = SplOf(cert, "1.3.6.1.4.1.3704.1.3.8");
  if (turin) t.fmc = SplOf(cert, "1.3.6.1.4.1.3704.1.3.9");
  return t;
}

// ---- URL known answers ---------------------------------------------------------------------

TEST(KdsUrlTest, MilanVcekUrlFromRealReportAndVcek) {
  VHSM_REQUIRE_SNP_VECTORS();
  Bytes report = testdata::ReadVector("vectors/milan-v2-vcek-virtee/report.bin");
  Bytes chip_id = ChipIdOf(report);
  // REPORTED_TCB (Milan layout): bl 3, tee 0, snp 8, ucode 115 (MANIFEST.json).
  EXPECT_EQ(HexEncode(ByteSpan(report).subspan(kReportedTcbOffset, 8)), "0300000000000873");
  TcbParts tcb{.fmc = std::nullopt, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115};
  ASSERT_OK_AND_ASSIGN(std::string url, VcekUrl(Product::kMilan, chip_id, tcb));
  EXPECT_EQ(url,
            "https://kdsintf.amd.com/vcek/v1/Milan/"
            "d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0e"
            "facfd08e24"
            "4324884738c72b082e2f87a44d541eb6?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115");

  // The VCEK KDS issued for that URL carries the same hwID and SPLs.
  crypto::X509Ptr vcek = ParseDer(testdata::ReadVector("vectors/milan-v2-vcek-virtee/vcek.der"));
  ASSERT_NE(vcek, nullptr);
  EXPECT_EQ(HwIdOf(vcek.get()), chip_id);
  EXPECT_EQ(TcbOf(vcek.get(), false), tcb);
}

TEST(KdsUrlTest, GenoaVcekUrlFromRealReport) {
  VHSM_REQUIRE_SNP_VECTORS();
  Bytes report = testdata::ReadVector("vectors/genoa-v5-vcek-oak/report.bin");
  TcbParts tcb{.fmc = std::nullopt, .bootloader = 10, .tee = 0, .snp = 25, .microcode = 84};
  ASSERT_OK_AND_ASSIGN(std::string url, VcekUrl(Product::kGenoa, ChipIdOf(report), tcb));
  EXPECT_EQ(url,
            "https://kdsintf.amd.com/vcek/v1/Genoa/"
            "d2421d976f95ce0ba849b7cc5c789122f1e59c77a037272c137ae4d188bb102adbc7c53d0302bff82a432c"
            "94a305dec7"
            "a7a270ceb19a10f04a83316c6486968d?blSPL=10&teeSPL=0&snpSPL=25&ucodeSPL=84");
  crypto::X509Ptr vcek = ParseDer(testdata::ReadVector("vectors/genoa-v5-vcek-oak/vcek.der"));
  ASSERT_NE(vcek, nullptr);
  EXPECT_EQ(TcbOf(vcek.get(), false), tcb);
}

TEST(KdsUrlTest, TurinVcekUrlUsesFmcAndEightByteHwid) {
  VHSM_REQUIRE_SNP_VECTORS();
  crypto::X509Ptr vcek =
      ParseDer(testdata::ReadVector("vectors/turin-vcek-cert-only-virtee/vcek.der"));
  ASSERT_NE(vcek, nullptr);
  Bytes hwid = HwIdOf(vcek.get());
  ASSERT_EQ(HexEncode(hwid), "1e550a8ee5cf9f4d");
  TcbParts tcb = TcbOf(vcek.get(), true);
  EXPECT_EQ(tcb, (TcbParts{.fmc = 0, .bootloader = 0, .tee = 0, .snp = 0, .microcode = 9}));

  // A Turin report's CHIP_ID: the 8-byte hwID then 56 zero bytes.
  Bytes chip_id = hwid;
  chip_id.resize(64, 0);
  const std::string want =
      "https://kdsintf.amd.com/vcek/v1/Turin/"
      "1e550a8ee5cf9f4d?fmcSPL=0&blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=9";
  ASSERT_OK_AND_ASSIGN(std::string url, VcekUrl(Product::kTurin, chip_id, tcb));
  EXPECT_EQ(url, want);
  ASSERT_OK_AND_ASSIGN(std::string url8, VcekUrl(Product::kTurin, hwid, tcb));
  EXPECT_EQ(url8, want);

  TcbParts other{.fmc = 2, .bootloader = 3, .tee = 4, .snp = 5, .microcode = 200};
  ASSERT_OK_AND_ASSIGN(std::string p, VcekPath(Product::kTurin, chip_id, other));
  EXPECT_EQ(p, "/vcek/v1/Turin/1e550a8ee5cf9f4d?fmcSPL=2&blSPL=3&teeSPL=4&snpSPL=5&ucodeSPL=200");
}

TEST(KdsUrlTest, ChainAndCrlUrls) {
  EXPECT_EQ(CertChainUrl(Product::kMilan, KdsSigner::kVcek).value(),
            "https://kdsintf.amd.com/vcek/v1/Milan/cert_chain");
  EXPECT_EQ(CertChainUrl(Product::kGenoa, KdsSigner::kVlek).value(),
            "https://kdsintf.amd.com/vlek/v1/Genoa/cert_chain");
  EXPECT_EQ(CrlUrl(Product::kTurin, KdsSigner::kVcek).value(),
            "https://kdsintf.amd.com/vcek/v1/Turin/crl");
  EXPECT_EQ(CrlUrl(Product::kMilan, KdsSigner::kVlek, "http://127.0.0.1:8080/").value(),
            "http://127.0.0.1:8080/vlek/v1/Milan/crl");
  EXPECT_EQ(CrlPath(Product::kGenoa, KdsSigner::kVlek).value(), "/vlek/v1/Genoa/crl");
}

TEST(KdsUrlTest, RejectsBadInputsNamingTheField) {
  Bytes zero(64, 0);
  TcbParts tcb{.fmc = std::nullopt, .bootloader = 1, .tee = 0, .snp = 1, .microcode = 1};
  EXPECT_THAT(VcekUrl(Product::kMilan, zero, tcb),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("all zero")));
  Bytes turin_zero_hwid(64, 0);
  turin_zero_hwid[9] = 1;  // only bytes 0..7 count on Turin
  TcbParts turin_tcb = tcb;
  turin_tcb.fmc = 1;
  EXPECT_THAT(VcekUrl(Product::kTurin, turin_zero_hwid, turin_tcb),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("MASK_CHIP_ID")));
  Bytes chip(64, 0xab);
  EXPECT_THAT(VcekUrl(Product::kTurin, chip, tcb),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("fmc")));
  EXPECT_THAT(VcekUrl(Product::kUnknown, chip, tcb),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("product")));
  EXPECT_THAT(VcekUrl(Product::kGenoa, Bytes(63, 1), tcb),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("got 63 bytes, want 64")));
  EXPECT_THAT(CertChainUrl(Product::kUnknown, KdsSigner::kVcek),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("product")));
  // Milan/Genoa have no FMC: a stray fmc does not leak into the URL.
  TcbParts with_fmc = tcb;
  with_fmc.fmc = 7;
  EXPECT_THAT(VcekPath(Product::kMilan, chip, with_fmc).value(), Not(HasSubstr("fmcSPL")));
}

TEST(KdsRetryAfterTest, ParsesDeltaSecondsOnly) {
  EXPECT_EQ(ParseRetryAfterSeconds("120"), 120);
  EXPECT_EQ(ParseRetryAfterSeconds(" 0 "), 0);
  EXPECT_EQ(ParseRetryAfterSeconds("Wed, 21 Oct 2015 07:28:00 GMT"), std::nullopt);
  EXPECT_EQ(ParseRetryAfterSeconds("-1"), std::nullopt);
  EXPECT_EQ(ParseRetryAfterSeconds(""), std::nullopt);
  EXPECT_EQ(ParseRetryAfterSeconds("99999999999999999999"), std::nullopt);  // > int64
  EXPECT_EQ(ParseRetryAfterSeconds("99999999999"), 1000000000);             // clamped
}

// ---- Fake KDS on loopback ------------------------------------------------------------------

// Serves registered bodies by request target (path + query). The first `fail_first` requests
// get `fail_status` (with Retry-After if set). Runs listen() in its own thread; stops in dtor.
class FakeKds {
 public:
  FakeKds() {
    server_.Get(".*",
                [this](const httplib::Request& req, httplib::Response& res) { Handle(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    for (int i = 0; i < 2000 && !server_.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  ~FakeKds() {
    server_.stop();
    thread_.join();
  }
  FakeKds(const FakeKds&) = delete;
  FakeKds& operator=(const FakeKds&) = delete;

  bool running() const { return port_ > 0 && server_.is_running(); }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void Serve(const std::string& target, Bytes body,
             std::string content_type = "application/octet-stream") {
    std::lock_guard<std::mutex> lock(mu_);
    routes_[target] = {std::move(body), std::move(content_type)};
  }
  void ServeChunked(const std::string& target, size_t total_bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    chunked_[target] = total_bytes;
  }
  void FailFirst(int n, int status, std::string retry_after = "") {
    std::lock_guard<std::mutex> lock(mu_);
    fail_first_ = n;
    fail_status_ = status;
    retry_after_ = std::move(retry_after);
  }
  void SetDelayMs(int ms) { delay_ms_ = ms; }
  int requests() const { return requests_.load(); }
  std::vector<std::string> targets() const {
    std::lock_guard<std::mutex> lock(mu_);
    return targets_;
  }

 private:
  struct Route {
    Bytes body;
    std::string content_type;
  };

  void Handle(const httplib::Request& req, httplib::Response& res) {
    int n = ++requests_;
    if (delay_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_.load()));
    std::lock_guard<std::mutex> lock(mu_);
    targets_.push_back(req.target);
    if (n <= fail_first_) {
      res.status = fail_status_;
      if (!retry_after_.empty()) res.set_header("Retry-After", retry_after_);
      res.set_content("Too Many Requests", "text/plain");
      return;
    }
    if (auto it = chunked_.find(req.target); it != chunked_.end()) {
      size_t total = it->second;
      res.set_chunked_content_provider(
          "application/octet-stream", [total](size_t offset, httplib::DataSink& sink) {
            std::string chunk(1024, 'x');
            if (offset >= total) {
              sink.done();
              return true;
            }
            return sink.write(chunk.data(), std::min(chunk.size(), total - offset));
          });
      return;
    }
    auto it = routes_.find(req.target);
    if (it == routes_.end()) {
      res.status = 404;
      res.set_content("not found", "text/plain");
      return;
    }
    res.status = 200;
    res.set_content(std::string(it->second.body.begin(), it->second.body.end()),
                    it->second.content_type.c_str());
  }

  httplib::Server server_;
  int port_ = -1;
  std::thread thread_;
  mutable std::mutex mu_;
  std::map<std::string, Route> routes_;
  std::map<std::string, size_t> chunked_;
  std::vector<std::string> targets_;
  int fail_first_ = 0;
  int fail_status_ = 429;
  std::string retry_after_;
  std::atomic<int> requests_{0};
  std::atomic<int> delay_ms_{0};
};

// Fetcher options that never really sleep and record the delays asked for.
struct RecordingOptions {
  std::vector<int64_t> sleeps_ms;
  HttpFetcherOptions Make(int max_attempts) {
    HttpFetcherOptions o;
    o.connect_timeout_ms = 2000;
    o.read_timeout_ms = 2000;
    o.max_attempts = max_attempts;
    o.initial_backoff_ms = 100;
    o.max_backoff_ms = 1500;
    o.sleep = [this](std::chrono::milliseconds d) { sleeps_ms.push_back(d.count()); };
    return o;
  }
};

Bytes ReadChain(const std::string& product_lower) {
  return testdata::ReadVector("certs/amd/" + product_lower + "_vcek_cert_chain_kds.pem");
}

TEST(HttplibFetcherTest, RetriesOn429HonouringRetryAfterThenSucceeds) {
  VHSM_REQUIRE_SNP_VECTORS();
  FakeKds kds;
  ASSERT_TRUE(kds.running());
  Bytes chain = ReadChain("milan");
  kds.Serve("/vcek/v1/Milan/cert_chain", chain, "application/x-pem-file");
  kds.FailFirst(3, 429, "1");
  RecordingOptions rec;
  HttplibFetcher fetcher(rec.Make(4));
  ASSERT_OK_AND_ASSIGN(
      Bytes got,
      fetcher.Get(CertChainUrl(Product::kMilan, KdsSigner::kVcek, kds.base_url()).value()));
  EXPECT_EQ(got, chain);
  EXPECT_EQ(kds.requests(), 4);
  EXPECT_THAT(rec.sleeps_ms, ElementsAre(1000, 1000, 1000));
}

TEST(HttplibFetcherTest, ExponentialBackoffWithoutRetryAfterAndCappedRetryAfter) {
  VHSM_REQUIRE_SNP_VECTORS();
  FakeKds kds;
  ASSERT_TRUE(kds.running());
  kds.Serve("/vcek/v1/Genoa/cert_chain", ReadChain("genoa"));
  kds.FailFirst(3, 503);
  RecordingOptions rec;
  HttplibFetcher fetcher(rec.Make(5));
  EXPECT_OK(fetcher.Get(kds.base_url() + "/vcek/v1/Genoa/cert_chain"));
  EXPECT_THAT(rec.sleeps_ms, ElementsAre(100, 200, 400));

  FakeKds kds2;
  ASSERT_TRUE(kds2.running());
  kds2.Serve("/vcek/v1/Genoa/cert_chain", ReadChain("genoa"));
  kds2.FailFirst(1, 429, "3600");  // an hour: capped at max_backoff_ms
  RecordingOptions rec2;
  HttplibFetcher fetcher2(rec2.Make(2));
  EXPECT_OK(fetcher2.Get(kds2.base_url() + "/vcek/v1/Genoa/cert_chain"));
  EXPECT_THAT(rec2.sleeps_ms, ElementsAre(1500));
}

TEST(HttplibFetcherTest, GivesUpAfterMaxAttemptsWithUnavailable) {
  FakeKds kds;
  ASSERT_TRUE(kds.running());
  kds.Serve("/vcek/v1/Turin/crl", Bytes{1, 2, 3});
  kds.FailFirst(1000, 429, "0");
  RecordingOptions rec;
  HttplibFetcher fetcher(rec.Make(3));
  EXPECT_THAT(fetcher.Get(kds.base_url() + "/vcek/v1/Turin/crl"),
              StatusIs(StatusCode::kUnavailable,
                       AllOf(HasSubstr("HTTP 429"), HasSubstr("gave up after 3 attempts"))));
  EXPECT_EQ(kds.requests(), 3);
  EXPECT_EQ(rec.sleeps_ms.size(), 2u);
}

TEST(HttplibFetcherTest, NotFoundIsNotRetried) {
  FakeKds kds;
  ASSERT_TRUE(kds.running());
  RecordingOptions rec;
  HttplibFetcher fetcher(rec.Make(4));
  EXPECT_THAT(fetcher.Get(kds.base_url() + "/vcek/v1/Milan/" + std::string(128, 'a') + "?blSPL=1"),
              StatusIs(StatusCode::kNotFound, HasSubstr("HTTP 404")));
  EXPECT_EQ(kds.requests(), 1);
  EXPECT_TRUE(rec.sleeps_ms.empty());
}

TEST(HttplibFetcherTest, RejectsOversizedBodiesWithAndWithoutContentLength) {
  FakeKds kds;
  ASSERT_TRUE(kds.running());
  kds.Serve("/big", Bytes(5000, 0x41));
  kds.ServeChunked("/chunked", 5000);
  kds.Serve("/fits", Bytes(1000, 0x42));
  RecordingOptions rec;
  HttpFetcherOptions o = rec.Make(3);
  o.max_body_bytes = 1000;
  HttplibFetcher fetcher(o);
  EXPECT_THAT(fetcher.Get(kds.base_url() + "/big"),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("limit of 1000 bytes")));
  EXPECT_THAT(fetcher.Get(kds.base_url() + "/chunked"),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("limit of 1000 bytes")));
  ASSERT_OK_AND_ASSIGN(Bytes fits, fetcher.Get(kds.base_url() + "/fits"));
  EXPECT_EQ(fits.size(), 1000u);
  EXPECT_EQ(kds.requests(), 3);  // size failures are not retried
}

// A loopback port with nothing bound to it: bind an ephemeral port, then close it.
int ClosedLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

TEST(HttplibFetcherTest, ConnectionRefusedIsRetriedThenUnavailable) {
  int closed_port = ClosedLoopbackPort();
  ASSERT_GT(closed_port, 0);
  RecordingOptions rec;
  HttplibFetcher fetcher(rec.Make(2));
  EXPECT_THAT(fetcher.Get("http://127.0.0.1:" + std::to_string(closed_port) + "/vcek/v1/Milan/crl"),
              StatusIs(StatusCode::kUnavailable,
                       AllOf(HasSubstr("Connection"), HasSubstr("gave up after 2 attempts"))));
  EXPECT_EQ(rec.sleeps_ms.size(), 1u);
}

TEST(HttplibFetcherTest, ReadTimeoutIsBoundedAndRetried) {
  FakeKds kds;
  ASSERT_TRUE(kds.running());
  kds.Serve("/vcek/v1/Milan/crl", Bytes{1, 2, 3});
  kds.SetDelayMs(600);
  RecordingOptions rec;
  HttpFetcherOptions o = rec.Make(2);
  o.read_timeout_ms = 150;
  HttplibFetcher fetcher(o);
  auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(fetcher.Get(kds.base_url() + "/vcek/v1/Milan/crl"),
              StatusIs(StatusCode::kUnavailable, HasSubstr("gave up after 2 attempts")));
  auto elapsed = std::chrono::steady_clock::now() - start;
  // Two 150 ms reads rather than waiting for the 600 ms answers (loose bound: shared CI cores).
  EXPECT_LT(elapsed, std::chrono::milliseconds(3000));
  EXPECT_EQ(kds.requests(), 2);
}

TEST(HttplibFetcherTest, RejectsMalformedUrls) {
  HttplibFetcher fetcher;
  EXPECT_THAT(fetcher.Get("ftp://kdsintf.amd.com/x"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("scheme")));
  EXPECT_THAT(fetcher.Get("kdsintf.amd.com/x"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("scheme://")));
  EXPECT_THAT(fetcher.Get("http:///x"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("empty host")));
}

// ---- Provider: cache first, then the fake KDS ----------------------------------------------

// An ARK-less stand-in CRL (EC P-256, self-issued) with a chosen nextUpdate: only its
// freshness bookkeeping is under test here; signature checks belong to the verifier.
Bytes MakeCrl(int64_t last_update, int64_t next_update) {
  crypto::EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  EXPECT_NE(key, nullptr);
  crypto::X509CrlPtr crl(X509_CRL_new());
  EXPECT_EQ(X509_CRL_set_version(crl.get(), 1), 1);
  crypto::X509NamePtr name(X509_NAME_new());
  X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ARK-Test"), -1, -1, 0);
  EXPECT_EQ(X509_CRL_set_issuer_name(crl.get(), name.get()), 1);
  crypto::Asn1TimePtr last(ASN1_TIME_set(nullptr, static_cast<time_t>(last_update)));
  crypto::Asn1TimePtr next(ASN1_TIME_set(nullptr, static_cast<time_t>(next_update)));
  EXPECT_EQ(X509_CRL_set1_lastUpdate(crl.get(), last.get()), 1);
  EXPECT_EQ(X509_CRL_set1_nextUpdate(crl.get(), next.get()), 1);
  EXPECT_GT(X509_CRL_sign(crl.get(), key.get(), EVP_sha256()), 0);
  int len = i2d_X509_CRL(crl.get(), nullptr);
  Bytes der(static_cast<size_t>(len));
  unsigned char* p = der.data();
  i2d_X509_CRL(crl.get(), &p);
  return der;
}

struct ProviderFixture : public ::testing::Test {
  void SetUp() override {
    ASSERT_TRUE(kds.running());
    fetcher = std::make_unique<HttplibFetcher>(rec.Make(3));
  }
  CollateralProvider Online() {
    return CollateralProvider(cache, fetcher.get(), clock,
                              {.base_url = kds.base_url(), .offline = false});
  }

  FakeKds kds;
  testdata::TempDir dir;
  CollateralCache cache{dir.path()};
  FixedClock clock{1780000000};  // 2026-05-28
  RecordingOptions rec;
  std::unique_ptr<HttplibFetcher> fetcher;
};

TEST_F(ProviderFixture, TurinVcekFetchedOnceThenServedFromCache) {
  VHSM_REQUIRE_SNP_VECTORS();
  Bytes vcek = testdata::ReadVector("vectors/turin-vcek-cert-only-virtee/vcek.der");
  Bytes chip_id = HexDecode("1e550a8ee5cf9f4d").value();
  chip_id.resize(64, 0);
  TcbParts tcb{.fmc = 0, .bootloader = 0, .tee = 0, .snp = 0, .microcode = 9};
  kds.Serve("/vcek/v1/Turin/1e550a8ee5cf9f4d?fmcSPL=0&blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=9", vcek);
  kds.FailFirst(2, 429, "1");  // KDS throttles: the provider still gets it

  CollateralProvider provider = Online();
  ASSERT_OK_AND_ASSIGN(Bytes got, provider.GetVcek(Product::kTurin, chip_id, tcb));
  EXPECT_EQ(got, vcek);
  EXPECT_EQ(kds.requests(), 3);
  ASSERT_OK_AND_ASSIGN(Bytes again, provider.GetVcek(Product::kTurin, chip_id, tcb));
  EXPECT_EQ(again, vcek);
  EXPECT_EQ(kds.requests(), 3);  // cache hit: no network
  EXPECT_EQ(provider.fetch_count(), 1);

  const std::string file =
      dir.path() + "/vcek/Turin/1e550a8ee5cf9f4d/fmc0-bl0-tee0-snp0-ucode9.der";
  EXPECT_EQ(cache.VcekFile(Product::kTurin, chip_id, tcb).value(), file);
  ASSERT_OK_AND_ASSIGN(Bytes on_disk, ReadFileBytes(file));
  EXPECT_EQ(on_disk, vcek);
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);

  // A different TCB is a different VCEK: a miss, and KDS has none for it.
  TcbParts newer = tcb;
  newer.snp = 1;
  EXPECT_THAT(provider.GetVcek(Product::kTurin, chip_id, newer),
              StatusIs(StatusCode::kNotFound, HasSubstr("404")));
}

TEST_F(ProviderFixture, MilanVcekAndChainsForRealReport) {
  VHSM_REQUIRE_SNP_VECTORS();
  Bytes report = testdata::ReadVector("vectors/milan-v2-vcek-virtee/report.bin");
  Bytes vcek = testdata::ReadVector("vectors/milan-v2-vcek-virtee/vcek.der");
  TcbParts tcb{.fmc = std::nullopt, .bootloader = 3, .tee = 0, .snp = 8, .microcode = 115};
  kds.Serve(VcekPath(Product::kMilan, ChipIdOf(report), tcb).value(), vcek);
  kds.Serve("/vcek/v1/Milan/cert_chain", ReadChain("milan"));
  Bytes vlek_chain = testdata::ReadVector("certs/amd/milan_asvk.pem");
  Bytes ark = testdata::ReadVector("certs/amd/milan_ark.pem");
  vlek_chain.insert(vlek_chain.end(), ark.begin(), ark.end());
  kds.Serve("/vlek/v1/Milan/cert_chain", vlek_chain);

  CollateralProvider provider = Online();
  EXPECT_EQ(provider.GetVcek(Product::kMilan, ChipIdOf(report), tcb).value(), vcek);
  EXPECT_EQ(provider.GetChain(Product::kMilan, KdsSigner::kVcek).value(), ReadChain("milan"));
  EXPECT_EQ(provider.GetChain(Product::kMilan, KdsSigner::kVlek).value(), vlek_chain);
  EXPECT_EQ(provider.GetChain(Product::kMilan, KdsSigner::kVcek).value(), ReadChain("milan"));
  EXPECT_EQ(kds.requests(), 3);
  EXPECT_TRUE(FileExists(dir.path() + "/vcek/Milan/cert_chain.pem"));
  EXPECT_TRUE(FileExists(dir.path() + "/vlek/Milan/cert_chain.pem"));
  EXPECT_TRUE(FileExists(dir.path() + "/vcek/Milan/" + HexEncode(ChipIdOf(report)) +
                         "/bl3-tee0-snp8-ucode115.der"));
}

TEST_F(ProviderFixture, OfflineMissNamesThePathAndNeverTouchesTheNetwork) {
  VHSM_REQUIRE_SNP_VECTORS();
  kds.Serve("/vcek/v1/Genoa/cert_chain", ReadChain("genoa"));
  CollateralProvider offline(cache, fetcher.get(), clock,
                             {.base_url = kds.base_url(), .offline = true});
  const std::string want_file = dir.path() + "/vcek/Genoa/cert_chain.pem";
  EXPECT_THAT(offline.GetChain(Product::kGenoa, KdsSigner::kVcek),
              StatusIs(StatusCode::kNotFound, AllOf(HasSubstr("offline"), HasSubstr(want_file))));
  Bytes chip(64, 0x5a);
  TcbParts tcb{.fmc = std::nullopt, .bootloader = 1, .tee = 0, .snp = 1, .microcode = 1};
  EXPECT_THAT(
      offline.GetVcek(Product::kGenoa, chip, tcb),
      StatusIs(StatusCode::kNotFound, HasSubstr(dir.path() + "/vcek/Genoa/" + HexEncode(chip) +
                                                "/bl1-tee0-snp1-ucode1.der")));
  EXPECT_THAT(offline.GetCrl(Product::kGenoa, KdsSigner::kVlek),
              StatusIs(StatusCode::kNotFound, HasSubstr(dir.path() + "/vlek/Genoa/crl.der")));
  EXPECT_EQ(kds.requests(), 0);

  // Populate the cache online, then offline is served from it (a null fetcher is fine offline).
  ASSERT_OK(Online().GetChain(Product::kGenoa, KdsSigner::kVcek));
  CollateralProvider offline_no_fetcher(cache, nullptr, clock, {.offline = true});
  EXPECT_EQ(offline_no_fetcher.GetChain(Product::kGenoa, KdsSigner::kVcek).value(),
            ReadChain("genoa"));
  EXPECT_EQ(kds.requests(), 1);
}

class CapturingLogger : public Logger {
 public:
  std::vector<std::string> lines;

 protected:
  void Write(LogLevel, std::string_view line) override { lines.emplace_back(line); }
};

TEST_F(ProviderFixture, UnwritableCacheStillAnswersAndWarns) {
  VHSM_REQUIRE_SNP_VECTORS();
  kds.Serve("/vcek/v1/Turin/cert_chain", ReadChain("turin"));
  ASSERT_OK(WriteFileAtomic(dir.Join("blocker"), ToBytes("a file, not a directory")));
  CollateralCache blocked(dir.Join("blocker") + "/cache");
  CapturingLogger log;
  CollateralProvider provider(blocked, fetcher.get(), clock,
                              {.base_url = kds.base_url(), .offline = false, .logger = &log});
  EXPECT_EQ(provider.GetChain(Product::kTurin, KdsSigner::kVcek).value(), ReadChain("turin"));
  EXPECT_EQ(provider.GetChain(Product::kTurin, KdsSigner::kVcek).value(), ReadChain("turin"));
  EXPECT_EQ(kds.requests(), 2);  // nothing could be cached
  EXPECT_THAT(log.lines, Contains(HasSubstr("could not cache it")));

  // Offline, the unreadable entry is reported rather than treated as absent.
  CollateralProvider offline(blocked, nullptr, clock, {.offline = true});
  EXPECT_THAT(
      offline.GetChain(Product::kTurin, KdsSigner::kVcek),
      StatusIs(StatusCode::kDataLoss, HasSubstr("blocker/cache/vcek/Turin/cert_chain.pem")));
}

TEST_F(ProviderFixture, OversizedCacheEntryIsRefetchedOnline) {
  VHSM_REQUIRE_SNP_VECTORS();
  kds.Serve("/vcek/v1/Milan/cert_chain", ReadChain("milan"));
  CollateralCache small(dir.path(), /*max_file_bytes=*/100);
  ASSERT_OK(
      small.Write(small.ChainFile(Product::kMilan, KdsSigner::kVcek).value(), Bytes(500, 'x')));
  CollateralProvider offline(small, nullptr, clock, {.offline = true});
  EXPECT_THAT(offline.GetChain(Product::kMilan, KdsSigner::kVcek),
              StatusIs(StatusCode::kDataLoss, HasSubstr("limit of 100")));
  CollateralProvider online(small, fetcher.get(), clock, {.base_url = kds.base_url()});
  EXPECT_EQ(online.GetChain(Product::kMilan, KdsSigner::kVcek).value(), ReadChain("milan"));
  EXPECT_EQ(kds.requests(), 1);
}

TEST_F(ProviderFixture, ConcurrentCallersShareOneDownload) {
  VHSM_REQUIRE_SNP_VECTORS();
  kds.Serve("/vlek/v1/Genoa/cert_chain", ReadChain("genoa"));  // content is not judged here
  CollateralProvider provider = Online();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (provider.GetChain(Product::kGenoa, KdsSigner::kVlek).ok()) ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  EXPECT_EQ(kds.requests(), 1);
}

TEST_F(ProviderFixture, AllZeroChipIdFailsBeforeAnyRequest) {
  CollateralProvider provider = Online();
  TcbParts tcb{.fmc = std::nullopt, .bootloader = 4, .tee = 0, .snp = 24, .microcode = 217};
  EXPECT_THAT(provider.GetVcek(Product::kMilan, Bytes(64, 0), tcb),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("cannot fetch a VCEK")));
  EXPECT_EQ(kds.requests(), 0);
}

TEST_F(ProviderFixture, GarbageResponsesAreNotCached) {
  VHSM_REQUIRE_SNP_VECTORS();
  kds.Serve("/vcek/v1/Milan/cert_chain", ToBytes("<html>maintenance</html>"), "text/html");
  kds.Serve("/vlek/v1/Milan/cert_chain",
            testdata::ReadVector("certs/amd/milan_ark.pem"));  // 1 cert only
  kds.Serve("/vcek/v1/Milan/crl", ToBytes("not a crl"));
  Bytes chip(64, 0x11);
  TcbParts tcb{.fmc = std::nullopt, .bootloader = 1, .tee = 0, .snp = 1, .microcode = 1};
  Bytes vcek_plus_junk = testdata::ReadVector("vectors/milan-v2-vcek-virtee/vcek.der");
  vcek_plus_junk.push_back(0);
  kds.Serve(VcekPath(Product::kMilan, chip, tcb).value(), vcek_plus_junk);

  CollateralProvider provider = Online();
  EXPECT_THAT(provider.GetChain(Product::kMilan, KdsSigner::kVcek),
              StatusIs(StatusCode::kDataLoss, HasSubstr("got 0")));
  EXPECT_THAT(provider.GetChain(Product::kMilan, KdsSigner::kVlek),
              StatusIs(StatusCode::kDataLoss, HasSubstr("got 1")));
  EXPECT_THAT(provider.GetCrl(Product::kMilan, KdsSigner::kVcek),
              StatusIs(StatusCode::kDataLoss, HasSubstr("not a DER or PEM X.509 CRL")));
  EXPECT_THAT(provider.GetVcek(Product::kMilan, chip, tcb),
              StatusIs(StatusCode::kDataLoss, HasSubstr("trailing bytes")));
  EXPECT_FALSE(FileExists(dir.path() + "/vcek/Milan/cert_chain.pem"));
  EXPECT_FALSE(FileExists(dir.path() + "/vlek/Milan/cert_chain.pem"));
  EXPECT_FALSE(FileExists(dir.path() + "/vcek/Milan/crl.der"));
  EXPECT_FALSE(FileExists(cache.VcekFile(Product::kMilan, chip, tcb).value()));
}

TEST_F(ProviderFixture, CrlIsRefetchedOnlyWhenPastNextUpdate) {
  const int64_t now = clock.NowUnix();
  Bytes crl1 = MakeCrl(now - 100, now + 1000);
  ASSERT_OK_AND_ASSIGN(std::optional<int64_t> next, CrlNextUpdate(crl1, "crl1"));
  EXPECT_EQ(next, now + 1000);
  kds.Serve("/vcek/v1/Turin/crl", crl1);

  CollateralProvider provider = Online();
  EXPECT_EQ(provider.GetCrl(Product::kTurin, KdsSigner::kVcek).value(), crl1);
  clock.Advance(500);
  EXPECT_EQ(provider.GetCrl(Product::kTurin, KdsSigner::kVcek).value(), crl1);
  EXPECT_EQ(kds.requests(), 1);  // fresh: from cache

  Bytes crl2 = MakeCrl(now + 900, now + 5000);
  kds.Serve("/vcek/v1/Turin/crl", crl2);
  clock.Advance(1000);  // past crl1's nextUpdate
  EXPECT_EQ(provider.GetCrl(Product::kTurin, KdsSigner::kVcek).value(), crl2);
  EXPECT_EQ(kds.requests(), 2);
  EXPECT_EQ(ReadFileBytes(dir.path() + "/vcek/Turin/crl.der").value(), crl2);

  // Offline, a stale CRL is handed over unchanged: the verifier rejects it as stale.
  clock.Advance(10000);
  CollateralProvider offline(cache, nullptr, clock, {.offline = true});
  EXPECT_EQ(offline.GetCrl(Product::kTurin, KdsSigner::kVcek).value(), crl2);
  // Online with the KDS down, the stale CRL is not silently returned.
  kds.FailFirst(1000, 503);
  EXPECT_THAT(provider.GetCrl(Product::kTurin, KdsSigner::kVcek),
              StatusIs(StatusCode::kUnavailable, HasSubstr("503")));
}

// A report struct filled from the raw bytes (offsets per the ABI), independent of the parser.
AttestationReport RawReportFields(const Bytes& bytes) {
  AttestationReport r;
  if (bytes.size() != 1184) {
    ADD_FAILURE() << "report size " << bytes.size();
    return r;
  }
  auto u64 = [&](size_t off) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | bytes[off + static_cast<size_t>(i)];
    return v;
  };
  r.version = bytes[0];
  r.signer_info = static_cast<uint32_t>(u64(0x48) & 0xffffffffu);
  r.reported_tcb = u64(kReportedTcbOffset);
  std::copy(bytes.begin() + kChipIdOffset, bytes.begin() + kChipIdOffset + 64, r.chip_id.begin());
  return r;
}

TEST_F(ProviderFixture, CompleteCertificateSetFillsOnlyWhatIsMissing) {
  VHSM_REQUIRE_SNP_VECTORS();
  AttestationReport report =
      RawReportFields(testdata::ReadVector("vectors/genoa-v3-vcek-azure-trustee/report.bin"));
  Bytes vcek_pem = testdata::ReadVector("vectors/genoa-v3-vcek-azure-trustee/vcek.pem");
  // KDS serves DER; the vector holds PEM of the same certificate.
  crypto::BioPtr bio(BIO_new_mem_buf(vcek_pem.data(), static_cast<int>(vcek_pem.size())));
  crypto::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(cert, nullptr);
  Bytes vcek_der(static_cast<size_t>(i2d_X509(cert.get(), nullptr)));
  unsigned char* p = vcek_der.data();
  i2d_X509(cert.get(), &p);
  kds.Serve(
      "/vcek/v1/Genoa/" + HexEncode(report.chip_id) + "?blSPL=10&teeSPL=0&snpSPL=23&ucodeSPL=84",
      vcek_der);
  kds.Serve("/vcek/v1/Genoa/cert_chain", ReadChain("genoa"));
  const int64_t now = clock.NowUnix();
  Bytes crl = MakeCrl(now - 10, now + 10);
  kds.Serve("/vcek/v1/Genoa/crl", crl);

  CollateralProvider provider = Online();
  CertificateSet certs;
  ASSERT_OK(CompleteCertificateSet(provider, report, Product::kGenoa, {.chain = true, .crl = true},
                                   certs));
  EXPECT_EQ(certs.vcek, vcek_der);
  // DER SHA-256 of SEV-Genoa and ARK-Genoa from MANIFEST.json.
  EXPECT_EQ(HexEncode(crypto::Sha256(certs.ask)),
            "5464738c1546aed5f2cecf1dc98c5c960a92e8913238a61711bc90ec6e828521");
  EXPECT_EQ(HexEncode(crypto::Sha256(certs.ark)),
            "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1");
  EXPECT_EQ(certs.crl, crl);
  EXPECT_TRUE(certs.vlek.empty());
  EXPECT_EQ(kds.requests(), 3);

  // Present members are kept; with nothing missing no request is made.
  CertificateSet supplied{.ark = {}, .ask = {}, .vcek = Bytes{1, 2, 3}, .vlek = {}, .crl = {}};
  ASSERT_OK(CompleteCertificateSet(provider, report, Product::kGenoa, {}, supplied));
  EXPECT_EQ(supplied.vcek, (Bytes{1, 2, 3}));
  EXPECT_TRUE(supplied.ask.empty());
  EXPECT_EQ(kds.requests(), 3);
}

TEST_F(ProviderFixture, CompleteCertificateSetForVlekReports) {
  VHSM_REQUIRE_SNP_VECTORS();
  AttestationReport report =
      RawReportFields(testdata::ReadVector("vectors/milan-v3-vlek-vmpl1-trustee/report.bin"));
  ASSERT_EQ(report.signing_key_raw(), 1);
  CollateralProvider provider = Online();
  CertificateSet certs;
  EXPECT_THAT(CompleteCertificateSet(provider, report, Product::kMilan, {.chain = true}, certs),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("VLEK")));
  Bytes vlek_chain = testdata::ReadVector("certs/amd/milan_asvk.pem");
  Bytes ark = testdata::ReadVector("certs/amd/milan_ark.pem");
  vlek_chain.insert(vlek_chain.end(), ark.begin(), ark.end());
  kds.Serve("/vlek/v1/Milan/cert_chain", vlek_chain);
  certs.vlek = testdata::ReadVector("vectors/milan-v3-vlek-vmpl1-trustee/vlek.der");
  ASSERT_OK(CompleteCertificateSet(provider, report, Product::kMilan, {.chain = true}, certs));
  EXPECT_EQ(HexEncode(crypto::Sha256(certs.ask)),
            "c5e081f59b7efab1fe2f8b505e159704e72f29cab7ef7cf628a05a42439082f5");
  EXPECT_TRUE(certs.vcek.empty());
  EXPECT_EQ(kds.targets(), std::vector<std::string>{"/vlek/v1/Milan/cert_chain"});

  report.signer_info = 7u << 2;  // SIGNING_KEY none
  EXPECT_THAT(CompleteCertificateSet(provider, report, Product::kMilan, {}, certs),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("report.signing_key")));
}

TEST(KdsWellFormedTest, ChecksShapesOnly) {
  VHSM_REQUIRE_SNP_VECTORS();
  EXPECT_OK(
      CheckDerCertificate(testdata::ReadVector("vectors/genoa-v5-vcek-oak/vcek.der"), "vcek"));
  // A syntactically fine certificate that is not AMD-signed still passes: trust is not decided
  // here.
  EXPECT_OK(CheckDerCertificate(
      testdata::ReadVector("vectors/neg-fake-vcek-hwid-encodings-trustee/vcek_hwid_raw64.der"),
      "vcek"));
  EXPECT_THAT(CheckDerCertificate(Bytes{0x30, 0x03, 0x02, 0x01}, "vcek"),
              StatusIs(StatusCode::kDataLoss, HasSubstr("vcek")));
  EXPECT_OK(CheckPemChain(ReadChain("turin"), "chain"));
  EXPECT_THAT(CrlNextUpdate(Bytes{}, "crl"), StatusIs(StatusCode::kDataLoss, HasSubstr("crl")));
}

}  // namespace
}  // namespace vhsm::snp
