#include "services/attestation/rcar.h"

#include <algorithm>
#include <cctype>

#include "crypto/digest.h"
#include "jose/jcs.h"
#include "jose/json_util.h"
#include "jose/jwk.h"
#include "services/attestation/toml_json.h"
#include "snp/report.h"

namespace vhsm::attestation {

using nlohmann::json;

namespace {

constexpr jose::JsonLimits kLimits{kMaxRequestBytes, 16};

Result<std::string> StringMember(const json& obj, const char* name, std::string_view what) {
  if (!obj.contains(name)) return InvalidArgumentError(std::string(what) + ": missing '" + name + "'");
  if (!obj[name].is_string()) return InvalidArgumentError(std::string(what) + "." + name + ": want a string");
  return obj[name].get<std::string>();
}

std::string Upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Result<Bytes> CertData(const json& v, std::string_view what) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (s.size() > kMaxCertBytes * 4 / 3 + 8) return InvalidArgumentError(std::string(what) + ": certificate too large");
    Result<Bytes> b = Base64Decode(s);
    if (!b.ok()) return InvalidArgumentError(std::string(what) + ": not standard base64");
    return b;
  }
  if (v.is_array()) {
    if (v.size() > kMaxCertBytes) return InvalidArgumentError(std::string(what) + ": certificate too large");
    Bytes out;
    out.reserve(v.size());
    for (const json& e : v) {
      if (!e.is_number_unsigned() || e.get<uint64_t>() > 255) {
        return InvalidArgumentError(std::string(what) + ": want byte values 0-255");
      }
      out.push_back(static_cast<uint8_t>(e.get<uint64_t>()));
    }
    return out;
  }
  return InvalidArgumentError(std::string(what) + ": want base64 text or an array of bytes");
}

Result<std::array<uint8_t, 64>> ReportDataHex(const json& v) {
  if (!v.is_string()) return InvalidArgumentError("report_data: want a hex string");
  Result<Bytes> b = HexDecode(v.get<std::string>());
  if (!b.ok() || (b->size() != 64 && b->size() != 48)) {
    return InvalidArgumentError("report_data: want hex of 64 bytes (or 48, zero-padded)");
  }
  std::array<uint8_t, 64> out{};
  std::copy(b->begin(), b->end(), out.begin());
  return out;
}

}  // namespace

Result<AuthRequest> ParseAuthRequest(std::string_view body) {
  VHSM_ASSIGN_OR_RETURN(json j, jose::ParseJsonObject(body, "auth request", kLimits));
  AuthRequest r;
  VHSM_ASSIGN_OR_RETURN(r.version, StringMember(j, "version", "auth request"));
  VHSM_ASSIGN_OR_RETURN(r.tee, StringMember(j, "tee", "auth request"));
  if (r.version != kRcarProtocolVersion) {
    return InvalidArgumentError("auth request.version: got \"" + r.version.substr(0, 32) + "\", want \"" +
                                std::string(kRcarProtocolVersion) + "\"");
  }
  if (r.tee != "snp") {
    return InvalidArgumentError("auth request.tee: got \"" + r.tee.substr(0, 32) +
                                "\", this service appraises only \"snp\"");
  }
  if (j.contains("extra-params")) r.extra_params = j["extra-params"];
  return r;
}

Result<SnpEvidence> ParseSnpEvidence(const json& primary) {
  if (!primary.is_object()) return InvalidArgumentError("primary_evidence: want an object");
  SnpEvidence ev;
  VHSM_ASSIGN_OR_RETURN(std::string report_b64, StringMember(primary, "attestation_report", "primary_evidence"));
  if (report_b64.size() > 2 * snp::kReportSize) {
    return InvalidArgumentError("primary_evidence.attestation_report: too long for a 1184-byte report");
  }
  Result<Bytes> report = Base64Decode(report_b64);
  if (!report.ok()) return InvalidArgumentError("primary_evidence.attestation_report: not standard base64");
  if (report->size() != snp::kReportSize) {
    return InvalidArgumentError("primary_evidence.attestation_report: got " + std::to_string(report->size()) +
                                " bytes, want 1184");
  }
  ev.report = std::move(*report);
  if (primary.contains("cert_chain") && !primary["cert_chain"].is_null()) {
    const json& chain = primary["cert_chain"];
    if (!chain.is_array()) return InvalidArgumentError("primary_evidence.cert_chain: want an array or null");
    if (chain.size() > kMaxCertEntries) {
      return InvalidArgumentError("primary_evidence.cert_chain: " + std::to_string(chain.size()) +
                                  " entries, maximum " + std::to_string(kMaxCertEntries));
    }
    ev.has_cert_chain = true;
    for (size_t i = 0; i < chain.size(); ++i) {
      const std::string what = "primary_evidence.cert_chain[" + std::to_string(i) + "]";
      const json& e = chain[i];
      if (!e.is_object()) return InvalidArgumentError(what + ": want an object");
      VHSM_ASSIGN_OR_RETURN(std::string type, StringMember(e, "cert_type", what));
      if (!e.contains("data")) return InvalidArgumentError(what + ": missing 'data'");
      VHSM_ASSIGN_OR_RETURN(Bytes data, CertData(e["data"], what + ".data"));
      if (data.empty()) return InvalidArgumentError(what + ".data: empty");
      const std::string t = Upper(type);
      Bytes* slot = t == "VCEK" ? &ev.certs.vcek
                    : t == "VLEK" ? &ev.certs.vlek
                    : (t == "ASK" || t == "ASVK") ? &ev.certs.ask
                    : t == "ARK" ? &ev.certs.ark
                    : t == "CRL" ? &ev.certs.crl
                                 : nullptr;
      if (slot == nullptr) {
        return InvalidArgumentError(what + ".cert_type: got \"" + type.substr(0, 16) +
                                    "\", want VCEK, VLEK, ASK, ASVK, ARK or CRL");
      }
      if (!slot->empty()) return InvalidArgumentError(what + ".cert_type: duplicate " + t);
      *slot = std::move(data);
    }
  }
  return ev;
}

Result<AttestRequest> ParseAttestRequest(std::string_view body) {
  VHSM_ASSIGN_OR_RETURN(json j, jose::ParseJsonObject(body, "attest request", kLimits));
  AttestRequest r;
  if (!j.contains("runtime-data") || !j["runtime-data"].is_object()) {
    return InvalidArgumentError("attest request: missing object 'runtime-data'");
  }
  const json& rd = j["runtime-data"];
  VHSM_ASSIGN_OR_RETURN(r.nonce, StringMember(rd, "nonce", "runtime-data"));
  if (r.nonce.empty() || r.nonce.size() > 256) return InvalidArgumentError("runtime-data.nonce: bad length");
  if (!rd.contains("tee-pubkey") || !rd["tee-pubkey"].is_object()) {
    return InvalidArgumentError("runtime-data: missing JWK object 'tee-pubkey'");
  }
  Result<jose::Jwk> jwk = jose::Jwk::ParsePublic(rd["tee-pubkey"]);
  if (!jwk.ok()) return InvalidArgumentError("runtime-data.tee-pubkey: " + jwk.status().message());
  r.tee_pubkey = rd["tee-pubkey"];

  if (!j.contains("tee-evidence")) return InvalidArgumentError("attest request: missing 'tee-evidence'");
  // Referenced, not copied (they hold the base64 report and certificates); parsed into the
  // holders only when sent as JSON strings.
  json te_holder, primary_holder;
  const json* te = &j["tee-evidence"];
  if (te->is_string()) {
    // Trustee's kbs_protocol sends the evidence as a JSON string inside the JSON body.
    VHSM_ASSIGN_OR_RETURN(te_holder, jose::ParseJsonObject(te->get_ref<const std::string&>(), "tee-evidence", kLimits));
    te = &te_holder;
  }
  if (!te->is_object()) return InvalidArgumentError("tee-evidence: want an object (or a JSON string of one)");
  if (!te->contains("primary_evidence")) return InvalidArgumentError("tee-evidence: missing 'primary_evidence'");
  const json* primary = &(*te)["primary_evidence"];
  if (primary->is_string()) {
    VHSM_ASSIGN_OR_RETURN(primary_holder,
                          jose::ParseJsonObject(primary->get_ref<const std::string&>(), "primary_evidence", kLimits));
    primary = &primary_holder;
  }
  VHSM_ASSIGN_OR_RETURN(r.evidence, ParseSnpEvidence(*primary));
  if (te->contains("additional_evidence") && !(*te)["additional_evidence"].is_null()) {
    const json& ae = (*te)["additional_evidence"];
    if (ae.is_string()) {
      r.additional_evidence = ae.get<std::string>();
    } else {
      VHSM_ASSIGN_OR_RETURN(r.additional_evidence, jose::Canonicalize(ae));
    }
  }
  const json* idv = nullptr;
  if (j.contains("init-data") && !j["init-data"].is_null()) idv = &j["init-data"];
  if (rd.contains("init-data") && !rd["init-data"].is_null()) {
    if (idv != nullptr) return InvalidArgumentError("attest request: 'init-data' given twice (top level and runtime-data)");
    idv = &rd["init-data"];
  }
  if (idv != nullptr) {
    Result<InitData> id = ParseInitData(*idv);
    if (!id.ok()) return id.status();
    r.init_data = std::move(*id);
  }
  return r;
}

Result<InitData> ParseInitData(const json& v) {
  if (!v.is_object()) return InvalidArgumentError("init-data: want an object {\"format\",\"body\"}");
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it.key() != "format" && it.key() != "body") {
      return InvalidArgumentError("init-data: unknown member '" + it.key().substr(0, 64) + "'");
    }
  }
  InitData out;
  VHSM_ASSIGN_OR_RETURN(out.format, StringMember(v, "format", "init-data"));
  VHSM_ASSIGN_OR_RETURN(out.body, StringMember(v, "body", "init-data"));
  if (out.body.size() > kMaxInitDataBytes) {
    return InvalidArgumentError("init-data.body: " + std::to_string(out.body.size()) + " bytes, limit " +
                                std::to_string(kMaxInitDataBytes));
  }
  json doc;
  if (out.format == "toml") {
    Result<json> t = TomlToJson(out.body, kMaxInitDataBytes);
    if (!t.ok()) return InvalidArgumentError("init-data.body (toml): " + t.status().message());
    doc = std::move(*t);
  } else if (out.format == "json") {
    Result<json> t = jose::ParseJsonObject(out.body, "init-data.body", kLimits);
    if (!t.ok()) return t.status();
    doc = std::move(*t);
  } else {
    return InvalidArgumentError("init-data.format: got '" + out.format.substr(0, 32) + "', want toml or json");
  }
  if (!doc.is_object()) return InvalidArgumentError("init-data.body: want a table");
  VHSM_ASSIGN_OR_RETURN(out.version, StringMember(doc, "version", "init-data.body"));
  if (out.version != "0.1.0") {
    return InvalidArgumentError("init-data.body.version: got '" + out.version.substr(0, 32) + "', want 0.1.0");
  }
  VHSM_ASSIGN_OR_RETURN(out.algorithm, StringMember(doc, "algorithm", "init-data.body"));
  if (out.algorithm != "sha256" && out.algorithm != "sha384" && out.algorithm != "sha512") {
    return InvalidArgumentError("init-data.body.algorithm: got '" + out.algorithm.substr(0, 32) +
                                "', want sha256, sha384 or sha512");
  }
  if (!doc.contains("data") || !doc["data"].is_object()) {
    return InvalidArgumentError("init-data.body: missing table 'data'");
  }
  if (doc["data"].size() > kMaxInitDataEntries) {
    return InvalidArgumentError("init-data.body.data: more than " + std::to_string(kMaxInitDataEntries) + " entries");
  }
  for (auto it = doc["data"].begin(); it != doc["data"].end(); ++it) {
    if (!it.value().is_string()) {
      return InvalidArgumentError("init-data.body.data." + it.key().substr(0, 64) + ": want a string");
    }
  }
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() != "version" && it.key() != "algorithm" && it.key() != "data") {
      return InvalidArgumentError("init-data.body: unknown member '" + it.key().substr(0, 64) + "'");
    }
  }
  out.data = doc["data"];
  return out;
}

std::array<uint8_t, 32> InitDataHostData(const InitData& init_data) {
  const crypto::HashAlg alg = init_data.algorithm == "sha512"   ? crypto::HashAlg::kSha512
                              : init_data.algorithm == "sha384" ? crypto::HashAlg::kSha384
                                                                : crypto::HashAlg::kSha256;
  const Bytes digest = crypto::Digest(alg, AsBytes(init_data.body));
  std::array<uint8_t, 32> out{};
  std::copy_n(digest.begin(), std::min(digest.size(), out.size()), out.begin());
  return out;
}

Result<std::array<uint8_t, 64>> ExpectedReportData(std::string_view nonce, const json& tee_pubkey,
                                                   std::string_view additional_evidence) {
  json bound = {{"additional-evidence", std::string(additional_evidence)},
                {"nonce", std::string(nonce)},
                {"tee-pubkey", tee_pubkey}};
  VHSM_ASSIGN_OR_RETURN(std::string canon, jose::Canonicalize(bound));
  Bytes digest = crypto::Sha384(AsBytes(canon));
  std::array<uint8_t, 64> out{};
  std::copy(digest.begin(), digest.end(), out.begin());
  return out;
}

Result<VerifyRequest> ParseVerifyRequest(std::string_view body) {
  VHSM_ASSIGN_OR_RETURN(json j, jose::ParseJsonObject(body, "verify request", kLimits));
  for (auto it = j.begin(); it != j.end(); ++it) {
    static const char* kAllowed[] = {"attestation_report", "cert_chain", "report_data", "product"};
    if (std::find_if(std::begin(kAllowed), std::end(kAllowed), [&](const char* a) { return it.key() == a; }) ==
        std::end(kAllowed)) {
      return InvalidArgumentError("verify request: unknown member '" + it.key().substr(0, 64) + "'");
    }
  }
  VerifyRequest r;
  VHSM_ASSIGN_OR_RETURN(r.evidence, ParseSnpEvidence(j));
  if (j.contains("report_data") && !j["report_data"].is_null()) {
    VHSM_ASSIGN_OR_RETURN(r.report_data, ReportDataHex(j["report_data"]));
  }
  if (j.contains("product") && !j["product"].is_null()) {
    if (!j["product"].is_string()) return InvalidArgumentError("verify request.product: want a string");
    VHSM_ASSIGN_OR_RETURN(r.product, snp::ParseProduct(j["product"].get<std::string>()));
  }
  return r;
}

}  // namespace vhsm::attestation
