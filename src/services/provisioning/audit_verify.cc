// audit_verify.cc
#include "services/provisioning/audit_verify.h"

#include <nlohmann/json.hpp>

#include <memory>

#include "base/bytes.h"
#include "base/file.h"
#include "services/provisioning/provisioning_store.h"
#include "store/database.h"
#include "store/migrate.h"

namespace vhsm::provisioning {
namespace {

constexpr size_t kMaxHeadBytes = 4096;
constexpr size_t kHashBytes = 32;

struct OpenedLog {
  std::unique_ptr<store::Database> db;
  std::optional<store::HashChainLog> log;
};

Result<OpenedLog> OpenAuditLog(const std::string& url, const Clock& clock) {
  // store::Open creates a missing SQLite file; a typo must not look like an empty, intact log.
  for (std::string_view prefix : {"sqlite://", "sqlite:"}) {
    if (url.rfind(prefix, 0) == 0) {
      const std::string path = url.substr(prefix.size());
      if (!FileExists(path)) return NotFoundError("--store " + url + ": no such file");
      break;
    }
  }
  store::OpenOptions o;
  o.pool_size = 1;
  OpenedLog out;
  VHSM_ASSIGN_OR_RETURN(out.db, store::Open(url, o));
  VHSM_ASSIGN_OR_RETURN(int64_t version, store::SchemaVersion(*out.db, kSchemaComponent));
  if (version == 0) {
    return FailedPreconditionError("--store " + out.db->description() + ": no vhsm-provisiond schema (not its store?)");
  }
  VHSM_ASSIGN_OR_RETURN(store::HashChainLog log, store::HashChainLog::Attach(*out.db, std::string(kAuditTable), clock));
  out.log.emplace(std::move(log));
  return out;
}

}  // namespace

Result<store::ChainVerification> VerifyAuditStore(const std::string& url, const Clock& clock,
                                                  const std::optional<store::ChainHead>& expected_head) {
  VHSM_ASSIGN_OR_RETURN(OpenedLog opened, OpenAuditLog(url, clock));
  return opened.log->Verify(expected_head);
}

Result<store::ChainHead> ReadAuditHead(const std::string& url, const Clock& clock) {
  VHSM_ASSIGN_OR_RETURN(OpenedLog opened, OpenAuditLog(url, clock));
  return opened.log->Head();
}

std::string FormatAuditHead(const store::ChainHead& head) {
  return nlohmann::json{{"seq", head.seq}, {"hash", HexEncode(head.hash)}}.dump();
}

Result<store::ChainHead> MakeAuditHead(std::string_view hash_hex, int64_t count) {
  if (count < 0) return InvalidArgumentError("audit head count: got " + std::to_string(count) + ", want >= 0");
  if (hash_hex.size() != 2 * kHashBytes) {
    return InvalidArgumentError("audit head hash: got " + std::to_string(hash_hex.size()) +
                                " characters, want 64 hex digits (SHA-256)");
  }
  Result<Bytes> hash = HexDecode(hash_hex);
  if (!hash.ok()) return InvalidArgumentError("audit head hash: not hex: " + hash.status().message());
  return store::ChainHead{count, std::move(*hash)};
}

Result<store::ChainHead> ParseAuditHead(std::string_view text) {
  if (text.size() > kMaxHeadBytes) {
    return InvalidArgumentError("audit head: got " + std::to_string(text.size()) + " bytes, limit 4096");
  }
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return InvalidArgumentError("audit head: want a JSON object {\"seq\":N,\"hash\":\"<64 hex>\"}");
  }
  auto seq = doc.find("seq");
  if (seq == doc.end() || !seq->is_number_integer()) {
    return InvalidArgumentError("audit head: \"seq\" missing or not an integer");
  }
  auto hash = doc.find("hash");
  if (hash == doc.end() || !hash->is_string()) return InvalidArgumentError("audit head: \"hash\" missing or not a string");
  return MakeAuditHead(hash->get<std::string>(), seq->get<int64_t>());
}

}  // namespace vhsm::provisioning
