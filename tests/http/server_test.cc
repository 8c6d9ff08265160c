// server_test.cc: a real http::Server on 127.0.0.1:0 driven by http::Client and raw sockets:
// routing, problem+json for every error path, 413, exceptions, metrics, health, cookies,
// bearer tokens, the --dev rule, TLS with a certificate made in the test, graceful stop, and
// the client's retries, limits and TLS verification.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "crypto/ossl_ptr.h"
#include "http/client.h"
#include "http/server.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::http {
namespace {

using ::testing::HasSubstr;

ServerOptions DevOptions() {
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.dev = true;
  o.announce = false;
  o.max_body_bytes = 1024;
  return o;
}

std::unique_ptr<Client> ClientFor(const Server& s, int attempts = 1, const std::string& ca = "") {
  ClientOptions o;
  o.base_url = s.url();
  o.max_attempts = attempts;
  o.backoff_initial_ms = 10;
  o.ca_file = ca;
  o.read_timeout_ms = 5000;
  auto c = Client::Create(o);
  return c.ok() ? std::move(c).value() : nullptr;
}

// Sends raw bytes and returns whatever the server answers before closing.
std::string RawExchange(int port, const std::string& request) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd);
    return "";
  }
  (void)!write(fd, request.data(), request.size());
  // Read one response (headers + Content-Length body); do not wait for the server to close.
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    size_t end = out.find("\r\n\r\n");
    if (end == std::string::npos) continue;
    size_t cl = out.find("Content-Length: ");
    size_t len = cl == std::string::npos || cl > end ? 0 : std::stoul(out.substr(cl + 16));
    if (out.size() >= end + 4 + len) break;
  }
  close(fd);
  return out;
}

void ExpectProblem(const ClientResponse& r, int status, const std::string& detail_part) {
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.body;
  EXPECT_EQ(j["status"], status);
  EXPECT_TRUE(j.contains("type") && j.contains("title") && j.contains("detail")) << r.body;
  EXPECT_THAT(j["detail"].get<std::string>(), HasSubstr(detail_part));
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Server::Create(DevOptions());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    server_->Post("/echo", [](const Request& req) -> Result<Response> { return Response::Text(req.body()); });
    server_->Get(R"(/items/([a-z]+)/(\d+))", [](const Request& req) -> Result<Response> {
      return Response::Json(nlohmann::json{{"name", req.path_param(1)}, {"n", req.path_param(2)}}.dump());
    });
    server_->Get("/deny", [](const Request&) -> Result<Response> {
      return PermissionDeniedError("measurement: not in the reference set");
    });
    server_->Get("/throw", [](const Request&) -> Result<Response> { throw std::runtime_error("boom"); });
    server_->Get("/auth", [](const Request& req) -> Result<Response> {
      VHSM_ASSIGN_OR_RETURN(std::string token, req.bearer_token());
      return Response::Text("token=" + token);
    });
    server_->Post("/session", [](const Request&) -> Result<Response> {
      VHSM_ASSIGN_OR_RETURN(std::string cookie, SetCookieValue("kbs-session-id", "s123", {}));
      return Response::Json("{}").AddHeader("Set-Cookie", cookie);
    });
    server_->Get("/session", [](const Request& req) -> Result<Response> {
      auto id = req.cookie("kbs-session-id");
      if (!id) return UnauthenticatedError("kbs-session-id cookie missing");
      return Response::Text(*id);
    });
    ASSERT_OK(server_->Start());
    client_ = ClientFor(*server_);
    ASSERT_NE(client_, nullptr);
  }

  std::unique_ptr<Server> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(ServerTest, ListensOnARealPortAndRoutes) {
  EXPECT_GT(server_->port(), 0);
  EXPECT_EQ(server_->ListeningLine(), "listening on http://127.0.0.1:" + std::to_string(server_->port()));
  ASSERT_OK_AND_ASSIGN(ClientResponse r, client_->Post("/echo", "hello", "text/plain"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  ASSERT_OK_AND_ASSIGN(r, client_->Get("/items/abc/42"));
  EXPECT_EQ(r.body, R"({"n":"42","name":"abc"})");
  ASSERT_OK_AND_ASSIGN(r, client_->Get("/healthz"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"ok"})");
}

TEST_F(ServerTest, ErrorsAreProblemJson) {
  ASSERT_OK_AND_ASSIGN(ClientResponse r, client_->Get("/deny"));
  ExpectProblem(r, 403, "measurement: not in the reference set");
  ASSERT_OK_AND_ASSIGN(r, client_->Get("/no/such/route"));
  ExpectProblem(r, 404, "no such resource");
  ASSERT_OK_AND_ASSIGN(r, client_->Get("/throw"));
  ExpectProblem(r, 500, "internal error");
  EXPECT_EQ(r.body.find("boom"), std::string::npos);
  ASSERT_OK_AND_ASSIGN(r, client_->Get("/healthz"));  // still serving after the exception
  EXPECT_EQ(r.status, 200);
}

TEST_F(ServerTest, OversizedBodyIs413) {
  ASSERT_OK_AND_ASSIGN(ClientResponse r, client_->Post("/echo", std::string(1024, 'a'), "text/plain"));
  EXPECT_EQ(r.status, 200);
  ASSERT_OK_AND_ASSIGN(r, client_->Post("/echo", std::string(1025, 'a'), "text/plain"));
  ExpectProblem(r, 413, "limit 1024");
  // The connection is closed after a refused body; the next request works on a new one.
  ASSERT_OK_AND_ASSIGN(r, client_->Post("/echo", "ok", "text/plain"));
  EXPECT_EQ(r.body, "ok");
  // A huge declared length is refused before the body is read.
  std::string raw = RawExchange(server_->port(),
                                "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100000000\r\n\r\n");
  EXPECT_THAT(raw, HasSubstr("HTTP/1.1 413"));
  EXPECT_THAT(raw, HasSubstr("application/problem+json"));
  EXPECT_THAT(raw, HasSubstr("limit 1024"));
  raw = RawExchange(server_->port(), "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 12x\r\n\r\n");
  EXPECT_THAT(raw, HasSubstr("HTTP/1.1 400"));
  // A chunked body over the limit too.
  raw = RawExchange(server_->port(), "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
                                         std::string(2048, 'b') + "\r\n0\r\n\r\n");
  EXPECT_THAT(raw, HasSubstr("HTTP/1.1 413"));
}

TEST_F(ServerTest, BearerTokenAndCookies) {
  ASSERT_OK_AND_ASSIGN(ClientResponse r, client_->Get("/auth", {{"Authorization", "Bearer abc.def.ghi"}}));
  EXPECT_EQ(r.body, "token=abc.def.ghi");
  ASSERT_OK_AND_ASSIGN(r, client_->Get("/auth"));
  ExpectProblem(r, 401, "Authorization: missing");
  ASSERT_OK_AND_ASSIGN(r, client_->Post("/session", "{}", "application/json"));
  EXPECT_EQ(r.header("Set-Cookie"), "kbs-session-id=s123; Path=/; Secure; HttpOnly; SameSite=Strict");
  ASSERT_OK_AND_ASSIGN(r, client_->Get("/session", {{"Cookie", "other=1; kbs-session-id=s123"}}));
  EXPECT_EQ(r.body, "s123");
  ASSERT_OK_AND_ASSIGN(r, client_->Get("/session"));
  ExpectProblem(r, 401, "cookie missing");
}

TEST_F(ServerTest, MetricsCountRequestsByRouteAndCode) {
  for (int i = 0; i < 3; ++i) ASSERT_OK(client_->Post("/echo", "x", "text/plain").status());
  ASSERT_OK(client_->Get("/deny").status());
  ASSERT_OK_AND_ASSIGN(ClientResponse r, client_->Get("/metrics"));
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.header("Content-Type"), HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(r.body, HasSubstr("http_requests_total{route=\"/echo\",method=\"POST\",code=\"200\"} 3\n"));
  EXPECT_THAT(r.body, HasSubstr("http_requests_total{route=\"/deny\",method=\"GET\",code=\"403\"} 1\n"));
  EXPECT_THAT(r.body, HasSubstr("http_request_duration_seconds_count{route=\"/echo\"} 3\n"));
  Counter& custom = server_->metrics().AddCounter("vhsm_attestations_total", "Attestations", {"result"});
  custom.Inc({"affirming"});
  ASSERT_OK_AND_ASSIGN(r, client_->Get("/metrics"));
  EXPECT_THAT(r.body, HasSubstr("vhsm_attestations_total{result=\"affirming\"} 1\n"));
}

TEST_F(ServerTest, HealthCheckFailureIs503) {
  server_->SetHealthCheck([] { return UnavailableError("store: connection refused"); });
  ASSERT_OK_AND_ASSIGN(ClientResponse r, client_->Get("/healthz"));
  ExpectProblem(r, 503, "store: connection refused");
}

TEST_F(ServerTest, StopIsGracefulAndFinal) {
  const int port = server_->port();
  server_->Stop();
  server_->Stop();  // idempotent
  ClientOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(port);
  o.max_attempts = 2;
  o.backoff_initial_ms = 1;
  ASSERT_OK_AND_ASSIGN(auto c, Client::Create(o));
  EXPECT_THAT(c->Get("/healthz"), StatusIs(StatusCode::kUnavailable, HasSubstr("2 attempts")));
}

TEST(ServerCreateTest, RefusesPlainHttpOffLoopbackAndHalfTls) {
  ServerOptions o = DevOptions();
  o.listen = "0.0.0.0:0";
  EXPECT_THAT(Server::Create(o), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("non-loopback")));
  o.dev = false;
  o.listen = "127.0.0.1:0";
  EXPECT_THAT(Server::Create(o), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("TLS required")));
  o.tls_cert_file = "/nonexistent/cert.pem";
  EXPECT_THAT(Server::Create(o), StatusIs(StatusCode::kInvalidArgument, HasSubstr("together")));
  o.tls_key_file = "/nonexistent/key.pem";
  EXPECT_THAT(Server::Create(o), StatusIs(StatusCode::kInvalidArgument, HasSubstr("cannot read")));
  o.listen = "nonsense";
  EXPECT_THAT(Server::Create(o), StatusIs(StatusCode::kInvalidArgument, HasSubstr("PORT")));
}

TEST(ServerCreateTest, BusyPortIsUnavailable) {
  auto a = Server::Create(DevOptions());
  ASSERT_OK(a.status());
  ASSERT_OK((*a)->Start());
  ServerOptions o = DevOptions();
  o.listen = "127.0.0.1:" + std::to_string((*a)->port());
  auto b = Server::Create(o);
  ASSERT_OK(b.status());
  EXPECT_THAT((*b)->Start(), StatusIs(StatusCode::kUnavailable, HasSubstr("cannot bind")));
}

// ---- TLS ----

// Writes a self-signed P-256 certificate for IP 127.0.0.1 and its key as PEM files.
void MakeTestCert(const std::string& cert_path, const std::string& key_path, const std::string& cn = "127.0.0.1") {
  crypto::EvpPkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  ASSERT_NE(key, nullptr);
  crypto::X509Ptr cert(X509_new());
  ASSERT_EQ(X509_set_version(cert.get(), 2), 1);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 86400);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, "IP:127.0.0.1"}, std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    crypto::X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    ASSERT_NE(ext, nullptr);
    X509_add_ext(cert.get(), ext.get(), -1);
  }
  ASSERT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);
  crypto::BioPtr cb(BIO_new_file(cert_path.c_str(), "w"));
  ASSERT_EQ(PEM_write_bio_X509(cb.get(), cert.get()), 1);
  crypto::BioPtr kb(BIO_new_file(key_path.c_str(), "w"));
  ASSERT_EQ(PEM_write_bio_PrivateKey(kb.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr), 1);
}

TEST(TlsServerTest, ServesHttpsVerifiedAgainstTheTestCa) {
  testdata::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeTestCert(dir.Join("cert.pem"), dir.Join("key.pem")));
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.tls_cert_file = dir.Join("cert.pem");
  o.tls_key_file = dir.Join("key.pem");
  o.announce = false;
  ASSERT_OK_AND_ASSIGN(auto server, Server::Create(o));
  server->Get("/hello", [](const Request&) -> Result<Response> { return Response::Text("secure"); });
  ASSERT_OK(server->Start());
  EXPECT_TRUE(server->tls());
  EXPECT_EQ(server->url(), "https://127.0.0.1:" + std::to_string(server->port()));

  auto good = ClientFor(*server, 1, dir.Join("cert.pem"));
  ASSERT_NE(good, nullptr);
  ASSERT_OK_AND_ASSIGN(ClientResponse r, good->Get("/hello"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "secure");

  // Verified against the system store instead, the self-signed certificate is refused.
  auto untrusting = ClientFor(*server, 1);
  ASSERT_NE(untrusting, nullptr);
  EXPECT_THAT(untrusting->Get("/hello"), StatusIs(StatusCode::kUnavailable, HasSubstr("TLS")));
  // Plain HTTP to the TLS port gets no answer.
  ClientOptions plain;
  plain.base_url = "http://127.0.0.1:" + std::to_string(server->port());
  plain.max_attempts = 1;
  plain.read_timeout_ms = 2000;
  ASSERT_OK_AND_ASSIGN(auto pc, Client::Create(plain));
  auto pr = pc->Get("/hello");
  EXPECT_TRUE(!pr.ok() || pr->status == 400) << (pr.ok() ? std::to_string(pr->status) : pr.status().ToString());
}

TEST(TlsServerTest, CertificateForAnotherNameIsRefused) {
  testdata::TempDir dir;
  ASSERT_NO_FATAL_FAILURE(MakeTestCert(dir.Join("cert.pem"), dir.Join("key.pem")));
  ASSERT_NO_FATAL_FAILURE(MakeTestCert(dir.Join("other.pem"), dir.Join("other.key")));
  ServerOptions o;
  o.listen = "127.0.0.1:0";
  o.tls_cert_file = dir.Join("cert.pem");
  o.tls_key_file = dir.Join("other.key");  // key does not match the certificate
  o.announce = false;
  EXPECT_THAT(Server::Create(o), StatusIs(StatusCode::kInvalidArgument, HasSubstr("cannot load certificate")));
}

// ---- Client ----

TEST(ClientTest, RetriesIdempotentRequestsOn503ButNotPost) {
  auto s = Server::Create(DevOptions());
  ASSERT_OK(s.status());
  std::atomic<int> gets{0}, posts{0};
  (*s)->Get("/flaky", [&](const Request&) -> Result<Response> {
    if (++gets < 3) return UnavailableError("warming up");
    return Response::Text("ready");
  });
  (*s)->Post("/flaky", [&](const Request&) -> Result<Response> {
    ++posts;
    return UnavailableError("warming up");
  });
  ASSERT_OK((*s)->Start());
  auto c = ClientFor(**s, 3);
  ASSERT_OK_AND_ASSIGN(ClientResponse r, c->Get("/flaky"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(gets.load(), 3);
  ASSERT_OK_AND_ASSIGN(r, c->Post("/flaky", "{}", "application/json"));
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(posts.load(), 1);
}

TEST(ClientTest, BoundsResponseSize) {
  auto s = Server::Create(DevOptions());
  ASSERT_OK(s.status());
  (*s)->Get("/big", [](const Request&) -> Result<Response> { return Response::Text(std::string(100000, 'z')); });
  ASSERT_OK((*s)->Start());
  ClientOptions o;
  o.base_url = (*s)->url() + "/";
  o.max_response_bytes = 1000;
  ASSERT_OK_AND_ASSIGN(auto c, Client::Create(o));
  EXPECT_THAT(c->Get("/big"), StatusIs(StatusCode::kResourceExhausted, HasSubstr("1000 bytes")));
}

TEST(ClientTest, ParsesBaseUrls) {
  ASSERT_OK_AND_ASSIGN(BaseUrl u, ParseBaseUrl("https://kds.example/vcek/v1/"));
  EXPECT_TRUE(u.https);
  EXPECT_EQ(u.host, "kds.example");
  EXPECT_EQ(u.port, 443);
  EXPECT_EQ(u.path_prefix, "/vcek/v1");
  ASSERT_OK_AND_ASSIGN(u, ParseBaseUrl("http://[::1]:8080"));
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 8080);
  EXPECT_THAT(ParseBaseUrl("ftp://x"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("http://")));
  EXPECT_THAT(ParseBaseUrl("http://u:p@x"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("user info")));
  EXPECT_THAT(ParseBaseUrl("http://x:0"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("port")));
  EXPECT_THAT(ParseBaseUrl("http://x/a?b"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("query")));
}

}  // namespace
}  // namespace vhsm::http
