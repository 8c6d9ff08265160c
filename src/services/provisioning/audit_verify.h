// audit_verify.h: the check behind `vhsm audit verify --store URL`: opens the Provisioning
// Service's store read-only in intent (it never writes), confirms it holds the provisioning
// schema, and walks the hash-chained audit log (store/hash_chain.h) from the first record.
#pragma once

#include <string>

#include "base/clock.h"
#include "base/status.h"
#include "store/hash_chain.h"

namespace vhsm::provisioning {

// A broken chain is a successful result with first_bad_seq set. Errors: kNotFound for a SQLite
// file that does not exist, kFailedPrecondition for a database without the provisioning schema,
// store errors (kUnavailable, kDataLoss, ...) when it cannot be read.
Result<store::ChainVerification> VerifyAuditStore(const std::string& store_url, const Clock& clock);

}  // namespace vhsm::provisioning
