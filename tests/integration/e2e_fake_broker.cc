// vhsm-e2e-fake-broker: a stand-in for vhsm-attestd + vhsm-provisiond in one process, for checking
// vhsmd's import and the example client when the real services are not usable. It checks the
// REPORT_DATA binding of the report (not the chain or any policy!), issues an unsigned token
// naming the tee-pubkey, and releases the given files as flattened JWE to that key.
//   vhsm-e2e-fake-broker repo/type/tag=FILE...   (prints "listening on URL")
#include <cstdio>
#include <map>
#include <string>

#include "base/bytes.h"
#include "base/file.h"
#include "http/server.h"
#include "jose/jwe.h"
#include "jose/jwk.h"
#include "provisioner/provisioner.h"

using namespace vhsm;  // NOLINT

int main(int argc, char** argv) {
  std::map<std::string, Bytes> resources;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    size_t eq = a.find('=');
    if (eq == std::string::npos) return 2;
    auto data = ReadFileText(a.substr(eq + 1), 1 << 20);
    if (!data.ok()) return 2;
    resources["/kbs/v0/resource/" + a.substr(0, eq)] = ToBytes(*data);
  }
  http::BlockShutdownSignals();
  http::ServerOptions o;
  o.dev = true;
  auto server = http::Server::Create(o);
  if (!server.ok()) return 1;
  http::Server& s = **server;
  s.Post("/kbs/v0/auth", [](const http::Request&) -> Result<http::Response> {
    return http::Response::Json(R"({"nonce":"ZmFrZS1icm9rZXItbm9uY2UtMDEyMzQ1Njc4OWFiY2Q=","extra-params":""})")
        .AddHeader("Set-Cookie", "kbs-session-id=fake; Path=/");
  });
  s.Post("/kbs/v0/attest", [](const http::Request& req) -> Result<http::Response> {
    nlohmann::json j = nlohmann::json::parse(req.body(), nullptr, false);
    if (!j.is_object()) return InvalidArgumentError("body");
    const nlohmann::json& key = j["runtime-data"]["tee-pubkey"];
    VHSM_ASSIGN_OR_RETURN(auto want,
                          provisioner::BindingReportData(j["runtime-data"]["nonce"].get<std::string>(), key, ""));
    VHSM_ASSIGN_OR_RETURN(Bytes report,
                          Base64Decode(j["tee-evidence"]["primary_evidence"]["attestation_report"].get<std::string>()));
    if (report.size() != 1184 || !std::equal(want.begin(), want.end(), report.begin() + 0x50)) {
      return PermissionDeniedError("report_data.binding: mismatch");
    }
    nlohmann::json claims = {{"jti", "fake-broker"}, {"submods", {{"cpu0", {{"ear.status", "affirming"}}}}}, {"tee", key}};
    return http::Response::Json(
        nlohmann::json{{"token", "e30." + Base64UrlEncode(AsBytes(claims.dump())) + ".unsigned"}}.dump());
  });
  s.Get(R"(/kbs/v0/resource/(.+))", [&resources](const http::Request& req) -> Result<http::Response> {
    auto it = resources.find(req.path());
    if (it == resources.end()) return NotFoundError("no such resource");
    VHSM_ASSIGN_OR_RETURN(std::string token, req.bearer_token());
    size_t d1 = token.find('.'), d2 = token.rfind('.');
    VHSM_ASSIGN_OR_RETURN(Bytes payload, Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1)));
    nlohmann::json c = nlohmann::json::parse(AsStringView(payload), nullptr, false);
    VHSM_ASSIGN_OR_RETURN(jose::Jwk jwk, jose::Jwk::ParsePublic(c["tee"]));
    jose::JweEncryptOptions eo;
    VHSM_ASSIGN_OR_RETURN(eo.alg, jose::DefaultJweAlgForKey(jwk.public_key()));
    VHSM_ASSIGN_OR_RETURN(std::string jwe, jose::EncryptFlattened(jwk.public_key(), it->second, eo));
    return http::Response::Json(jwe);
  });
  if (!s.Start().ok()) return 1;
  std::fflush(stdout);
  http::WaitForShutdownSignal();
  s.Stop();
  return 0;
}
