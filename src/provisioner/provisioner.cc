#include "provisioner/provisioner.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <thread>
#include <utility>

#include "base/bytes.h"
#include "crypto/digest.h"
#include "crypto/keys.h"
#include "http/client.h"
#include "jose/jcs.h"
#include "jose/json_util.h"
#include "jose/jwe.h"
#include "jose/jwk.h"

namespace vhsm::provisioner {

namespace {

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr size_t kMaxPathPart = 128;

bool ValidPathPart(std::string_view p) {
  if (p.empty() || p.size() > kMaxPathPart || p == "." || p == "..") return false;
  return std::all_of(p.begin(), p.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

std::chrono::microseconds Since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t);
}

// The "detail" (or "title") of an RFC 7807 problem, else the body's start.
std::string ProblemDetail(const http::ClientResponse& r) {
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_object()) {
    if (j.contains("detail") && j["detail"].is_string()) return j["detail"].get<std::string>();
    if (j.contains("title") && j["title"].is_string()) return j["title"].get<std::string>();
  }
  return r.body.substr(0, 200);
}

bool Retryable(int status) { return status == 500 || status == 502 || status == 503 || status == 504; }

// The value of cookie `name` from Set-Cookie headers.
std::string CookieValue(const http::ClientResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k.size() != 10) continue;
    std::string lower = k;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower != "set-cookie") continue;
    if (v.compare(0, name.size(), name) == 0 && v.size() > name.size() && v[name.size()] == '=') {
      std::string val = v.substr(name.size() + 1);
      return val.substr(0, val.find(';'));
    }
  }
  return "";
}

}  // namespace

Result<ResourcePath> ParseResourcePath(std::string_view text) {
  ResourcePath p;
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
    if (parts.size() > 3) break;
  }
  if (parts.size() != 3 || !ValidPathPart(parts[0]) || !ValidPathPart(parts[1]) || !ValidPathPart(parts[2])) {
    return InvalidArgumentError("resource: got \"" + std::string(text.substr(0, 200)) +
                                "\", want repo/type/tag (each 1-128 of [A-Za-z0-9._-])");
  }
  p.repo = parts[0];
  p.type = parts[1];
  p.tag = parts[2];
  return p;
}

Result<EphemeralKeyKind> ParseEphemeralKeyKind(std::string_view name) {
  if (name == "p256" || name == "P-256") return EphemeralKeyKind::kP256;
  if (name == "p384" || name == "P-384") return EphemeralKeyKind::kP384;
  if (name == "rsa" || name == "rsa3072") return EphemeralKeyKind::kRsa3072;
  return InvalidArgumentError("ephemeral key: got \"" + std::string(name) + "\", want p256, p384 or rsa");
}

Result<std::array<uint8_t, 64>> BindingReportData(std::string_view nonce, const nlohmann::json& tee_pubkey,
                                                  std::string_view additional_evidence) {
  nlohmann::json binding = {{"additional-evidence", std::string(additional_evidence)},
                            {"nonce", std::string(nonce)},
                            {"tee-pubkey", tee_pubkey}};
  VHSM_ASSIGN_OR_RETURN(std::string canonical, jose::Canonicalize(binding));
  Bytes digest = crypto::Sha384(AsBytes(canonical));
  std::array<uint8_t, 64> out{};
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

struct Provisioner::Impl {
  ProvisionerOptions options;
  snp::Firmware& firmware;
  std::unique_ptr<http::Client> as;
  std::unique_ptr<http::Client> ps;

  Impl(ProvisionerOptions o, snp::Firmware& f) : options(std::move(o)), firmware(f) {}

  void Note(std::string_view s) {
    if (options.on_status) options.on_status(s);
  }
  void Step(int step, std::string what, Clock::time_point t) {
    if (options.on_step) options.on_step(StepEvent{step, std::move(what), Since(t)});
  }

  // Sends with bounded retries while the service is unreachable or answers 5xx.
  Result<http::ClientResponse> SendRetry(http::Client& c, std::string_view service, std::string_view method,
                                         const std::string& path, std::string_view body, std::string_view ctype,
                                         const Headers& headers) {
    int delay = options.backoff_initial_ms;
    vhsm::Status last = UnavailableError(std::string(service) + ": no attempt made");
    for (int attempt = 1; attempt <= std::max(1, options.max_attempts); ++attempt) {
      Result<http::ClientResponse> r = c.Send(method, path, body, ctype, headers);
      if (r.ok() && !Retryable(r->status)) return r;
      last = r.ok() ? UnavailableError(std::string(service) + ": " + std::string(method) + " " + path + " answered " +
                                       std::to_string(r->status) + ": " + ProblemDetail(*r))
                    : UnavailableError(std::string(service) + " unreachable: " + r.status().message());
      if (attempt < options.max_attempts) {
        Note("provisioner: " + last.message() + "; retry " + std::to_string(attempt) + "/" +
               std::to_string(options.max_attempts - 1) + " in " + std::to_string(delay) + " ms");
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
        delay = std::min(delay * 2, options.backoff_max_ms);
      }
    }
    return last.Annotate("after " + std::to_string(options.max_attempts) + " attempts");
  }

  Result<crypto::PrivateKey> NewEphemeralKey() {
    switch (options.ephemeral) {
      case EphemeralKeyKind::kP256: return crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256);
      case EphemeralKeyKind::kP384: return crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP384);
      case EphemeralKeyKind::kRsa3072: return crypto::PrivateKey::GenerateRsa(3072);
    }
    return InvalidArgumentError("ephemeral key kind");
  }

  struct Attested {
    std::string token;
    std::string jti;
    std::string ear_status;
  };

  // Steps 2-3: nonce, report binding nonce + key, token.
  Result<Attested> Attest(const crypto::PrivateKey& key) {
    VHSM_ASSIGN_OR_RETURN(nlohmann::json tee_pubkey, jose::PublicKeyToJwk(key.Public()));
    auto t2 = Clock::now();
    nlohmann::json auth = {{"version", "0.4.0"}, {"tee", "snp"}, {"extra-params", ""}};
    VHSM_ASSIGN_OR_RETURN(http::ClientResponse ar,
                          SendRetry(*as, "attestation service", "POST", "/kbs/v0/auth", auth.dump(),
                                    "application/json", {}));
    if (ar.status != 200) {
      return UnavailableError("attestation service: POST /kbs/v0/auth answered " + std::to_string(ar.status) +
                              ": " + ProblemDetail(ar));
    }
    nlohmann::json aj = nlohmann::json::parse(ar.body, nullptr, false);
    if (!aj.is_object() || !aj.contains("nonce") || !aj["nonce"].is_string()) {
      return InvalidArgumentError("attestation service: /kbs/v0/auth answer: want {\"nonce\": string}");
    }
    const std::string nonce = aj["nonce"].get<std::string>();
    const std::string cookie = CookieValue(ar, "kbs-session-id");
    if (cookie.empty()) return InvalidArgumentError("attestation service: /kbs/v0/auth set no kbs-session-id cookie");

    VHSM_ASSIGN_OR_RETURN(auto report_data, BindingReportData(nonce, tee_pubkey, ""));
    VHSM_ASSIGN_OR_RETURN(snp::ReportResponse rep, firmware.GetReport(report_data, options.vmpl));
    snp::CertificateSet certs;
    if (!rep.cert_table.empty()) {
      VHSM_ASSIGN_OR_RETURN(auto entries, snp::ParseCertTable(rep.cert_table));
      certs = snp::CertificateSetFromTable(entries);
    } else {
      VHSM_ASSIGN_OR_RETURN(certs, firmware.GetCertificates());
    }
    nlohmann::json chain = nlohmann::json::array();
    auto add = [&](const char* type, const Bytes& der) {
      if (!der.empty()) chain.push_back({{"cert_type", type}, {"data", Base64Encode(der)}});
    };
    add("VCEK", certs.vcek);
    add("VLEK", certs.vlek);
    add("ASK", certs.ask);
    add("ARK", certs.ark);
    nlohmann::json primary = {{"attestation_report", Base64Encode(rep.report)},
                              {"cert_chain", chain.empty() ? nlohmann::json(nullptr) : chain}};
    std::string key_desc = key.Describe();
    Step(2, "report from " + std::string(firmware.Name()) + " firmware (" + std::to_string(rep.report.size()) +
                " bytes, " + std::to_string(chain.size()) + " certs); REPORT_DATA = SHA-384(JCS(nonce, " + key_desc +
                " ephemeral key)) || 0^16",
         t2);

    auto t3 = Clock::now();
    nlohmann::json attest = {
        {"runtime-data", {{"nonce", nonce}, {"tee-pubkey", tee_pubkey}}},
        {"tee-evidence", {{"primary_evidence", primary}, {"additional_evidence", ""}}}};
    VHSM_ASSIGN_OR_RETURN(http::ClientResponse tr,
                          SendRetry(*as, "attestation service", "POST", "/kbs/v0/attest", attest.dump(),
                                    "application/json", {{"Cookie", "kbs-session-id=" + cookie}}));
    if (tr.status == 403) return PermissionDeniedError("attestation denied: " + ProblemDetail(tr));
    if (tr.status != 200) {
      return UnavailableError("attestation service: POST /kbs/v0/attest answered " + std::to_string(tr.status) +
                              ": " + ProblemDetail(tr));
    }
    nlohmann::json tj = nlohmann::json::parse(tr.body, nullptr, false);
    if (!tj.is_object() || !tj.contains("token") || !tj["token"].is_string()) {
      return InvalidArgumentError("attestation service: /kbs/v0/attest answer: want {\"token\": string}");
    }
    Attested out;
    out.token = tj["token"].get<std::string>();
    // Informational only (the Provisioning Service verifies the token): jti and status.
    size_t d1 = out.token.find('.');
    size_t d2 = d1 == std::string::npos ? d1 : out.token.find('.', d1 + 1);
    if (d2 != std::string::npos) {
      Result<Bytes> payload = Base64UrlDecode(std::string_view(out.token).substr(d1 + 1, d2 - d1 - 1));
      if (payload.ok()) {
        nlohmann::json c = nlohmann::json::parse(payload->begin(), payload->end(), nullptr, false);
        if (c.is_object()) {
          if (c.contains("jti") && c["jti"].is_string()) out.jti = c["jti"].get<std::string>();
          const nlohmann::json* st = nullptr;
          if (c.contains("submods") && c["submods"].is_object() && c["submods"].contains("cpu0") &&
              c["submods"]["cpu0"].is_object() && c["submods"]["cpu0"].contains("ear.status")) {
            st = &c["submods"]["cpu0"]["ear.status"];
          }
          if (st != nullptr && st->is_string()) out.ear_status = st->get<std::string>();
        }
      }
    }
    Step(3, "attestation service verified chain, signature, TCB, policy, measurement and the binding: EAR token " +
                (out.ear_status.empty() ? std::string("issued") : "\"" + out.ear_status + "\"") + " (" +
                std::to_string(out.token.size()) + " bytes)" +
                (out.jti.empty() ? "" : ", jti " + out.jti),
         t3);
    return out;
  }

  // Steps 4-5 for one resource. kUnauthenticated (from the 401) means: re-attest.
  Result<ProvisionedSecret> FetchOne(const FetchRequest& req, const Attested& att, const crypto::PrivateKey& key) {
    auto t4 = Clock::now();
    const std::string path = "/kbs/v0/resource/" + req.path.ToString();
    VHSM_ASSIGN_OR_RETURN(http::ClientResponse rr, SendRetry(*ps, "provisioning service", "GET", path, {}, {},
                                                             {{"Authorization", "Bearer " + att.token}}));
    if (rr.status == 401) return UnauthenticatedError("provisioning service refused the token: " + ProblemDetail(rr));
    if (rr.status == 403) {
      return PermissionDeniedError("release of " + req.path.ToString() + " denied: " + ProblemDetail(rr));
    }
    if (rr.status == 404) return NotFoundError("resource " + req.path.ToString() + ": not found");
    if (rr.status == 400) {
      return InvalidArgumentError("provisioning service: GET " + path + " answered 400: " + ProblemDetail(rr) +
                                  " (the Authorization header carried a " + std::to_string(att.token.size()) +
                                  "-byte EAR token)");
    }
    if (rr.status != 200) {
      return UnavailableError("provisioning service: GET " + path + " answered " + std::to_string(rr.status) + ": " +
                              ProblemDetail(rr));
    }
    Step(4, "provisioning service accepted the token (signature, expiry, release policy) for " +
                req.path.ToString(),
         t4);
    auto t5 = Clock::now();
    Result<jose::JweDecrypted> dec = jose::DecryptFlattened(rr.body, key);
    if (!dec.ok()) {
      return vhsm::Status(dec.status().code(), "JWE for " + req.path.ToString() +
                                                   " does not decrypt with this vHSM's ephemeral key: " +
                                                   dec.status().message());
    }
    const std::string alg(jose::JweAlgName(dec->alg));
    Result<ValidatedSecret> checked = ValidateSecret(req.key_type, std::move(dec->plaintext));
    if (!checked.ok()) return checked.status().Annotate(req.path.ToString());
    ValidatedSecret secret = std::move(*checked);
    Step(5, "JWE (" + alg + ", " + std::string(jose::JweEncName(dec->enc)) +
                ") unwrapped inside vhsmd; secret checked as " + std::string(SecretKeyTypeName(req.key_type)) + " " +
                std::to_string(secret.bits) + "-bit",
         t5);
    ProvisionedSecret out;
    out.path = req.path;
    out.secret = std::move(secret);
    out.jti = att.jti;
    out.ear_status = att.ear_status;
    return out;
  }
};

Provisioner::Provisioner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Provisioner::~Provisioner() = default;

Result<std::unique_ptr<Provisioner>> Provisioner::Create(ProvisionerOptions options, snp::Firmware& firmware) {
  auto impl = std::make_unique<Impl>(std::move(options), firmware);
  for (auto [url, dst, name] : {std::tuple{impl->options.attestation_url, &impl->as, "attestation_url"},
                                std::tuple{impl->options.provisioning_url, &impl->ps, "provisioning_url"}}) {
    if (url.empty()) return InvalidArgumentError(std::string(name) + ": empty");
    http::ClientOptions co;
    co.base_url = url;
    co.ca_file = impl->options.ca_file;
    co.connect_timeout_ms = impl->options.connect_timeout_ms;
    co.read_timeout_ms = impl->options.read_timeout_ms;
    co.max_attempts = 1;  // retries are ours (SendRetry)
    co.max_response_bytes = 4u << 20;
    auto client = http::Client::Create(co);
    if (!client.ok()) return client.status().Annotate(name);
    *dst = std::move(*client);
  }
  return std::unique_ptr<Provisioner>(new Provisioner(std::move(impl)));
}

Result<std::vector<ProvisionedSecret>> Provisioner::FetchAll(const std::vector<FetchRequest>& requests) {
  std::vector<ProvisionedSecret> out;
  bool reattested = false;
  // The ephemeral key lives only in this scope: EVP_PKEY_free cleanses it on return.
  VHSM_ASSIGN_OR_RETURN(crypto::PrivateKey key, impl_->NewEphemeralKey());
  VHSM_ASSIGN_OR_RETURN(Impl::Attested att, impl_->Attest(key));
  // Test hook (expiry tests with real services): VHSM_TEST_FETCH_DELAY_MS=N waits N ms between
  // the first attestation and the first fetch, so a short-lived token expires in between.
  if (const char* d = std::getenv("VHSM_TEST_FETCH_DELAY_MS"); d != nullptr && *d != '\0') {
    char* end = nullptr;
    unsigned long ms = std::strtoul(d, &end, 10);
    if (end != nullptr && *end == '\0' && ms <= 600000) {
      impl_->Note("provisioner: TEST HOOK: waiting " + std::to_string(ms) + " ms between attestation and fetch");
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    Result<ProvisionedSecret> got = impl_->FetchOne(requests[i], att, key);
    if (!got.ok() && got.status().code() == StatusCode::kUnauthenticated && !reattested &&
        got.status().message().rfind("provisioning service refused the token", 0) == 0) {
      reattested = true;
      impl_->Note("provisioner: " + got.status().message() + "; attesting again (once)");
      VHSM_ASSIGN_OR_RETURN(key, impl_->NewEphemeralKey());
      VHSM_ASSIGN_OR_RETURN(att, impl_->Attest(key));
      got = impl_->FetchOne(requests[i], att, key);
    }
    if (!got.ok()) return got.status();
    out.push_back(std::move(*got));
  }
  return out;
}

Result<ProvisionedSecret> Provisioner::Fetch(const FetchRequest& request) {
  VHSM_ASSIGN_OR_RETURN(std::vector<ProvisionedSecret> all, FetchAll({request}));
  return std::move(all.front());
}

}  // namespace vhsm::provisioner
