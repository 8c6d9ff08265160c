// store_suite.cc: one suite, both backends: CRUD with typed values, errors, transactions,
// migrations, one-use tokens, hash chain, and several handles on one database (replicas).
#include "store_suite.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

#include "base/clock.h"
#include "crypto/digest.h"
#include "store/hash_chain.h"
#include "store/migrate.h"
#include "store/one_use_tokens.h"
#include "testing/status_matchers.h"

namespace vhsm::store::testing {
namespace {

using ::testing::HasSubstr;

Status CreateItems(Database& db) {
  VHSM_ASSIGN_OR_RETURN(std::string sql,
                        ExpandSchemaMacros("CREATE TABLE items (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
                                           " data {{BLOB}}, n BIGINT)",
                                           db.dialect()));
  return db.Exec(sql).status();
}

int64_t CountItems(Executor& db) {
  auto row = db.QueryOne("SELECT COUNT(*) FROM items");
  if (!row.ok()) return -1;
  return row->Int(0).value_or(-1);
}

TEST_P(StoreTest, CrudRoundTripsEveryValueType) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  ASSERT_OK(CreateItems(*db));
  const Bytes blob = {0x00, 0xff, 0x10, 0x00};
  const std::string text = "gr\xc3\xbc\xc3\x9f" "e 'quoted' $1";
  ASSERT_OK_AND_ASSIGN(int64_t n, db->Exec("INSERT INTO items (id, name, data, n) VALUES ($1, $2, $3, $4)",
                                            {int64_t{1} << 40, text, blob, int64_t{-7}}));
  EXPECT_EQ(n, 1);
  ASSERT_OK(db->Exec("INSERT INTO items (id, name, data, n) VALUES ($1, $2, $3, $4)", {2, "empty", Bytes{}, nullptr})
                .status());

  ASSERT_OK_AND_ASSIGN(Rows rows, db->Query("SELECT id, name, data, n FROM items ORDER BY id DESC"));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].Int("id").value_or(0), int64_t{1} << 40);
  EXPECT_EQ(rows[0].Text("name").value_or(""), text);
  EXPECT_EQ(rows[0].Blob("data").value_or(Bytes{}), blob);
  EXPECT_EQ(rows[0].Int("n").value_or(0), -7);
  EXPECT_EQ(rows[1].Blob(2).value_or(Bytes{1}), Bytes{});  // empty blob is not NULL
  EXPECT_TRUE(rows[1].IsNull(3));
  EXPECT_EQ(rows.columns->at(1), "name");

  ASSERT_OK_AND_ASSIGN(int64_t updated, db->Exec("UPDATE items SET n = $1 WHERE id >= $2", {5, 0}));
  EXPECT_EQ(updated, 2);
  ASSERT_OK_AND_ASSIGN(int64_t deleted, db->Exec("DELETE FROM items WHERE name = $1", {"empty"}));
  EXPECT_EQ(deleted, 1);
  EXPECT_EQ(CountItems(*db), 1);
  EXPECT_THAT(db->QueryOne("SELECT id FROM items WHERE id = $1", {999}), StatusIs(StatusCode::kNotFound, HasSubstr("no row")));
}

TEST_P(StoreTest, TypeMismatchAndParameterCountAreReported) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  ASSERT_OK(CreateItems(*db));
  ASSERT_OK(db->Exec("INSERT INTO items (id, name) VALUES ($1, $2)", {1, "a"}).status());
  ASSERT_OK_AND_ASSIGN(Row row, db->QueryOne("SELECT id, name FROM items"));
  EXPECT_THAT(row.Text(0), StatusIs(StatusCode::kInternal, HasSubstr("column id: got INTEGER, want TEXT")));
  EXPECT_THAT(row.Int("nope"), StatusIs(StatusCode::kInternal, HasSubstr("nope")));
  EXPECT_FALSE(db->Exec("INSERT INTO items (id, name) VALUES ($1, $2)", {1}).ok());
}

TEST_P(StoreTest, ConstraintViolationsMapToCodes) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  ASSERT_OK(CreateItems(*db));
  ASSERT_OK(db->Exec("INSERT INTO items (id, name) VALUES ($1, $2)", {1, "a"}).status());
  EXPECT_THAT(db->Exec("INSERT INTO items (id, name) VALUES ($1, $2)", {1, "b"}),
              StatusIs(StatusCode::kAlreadyExists, ::testing::_));
  EXPECT_THAT(db->Exec("INSERT INTO items (id, name) VALUES ($1, $2)", {2, nullptr}),
              StatusIs(StatusCode::kFailedPrecondition, ::testing::_));
  EXPECT_THAT(db->Exec("SELEKT 1"), StatusIs(StatusCode::kInternal, ::testing::_));
}

TEST_P(StoreTest, PlaceholdersInLiteralsAndCommentsAreLeftAlone) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  ASSERT_OK(CreateItems(*db));
  // One real parameter; the '$2' literal and the comment must not count as parameters.
  ASSERT_OK(db->Exec("INSERT INTO items (id, name) VALUES ($1, 'costs $2 -- not a comment') /* $3 */", {7}).status());
  ASSERT_OK_AND_ASSIGN(Row row, db->QueryOne("SELECT name FROM items WHERE id = $1", {7}));
  EXPECT_EQ(row.Text(0).value_or(""), "costs $2 -- not a comment");
  // Reusing a placeholder twice binds the same value.
  ASSERT_OK_AND_ASSIGN(Rows rows, db->Query("SELECT id FROM items WHERE id = $1 OR id = $1 + $2", {7, 0}));
  EXPECT_EQ(rows.size(), 1u);
}

TEST_P(StoreTest, TransactionRollsBackUnlessCommitted) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  ASSERT_OK(CreateItems(*db));
  {
    ASSERT_OK_AND_ASSIGN(Transaction tx, db->Begin());
    ASSERT_OK(tx.Exec("INSERT INTO items (id, name) VALUES ($1, $2)", {1, "dropped"}).status());
    EXPECT_EQ(CountItems(tx), 1);  // visible inside
  }  // destroyed: rolled back
  EXPECT_EQ(CountItems(*db), 0);
  {
    ASSERT_OK_AND_ASSIGN(Transaction tx, db->Begin());
    ASSERT_OK(tx.Exec("INSERT INTO items (id, name) VALUES ($1, $2)", {2, "kept"}).status());
    ASSERT_OK(tx.Commit());
    EXPECT_THAT(tx.Exec("SELECT 1"), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("after commit")));
  }
  EXPECT_EQ(CountItems(*db), 1);
  // A body that fails after writing leaves nothing behind.
  Status s = db->InTransaction([](Transaction& tx) -> Status {
    VHSM_RETURN_IF_ERROR(tx.Exec("INSERT INTO items (id, name) VALUES ($1, $2)", {3, "half"}).status());
    return PermissionDeniedError("policy says no");
  });
  EXPECT_THAT(s, StatusIs(StatusCode::kPermissionDenied, HasSubstr("policy")));
  EXPECT_EQ(CountItems(*db), 1);
  // A failing statement inside a transaction fails the whole transaction.
  s = db->InTransaction([](Transaction& tx) -> Status {
    VHSM_RETURN_IF_ERROR(tx.Exec("INSERT INTO items (id, name) VALUES ($1, $2)", {4, "first"}).status());
    return tx.Exec("INSERT INTO items (id, name) VALUES ($1, $2)", {5, "kept"}).status();  // unique name clash
  });
  EXPECT_THAT(s, StatusIs(StatusCode::kAlreadyExists, ::testing::_));
  EXPECT_EQ(CountItems(*db), 1);
}

TEST_P(StoreTest, ConcurrentReadModifyWriteTransactionsLoseNoUpdate) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db1, test_db->Open());
  ASSERT_OK_AND_ASSIGN(auto db2, test_db->Open());
  ASSERT_OK(db1->Exec("CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)").status());
  ASSERT_OK(db1->Exec("INSERT INTO counter (id, n) VALUES (1, 0)").status());
  constexpr int kThreads = 4, kIncrements = 15;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Database& db = t % 2 ? *db1 : *db2;  // two "replicas"
      TxOptions opts;
      opts.max_attempts = 100;
      for (int i = 0; i < kIncrements; ++i) {
        Status s = db.InTransaction(
            [](Transaction& tx) -> Status {
              VHSM_ASSIGN_OR_RETURN(Row row, tx.QueryOne("SELECT n FROM counter WHERE id = 1"));
              VHSM_ASSIGN_OR_RETURN(int64_t n, row.Int(0));
              return tx.Exec("UPDATE counter SET n = $1 WHERE id = 1", {n + 1}).status();
            },
            opts);
        if (!s.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_OK_AND_ASSIGN(Row row, db1->QueryOne("SELECT n FROM counter"));
  EXPECT_EQ(row.Int(0).value_or(-1), kThreads * kIncrements);
}

TEST_P(StoreTest, TwoHandlesSeeEachOthersWritesImmediately) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto a, test_db->Open());
  ASSERT_OK_AND_ASSIGN(auto b, test_db->Open());
  ASSERT_OK(CreateItems(*a));
  ASSERT_OK(a->Exec("INSERT INTO items (id, name) VALUES (1, 'from a')").status());
  ASSERT_OK_AND_ASSIGN(Row row, b->QueryOne("SELECT name FROM items WHERE id = 1"));
  EXPECT_EQ(row.Text(0).value_or(""), "from a");
  ASSERT_OK(b->Exec("UPDATE items SET name = 'from b' WHERE id = 1").status());
  ASSERT_OK_AND_ASSIGN(row, a->QueryOne("SELECT name FROM items WHERE id = 1"));
  EXPECT_EQ(row.Text(0).value_or(""), "from b");
}

std::vector<Migration> V1V2() {
  return {{1, "items", "CREATE TABLE things (id BIGINT PRIMARY KEY, v {{BLOB}})"},
          {2, "index", "CREATE INDEX things_v ON things (v); INSERT INTO things (id) VALUES (42)"}};
}

TEST_P(StoreTest, MigrationsApplyOnceInOrder) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  EXPECT_THAT(SchemaVersion(*db, "svc"), ::testing::Truly([](const Result<int64_t>& r) { return r.ok() && *r == 0; }));
  ASSERT_OK(Migrate(*db, "svc", V1V2()));
  ASSERT_OK(Migrate(*db, "svc", V1V2()));  // second run: no-op (CREATE TABLE would fail)
  ASSERT_OK_AND_ASSIGN(int64_t v, SchemaVersion(*db, "svc"));
  EXPECT_EQ(v, 2);
  ASSERT_OK_AND_ASSIGN(Row row, db->QueryOne("SELECT COUNT(*) FROM things"));
  EXPECT_EQ(row.Int(0).value_or(-1), 1);  // the v2 insert ran once
  // Another component has its own versions.
  ASSERT_OK(Migrate(*db, "other", {{1, "x", "CREATE TABLE other_t (id BIGINT)"}}));
  // A later binary adds v3.
  auto v3 = V1V2();
  v3.push_back({3, "col", "ALTER TABLE things ADD COLUMN note TEXT"});
  ASSERT_OK(Migrate(*db, "svc", v3));
  ASSERT_OK_AND_ASSIGN(v, SchemaVersion(*db, "svc"));
  EXPECT_EQ(v, 3);
  // An older binary refuses a newer schema; an edited migration is refused.
  EXPECT_THAT(Migrate(*db, "svc", V1V2()), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("newer")));
  auto edited = v3;
  edited[0].sql = "CREATE TABLE things (id BIGINT PRIMARY KEY)";
  EXPECT_THAT(Migrate(*db, "svc", edited), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("changed")));
  EXPECT_THAT(Migrate(*db, "svc", {{2, "a", "SELECT 1"}, {1, "b", "SELECT 1"}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("increasing")));
}

TEST_P(StoreTest, DialectSpecificMigrationIsRecordedOnBothButRunsOnOne) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  const Dialect mine = db->dialect();
  const Dialect other = mine == Dialect::kSqlite ? Dialect::kPostgres : Dialect::kSqlite;
  std::vector<Migration> ms = {{1, "base", "CREATE TABLE d0 (id BIGINT)"},
                               {2, "other only", "CREATE TABLE d_other (id BIGINT)", other},
                               {3, "mine only", "CREATE TABLE d_mine (id {{ROWID_KEY}})", mine}};
  ASSERT_OK(Migrate(*db, "dialects", ms));
  ASSERT_OK_AND_ASSIGN(int64_t v, SchemaVersion(*db, "dialects"));
  EXPECT_EQ(v, 3);
  EXPECT_FALSE(db->Query("SELECT * FROM d_other").ok());  // recorded as applied, not run
  ASSERT_OK(db->Exec("INSERT INTO d_mine (id) VALUES ($1)", {int64_t{1} << 40}).status());
  EXPECT_THAT(db->Exec("INSERT INTO d_mine (id) VALUES ($1)", {int64_t{1} << 40}),
              StatusIs(StatusCode::kAlreadyExists, ::testing::_));  // ROWID_KEY is a 64-bit primary key on both
  ASSERT_OK(Migrate(*db, "dialects", ms));              // and the second run is a no-op
}

TEST_P(StoreTest, FailedMigrationLeavesNoTrace) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  std::vector<Migration> bad = {{1, "ok", "CREATE TABLE a1 (id BIGINT)"},
                                {2, "half", "CREATE TABLE a2 (id BIGINT); CREATE TABLE a1 (id BIGINT)"}};
  EXPECT_FALSE(Migrate(*db, "svc", bad).ok());
  ASSERT_OK_AND_ASSIGN(int64_t v, SchemaVersion(*db, "svc"));
  EXPECT_EQ(v, 1);
  EXPECT_FALSE(db->Query("SELECT * FROM a2").ok());  // v2's first statement was rolled back
}

TEST_P(StoreTest, ConcurrentMigrationsFromReplicasApplyOnce) {
  VHSM_STORE_TEST_DB(GetParam());
  std::vector<std::unique_ptr<Database>> replicas;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(auto db, test_db->Open(2));
    replicas.push_back(std::move(db));
  }
  std::vector<Status> results(replicas.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < replicas.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = Migrate(*replicas[i], "svc", V1V2()); });
  }
  for (auto& t : threads) t.join();
  for (const Status& s : results) EXPECT_OK(s);
  ASSERT_OK_AND_ASSIGN(Row row, replicas[0]->QueryOne("SELECT COUNT(*) FROM things"));
  EXPECT_EQ(row.Int(0).value_or(-1), 1);
  ASSERT_OK_AND_ASSIGN(row, replicas[0]->QueryOne("SELECT COUNT(*) FROM schema_migrations WHERE component = 'svc'"));
  EXPECT_EQ(row.Int(0).value_or(-1), 2);
}

TEST_P(StoreTest, OneUseTokenTakenOnceBeforeExpiry) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  FixedClock clock(1'800'000'000);
  ASSERT_OK_AND_ASSIGN(OneUseTokens tokens, OneUseTokens::Open(*db, "nonces", clock));
  ASSERT_OK(tokens.Put("session-1", R"({"nonce":"abc"})", 300));
  EXPECT_THAT(tokens.Put("session-1", "other", 300), StatusIs(StatusCode::kAlreadyExists, ::testing::_));
  ASSERT_OK_AND_ASSIGN(std::string payload, tokens.Take("session-1"));
  EXPECT_EQ(payload, R"({"nonce":"abc"})");
  EXPECT_THAT(tokens.Take("session-1"), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("already used")));
  EXPECT_THAT(tokens.Take("never-put"), StatusIs(StatusCode::kNotFound, ::testing::_));

  ASSERT_OK(tokens.Put("session-2", "p2", 300));
  clock.Advance(299);
  ASSERT_OK(tokens.Put("session-3", "p3", 300));
  clock.Advance(1);  // session-2 expires exactly now
  EXPECT_THAT(tokens.Take("session-2"), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("expired")));
  EXPECT_OK(tokens.Take("session-3"));
  // The raw id is not stored.
  ASSERT_OK_AND_ASSIGN(Rows rows, db->Query("SELECT id_sha256 FROM nonces"));
  for (const Row& r : rows) EXPECT_EQ(r.Text(0).value_or("").find("session"), std::string::npos);
  EXPECT_THAT(tokens.Put("x", "p", 0), StatusIs(StatusCode::kInvalidArgument, HasSubstr("ttl")));
  // Purge removes only what has expired (session-1 and session-2), not session-3.
  ASSERT_OK_AND_ASSIGN(int64_t purged, tokens.PurgeExpired());
  EXPECT_EQ(purged, 2);
  EXPECT_THAT(OneUseTokens::Open(*db, "bad-name", clock), StatusIs(StatusCode::kInvalidArgument, HasSubstr("bad-name")));
}

TEST_P(StoreTest, ConcurrentTakersExactlyOneWins) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db1, test_db->Open());
  ASSERT_OK_AND_ASSIGN(auto db2, test_db->Open());
  SystemClock clock;
  ASSERT_OK_AND_ASSIGN(OneUseTokens t1, OneUseTokens::Open(*db1, "sessions", clock));
  ASSERT_OK_AND_ASSIGN(OneUseTokens t2, OneUseTokens::Open(*db2, "sessions", clock));
  constexpr int kTokens = 10, kThreads = 6;
  for (int i = 0; i < kTokens; ++i) ASSERT_OK(t1.Put("tok" + std::to_string(i), "p" + std::to_string(i), 60));
  std::atomic<int> wins[kTokens] = {};
  std::atomic<int> other_errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      OneUseTokens& tokens = t % 2 ? t1 : t2;
      for (int i = 0; i < kTokens; ++i) {
        Result<std::string> r = tokens.Take("tok" + std::to_string(i));
        if (r.ok()) {
          ++wins[i];
        } else if (r.status().code() != StatusCode::kFailedPrecondition) {
          ++other_errors;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int i = 0; i < kTokens; ++i) EXPECT_EQ(wins[i].load(), 1) << "token " << i;
  EXPECT_EQ(other_errors.load(), 0);
}

TEST_P(StoreTest, HashChainAppendsAndVerifies) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  FixedClock clock(1'800'000'000);
  ASSERT_OK_AND_ASSIGN(HashChainLog log, HashChainLog::Open(*db, "audit", clock));
  ASSERT_OK_AND_ASSIGN(ChainVerification empty, log.Verify());
  EXPECT_TRUE(empty.intact());
  EXPECT_EQ(empty.entries, 0);

  ASSERT_OK_AND_ASSIGN(ChainEntry first, log.Append(R"({ "z": 1, "a": "x" })"));
  EXPECT_EQ(first.seq, 1);
  EXPECT_EQ(first.record, R"({"a":"x","z":1})");
  EXPECT_EQ(first.prev_hash, Bytes(32, 0));
  // Independent recomputation of the documented formula.
  Bytes preimage(32, 0);
  for (int i = 7; i >= 0; --i) preimage.push_back(static_cast<uint8_t>(uint64_t{1} >> (8 * i)));
  const uint64_t t = 1'800'000'000;
  for (int i = 7; i >= 0; --i) preimage.push_back(static_cast<uint8_t>(t >> (8 * i)));
  for (char c : first.record) preimage.push_back(static_cast<uint8_t>(c));
  EXPECT_EQ(first.hash, crypto::Sha256(preimage));

  for (int i = 2; i <= 5; ++i) {
    clock.Advance(10);
    ASSERT_OK_AND_ASSIGN(ChainEntry e, log.Append(R"({"decision":"release","n":)" + std::to_string(i) + "}"));
    EXPECT_EQ(e.seq, i);
  }
  ASSERT_OK_AND_ASSIGN(ChainVerification v, log.Verify());
  EXPECT_TRUE(v.intact()) << v.problem;
  EXPECT_EQ(v.entries, 5);
  ASSERT_OK_AND_ASSIGN(ChainHead head, log.Head());
  EXPECT_EQ(head.seq, 5);
  EXPECT_EQ(head.hash, v.head.hash);
  ASSERT_OK_AND_ASSIGN(auto page, log.List(3, 10));
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0].seq, 4);
  // A document built in code canonicalizes to the same text as its serialized form.
  const nlohmann::json doc = {{"z", {{"b", 2}, {"a", "gr\u00fc\u00df"}}}, {"a", nlohmann::json::array({3, "x"})}, {"m", -1}};
  ASSERT_OK_AND_ASSIGN(CanonicalRecord from_doc, CanonicalRecordFromObject(doc));
  ASSERT_OK_AND_ASSIGN(std::string from_text, CanonicalJsonRecord(doc.dump(2)));
  EXPECT_EQ(from_doc.text(), from_text);
  EXPECT_EQ(from_doc.text(), R"({"a":[3,"x"],"m":-1,"z":{"a":"grüß","b":2}})");
  EXPECT_THAT(CanonicalRecordFromObject(nlohmann::json::array({1})), StatusIs(StatusCode::kInvalidArgument, HasSubstr("object")));
  EXPECT_THAT(CanonicalRecordFromObject(nlohmann::json{{"a", std::string(70000, 'x')}}),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("limit")));
  EXPECT_THAT(log.Append("not json"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("JSON")));
  EXPECT_THAT(log.Append("[1,2]"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("object")));
  EXPECT_THAT(log.Append("{\"a\":\"" + std::string(70000, 'x') + "\"}"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("limit")));
}

// A log written by a binary that only knew schema v1 (seq BIGINT PRIMARY KEY) is migrated by
// Open(): entries stay byte for byte, the chain still verifies against the head taken before, and
// appends go on from there. Attach() reads either version and never migrates.
TEST_P(StoreTest, HashChainV1LogIsMigratedWithoutBreakingTheChain) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  FixedClock clock(1'800'000'000);
  EXPECT_THAT(HashChainLog::Attach(*db, "audit", clock), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("no such log")));
  // Schema v1 exactly as released (the checksum must match what older binaries recorded).
  ASSERT_OK(Migrate(*db, "hash_chain/audit",
                    {{1, "create audit",
                      "CREATE TABLE audit (seq BIGINT PRIMARY KEY, time BIGINT NOT NULL, record TEXT NOT NULL,"
                      " prev_hash {{BLOB}} NOT NULL, hash {{BLOB}} NOT NULL)"}}));
  ASSERT_OK_AND_ASSIGN(HashChainLog old, HashChainLog::Attach(*db, "audit", clock));
  for (int i = 1; i <= 4; ++i) {
    clock.Advance(1);
    ASSERT_OK(old.Append(R"({"n":)" + std::to_string(i) + "}").status());
  }
  ASSERT_OK_AND_ASSIGN(ChainHead head, old.Head());
  ASSERT_OK_AND_ASSIGN(std::vector<ChainEntry> before, old.List(0, 10));
  ASSERT_OK_AND_ASSIGN(int64_t v, SchemaVersion(*db, "hash_chain/audit"));
  EXPECT_EQ(v, 1);  // Attach() did not migrate

  ASSERT_OK_AND_ASSIGN(HashChainLog log, HashChainLog::Open(*db, "audit", clock));
  ASSERT_OK_AND_ASSIGN(v, SchemaVersion(*db, "hash_chain/audit"));
  EXPECT_EQ(v, 2);
  ASSERT_OK_AND_ASSIGN(std::vector<ChainEntry> after, log.List(0, 10));
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].seq, before[i].seq);
    EXPECT_EQ(after[i].time, before[i].time);
    EXPECT_EQ(after[i].record, before[i].record);
    EXPECT_EQ(after[i].prev_hash, before[i].prev_hash);
    EXPECT_EQ(after[i].hash, before[i].hash);
  }
  ASSERT_OK_AND_ASSIGN(ChainVerification ok, log.Verify(head));
  EXPECT_TRUE(ok.intact()) << ok.problem;
  if (db->dialect() == Dialect::kSqlite) {
    // seq is now the rowid: one B-tree, no separate unique index to write on every append.
    ASSERT_OK_AND_ASSIGN(Row sql, db->QueryOne("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'audit'"));
    EXPECT_THAT(sql.Text(0).value_or(""), HasSubstr("seq INTEGER PRIMARY KEY"));
    ASSERT_OK_AND_ASSIGN(Row idx, db->QueryOne("SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit'"));
    EXPECT_EQ(idx.Int(0).value_or(-1), 0);
    EXPECT_FALSE(db->Query("SELECT * FROM audit__v2").ok());
  }
  clock.Advance(1);
  ASSERT_OK_AND_ASSIGN(ChainEntry fifth, log.Append(R"({"n":5})"));
  EXPECT_EQ(fifth.seq, 5);
  EXPECT_EQ(fifth.prev_hash, head.hash);
  ASSERT_OK(log.Append(R"({"n":6})").status());
  ASSERT_OK_AND_ASSIGN(ChainVerification v6, log.Verify(head));
  EXPECT_TRUE(v6.intact()) << v6.problem;
  EXPECT_EQ(v6.entries, 6);
  // A duplicate seq is still refused by the key (a second writer racing on the same tail).
  EXPECT_THAT(db->Exec("INSERT INTO audit (seq, time, record, prev_hash, hash) VALUES (6, 0, '{}', $1, $1)",
                       {Bytes(32, 0)}),
              StatusIs(StatusCode::kAlreadyExists, ::testing::_));
  ASSERT_OK_AND_ASSIGN(HashChainLog reader, HashChainLog::Attach(*db, "audit", clock));
  ASSERT_OK_AND_ASSIGN(ChainHead h6, reader.Head());
  EXPECT_EQ(h6.seq, 6);
}

// Builds a 6-entry chain for a tamper test.
Result<HashChainLog> SixEntries(Database& db, FixedClock& clock) {
  VHSM_ASSIGN_OR_RETURN(HashChainLog log, HashChainLog::Open(db, "audit", clock));
  for (int i = 1; i <= 6; ++i) {
    clock.Advance(1);
    VHSM_RETURN_IF_ERROR(log.Append(R"({"n":)" + std::to_string(i) + "}").status());
  }
  return log;
}

TEST_P(StoreTest, HashChainDetectsEditedRecord) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  FixedClock clock(1'800'000'000);
  ASSERT_OK_AND_ASSIGN(HashChainLog log, SixEntries(*db, clock));
  ASSERT_OK(db->Exec("UPDATE audit SET record = $1 WHERE seq = 3", {R"({"n":33})"}).status());
  ASSERT_OK_AND_ASSIGN(ChainVerification v, log.Verify());
  EXPECT_EQ(v.first_bad_seq, 3);
  EXPECT_THAT(v.problem, HasSubstr("edited"));
  EXPECT_EQ(v.entries, 2);
}

TEST_P(StoreTest, HashChainDetectsEditedTime) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  FixedClock clock(1'800'000'000);
  ASSERT_OK_AND_ASSIGN(HashChainLog log, SixEntries(*db, clock));
  ASSERT_OK(db->Exec("UPDATE audit SET time = time - 3600 WHERE seq = 5").status());
  ASSERT_OK_AND_ASSIGN(ChainVerification v, log.Verify());
  EXPECT_EQ(v.first_bad_seq, 5);
}

TEST_P(StoreTest, HashChainDetectsDeletedRow) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  FixedClock clock(1'800'000'000);
  ASSERT_OK_AND_ASSIGN(HashChainLog log, SixEntries(*db, clock));
  ASSERT_OK(db->Exec("DELETE FROM audit WHERE seq = 4").status());
  ASSERT_OK_AND_ASSIGN(ChainVerification v, log.Verify());
  EXPECT_EQ(v.first_bad_seq, 4);
  EXPECT_THAT(v.problem, HasSubstr("missing"));
  // Deleting and renumbering the rest to hide the gap still breaks the chain at 4.
  ASSERT_OK(db->Exec("UPDATE audit SET seq = seq - 1 WHERE seq = 5").status());
  ASSERT_OK_AND_ASSIGN(v, log.Verify());
  EXPECT_EQ(v.first_bad_seq, 4);
}

TEST_P(StoreTest, HashChainDetectsReorderedRows) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  FixedClock clock(1'800'000'000);
  ASSERT_OK_AND_ASSIGN(HashChainLog log, SixEntries(*db, clock));
  // Swap entries 2 and 3 (every column but seq), e.g. to change which release came first.
  ASSERT_OK(db->Exec("UPDATE audit SET seq = 100 WHERE seq = 2").status());
  ASSERT_OK(db->Exec("UPDATE audit SET seq = 2 WHERE seq = 3").status());
  ASSERT_OK(db->Exec("UPDATE audit SET seq = 3 WHERE seq = 100").status());
  ASSERT_OK_AND_ASSIGN(ChainVerification v, log.Verify());
  EXPECT_EQ(v.first_bad_seq, 2);
}

TEST_P(StoreTest, HashChainTruncationDetectedAgainstKnownHead) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db, test_db->Open());
  FixedClock clock(1'800'000'000);
  ASSERT_OK_AND_ASSIGN(HashChainLog log, SixEntries(*db, clock));
  ASSERT_OK_AND_ASSIGN(ChainHead head, log.Head());
  ASSERT_OK_AND_ASSIGN(ChainVerification ok, log.Verify(head));
  EXPECT_TRUE(ok.intact());
  ASSERT_OK(db->Exec("DELETE FROM audit WHERE seq >= 5").status());
  ASSERT_OK_AND_ASSIGN(ChainVerification plain, log.Verify());
  EXPECT_TRUE(plain.intact());  // without an anchor, a cut tail looks like a shorter chain
  ASSERT_OK_AND_ASSIGN(ChainVerification anchored, log.Verify(head));
  EXPECT_EQ(anchored.first_bad_seq, 5);
  EXPECT_THAT(anchored.problem, HasSubstr("truncated"));
}

TEST_P(StoreTest, ConcurrentAppendsFromReplicasFormOneChain) {
  VHSM_STORE_TEST_DB(GetParam());
  ASSERT_OK_AND_ASSIGN(auto db1, test_db->Open());
  ASSERT_OK_AND_ASSIGN(auto db2, test_db->Open());
  SystemClock clock;
  ASSERT_OK_AND_ASSIGN(HashChainLog log1, HashChainLog::Open(*db1, "audit", clock));
  ASSERT_OK_AND_ASSIGN(HashChainLog log2, HashChainLog::Open(*db2, "audit", clock));
  constexpr int kThreads = 4, kEach = 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      HashChainLog& log = t % 2 ? log1 : log2;
      for (int i = 0; i < kEach; ++i) {
        if (!log.Append(R"({"thread":)" + std::to_string(t) + R"(,"i":)" + std::to_string(i) + "}").ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  ASSERT_OK_AND_ASSIGN(ChainVerification v, log1.Verify());
  EXPECT_TRUE(v.intact()) << v.problem;
  EXPECT_EQ(v.entries, kThreads * kEach);
}

}  // namespace
}  // namespace vhsm::store::testing
