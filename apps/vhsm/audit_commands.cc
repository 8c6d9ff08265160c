// audit_commands.cc: `vhsm audit verify --store URL` checks the Provisioning Service's
// hash-chained audit log. Exit 0: intact (entries and head printed); 1: tampered, naming the
// first bad record; 2: the store cannot be opened or read, or is not a provisiond store.
#include <cstdio>
#include <memory>
#include <string>

#include "base/bytes.h"
#include "base/clock.h"
#include "commands.h"
#include "services/provisioning/audit_verify.h"

namespace vhsm::cli {

void RegisterAuditCommands(CLI::App& root, int& exit_code) {
  CLI::App* audit = root.add_subcommand("audit", "Provisioning Service audit log");
  audit->require_subcommand(1);
  CLI::App* verify = audit->add_subcommand("verify", "check the audit log's hash chain");
  auto store_url = std::make_shared<std::string>();
  verify->add_option("--store", *store_url, "sqlite:PATH or postgresql:// URL of vhsm-provisiond's store")
      ->required();
  verify->callback([store_url, &exit_code] {
    SystemClock clock;
    Result<store::ChainVerification> v = provisioning::VerifyAuditStore(*store_url, clock);
    if (!v.ok()) {
      std::fprintf(stderr, "vhsm audit verify: %s\n", v.status().ToString().c_str());
      exit_code = kExitUsage;
      return;
    }
    if (!v->intact()) {
      std::fprintf(stderr, "vhsm audit verify: TAMPERED: first bad record seq %lld: %s (%lld good records before it)\n",
                   static_cast<long long>(v->first_bad_seq), v->problem.c_str(), static_cast<long long>(v->entries));
      exit_code = kExitRejected;
      return;
    }
    std::printf("audit log intact: %lld records, head seq %lld hash %s\n", static_cast<long long>(v->entries),
                static_cast<long long>(v->head.seq), HexEncode(v->head.hash).c_str());
    exit_code = kExitOk;
  });
}

}  // namespace vhsm::cli
