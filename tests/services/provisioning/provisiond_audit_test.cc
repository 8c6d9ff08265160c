// provisiond_audit_test.cc: the audit path of vhsm-provisiond. Group commit (AuditWriter over
// HashChainLog::AppendBatch): concurrent appends share transactions, the chain stays linear and
// intact, a failed commit fails every record of its batch and stores none of them. The value is
// decrypted only after the policy allowed the release (a denied request never opens it, even when
// the stored ciphertext is damaged). Truncation of the newest records is detected against a head
// kept elsewhere (`vhsm audit head`, GET /kbs/v0/audit/head, `vhsm audit verify --head-file` /
// `--head --count`), and a grown chain still passes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/cpu.h"
#include "base/file.h"
#include "provisiond_fixture.h"
#include "services/provisioning/audit_verify.h"
#include "services/provisioning/audit_writer.h"
#include "store/hash_chain.h"
#include "testing/status_matchers.h"

namespace vhsm::provisioning::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

const std::string kAllow = R"({"claim":"/submods/cpu0/ear.status","equals":"affirming"})";
const std::string kRes = "/kbs/v0/resource/";

crypto::PrivateKey P256() {
  auto k = crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256);
  VHSM_CHECK(k.ok(), "P-256");
  return std::move(*k);
}

std::string Record(int thread, int i) {
  return json{{"event", "test"}, {"thread", thread}, {"i", i}}.dump();
}

// Holds SQLite's write lock from a separate connection until Release().
class WriteLockHolder {
 public:
  explicit WriteLockHolder(const std::string& url) {
    auto db = store::Open(url);
    VHSM_CHECK(db.ok(), "second connection");
    db_ = std::move(*db);
    auto tx = db_->Begin();
    VHSM_CHECK(tx.ok(), "BEGIN IMMEDIATE");
    tx_.emplace(std::move(*tx));
  }
  void Release() { tx_.reset(); }

 private:
  std::unique_ptr<store::Database> db_;
  std::optional<store::Transaction> tx_;
};

TEST(AuditWriterTest, ConcurrentAppendsShareTransactionsAndKeepOneLinearChain) {
  testdata::TempDir dir;
  const std::string url = "sqlite:" + dir.Join("audit.db");
  store::OpenOptions oo;  // synchronous=FULL, as in production
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::Database> db, store::Open(url, oo));
  FixedClock clock(kNow);
  ASSERT_OK_AND_ASSIGN(store::HashChainLog log, store::HashChainLog::Open(*db, "prov_audit", clock));
  AuditWriter writer(log);

  // The writer's first transaction blocks on the held lock with the records queued so far (k of
  // them); the other kThreads - k queue behind it and go out together in the next transaction,
  // so a batch of at least kThreads / 2 is observed deterministically.
  WriteLockHolder holder(url);
  constexpr int kThreads = 8, kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::mutex seqs_mu;
  std::set<int64_t> seqs;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Result<store::ChainEntry> e = writer.Append(Record(t, i));
        if (!e.ok()) {
          ++failures;
          continue;
        }
        std::lock_guard<std::mutex> l(seqs_mu);
        seqs.insert(e->seq);
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (writer.in_flight() < kThreads && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(writer.in_flight(), static_cast<size_t>(kThreads));
  EXPECT_LT(writer.queued(), static_cast<size_t>(kThreads));  // the writer holds a batch
  holder.Release();
  for (std::thread& t : threads) t.join();

  EXPECT_EQ(failures.load(), 0);
  const int64_t total = kThreads * kPerThread;
  ASSERT_EQ(seqs.size(), static_cast<size_t>(total));  // every caller got its own entry
  EXPECT_EQ(*seqs.begin(), 1);
  EXPECT_EQ(*seqs.rbegin(), total);
  AuditWriterStats st = writer.stats();
  EXPECT_EQ(st.records, total);
  EXPECT_LT(st.batches, total);
  EXPECT_GE(st.max_batch, kThreads / 2);
  ASSERT_OK_AND_ASSIGN(store::ChainVerification v, log.Verify());
  EXPECT_TRUE(v.intact()) << v.problem;
  EXPECT_EQ(v.entries, total);
}

TEST(AuditWriterTest, FailedCommitFailsTheWholeBatchAndStoresNothing) {
  testdata::TempDir dir;
  const std::string url = "sqlite:" + dir.Join("audit.db");
  store::OpenOptions oo;
  oo.busy_timeout_ms = 20;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::Database> db, store::Open(url, oo));
  FixedClock clock(kNow);
  ASSERT_OK_AND_ASSIGN(store::HashChainLog log, store::HashChainLog::Open(*db, "prov_audit", clock));
  AuditWriter writer(log);
  ASSERT_OK(writer.Append(Record(0, 0)).status());

  WriteLockHolder holder(url);  // the database stays locked past every retry
  std::vector<std::thread> threads;
  std::atomic<int> unavailable{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      Result<store::ChainEntry> e = writer.Append(Record(t, 1));
      if (!e.ok() && e.status().code() == StatusCode::kUnavailable) ++unavailable;
    });
  }
  for (std::thread& t : threads) t.join();
  holder.Release();
  EXPECT_EQ(unavailable.load(), 4);
  EXPECT_GE(writer.stats().failed_batches, 1);
  ASSERT_OK_AND_ASSIGN(store::ChainHead head, log.Head());
  EXPECT_EQ(head.seq, 1);  // none of the failed records was stored
  // The writer recovers once the database does.
  ASSERT_OK_AND_ASSIGN(store::ChainEntry next, writer.Append(Record(9, 9)));
  EXPECT_EQ(next.seq, 2);
  ASSERT_OK_AND_ASSIGN(store::ChainVerification v, log.Verify());
  EXPECT_TRUE(v.intact()) << v.problem;
}

// An announced record joins the commit of one already queued; an intent that ends without a
// record releases the writer at once rather than after batch_wait.
TEST(AuditWriterTest, AnnouncedRecordsShareTheCommitAndDroppedIntentsDoNotDelayIt) {
  testdata::TempDir dir;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::Database> db, store::Open("sqlite:" + dir.Join("a.db")));
  FixedClock clock(kNow);
  ASSERT_OK_AND_ASSIGN(store::HashChainLog log, store::HashChainLog::Open(*db, "prov_audit", clock));
  // A batch_wait far above anything the test waits for: only the intents end the waits.
  AuditWriter writer(log, AuditWriterOptions{256, std::chrono::seconds(30), AuditWriter::kDefaultWaitSpin});

  AuditWriter::Intent second = writer.Announce();
  ASSERT_OK_AND_ASSIGN(AuditWriter::Ticket t1, writer.Submit(Record(0, 0)));
  // The writer holds record 1 for the announced one.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(writer.stats().batches, 0);
  EXPECT_EQ(writer.in_flight(), 1u);
  ASSERT_OK_AND_ASSIGN(AuditWriter::Ticket t2, writer.Submit(Record(0, 1), second));
  ASSERT_OK_AND_ASSIGN(store::ChainEntry e1, writer.Wait(t1));
  ASSERT_OK_AND_ASSIGN(store::ChainEntry e2, writer.Wait(t2));
  EXPECT_EQ(e1.seq, 1);
  EXPECT_EQ(e2.seq, 2);
  AuditWriterStats st = writer.stats();
  EXPECT_EQ(st.batches, 1);
  EXPECT_EQ(st.max_batch, 2);
  EXPECT_GE(st.batch_waits, 1);

  // A request that ends without a record (a bad token, say) drops its intent.
  const auto t0 = std::chrono::steady_clock::now();
  std::optional<AuditWriter::Intent> gone(writer.Announce());
  ASSERT_OK_AND_ASSIGN(AuditWriter::Ticket t3, writer.Submit(Record(0, 2)));
  std::thread dropper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    gone.reset();
  });
  ASSERT_OK_AND_ASSIGN(store::ChainEntry e3, writer.Wait(t3));
  dropper.join();
  EXPECT_EQ(e3.seq, 3);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  // With nothing announced the writer commits at once; a moved intent counts once.
  AuditWriter::Intent a = writer.Announce();
  AuditWriter::Intent b = std::move(a);
  ASSERT_OK_AND_ASSIGN(AuditWriter::Ticket t4, writer.Submit(Record(0, 3), b));
  ASSERT_OK(writer.Wait(t4).status());
  ASSERT_OK(writer.Append(Record(0, 4)).status());
  EXPECT_EQ(writer.stats().records, 5);
  ASSERT_OK_AND_ASSIGN(store::ChainVerification v, log.Verify());
  EXPECT_TRUE(v.intact()) << v.problem;
}

// A SQLite audit log in a temporary directory, for the polling tests below.
class AuditWaitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(db_, store::Open("sqlite:" + dir_.Join("a.db")));
    ASSERT_OK_AND_ASSIGN(store::HashChainLog log, store::HashChainLog::Open(*db_, "prov_audit", clock_));
    log_.emplace(std::move(log));
  }
  // Long batch wait: only the intents decide when a commit happens.
  AuditWriter MakeWriter(std::chrono::microseconds wait_spin) {
    return AuditWriter(*log_, AuditWriterOptions{256, std::chrono::seconds(30), wait_spin});
  }
  // Polls the writer's stats for up to 10 s.
  static bool Eventually(const AuditWriter& w, const std::function<bool(const AuditWriterStats&)>& pred) {
    for (int i = 0; i < 2000 && !pred(w.stats()); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return pred(w.stats());
  }
  // Waits for `t` on another thread; `release()` lets its commit happen once `ready` holds.
  static Status WaitElsewhere(AuditWriter& w, const AuditWriter::Ticket& t,
                              const std::function<bool(const AuditWriterStats&)>& ready,
                              const std::function<void()>& release) {
    Result<store::ChainEntry> e = InternalError("not waited");
    std::thread waiter([&] { e = w.Wait(t); });
    const bool seen = Eventually(w, ready);
    release();
    waiter.join();
    if (!seen) return DeadlineExceededError("the waiter never reached the expected state");
    return e.status();
  }

  testdata::TempDir dir_;
  FixedClock clock_{kNow};
  std::unique_ptr<store::Database> db_;
  std::optional<store::HashChainLog> log_;
};

// Wait() polls for a commit in progress instead of sleeping, but only while the pollers and the
// requests still working (announced, or submitted and not yet waiting) fit the process's CPUs.
TEST_F(AuditWaitTest, PollsOnlyWhileCpusAreLeftForRequestsWithWork) {
  const int cpus = AllowedCpus();
  if (cpus < 2) GTEST_SKIP() << "this process may use one CPU only: Wait() never polls";
  AuditWriter writer = MakeWriter(std::chrono::seconds(30));

  // One request waits while one other still works: two CPUs are enough, so it polls. The commit
  // it polls for is held until the other request ends without a record.
  {
    AuditWriter::Intent mine = writer.Announce();
    std::optional<AuditWriter::Intent> other(writer.Announce());
    ASSERT_OK_AND_ASSIGN(AuditWriter::Ticket t, writer.Submit(Record(1, 0), mine));
    EXPECT_EQ(writer.stats().working_now, 2);
    ASSERT_OK(WaitElsewhere(writer, t, [](const AuditWriterStats& s) { return s.polling_now == 1; },
                            [&] { other.reset(); }));
    const AuditWriterStats st = writer.stats();
    EXPECT_EQ(st.waits_polled, 1);
    EXPECT_EQ(st.waits_slept, 0);
    EXPECT_EQ(st.working_now, 0);
    EXPECT_EQ(st.polling_now, 0);
  }
  // As many requests with work as CPUs: polling would take a CPU from one of them, so it sleeps.
  {
    AuditWriter::Intent mine = writer.Announce();
    std::vector<AuditWriter::Intent> others;
    for (int i = 0; i < cpus; ++i) others.push_back(writer.Announce());
    ASSERT_OK_AND_ASSIGN(AuditWriter::Ticket t, writer.Submit(Record(2, 0), mine));
    ASSERT_OK(WaitElsewhere(writer, t, [](const AuditWriterStats& s) { return s.waits_slept == 1; },
                            [&] { others.clear(); }));
    EXPECT_EQ(writer.stats().waits_polled, 1);
  }
  // A ticket dropped without Wait() stops counting once the writer is done with it.
  {
    AuditWriter::Intent mine = writer.Announce();
    ASSERT_OK_AND_ASSIGN(AuditWriter::Ticket t, writer.Submit(Record(3, 0), mine));
    EXPECT_EQ(writer.stats().working_now, 1);
  }
  EXPECT_TRUE(Eventually(writer, [](const AuditWriterStats& s) { return s.records == 3 && s.working_now == 0; }));
  ASSERT_OK_AND_ASSIGN(store::ChainVerification v, log_->Verify());
  EXPECT_TRUE(v.intact()) << v.problem;
  EXPECT_EQ(v.entries, 3);
}

TEST_F(AuditWaitTest, NoPollingWithAZeroBudget) {
  AuditWriter writer = MakeWriter(std::chrono::microseconds(0));
  AuditWriter::Intent mine = writer.Announce();
  std::optional<AuditWriter::Intent> other(writer.Announce());
  ASSERT_OK_AND_ASSIGN(AuditWriter::Ticket t, writer.Submit(Record(1, 0), mine));
  ASSERT_OK(WaitElsewhere(writer, t, [](const AuditWriterStats& s) { return s.waits_slept == 1; },
                          [&] { other.reset(); }));
  EXPECT_EQ(writer.stats().waits_polled, 0);
}

TEST(AuditWriterTest, RejectsRecordsThatAreNotJsonObjects) {
  testdata::TempDir dir;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::Database> db, store::Open("sqlite:" + dir.Join("a.db")));
  FixedClock clock(kNow);
  ASSERT_OK_AND_ASSIGN(store::HashChainLog log, store::HashChainLog::Open(*db, "prov_audit", clock));
  AuditWriter writer(log);
  EXPECT_THAT(writer.Append("[1]"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("object")));
  EXPECT_THAT(writer.Append("{"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("JSON")));
  ASSERT_OK_AND_ASSIGN(store::ChainHead head, log.Head());
  EXPECT_EQ(head.seq, 0);
}

TEST(HashChainBatchTest, BatchEntriesChainLikeSingleAppends) {
  testdata::TempDir dir;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::Database> db, store::Open("sqlite:" + dir.Join("a.db")));
  FixedClock clock(kNow);
  ASSERT_OK_AND_ASSIGN(store::HashChainLog log, store::HashChainLog::Open(*db, "chain", clock));
  ASSERT_OK_AND_ASSIGN(store::ChainEntry first, log.Append(R"({"b":1,"a":2})"));
  std::vector<store::CanonicalRecord> batch;
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(store::CanonicalRecord r, store::MakeCanonicalRecord(Record(1, i)));
    batch.push_back(std::move(r));
  }
  ASSERT_OK_AND_ASSIGN(std::vector<store::ChainEntry> entries, log.AppendBatch(batch));
  ASSERT_EQ(entries.size(), 3u);
  Bytes prev = first.hash;
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(entries[i].seq, static_cast<int64_t>(i + 2));
    EXPECT_EQ(entries[i].prev_hash, prev);
    EXPECT_EQ(entries[i].hash, store::ChainEntryHash(prev, entries[i].seq, kNow, entries[i].record));
    prev = entries[i].hash;
  }
  ASSERT_OK_AND_ASSIGN(std::vector<store::ChainEntry> none, log.AppendBatch({}));
  EXPECT_TRUE(none.empty());
  ASSERT_OK_AND_ASSIGN(store::ChainVerification v, log.Verify());
  EXPECT_TRUE(v.intact());
  EXPECT_EQ(v.entries, 4);
}

TEST_F(ProvisiondTest, ValueIsDecryptedOnlyAfterThePolicyAllows) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  PutResource(*inst, "repo/key/a", "secret");
  PutPolicy(*inst, "repo", R"({"claim":"/submods/cpu0/ear.veraison.annotated-evidence/vmpl","equals":1})");
  auto tee = P256();
  const std::string token = issuer_->MintEar(tee.Public());  // vmpl 0: denied
  const int64_t opened_before = inst->store().values_opened();
  EXPECT_EQ(Get(*inst, kRes + "repo/key/a", token).status, 403);
  EXPECT_EQ(inst->store().values_opened(), opened_before);

  // A damaged ciphertext is not even looked at for a denied request (403, not a data-loss error)...
  ASSERT_OK(inst->db().Exec("UPDATE prov_resources SET value = X'00112233445566778899aabbccddeeff0011223344556677'"
                            " WHERE path = 'repo/key/a'")
                .status());
  http::ClientResponse denied = Get(*inst, kRes + "repo/key/a", token);
  EXPECT_EQ(denied.status, 403) << denied.body;
  EXPECT_EQ(inst->store().values_opened(), opened_before);
  // ...and is opened (and fails) only once the policy allows the release.
  PutPolicy(*inst, "repo", kAllow);
  http::ClientResponse allowed = Get(*inst, kRes + "repo/key/a", token);
  EXPECT_EQ(allowed.status, 500) << allowed.body;
  EXPECT_THAT(allowed.body, HasSubstr("data-loss"));  // details stay in the server log
  EXPECT_EQ(inst->store().values_opened(), opened_before + 1);
  // The release decision was committed before the value was opened (the commit overlaps the JWE);
  // the log then says that nothing left, and why.
  ASSERT_OK_AND_ASSIGN(std::vector<store::ChainEntry> log, inst->store().audit().List(0, 1000));
  ASSERT_GE(log.size(), 2u);
  const json release = json::parse(log[log.size() - 2].record);
  const json aborted = json::parse(log.back().record);
  EXPECT_EQ(release["event"], "release");
  EXPECT_EQ(release["decision"], "release");
  EXPECT_EQ(aborted["event"], "release-aborted");
  EXPECT_EQ(aborted["decision"], "none");
  EXPECT_EQ(aborted["error"], "DATA_LOSS");
  EXPECT_EQ(aborted["after_seq"], log[log.size() - 2].seq);
  EXPECT_EQ(aborted["resource"], "repo/key/a");
}

TEST_F(ProvisiondTest, ReleasesUnderLoadAreEachAuditedInOneIntactChain) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  PutResource(*inst, "repo/key/a", "secret");
  PutPolicy(*inst, "repo", kAllow);
  auto tee = P256();
  const std::string token = issuer_->MintEar(tee.Public());
  constexpr int kThreads = 4, kPerThread = 20;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto c = ClientFor(inst->url());
      for (int i = 0; i < kPerThread; ++i) {
        if (Send(*c, "GET", kRes + "repo/key/a", token).status == 200) ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  AuditWriterStats st = inst->service().audit_stats();
  EXPECT_EQ(st.records, kThreads * kPerThread + 2);  // + put_resource + put_policy
  ASSERT_OK_AND_ASSIGN(store::ChainVerification v, VerifyAuditStore(inst->store_url(), clock_));
  EXPECT_TRUE(v.intact()) << v.problem;
  EXPECT_EQ(v.entries, kThreads * kPerThread + 2);
}

TEST(AuditHeadTest, ParsesAndFormats) {
  store::ChainHead h{7, Bytes(32, 0xab)};
  const std::string text = FormatAuditHead(h);
  std::string hex;
  for (int i = 0; i < 32; ++i) hex += "ab";
  EXPECT_EQ(text, R"({"hash":")" + hex + R"(","seq":7})");
  ASSERT_OK_AND_ASSIGN(store::ChainHead back, ParseAuditHead(" " + text + "\n"));
  EXPECT_EQ(back.seq, 7);
  EXPECT_EQ(back.hash, h.hash);
  EXPECT_THAT(ParseAuditHead("{}"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("seq")));
  EXPECT_THAT(ParseAuditHead(R"({"seq":1})"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("hash")));
  EXPECT_THAT(ParseAuditHead(R"({"seq":1,"hash":"abcd"})"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("64")));
  EXPECT_THAT(ParseAuditHead(R"({"seq":-1,"hash":")" + std::string(64, '0') + "\"}"),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("count")));
  EXPECT_THAT(ParseAuditHead(std::string(5000, ' ')), StatusIs(StatusCode::kInvalidArgument, HasSubstr("4096")));
  EXPECT_THAT(MakeAuditHead(std::string(64, 'g'), 1), StatusIs(StatusCode::kInvalidArgument, HasSubstr("hex")));
}

int RunCli(const std::string& args) {
  const std::string cmd = testdata::BuildDir() + "/bin/vhsm " + args + " >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

std::string RunCliOutput(const std::string& args, int* rc) {
  testdata::TempDir dir;
  const std::string out = dir.Join("out");
  const std::string cmd = testdata::BuildDir() + "/bin/vhsm " + args + " >" + out + " 2>/dev/null";
  int r = std::system(cmd.c_str());
  *rc = WIFEXITED(r) ? WEXITSTATUS(r) : -1;
  return ReadFileText(out).value_or("");
}

TEST_F(ProvisiondTest, TruncationIsDetectedAgainstAKeptHead) {
  auto inst = Start();
  ASSERT_TRUE(inst);
  PutResource(*inst, "repo/key/a", "A");
  PutPolicy(*inst, "repo", kAllow);
  auto tee = P256();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get(*inst, kRes + "repo/key/a", issuer_->MintEar(tee.Public())).status, 200);
  const std::string url = inst->store_url();

  // The head from the admin API equals the store's; keep it.
  http::ClientResponse hr = Admin(*inst, "GET", "/kbs/v0/audit/head");
  ASSERT_EQ(hr.status, 200) << hr.body;
  ASSERT_OK_AND_ASSIGN(store::ChainHead kept, ParseAuditHead(hr.body));
  EXPECT_EQ(kept.seq, 5);
  ASSERT_OK_AND_ASSIGN(store::ChainHead direct, ReadAuditHead(url, clock_));
  EXPECT_EQ(direct.hash, kept.hash);
  EXPECT_EQ(Send(*ClientFor(inst->url()), "GET", "/kbs/v0/audit/head", "").status, 401);

  // More releases after the head was taken: the chain grew, still consistent with the head.
  EXPECT_EQ(Get(*inst, kRes + "repo/key/a", issuer_->MintEar(tee.Public())).status, 200);
  ASSERT_OK_AND_ASSIGN(store::ChainVerification grown, VerifyAuditStore(url, clock_, kept));
  EXPECT_TRUE(grown.intact()) << grown.problem;
  EXPECT_EQ(grown.entries, 6);

  testdata::TempDir dir;
  const std::string head_file = dir.Join("head.json");
  const bool have_cli = FileExists(testdata::BuildDir() + "/bin/vhsm");
  if (have_cli) {
    int rc = -1;
    std::string printed = RunCliOutput("audit head --store " + url, &rc);
    EXPECT_EQ(rc, 0);
    ASSERT_OK_AND_ASSIGN(store::ChainHead cli_head, ParseAuditHead(printed));
    EXPECT_EQ(cli_head.seq, 6);
    std::ofstream(head_file) << FormatAuditHead(kept) << "\n";
    EXPECT_EQ(RunCli("audit verify --store " + url + " --head-file " + head_file), 0);
    EXPECT_EQ(RunCli("audit verify --store " + url + " --head " + HexEncode(kept.hash) + " --count 5"), 0);
  }

  // Truncate the newest records (4..6): the chain alone still verifies...
  ASSERT_OK(inst->db().Exec("DELETE FROM prov_audit WHERE seq >= 4").status());
  ASSERT_OK_AND_ASSIGN(store::ChainVerification alone, VerifyAuditStore(url, clock_));
  EXPECT_TRUE(alone.intact());
  // ...but not against the kept head.
  ASSERT_OK_AND_ASSIGN(store::ChainVerification truncated, VerifyAuditStore(url, clock_, kept));
  EXPECT_FALSE(truncated.intact());
  EXPECT_EQ(truncated.first_bad_seq, 4);
  EXPECT_THAT(truncated.problem, HasSubstr("truncated"));
  // A head whose hash differs at its seq (history rewritten) is reported too.
  store::ChainHead wrong{3, Bytes(32, 0x5a)};
  ASSERT_OK_AND_ASSIGN(store::ChainVerification rewritten, VerifyAuditStore(url, clock_, wrong));
  EXPECT_EQ(rewritten.first_bad_seq, 3);
  EXPECT_THAT(rewritten.problem, HasSubstr("rewritten"));

  if (have_cli) {
    EXPECT_EQ(RunCli("audit verify --store " + url), 0);
    EXPECT_EQ(RunCli("audit verify --store " + url + " --head-file " + head_file), 1);
    EXPECT_EQ(RunCli("audit verify --store " + url + " --head " + HexEncode(kept.hash) + " --count 5"), 1);
    EXPECT_EQ(RunCli("audit verify --store " + url + " --head " + HexEncode(kept.hash)), 2);  // --count missing
    EXPECT_EQ(RunCli("audit verify --store " + url + " --head abc --count 5"), 2);
    EXPECT_EQ(RunCli("audit verify --store " + url + " --head-file " + dir.Join("missing")), 2);
    std::ofstream(dir.Join("bad.json")) << "not json";
    EXPECT_EQ(RunCli("audit verify --store " + url + " --head-file " + dir.Join("bad.json")), 2);
    EXPECT_EQ(RunCli("audit head --store sqlite:/nonexistent/dir/x.db"), 2);
  } else {
    GTEST_SKIP() << "vhsm CLI not built (build target vhsm); library checks ran";
  }
}

}  // namespace
}  // namespace vhsm::provisioning::testing
