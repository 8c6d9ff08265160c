// The sealed store on the SEV-SNP simulator (sim::SimFirmware): a store written by one launch
// opens again for the same measurement, and fails with PermissionDenied (nothing decrypted) after
// the measurement changes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "sim/sim_firmware.h"
#include "sim/sim_state.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"
#include "vhsm/sealed_store.h"

namespace vhsm::hsm {
namespace {

using ::testing::HasSubstr;

TEST(SimSealingTest, MeasurementBindsTheStore) {
  testdata::TempDir dir;
  ASSERT_OK_AND_ASSIGN(sim::SimConfig config, sim::DefaultSimConfig(snp::Product::kGenoa, 3));
  sim::InitOptions opts;
  opts.rsa_bits = 2048;  // test speed; the sealing path does not use the certificate chain
  ASSERT_OK_AND_ASSIGN(sim::SimState state, sim::InitSimState(dir.Join("sim"), config, opts));
  snp::DerivedKeyRequest req;
  req.guest_field_select = snp::field_select::kMeasurement | snp::field_select::kGuestPolicy;
  {
    ASSERT_OK_AND_ASSIGN(auto fw, sim::SimFirmware::Open(dir.Join("sim")));
    ASSERT_OK_AND_ASSIGN(auto store, SealedStore::Open(dir.Join("t.sqlite"), *fw, req));
    ASSERT_OK(store->PutObject(7, AsBytes("sealed object body")));
  }
  {
    ASSERT_OK_AND_ASSIGN(auto fw, sim::SimFirmware::Open(dir.Join("sim")));
    ASSERT_OK_AND_ASSIGN(auto store, SealedStore::Open(dir.Join("t.sqlite"), *fw, req));
    int seen = 0;
    ASSERT_OK(store->ForEachObject([&](uint64_t id, SecretBytes body) {
      EXPECT_EQ(id, 7u);
      EXPECT_EQ(AsStringView(body.Expose()), "sealed object body");
      ++seen;
      return OkStatus();
    }));
    EXPECT_EQ(seen, 1);
  }
  config.measurement[0] ^= 1;
  ASSERT_OK(sim::SaveSimConfig(dir.Join("sim"), config));
  ASSERT_OK_AND_ASSIGN(auto fw, sim::SimFirmware::Open(dir.Join("sim")));
  EXPECT_THAT(SealedStore::Open(dir.Join("t.sqlite"), *fw, req),
              StatusIs(StatusCode::kPermissionDenied, HasSubstr("does not open this store")));
}

}  // namespace
}  // namespace vhsm::hsm
