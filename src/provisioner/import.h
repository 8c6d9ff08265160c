// import.h: turns a provisioned secret into sealed vHSM token objects. Runs in vhsmd before the
// Token is loaded from the SealedStore (so the objects appear exactly like any other token
// object): a secret key becomes one CKO_SECRET_KEY object; an EC/RSA private key becomes a
// CKO_PRIVATE_KEY object plus its CKO_PUBLIC_KEY with the same CKA_LABEL/CKA_ID. Every key object
// is CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE true and CKA_EXTRACTABLE false, not CKA_LOCAL, and
// carries two vendor attributes: the resource path and the jti of the EAR token that released it.
// A label that already exists is replaced or refused, per ImportOptions. All objects of one
// import (a key pair, plus the removal of what it replaces) are ONE sealed SQLite transaction:
// after a crash the set is complete or absent, never half. ImportProvisioned works on the store
// before the Token is loaded (vhsmd start); ImportIntoToken on a live Token (on-demand).
#pragma once

#include <p11-kit/pkcs11.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "provisioner/provisioner.h"
#include "vhsm/engine.h"
#include "vhsm/sealed_store.h"
#include "vhsm/token.h"

namespace vhsm::provisioner {

// Vendor attributes (CKA_VENDOR_DEFINED | "VH" | n): UTF-8 strings.
inline constexpr CK_ATTRIBUTE_TYPE kCkaVhsmResource = CKA_VENDOR_DEFINED | 0x56480001UL;
inline constexpr CK_ATTRIBUTE_TYPE kCkaVhsmTokenJti = CKA_VENDOR_DEFINED | 0x56480002UL;

enum class OnDuplicate { kReplace, kRefuse, kKeep };
// "replace", "refuse", "keep" (keep: leave the existing object and skip the fetch).
Result<OnDuplicate> ParseOnDuplicate(std::string_view name);

struct ImportOptions {
  std::string label;
  Bytes id;  // CKA_ID; empty = first 8 bytes of SHA-256(label)
  OnDuplicate on_duplicate = OnDuplicate::kReplace;
  // Test seam: runs after the i-th object row is written, inside the open transaction.
  std::function<void(size_t)> after_write;
};

struct ImportResult {
  std::vector<uint64_t> object_ids;  // the stored object ids (= handles after load)
  bool replaced = false;
};

// The ids of token objects in `store` whose CKA_LABEL equals `label`.
Result<std::vector<uint64_t>> FindObjectsByLabel(hsm::SealedStore& store, std::string_view label);

// Imports `secret` into `store`. kAlreadyExists when the label exists and on_duplicate is
// kRefuse; kInvalidArgument when the material does not load as the stated key type.
Result<ImportResult> ImportProvisioned(hsm::SealedStore& store, const hsm::Engine& engine,
                                       const ProvisionedSecret& secret, const ImportOptions& options);

// The same into a live Token (fresh handles; replaced objects removed in the same transaction).
// on_duplicate kKeep is kInvalidArgument here (the caller decides keep before fetching).
Result<ImportResult> ImportIntoToken(hsm::Token& token, const ProvisionedSecret& secret,
                                     const ImportOptions& options);

// Test hook for crash tests: when VHSM_TEST_IMPORT_PAUSE_MS=N is set, a hook that prints one line
// to stderr and sleeps N ms after the first row of a batch (inside the transaction); else null.
std::function<void(size_t)> AfterWriteHookFromEnv();

}  // namespace vhsm::provisioner
