// audit_verify.h: the checks behind `vhsm audit verify --store URL [--head ...]` and
// `vhsm audit head --store URL`: opens the Provisioning Service's store read-only in intent (it
// never writes records), confirms it holds the provisioning schema, and walks the hash-chained
// audit log (store/hash_chain.h) from the first record. The chain alone shows edits, deletions
// and reordering; truncation of the newest records shows only against a head (seq, hash) taken
// earlier and kept elsewhere: `vhsm audit head` or `GET /kbs/v0/audit/head` print one as
//   {"hash":"<64 hex digits>","seq":N}
// and `vhsm audit verify --head-file F` (or --head HEX --count N) checks the chain still holds it.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "base/status.h"
#include "store/hash_chain.h"

namespace vhsm::provisioning {

// A broken chain is a successful result with first_bad_seq set; so is a chain that no longer
// holds `expected_head` (truncated: shorter than its seq; rewritten: another hash at its seq).
// Errors: kNotFound for a SQLite file that does not exist, kFailedPrecondition for a database
// without the provisioning schema, store errors (kUnavailable, kDataLoss, ...) when it cannot be
// read.
Result<store::ChainVerification> VerifyAuditStore(const std::string& store_url, const Clock& clock,
                                                  const std::optional<store::ChainHead>& expected_head = std::nullopt);

// The current head of the audit chain (seq 0 and a zero hash when empty). Errors as above.
Result<store::ChainHead> ReadAuditHead(const std::string& store_url, const Clock& clock);

// {"hash":"<hex>","seq":N}
std::string FormatAuditHead(const store::ChainHead& head);
// Parses FormatAuditHead()'s output (surrounding whitespace allowed; at most 4 KiB).
// kInvalidArgument naming the member that is missing or malformed.
Result<store::ChainHead> ParseAuditHead(std::string_view text);
// From `--head HEX --count N`: N is the head's seq (the number of records when it was taken).
// kInvalidArgument for a hash that is not 64 hex digits or a negative count.
Result<store::ChainHead> MakeAuditHead(std::string_view hash_hex, int64_t count);

}  // namespace vhsm::provisioning
