// audit_commands.cc: the Provisioning Service's hash-chained audit log from the command line.
//   vhsm audit verify --store URL [--head HEX --count N | --head-file F]
//     exit 0: intact (count and head printed); 1: tampered, naming the first bad record, or
//     truncated/rewritten against the given head; 2: the store or head file cannot be read, the
//     store is not a provisiond store, or the head is malformed.
//   vhsm audit head --store URL
//     prints the current head as {"hash":"<hex>","seq":N}; keep it elsewhere (another machine,
//     a ticket) and pass it back with --head-file to detect truncation of the newest records.
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/file.h"
#include "commands.h"
#include "services/provisioning/audit_verify.h"

namespace vhsm::cli {
namespace {

struct VerifyFlags {
  std::string store_url;
  std::string head_hex;
  int64_t count = -1;
  std::string head_file;
};

// The expected head from the flags, nullopt when none was given.
Result<std::optional<store::ChainHead>> ExpectedHead(const VerifyFlags& f) {
  if (!f.head_file.empty()) {
    VHSM_ASSIGN_OR_RETURN(std::string text, ReadFileText(f.head_file, 4096));
    Result<store::ChainHead> h = provisioning::ParseAuditHead(text);
    if (!h.ok()) return h.status().Annotate("--head-file " + f.head_file);
    return std::optional<store::ChainHead>(std::move(*h));
  }
  if (f.head_hex.empty()) return std::optional<store::ChainHead>();
  VHSM_ASSIGN_OR_RETURN(store::ChainHead h, provisioning::MakeAuditHead(f.head_hex, f.count));
  return std::optional<store::ChainHead>(std::move(h));
}

void RunVerify(const VerifyFlags& f, int& exit_code) {
  Result<std::optional<store::ChainHead>> expected = ExpectedHead(f);
  if (!expected.ok()) {
    std::fprintf(stderr, "vhsm audit verify: %s\n", expected.status().ToString().c_str());
    exit_code = kExitUsage;
    return;
  }
  SystemClock clock;
  Result<store::ChainVerification> v = provisioning::VerifyAuditStore(f.store_url, clock, *expected);
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
  std::printf("audit log intact: %lld records, head seq %lld hash %s%s\n", static_cast<long long>(v->entries),
              static_cast<long long>(v->head.seq), HexEncode(v->head.hash).c_str(),
              *expected ? (", contains the expected head seq " + std::to_string((*expected)->seq)).c_str() : "");
  exit_code = kExitOk;
}

}  // namespace

void RegisterAuditCommands(CLI::App& root, int& exit_code) {
  CLI::App* audit = root.add_subcommand("audit", "Provisioning Service audit log");
  audit->require_subcommand(1);

  CLI::App* verify = audit->add_subcommand("verify", "check the audit log's hash chain");
  auto flags = std::make_shared<VerifyFlags>();
  verify->add_option("--store", flags->store_url, "sqlite:PATH or postgresql:// URL of vhsm-provisiond's store")
      ->required();
  CLI::Option* head = verify->add_option("--head", flags->head_hex, "hash (64 hex digits) of a head kept elsewhere");
  CLI::Option* count = verify->add_option("--count", flags->count, "seq of that head (records when it was taken)");
  CLI::Option* head_file =
      verify->add_option("--head-file", flags->head_file, "file holding a head from `vhsm audit head`");
  head->needs(count);
  count->needs(head);
  head_file->excludes(head);
  head_file->excludes(count);
  verify->callback([flags, &exit_code] { RunVerify(*flags, exit_code); });

  CLI::App* head_cmd = audit->add_subcommand("head", "print the audit chain's head: {\"hash\":HEX,\"seq\":N}");
  auto store_url = std::make_shared<std::string>();
  head_cmd->add_option("--store", *store_url, "sqlite:PATH or postgresql:// URL of vhsm-provisiond's store")
      ->required();
  head_cmd->callback([store_url, &exit_code] {
    SystemClock clock;
    Result<store::ChainHead> h = provisioning::ReadAuditHead(*store_url, clock);
    if (!h.ok()) {
      std::fprintf(stderr, "vhsm audit head: %s\n", h.status().ToString().c_str());
      exit_code = kExitUsage;
      return;
    }
    std::printf("%s\n", provisioning::FormatAuditHead(*h).c_str());
    exit_code = kExitOk;
  });
}

}  // namespace vhsm::cli
