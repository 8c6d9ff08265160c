// Tests for the /dev/sev-guest backend. There is no SEV-SNP device here, so the ioctl is served
// by a fake device that answers like the kernel + firmware would, backed by SimFirmware: it
// checks the request structs byte-for-byte at their ABI offsets, rewrites certs_len when the
// buffer is too small, and can report "busy". Plus the firmware/VMM error mapping table.
#include "snp/sev_guest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "base/byte_reader.h"
#include "sim/sim_firmware.h"
#include "sim_test_util.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::snp {
namespace {

namespace abi = sev_guest_abi;
using ::testing::HasSubstr;
using testdata::TempDir;

template <class T>
T* FromUser(uint64_t p) {
  return reinterpret_cast<T*>(static_cast<uintptr_t>(p));
}

struct FakeDeviceState {
  sim::SimFirmware* fw = nullptr;
  int busy_errno_left = 0;   // EAGAIN answers before serving
  int busy_vmm_left = 0;     // VMM "busy" (exitinfo2 = 2 << 32, EIO) answers before serving
  uint32_t pad_certs_to = 0; // pretend the host blob is this large
  std::vector<uint8_t> msg_versions;
  std::vector<uint32_t> certs_lens;
};

class FakeDevice final : public SevGuestDevice {
 public:
  explicit FakeDevice(FakeDeviceState& s) : s_(s) {}
  int Ioctl(unsigned long request, abi::GuestRequestIoctl* arg) override {
    s_.msg_versions.push_back(arg->msg_version);
    if (s_.busy_errno_left > 0) {
      --s_.busy_errno_left;
      return EAGAIN;
    }
    if (s_.busy_vmm_left > 0) {
      --s_.busy_vmm_left;
      arg->exitinfo2 = uint64_t{abi::kVmmErrBusy} << 32;
      return EIO;
    }
    switch (request) {
      case abi::kIocGetReport: return Report(*FromUser<abi::ReportReq>(arg->req_data), arg);
      case abi::kIocGetExtReport: {
        auto* req = FromUser<abi::ExtReportReq>(arg->req_data);
        s_.certs_lens.push_back(req->certs_len);
        Bytes table = s_.fw->CertTable();
        uint32_t need = std::max<uint32_t>(static_cast<uint32_t>(table.size()), s_.pad_certs_to);
        if (req->certs_len < need) {
          req->certs_len = need;
          arg->exitinfo2 = uint64_t{abi::kVmmErrInvalidLen} << 32;
          return EIO;
        }
        std::memcpy(FromUser<uint8_t>(req->certs_address), table.data(), table.size());
        return Report(req->data, arg);
      }
      case abi::kIocGetDerivedKey: {
        // Decode MSG_KEY_REQ from raw bytes at the ABI offsets, not through our struct.
        const uint8_t* raw = FromUser<uint8_t>(arg->req_data);
        DerivedKeyRequest r;
        r.root_key_select = static_cast<RootKey>(LoadU32Le(raw + 0x00));
        r.guest_field_select = LoadU64Le(raw + 0x08);
        r.vmpl = LoadU32Le(raw + 0x10);
        r.guest_svn = LoadU32Le(raw + 0x14);
        r.tcb_version = LoadU64Le(raw + 0x18);
        if (arg->msg_version >= 2) r.launch_mit_vector = LoadU64Le(raw + 0x20);
        uint8_t* resp = FromUser<abi::DerivedKeyResp>(arg->resp_data)->data;
        Result<SecretBytes> key = s_.fw->GetDerivedKey(r);
        if (!key.ok()) {
          StoreU32Le(resp, 0x16);  // firmware INVALID_PARAM in MSG_KEY_RSP.status
          return 0;
        }
        StoreU32Le(resp, 0);
        std::memcpy(resp + abi::kKeyRspKeyOffset, key->Expose().data(), 32);
        return 0;
      }
    }
    return ENOTTY;
  }

 private:
  int Report(const abi::ReportReq& req, abi::GuestRequestIoctl* arg) {
    std::array<uint8_t, 64> data;
    std::memcpy(data.data(), req.user_data, 64);
    uint8_t* resp = FromUser<abi::ReportResp>(arg->resp_data)->data;
    Result<ReportResponse> r = s_.fw->GetReport(data, req.vmpl);
    if (!r.ok()) {
      StoreU32Le(resp, 0x16);
      return 0;
    }
    StoreU32Le(resp + abi::kReportRspStatusOffset, 0);
    StoreU32Le(resp + abi::kReportRspSizeOffset, static_cast<uint32_t>(r->report.size()));
    std::memcpy(resp + abi::kReportRspReportOffset, r->report.data(), r->report.size());
    return 0;
  }
  FakeDeviceState& s_;
};

class SevGuestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sim::SimConfig cfg = sim::testing::Defaults(Product::kTurin, 5);
    cfg.vmpl = 1;
    cfg.guest_svn = 2;
    sim::testing::MakeState(dir_.path(), cfg);
    Result<std::unique_ptr<sim::SimFirmware>> fw = sim::SimFirmware::Open(dir_.path());
    ASSERT_OK(fw.status());
    sim_ = std::move(*fw);
    state_.fw = sim_.get();
  }
  std::unique_ptr<SevGuestFirmware> Make(SevGuestOptions o = {}) {
    o.initial_backoff_ms = 1;
    return SevGuestFirmware::Create(std::make_unique<FakeDevice>(state_), o);
  }
  TempDir dir_;
  std::unique_ptr<sim::SimFirmware> sim_;
  FakeDeviceState state_;
};

TEST(SevGuestAbiTest, StructLayoutsMatchTheUapi) {
  // Also pinned by static_asserts in the header and against <linux/sev-guest.h> in the .cc.
  EXPECT_EQ(sizeof(abi::GuestRequestIoctl), 32u);
  EXPECT_EQ(sizeof(abi::ReportReq), 96u);
  EXPECT_EQ(sizeof(abi::ReportResp), 4000u);
  EXPECT_EQ(sizeof(abi::ExtReportReq), 112u);
  EXPECT_EQ(sizeof(abi::DerivedKeyReq), 32u);
  EXPECT_EQ(sizeof(abi::DerivedKeyReqV2), 40u);
  EXPECT_EQ(sizeof(abi::DerivedKeyResp), 64u);
  EXPECT_EQ(abi::kIocGetReport, 0xC0205300ul);
  EXPECT_EQ(abi::kIocGetDerivedKey, 0xC0205301ul);
  EXPECT_EQ(abi::kIocGetExtReport, 0xC0205302ul);
}

TEST(SevGuestErrorTest, MappingTable) {
  struct Case {
    int err;
    uint64_t exitinfo2;
    StatusCode code;
    const char* text;
  };
  const Case cases[] = {
      {EIO, uint64_t{2} << 32, StatusCode::kUnavailable, "busy"},
      {EAGAIN, 0, StatusCode::kUnavailable, "throttled"},
      {EIO, uint64_t{1} << 32, StatusCode::kResourceExhausted, "certificate buffer too small"},
      {EIO, 0x16, StatusCode::kInvalidArgument, "0x16 INVALID_PARAM"},
      {EIO, 0x27, StatusCode::kInvalidArgument, "INVALID_KEY"},
      {EIO, 0x07, StatusCode::kInvalidArgument, "POLICY_FAILURE"},
      {EIO, 0x13, StatusCode::kUnavailable, "HWERROR_PLATFORM"},
      {EIO, 0xFFFFFFFFull, StatusCode::kUnavailable, "did not reach the AMD secure processor"},
      {EIO, (uint64_t{7} << 32), StatusCode::kUnavailable, "VMM error 0x7"},
      {EACCES, 0, StatusCode::kPermissionDenied, "Permission denied"},
      {ENODEV, 0, StatusCode::kNotFound, "SNP_GET_REPORT"},
      {EINVAL, 0, StatusCode::kInvalidArgument, "Invalid argument"},
      {ENOTTY, 0, StatusCode::kUnavailable, "ioctl failed"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(GuestRequestError("SNP_GET_REPORT", c.err, c.exitinfo2), StatusIs(c.code, HasSubstr(c.text)))
        << c.text;
  }
  EXPECT_EQ(SevFirmwareStatusName(0), "SUCCESS");
  EXPECT_EQ(SevFirmwareStatusName(0x16), "INVALID_PARAM");
  EXPECT_EQ(SevFirmwareStatusName(0x27), "INVALID_KEY");
  EXPECT_EQ(SevFirmwareStatusName(0x99), "UNKNOWN");
  EXPECT_TRUE(IsGuestRequestBusy(EIO, uint64_t{2} << 32));
  EXPECT_TRUE(IsGuestRequestBusy(EBUSY, 0));
  EXPECT_FALSE(IsGuestRequestBusy(EIO, 0x16));
}

TEST(SevGuestErrorTest, ResponseParsing) {
  Bytes resp(4000, 0);
  StoreU32Le(resp.data(), 0x16);
  EXPECT_THAT(ParseReportResponse(resp), StatusIs(StatusCode::kInvalidArgument, HasSubstr("INVALID_PARAM")));
  StoreU32Le(resp.data(), 0);
  StoreU32Le(resp.data() + 4, 1000);
  EXPECT_THAT(ParseReportResponse(resp), StatusIs(StatusCode::kDataLoss, HasSubstr("got 1000, want 1184")));
  StoreU32Le(resp.data() + 4, 1184);
  EXPECT_THAT(ParseReportResponse(ByteSpan(resp).first(0x20 + 1000)), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_OK(ParseReportResponse(resp));
  Bytes key(64, 0);
  StoreU32Le(key.data(), 0x27);
  EXPECT_THAT(ParseDerivedKeyResponse(key), StatusIs(StatusCode::kInvalidArgument, HasSubstr("INVALID_KEY")));
  EXPECT_THAT(ParseDerivedKeyResponse(ByteSpan(key).first(40)), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
}

TEST_F(SevGuestTest, ExtendedReportGrowsTheCertificateBuffer) {
  auto fw = Make();
  const auto nonce = sim::testing::Nonce(5);
  ASSERT_OK_AND_ASSIGN(ReportResponse r, fw->GetReport(nonce, 1));
  EXPECT_TRUE(std::equal(nonce.begin(), nonce.end(), r.report.begin() + 0x50));
  EXPECT_EQ(LoadU32Le(&r.report[0x30]), 1u);
  EXPECT_EQ(Bytes(r.cert_table.begin(), r.cert_table.begin() + static_cast<long>(sim_->CertTable().size())),
            sim_->CertTable());
  ASSERT_EQ(state_.certs_lens.size(), 2u);  // 4096 was too small for RSA-4096 ARK+ASK+VCEK
  EXPECT_EQ(state_.certs_lens[0], 4096u);
  EXPECT_EQ(state_.certs_lens[1] % 4096, 0u);
  ASSERT_OK_AND_ASSIGN(CertificateSet certs, fw->GetCertificates());
  EXPECT_FALSE(certs.vcek.empty());
}

TEST_F(SevGuestTest, RefusesABlobOverTheLimit) {
  state_.pad_certs_to = 40000;
  EXPECT_THAT(Make()->GetReport(sim::testing::Nonce(1), 1),
              StatusIs(StatusCode::kResourceExhausted, HasSubstr("needs 40000 bytes")));
}

TEST_F(SevGuestTest, BusyIsRetriedWithBackoffThenGivesUp) {
  state_.busy_errno_left = 2;
  state_.busy_vmm_left = 2;
  SevGuestOptions o;
  o.extended_report = false;
  auto fw = Make(o);
  EXPECT_OK(fw->GetReport(sim::testing::Nonce(1), 1));
  EXPECT_EQ(fw->ioctl_count(), 5);
  state_.busy_errno_left = 100;
  o.max_attempts = 3;
  auto limited = Make(o);
  EXPECT_THAT(limited->GetReport(sim::testing::Nonce(1), 1), StatusIs(StatusCode::kUnavailable, HasSubstr("busy")));
  EXPECT_EQ(limited->ioctl_count(), 3);
}

TEST_F(SevGuestTest, DerivedKeysGoThroughMsgKeyReq) {
  auto fw = Make();
  DerivedKeyRequest req;
  req.guest_field_select = field_select::kMeasurement | field_select::kGuestSvn;
  req.vmpl = 1;
  req.guest_svn = 2;
  ASSERT_OK_AND_ASSIGN(SecretBytes via_device, fw->GetDerivedKey(req));
  ASSERT_OK_AND_ASSIGN(SecretBytes direct, sim_->GetDerivedKey(req));
  EXPECT_TRUE(ConstantTimeEquals(via_device.Expose(), direct.Expose()));
  EXPECT_EQ(state_.msg_versions.back(), 1);
  req.guest_field_select |= field_select::kLaunchMitVector;
  req.launch_mit_vector = 1;
  ASSERT_OK_AND_ASSIGN(SecretBytes v2, fw->GetDerivedKey(req));
  ASSERT_OK_AND_ASSIGN(SecretBytes v2_direct, sim_->GetDerivedKey(req));
  EXPECT_TRUE(ConstantTimeEquals(v2.Expose(), v2_direct.Expose()));
  EXPECT_EQ(state_.msg_versions.back(), 2);  // launch_mit_vector needs message version 2
  req.guest_svn = 3;  // above the launch SVN: the firmware says INVALID_PARAM
  EXPECT_THAT(fw->GetDerivedKey(req), StatusIs(StatusCode::kInvalidArgument, HasSubstr("INVALID_PARAM")));
  req.vmpl = 4;
  EXPECT_THAT(fw->GetDerivedKey(req), StatusIs(StatusCode::kInvalidArgument, HasSubstr("0..3")));
}

TEST_F(SevGuestTest, FirmwareRefusalOfAReportIsNamed) {
  SevGuestOptions o;
  o.extended_report = false;
  // The simulated guest runs at VMPL 1, so VMPL 0 is refused with INVALID_PARAM.
  EXPECT_THAT(Make(o)->GetReport(sim::testing::Nonce(1), 0),
              StatusIs(StatusCode::kInvalidArgument, HasSubstr("VMPL below the caller's")));
  EXPECT_THAT(Make(o)->GetReport(sim::testing::Nonce(1), 4), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
}

TEST(SevGuestOpenTest, MissingDeviceIsNotFound) {
  TempDir dir;
  SevGuestOptions o;
  o.device = dir.Join("sev-guest");
  EXPECT_THAT(SevGuestFirmware::Open(o), StatusIs(StatusCode::kNotFound, HasSubstr("not an SEV-SNP guest")));
}

}  // namespace
}  // namespace vhsm::snp
