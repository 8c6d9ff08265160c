// audit_verify.cc
#include "services/provisioning/audit_verify.h"

#include "base/file.h"
#include "services/provisioning/provisioning_store.h"
#include "store/database.h"
#include "store/migrate.h"

namespace vhsm::provisioning {

Result<store::ChainVerification> VerifyAuditStore(const std::string& url, const Clock& clock) {
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
  VHSM_ASSIGN_OR_RETURN(std::unique_ptr<store::Database> db, store::Open(url, o));
  VHSM_ASSIGN_OR_RETURN(int64_t version, store::SchemaVersion(*db, kSchemaComponent));
  if (version == 0) {
    return FailedPreconditionError("--store " + db->description() + ": no vhsm-provisiond schema (not its store?)");
  }
  VHSM_ASSIGN_OR_RETURN(store::HashChainLog log, store::HashChainLog::Open(*db, std::string(kAuditTable), clock));
  return log.Verify();
}

}  // namespace vhsm::provisioning
