// store_sql_fuzzer.cc: the text transformations of store/ on arbitrary input: `$N` -> `?N`
// placeholder translation, schema macro expansion, and hash-chain record canonicalization.
// Properties: translation and canonicalization are idempotent.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "store/database.h"
#include "store/hash_chain.h"
#include "store/migrate.h"

namespace {
void Require(bool cond) {
  if (!cond) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  using namespace vhsm::store;
  if (auto out = TranslatePlaceholdersForSqlite(in); out.ok()) {
    auto again = TranslatePlaceholdersForSqlite(*out);
    Require(again.ok() && *again == *out);
  }
  (void)ExpandSchemaMacros(in, Dialect::kSqlite);
  (void)ExpandSchemaMacros(in, Dialect::kPostgres);
  if (auto canon = CanonicalJsonRecord(in); canon.ok()) {
    auto again = CanonicalJsonRecord(*canon);
    Require(again.ok() && *again == *canon);
  }
  (void)ValidateIdentifier(in, "fuzz");
  return 0;
}
