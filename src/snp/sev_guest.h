// sev_guest.h: snp::Firmware over the Linux /dev/sev-guest character device (SNP_GET_REPORT,
// SNP_GET_EXT_REPORT, SNP_GET_DERIVED_KEY). The ioctl ABI structs are declared here with their
// sizes and offsets pinned by static_asserts (and checked against <linux/sev-guest.h> when the
// build host has it). Firmware status codes and VMM errors from exitinfo2 become Status messages
// naming the operation and the code; "busy" (EAGAIN/EBUSY, VMM error 2) is retried with bounded
// exponential backoff; a too-small certificate buffer is grown to the size the kernel asks for.
// The device is behind SevGuestDevice so the request/response logic is testable without one.
// Spec: Linux include/uapi/linux/sev-guest.h, Documentation/virt/coco/sev-guest.rst; AMD 56860
// MSG_REPORT_REQ/RSP, MSG_KEY_REQ/RSP; snp-facts.md section 10.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/bytes.h"
#include "base/secret_bytes.h"
#include "base/status.h"
#include "snp/firmware.h"

namespace vhsm::snp {

namespace sev_guest_abi {

// struct snp_guest_request_ioctl
struct GuestRequestIoctl {
  uint8_t msg_version = 1;  // must be non-zero
  uint8_t pad[7] = {};
  uint64_t req_data = 0;    // user pointer
  uint64_t resp_data = 0;   // user pointer
  uint64_t exitinfo2 = 0;   // low 32: firmware error, high 32: VMM error
};
static_assert(sizeof(GuestRequestIoctl) == 32);
static_assert(offsetof(GuestRequestIoctl, req_data) == 8);
static_assert(offsetof(GuestRequestIoctl, resp_data) == 16);
static_assert(offsetof(GuestRequestIoctl, exitinfo2) == 24);

// struct snp_report_req (= MSG_REPORT_REQ)
struct ReportReq {
  uint8_t user_data[64] = {};
  uint32_t vmpl = 0;
  uint8_t rsvd[28] = {};
};
static_assert(sizeof(ReportReq) == 96);
static_assert(offsetof(ReportReq, vmpl) == 0x40);
static_assert(offsetof(ReportReq, rsvd) == 0x44);

// struct snp_report_resp: MSG_REPORT_RSP {u32 status, u32 report_size, rsvd[24], report}.
struct ReportResp {
  uint8_t data[4000] = {};
};
static_assert(sizeof(ReportResp) == 4000);
inline constexpr size_t kReportRspStatusOffset = 0x00;
inline constexpr size_t kReportRspSizeOffset = 0x04;
inline constexpr size_t kReportRspReportOffset = 0x20;

// struct snp_ext_report_req
struct ExtReportReq {
  ReportReq data;
  uint64_t certs_address = 0;
  uint32_t certs_len = 0;
  uint32_t pad = 0;  // the C struct's tail padding, explicit
};
static_assert(sizeof(ExtReportReq) == 112);
static_assert(offsetof(ExtReportReq, certs_address) == 0x60);
static_assert(offsetof(ExtReportReq, certs_len) == 0x68);

// struct snp_derived_key_req (= MSG_KEY_REQ, message version 1)
struct DerivedKeyReq {
  uint32_t root_key_select = 0;
  uint32_t rsvd = 0;
  uint64_t guest_field_select = 0;
  uint32_t vmpl = 0;
  uint32_t guest_svn = 0;
  uint64_t tcb_version = 0;
};
static_assert(sizeof(DerivedKeyReq) == 32);
static_assert(offsetof(DerivedKeyReq, guest_field_select) == 0x08);
static_assert(offsetof(DerivedKeyReq, vmpl) == 0x10);
static_assert(offsetof(DerivedKeyReq, guest_svn) == 0x14);
static_assert(offsetof(DerivedKeyReq, tcb_version) == 0x18);

// MSG_KEY_REQ message version 2 (firmware ABI 1.58) appends launch_mit_vector.
struct DerivedKeyReqV2 {
  DerivedKeyReq v1;
  uint64_t launch_mit_vector = 0;
};
static_assert(sizeof(DerivedKeyReqV2) == 40);
static_assert(offsetof(DerivedKeyReqV2, launch_mit_vector) == 0x20);

// struct snp_derived_key_resp: MSG_KEY_RSP {u32 status, rsvd[28], key[32]}.
struct DerivedKeyResp {
  uint8_t data[64] = {};
};
static_assert(sizeof(DerivedKeyResp) == 64);
inline constexpr size_t kKeyRspKeyOffset = 0x20;

// _IOWR('S', nr, struct snp_guest_request_ioctl)
inline constexpr unsigned long kIocGetReport = 0xC0205300ul;
inline constexpr unsigned long kIocGetDerivedKey = 0xC0205301ul;
inline constexpr unsigned long kIocGetExtReport = 0xC0205302ul;

inline constexpr uint32_t kVmmErrInvalidLen = 1;  // certificate buffer too small
inline constexpr uint32_t kVmmErrBusy = 2;        // host busy / throttled
inline constexpr uint32_t kFwErrNoFirmwareCall = 0xFFFFFFFFu;

}  // namespace sev_guest_abi

// Name of an SEV firmware status code, e.g. 0x16 → "INVALID_PARAM"; "UNKNOWN" otherwise.
std::string_view SevFirmwareStatusName(uint32_t code);

// Turns a failed guest request into a Status: `op` names the request ("SNP_GET_REPORT"),
// `err` is the ioctl errno (0 if the ioctl succeeded but the response status was non-zero),
// exitinfo2 carries the firmware (low) and VMM (high) error codes. Busy → Unavailable;
// firmware INVALID_PARAM/INVALID_KEY/POLICY_FAILURE → InvalidArgument; EACCES/EPERM →
// PermissionDenied; ENODEV/ENXIO → NotFound; everything else Unavailable.
Status GuestRequestError(std::string_view op, int err, uint64_t exitinfo2);
// True for errors worth retrying (EAGAIN/EBUSY or VMM busy).
bool IsGuestRequestBusy(int err, uint64_t exitinfo2);

// MSG_REPORT_RSP → the 1184-byte report. InvalidArgument/DataLoss naming the field on a
// non-zero status, a report_size other than 1184 or one that does not fit.
Result<Bytes> ParseReportResponse(ByteSpan resp);
// MSG_KEY_RSP → the 32-byte key.
Result<SecretBytes> ParseDerivedKeyResponse(ByteSpan resp);

// The device: one ioctl. Returns 0, or the errno value of a failed ioctl (never -1).
class SevGuestDevice {
 public:
  virtual ~SevGuestDevice() = default;
  virtual int Ioctl(unsigned long request, sev_guest_abi::GuestRequestIoctl* arg) = 0;
};

struct SevGuestOptions {
  std::string device = "/dev/sev-guest";
  int max_attempts = 6;              // for busy/throttled requests
  uint32_t initial_backoff_ms = 10;  // doubled per retry, capped below
  uint32_t max_backoff_ms = 1000;
  bool extended_report = true;       // SNP_GET_EXT_REPORT (certificates) instead of SNP_GET_REPORT
  uint32_t initial_certs_len = 4096;     // multiple of 4096
  uint32_t max_certs_len = 16 * 1024;    // the kernel's limit on current releases
  // VMPL of GetCertificates' report request: 3 is >= every caller's VMPL, so always allowed.
  uint32_t certificate_vmpl = 3;
};

class SevGuestFirmware final : public Firmware {
 public:
  // Opens options.device read-write. NotFound when absent, PermissionDenied when not allowed.
  static Result<std::unique_ptr<SevGuestFirmware>> Open(const SevGuestOptions& options);
  // Over an injected device (tests).
  static std::unique_ptr<SevGuestFirmware> Create(std::unique_ptr<SevGuestDevice> device,
                                                  const SevGuestOptions& options);

  std::string_view Name() const override { return "sev-guest"; }
  Result<ReportResponse> GetReport(std::span<const uint8_t, 64> report_data, uint32_t vmpl) override;
  Result<SecretBytes> GetDerivedKey(const DerivedKeyRequest& request) override;
  Result<CertificateSet> GetCertificates() override;

  // Number of ioctls issued (tests).
  int ioctl_count() const { return ioctl_count_; }

 private:
  SevGuestFirmware(std::unique_ptr<SevGuestDevice> device, SevGuestOptions options)
      : device_(std::move(device)), options_(std::move(options)) {}
  // Issues `request`, retrying while busy. Returns {errno, exitinfo2} of the last attempt.
  std::pair<int, uint64_t> Call(unsigned long request, sev_guest_abi::GuestRequestIoctl& arg);

  std::unique_ptr<SevGuestDevice> device_;
  SevGuestOptions options_;
  int ioctl_count_ = 0;
};

}  // namespace vhsm::snp
