// Tests for the configfs-tsm backend against a FAKE configfs tree in a temp dir. A helper thread
// plays the kernel: it populates new report entries with attribute files, waits for the 64-byte
// inblob, answers with a SimFirmware report at the written privlevel, and bumps `generation` once
// per write as the kernel does. One mode adds an extra generation bump and a foreign report, as
// if another process wrote the entry concurrently, which must force a retry.
#include "snp/configfs_tsm.h"

#include <dirent.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "base/byte_reader.h"
#include "base/file.h"
#include "sim/sim_firmware.h"
#include "sim_test_util.h"
#include "snp/platform.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::snp {
namespace {

using ::testing::HasSubstr;
using testdata::TempDir;

class FakeKernel {
 public:
  FakeKernel(std::string root, sim::SimFirmware& fw) : root_(std::move(root)), fw_(fw) {
    thread_ = std::thread([this] { Run(); });
  }
  ~FakeKernel() {
    stop_ = true;
    thread_.join();
  }
  // The first `n` entries see a concurrent writer.
  void InterfereWith(int n) { interfere_ = n; }
  void SetProvider(std::string p) {
    std::lock_guard<std::mutex> lock(mu_);
    provider_ = std::move(p);
  }
  void SetFloor(int f) { floor_ = f; }
  void AnswerWithSize(size_t n) { answer_size_ = n; }
  int served() const { return served_; }

 private:
  static void Put(const std::string& path, ByteSpan data) {
    // Atomic replace, so the backend never reads a half-written attribute.
    Status s = WriteFileAtomic(path, data, 0600);
    (void)s;
  }
  void Run() {
    std::set<std::string> populated, answered;
    while (!stop_) {
      DIR* d = ::opendir(root_.c_str());
      if (d != nullptr) {
        while (dirent* e = ::readdir(d)) {
          std::string name = e->d_name;
          if (name == "." || name == "..") continue;
          std::string entry = root_ + "/" + name;
          if (!populated.count(name)) {
            populated.insert(name);
            for (const char* f : {"inblob", "outblob", "auxblob", "privlevel"}) Put(entry + "/" + f, {});
            Put(entry + "/privlevel_floor", AsBytes(std::to_string(floor_.load()) + "\n"));
            std::string provider;
            {
              std::lock_guard<std::mutex> lock(mu_);
              provider = provider_;
            }
            Put(entry + "/provider", AsBytes(provider + "\n"));
            Put(entry + "/generation", AsBytes("0\n"));  // last: the backend waits for it
            continue;
          }
          if (answered.count(name)) continue;
          Result<Bytes> in = ReadFileBytes(entry + "/inblob");
          if (!in.ok() || in->size() != 64) continue;
          answered.insert(name);
          Answer(entry, *in);
        }
        ::closedir(d);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  }
  void Answer(const std::string& entry, const Bytes& inblob) {
    Result<Bytes> priv = ReadFileBytes(entry + "/privlevel");
    uint64_t generation = 1;  // inblob
    uint32_t vmpl = 0;
    if (priv.ok() && !priv->empty()) {
      ++generation;
      vmpl = static_cast<uint32_t>(std::stoul(std::string(priv->begin(), priv->end())));
    }
    std::array<uint8_t, 64> data{};
    std::copy(inblob.begin(), inblob.end(), data.begin());
    if (interfere_ > 0) {
      --interfere_;
      ++generation;       // another writer's inblob write...
      data.fill(0xEE);    // ...whose report we would otherwise return
    }
    Result<ReportResponse> r = fw_.GetReport(data, vmpl);
    if (!r.ok()) {
      ADD_FAILURE() << r.status().ToString();
      return;
    }
    r->report.resize(answer_size_.load());
    Put(entry + "/generation", AsBytes(std::to_string(generation) + "\n"));  // before outblob
    Put(entry + "/auxblob", r->cert_table);
    // Count before the outblob appears: the backend may read it and return at once, and a test that
    // checks served() right after GetReport must not race this thread.
    ++served_;
    Put(entry + "/outblob", r->report);
  }

  std::string root_;
  sim::SimFirmware& fw_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> interfere_{0};
  std::atomic<int> served_{0};
  std::mutex mu_;
  std::string provider_ = "sev_guest";  // guarded by mu_
  std::atomic<int> floor_{0};
  std::atomic<size_t> answer_size_{kReportSize};
};

class ConfigfsTsmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::SimConfig cfg = sim::testing::Defaults(Product::kGenoa, 3);
    sim::testing::MakeState(state_.path(), cfg);
    Result<std::unique_ptr<sim::SimFirmware>> fw = sim::SimFirmware::Open(state_.path());
    ASSERT_OK(fw.status());
    sim_ = std::move(*fw);
    root_ = tree_.Join("tsm/report");
    ASSERT_EQ(::mkdir(tree_.Join("tsm").c_str(), 0700), 0);
    ASSERT_EQ(::mkdir(root_.c_str(), 0700), 0);
  }
  std::unique_ptr<ConfigfsTsmFirmware> Open() {
    ConfigfsTsmOptions o;
    o.root = root_;
    Result<std::unique_ptr<ConfigfsTsmFirmware>> fw = ConfigfsTsmFirmware::Open(o);
    VHSM_CHECK(fw.ok(), fw.status().ToString());
    return std::move(*fw);
  }
  bool RootEmpty() const {
    DIR* d = ::opendir(root_.c_str());
    int n = 0;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name == "." || name == "..") continue;
      ++n;
      ADD_FAILURE() << "left behind: " << name;
    }
    ::closedir(d);
    return n == 0;
  }
  TempDir state_, tree_;
  std::unique_ptr<sim::SimFirmware> sim_;
  std::string root_;
};

const std::array<uint8_t, 64>& Nonce() {
  static const std::array<uint8_t, 64> kNonce = sim::testing::Nonce(42);
  return kNonce;
}

TEST_F(ConfigfsTsmTest, ReturnsTheKernelsReportAndCertificates) {
  FakeKernel kernel(root_, *sim_);
  auto fw = Open();
  EXPECT_EQ(fw->Name(), "configfs-tsm");
  ASSERT_OK_AND_ASSIGN(ReportResponse r, fw->GetReport(Nonce(), 2));
  ASSERT_EQ(r.report.size(), kReportSize);
  EXPECT_TRUE(std::equal(Nonce().begin(), Nonce().end(), r.report.begin() + 0x50));
  EXPECT_EQ(LoadU32Le(&r.report[0x30]), 2u);  // privlevel reached the firmware as VMPL
  EXPECT_EQ(r.cert_table, sim_->CertTable());
  EXPECT_EQ(fw->entries_created(), 1);
  EXPECT_TRUE(RootEmpty());  // entry removed
  ASSERT_OK_AND_ASSIGN(CertificateSet certs, fw->GetCertificates());
  ASSERT_OK_AND_ASSIGN(CertificateSet want, sim_->GetCertificates());
  EXPECT_EQ(certs.vcek, want.vcek);
  EXPECT_EQ(certs.ark, want.ark);
}

TEST_F(ConfigfsTsmTest, ConcurrentWriterForcesRetryInAFreshEntry) {
  FakeKernel kernel(root_, *sim_);
  kernel.InterfereWith(2);
  auto fw = Open();
  ASSERT_OK_AND_ASSIGN(ReportResponse r, fw->GetReport(Nonce(), 0));
  // Never the other writer's report: ours, from the third entry.
  EXPECT_TRUE(std::equal(Nonce().begin(), Nonce().end(), r.report.begin() + 0x50));
  EXPECT_EQ(fw->entries_created(), 3);
  EXPECT_EQ(kernel.served(), 3);
  EXPECT_TRUE(RootEmpty());
}

TEST_F(ConfigfsTsmTest, GivesUpWhenEveryAttemptIsDisturbed) {
  FakeKernel kernel(root_, *sim_);
  kernel.InterfereWith(100);
  auto fw = Open();
  EXPECT_THAT(fw->GetReport(Nonce(), 0),
              StatusIs(StatusCode::kUnavailable, HasSubstr("another writer changed the entry")));
  EXPECT_EQ(fw->entries_created(), 4);
  EXPECT_TRUE(RootEmpty());
}

TEST_F(ConfigfsTsmTest, RejectsWrongProviderAndTruncatedOutblob) {
  FakeKernel kernel(root_, *sim_);
  kernel.SetProvider("tdx_guest");
  auto fw = Open();
  EXPECT_THAT(fw->GetReport(Nonce(), 0), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("tdx_guest")));
  kernel.SetProvider("sev_guest");
  kernel.AnswerWithSize(1000);
  EXPECT_THAT(fw->GetReport(Nonce(), 0), StatusIs(StatusCode::kDataLoss, HasSubstr("got 1000 bytes, want 1184")));
  EXPECT_TRUE(RootEmpty());
}

TEST_F(ConfigfsTsmTest, CertificatesAskAtThePrivlevelFloor) {
  // A guest at VMPL 1: the simulated firmware refuses VMPL 0, so this passes only if the backend
  // asked at privlevel_floor.
  ASSERT_OK_AND_ASSIGN(sim::SimState st, sim::LoadSimState(state_.path()));
  st.config.vmpl = 1;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<sim::SimFirmware> vmpl1, sim::SimFirmware::Create(std::move(st)));
  FakeKernel kernel(root_, *vmpl1);
  kernel.SetFloor(1);
  auto fw = Open();
  ASSERT_OK_AND_ASSIGN(CertificateSet certs, fw->GetCertificates());
  EXPECT_FALSE(certs.vcek.empty());
}

TEST_F(ConfigfsTsmTest, BadInputsAndMissingInterface) {
  auto fw = Open();
  EXPECT_THAT(fw->GetReport(Nonce(), 4), StatusIs(StatusCode::kInvalidArgument, HasSubstr("0..3")));
  EXPECT_THAT(fw->GetDerivedKey(DerivedKeyRequest{}),
              StatusIs(StatusCode::kUnimplemented, HasSubstr("/dev/sev-guest")));
  ConfigfsTsmOptions o;
  o.root = tree_.Join("absent");
  EXPECT_THAT(ConfigfsTsmFirmware::Open(o), StatusIs(StatusCode::kNotFound, HasSubstr("CONFIG_TSM_REPORTS")));
  // An entry the "kernel" never populates: a clear timeout, and the entry is still removed.
  ConfigfsTsmOptions quick;
  quick.root = root_;
  quick.attribute_wait_ms = 50;
  ASSERT_OK_AND_ASSIGN(auto lonely, ConfigfsTsmFirmware::Open(quick));
  EXPECT_THAT(lonely->GetReport(Nonce(), 0), StatusIs(StatusCode::kUnavailable, HasSubstr("did not appear")));
  EXPECT_TRUE(RootEmpty());
}

TEST(ConfigfsTsmParseTest, GenerationAndProvider) {
  EXPECT_THAT(ParseTsmGeneration("17\n"), ::testing::Property(&Result<uint64_t>::ok, true));
  EXPECT_EQ(*ParseTsmGeneration("17\n"), 17u);
  EXPECT_EQ(*ParseTsmGeneration("0"), 0u);
  EXPECT_THAT(ParseTsmGeneration(""), StatusIs(StatusCode::kDataLoss, HasSubstr("generation")));
  EXPECT_THAT(ParseTsmGeneration("1 2"), StatusIs(StatusCode::kDataLoss, HasSubstr("non-digit")));
  EXPECT_THAT(ParseTsmGeneration("99999999999999999999"), StatusIs(StatusCode::kDataLoss, HasSubstr("range")));
  EXPECT_THAT(ParseTsmGeneration("17\n\n"), StatusIs(StatusCode::kDataLoss, ::testing::_));
  EXPECT_EQ(*ParseTsmProvider("sev_guest\n"), "sev_guest");
  EXPECT_THAT(ParseTsmProvider("sev guest"), StatusIs(StatusCode::kDataLoss, ::testing::_));
  EXPECT_THAT(ParseTsmProvider(std::string(65, 'a')), StatusIs(StatusCode::kDataLoss, ::testing::_));
}

TEST(PlatformTest, AutoWithNoInterfaceIsAClearErrorNeverTheSimulator) {
  TempDir dir;
  PlatformOptions o;
  o.platform = "auto";
  o.configfs_root = dir.Join("no-configfs");
  o.sev_guest_device = dir.Join("no-sev-guest");
  bool sim_called = false;
  o.sim_factory = [&](const PlatformOptions&) -> Result<std::unique_ptr<Firmware>> {
    sim_called = true;
    return InternalError("must not be called");
  };
  o.sim_state_dir = dir.path();
  EXPECT_THAT(OpenFirmware(o), StatusIs(StatusCode::kNotFound, HasSubstr("no SEV-SNP guest interface found")));
  EXPECT_FALSE(sim_called);
  o.platform = "sev-guest";
  EXPECT_THAT(OpenFirmware(o), StatusIs(StatusCode::kNotFound, HasSubstr("no-sev-guest")));
  o.platform = "configfs-tsm";
  EXPECT_THAT(OpenFirmware(o), StatusIs(StatusCode::kNotFound, HasSubstr("no-configfs")));
  o.platform = "tpm";
  EXPECT_THAT(OpenFirmware(o), StatusIs(StatusCode::kInvalidArgument, HasSubstr("want auto, sev-guest")));
  o.platform = "sim";
  o.sim_factory = nullptr;
  EXPECT_THAT(OpenFirmware(o), StatusIs(StatusCode::kFailedPrecondition, ::testing::_));
}

TEST(PlatformTest, AutoPrefersConfigfsTsm) {
  TempDir dir;
  ASSERT_EQ(::mkdir(dir.Join("report").c_str(), 0700), 0);
  PlatformOptions o;
  o.configfs_root = dir.Join("report");
  o.sev_guest_device = dir.Join("no-sev-guest");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<Firmware> fw, OpenFirmware(o));
  EXPECT_EQ(fw->Name(), "configfs-tsm");
}

}  // namespace
}  // namespace vhsm::snp
