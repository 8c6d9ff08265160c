// migrate.h: versioned schema migrations. Each component (a service, or a helper table such as
// the one-use tokens) owns an ordered list of migrations; Migrate() applies the ones not yet
// recorded in `schema_migrations`, each in its own transaction together with its record, so a
// migration is applied exactly once or not at all. Several replicas may start at once: on
// PostgreSQL they serialize on an advisory lock, on SQLite on the write lock (BEGIN IMMEDIATE).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "store/database.h"

namespace vhsm::store {

struct Migration {
  int64_t version;          // > 0, strictly increasing within a component
  std::string description;  // "create resources table"
  // One or more `;`-separated statements. Portable spellings for the two dialects:
  //   {{BLOB}}     BYTEA on PostgreSQL, BLOB on SQLite
  //   {{AUTO_ID}}  an auto-increment 64-bit primary key column type
  //   {{ROWID_KEY}} a 64-bit primary key the caller assigns: BIGINT PRIMARY KEY on PostgreSQL,
  //                INTEGER PRIMARY KEY on SQLite (the rowid itself: one B-tree, no separate index)
  //   {{TEXT_ID}}  TEXT (listed for symmetry: TEXT is portable as is)
  std::string sql;
  // Set: the SQL runs only on this dialect; on the other one the version is recorded as applied
  // without running anything (a storage change one backend needs and the other does not), so
  // both keep the same version numbers.
  std::optional<Dialect> only_on = std::nullopt;
};

// Replaces the {{...}} spellings above for `dialect`. kInvalidArgument for an unknown {{NAME}}.
Result<std::string> ExpandSchemaMacros(std::string_view sql, Dialect dialect);

// Applies the missing migrations of `component` in order. Errors:
//   kInvalidArgument     versions not positive and strictly increasing, or an empty component
//   kFailedPrecondition  an applied migration's SQL has changed since (checksum mismatch), or the
//                        database holds a newer version than this binary knows
//   store errors         from running the SQL (the failed migration is rolled back)
Status Migrate(Database& db, std::string_view component, const std::vector<Migration>& migrations);

// The highest applied version of `component` (0 when none).
Result<int64_t> SchemaVersion(Database& db, std::string_view component);

// Table names accepted by the helpers: [a-z_][a-z0-9_]{0,62}.
Status ValidateIdentifier(std::string_view name, std::string_view what);

}  // namespace vhsm::store
