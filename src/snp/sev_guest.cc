// sev_guest.cc: /dev/sev-guest backend. See sev_guest.h.
#include "snp/sev_guest.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "base/byte_reader.h"
#include "snp/report.h"

#if __has_include(<linux/sev-guest.h>)
#include <linux/sev-guest.h>
// Our mirror of the uapi must match the kernel's byte for byte.
static_assert(sizeof(snp_guest_request_ioctl) == sizeof(vhsm::snp::sev_guest_abi::GuestRequestIoctl));
static_assert(offsetof(snp_guest_request_ioctl, exitinfo2) == 24);
static_assert(sizeof(snp_report_req) == sizeof(vhsm::snp::sev_guest_abi::ReportReq));
static_assert(sizeof(snp_report_resp) == sizeof(vhsm::snp::sev_guest_abi::ReportResp));
static_assert(sizeof(snp_derived_key_req) == sizeof(vhsm::snp::sev_guest_abi::DerivedKeyReq));
static_assert(sizeof(snp_derived_key_resp) == sizeof(vhsm::snp::sev_guest_abi::DerivedKeyResp));
static_assert(sizeof(snp_ext_report_req) == sizeof(vhsm::snp::sev_guest_abi::ExtReportReq));
static_assert(offsetof(snp_ext_report_req, certs_len) == 0x68);
static_assert(SNP_GET_REPORT == vhsm::snp::sev_guest_abi::kIocGetReport);
static_assert(SNP_GET_DERIVED_KEY == vhsm::snp::sev_guest_abi::kIocGetDerivedKey);
static_assert(SNP_GET_EXT_REPORT == vhsm::snp::sev_guest_abi::kIocGetExtReport);
#endif

namespace vhsm::snp {
namespace {

namespace abi = sev_guest_abi;

static_assert(_IOWR('S', 0x0, abi::GuestRequestIoctl) == abi::kIocGetReport);
static_assert(_IOWR('S', 0x1, abi::GuestRequestIoctl) == abi::kIocGetDerivedKey);
static_assert(_IOWR('S', 0x2, abi::GuestRequestIoctl) == abi::kIocGetExtReport);

std::string Hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%x", v);
  return buf;
}

class FdDevice final : public SevGuestDevice {
 public:
  explicit FdDevice(int fd) : fd_(fd) {}
  ~FdDevice() override { ::close(fd_); }
  int Ioctl(unsigned long request, abi::GuestRequestIoctl* arg) override {
    for (;;) {
      if (::ioctl(fd_, request, arg) == 0) return 0;
      if (errno != EINTR) return errno;
    }
  }

 private:
  int fd_;
};

uint64_t Ptr(const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); }

}  // namespace

std::string_view SevFirmwareStatusName(uint32_t code) {
  // AMD 56860 "Status Codes" table (SEV legacy codes 0x00-0x1F plus the SNP additions).
  static constexpr std::string_view kNames[] = {
      "SUCCESS", "INVALID_PLATFORM_STATE", "INVALID_GUEST_STATE", "INVALID_CONFIG", "INVALID_LENGTH",
      "ALREADY_OWNED", "INVALID_CERTIFICATE", "POLICY_FAILURE", "INACTIVE", "INVALID_ADDRESS",
      "BAD_SIGNATURE", "BAD_MEASUREMENT", "ASID_OWNED", "INVALID_ASID", "WBINVD_REQUIRED",
      "DFFLUSH_REQUIRED", "INVALID_GUEST", "INVALID_COMMAND", "ACTIVE", "HWERROR_PLATFORM",
      "HWERROR_UNSAFE", "UNSUPPORTED", "INVALID_PARAM", "RESOURCE_LIMIT", "SECURE_DATA_INVALID",
      "INVALID_PAGE_SIZE", "INVALID_PAGE_STATE", "INVALID_MDATA_ENTRY", "INVALID_PAGE_OWNER",
      "AEAD_OFLOW", "UNKNOWN", "RING_BUFFER_EXIT", "RMP_INIT_REQUIRED", "BAD_SVN", "BAD_VERSION",
      "SHUTDOWN_REQUIRED", "UPDATE_FAILED", "RESTORE_REQUIRED", "RMP_INITIALIZATION_FAILED",
      "INVALID_KEY"};
  if (code == abi::kFwErrNoFirmwareCall) return "NO_FIRMWARE_CALL";
  if (code < std::size(kNames)) return kNames[code];
  return "UNKNOWN";
}

bool IsGuestRequestBusy(int err, uint64_t exitinfo2) {
  return err == EAGAIN || err == EBUSY || static_cast<uint32_t>(exitinfo2 >> 32) == abi::kVmmErrBusy;
}

Status GuestRequestError(std::string_view op, int err, uint64_t exitinfo2) {
  const uint32_t fw = static_cast<uint32_t>(exitinfo2);
  const uint32_t vmm = static_cast<uint32_t>(exitinfo2 >> 32);
  std::string msg = std::string(op) + ": ";
  if (err != 0) msg += std::string("ioctl failed: ") + std::strerror(err) + "; ";
  if (vmm == abi::kVmmErrBusy || err == EAGAIN || err == EBUSY) {
    return UnavailableError(msg + "host busy or request throttled (VMM error 2); retries exhausted");
  }
  if (vmm == abi::kVmmErrInvalidLen) {
    return ResourceExhaustedError(msg + "certificate buffer too small (VMM error 1)");
  }
  if (vmm != 0) msg += "VMM error " + Hex32(vmm) + "; ";
  if (fw == abi::kFwErrNoFirmwareCall) {
    msg += "the request did not reach the AMD secure processor (firmware error 0xffffffff)";
  } else if (fw != 0) {
    msg += "firmware status " + Hex32(fw) + " " + std::string(SevFirmwareStatusName(fw));
    if (fw == 0x16 || fw == 0x27 || fw == 0x07) return InvalidArgumentError(msg);
  } else if (err == 0 && vmm == 0) {
    msg += "failed without an error code";
  }
  while (!msg.empty() && (msg.back() == ' ' || msg.back() == ';')) msg.pop_back();
  if (err == EACCES || err == EPERM) return PermissionDeniedError(msg);
  if (err == ENODEV || err == ENXIO || err == ENOENT) return NotFoundError(msg);
  if (err == EINVAL && fw == 0 && vmm == 0) return InvalidArgumentError(msg);
  return UnavailableError(msg);
}

Result<Bytes> ParseReportResponse(ByteSpan resp) {
  ByteReader r(resp);
  VHSM_ASSIGN_OR_RETURN(uint32_t status, r.ReadU32Le("MSG_REPORT_RSP.status"));
  VHSM_ASSIGN_OR_RETURN(uint32_t size, r.ReadU32Le("MSG_REPORT_RSP.report_size"));
  if (status != 0) {
    std::string m = "MSG_REPORT_RSP.status: " + Hex32(status) + " " + std::string(SevFirmwareStatusName(status));
    if (status == 0x16) m += " (e.g. VMPL below the caller's)";
    return InvalidArgumentError(m);
  }
  if (size != kReportSize) {
    return DataLossError("MSG_REPORT_RSP.report_size: got " + std::to_string(size) + ", want " +
                         std::to_string(kReportSize));
  }
  VHSM_RETURN_IF_ERROR(r.Seek(abi::kReportRspReportOffset));
  VHSM_ASSIGN_OR_RETURN(ByteSpan report, r.ReadBytes(size, "MSG_REPORT_RSP.report"));
  return Bytes(report.begin(), report.end());
}

Result<SecretBytes> ParseDerivedKeyResponse(ByteSpan resp) {
  ByteReader r(resp);
  VHSM_ASSIGN_OR_RETURN(uint32_t status, r.ReadU32Le("MSG_KEY_RSP.status"));
  if (status != 0) {
    return InvalidArgumentError("MSG_KEY_RSP.status: " + Hex32(status) + " " +
                                std::string(SevFirmwareStatusName(status)));
  }
  VHSM_RETURN_IF_ERROR(r.Seek(abi::kKeyRspKeyOffset));
  VHSM_ASSIGN_OR_RETURN(ByteSpan key, r.ReadBytes(32, "MSG_KEY_RSP.derived_key"));
  return SecretBytes(key);
}

Result<std::unique_ptr<SevGuestFirmware>> SevGuestFirmware::Open(const SevGuestOptions& options) {
  int fd = ::open(options.device.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    std::string m = options.device + ": " + std::strerror(errno);
    if (errno == ENOENT || errno == ENODEV || errno == ENXIO) {
      return NotFoundError(m + " (not an SEV-SNP guest, or the sev-guest driver is not loaded)");
    }
    if (errno == EACCES || errno == EPERM) return PermissionDeniedError(m + " (needs root or the device's group)");
    return UnavailableError(m);
  }
  return Create(std::make_unique<FdDevice>(fd), options);
}

std::unique_ptr<SevGuestFirmware> SevGuestFirmware::Create(std::unique_ptr<SevGuestDevice> device,
                                                           const SevGuestOptions& options) {
  return std::unique_ptr<SevGuestFirmware>(new SevGuestFirmware(std::move(device), options));
}

std::pair<int, uint64_t> SevGuestFirmware::Call(unsigned long request, abi::GuestRequestIoctl& arg) {
  uint32_t backoff = options_.initial_backoff_ms;
  int err = 0;
  for (int attempt = 1;; ++attempt) {
    arg.exitinfo2 = 0;
    ++ioctl_count_;
    err = device_->Ioctl(request, &arg);
    if (!(err != 0 || arg.exitinfo2 != 0) || !IsGuestRequestBusy(err, arg.exitinfo2) ||
        attempt >= std::max(1, options_.max_attempts)) {
      return {err, arg.exitinfo2};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
    backoff = std::min(options_.max_backoff_ms, backoff * 2);
  }
}

Result<ReportResponse> SevGuestFirmware::GetReport(std::span<const uint8_t, 64> report_data, uint32_t vmpl) {
  if (vmpl > 3) return InvalidArgumentError("vmpl: got " + std::to_string(vmpl) + ", want 0..3");
  abi::ReportResp resp;
  abi::GuestRequestIoctl arg;
  arg.msg_version = 1;
  arg.resp_data = Ptr(&resp);
  ReportResponse out;
  if (!options_.extended_report) {
    abi::ReportReq req;
    std::copy(report_data.begin(), report_data.end(), req.user_data);
    req.vmpl = vmpl;
    arg.req_data = Ptr(&req);
    auto [err, exitinfo2] = Call(abi::kIocGetReport, arg);
    if (err != 0 || exitinfo2 != 0) return GuestRequestError("SNP_GET_REPORT", err, exitinfo2);
    VHSM_ASSIGN_OR_RETURN(out.report, ParseReportResponse(resp.data));
    return out;
  }
  abi::ExtReportReq req;
  std::copy(report_data.begin(), report_data.end(), req.data.user_data);
  req.data.vmpl = vmpl;
  arg.req_data = Ptr(&req);
  uint32_t certs_len = options_.initial_certs_len;
  for (int grow = 0;; ++grow) {
    Bytes certs(certs_len, 0);
    req.certs_address = Ptr(certs.data());
    req.certs_len = certs_len;
    auto [err, exitinfo2] = Call(abi::kIocGetExtReport, arg);
    if (static_cast<uint32_t>(exitinfo2 >> 32) == abi::kVmmErrInvalidLen) {
      // The kernel rewrote certs_len with the size the host's blob needs.
      uint32_t want = (req.certs_len + 4095u) & ~4095u;
      if (grow >= 2 || want <= certs_len || want > options_.max_certs_len) {
        return ResourceExhaustedError("SNP_GET_EXT_REPORT: the host's certificate blob needs " +
                                      std::to_string(req.certs_len) + " bytes; limit is " +
                                      std::to_string(options_.max_certs_len));
      }
      certs_len = want;
      continue;
    }
    if (err != 0 || exitinfo2 != 0) return GuestRequestError("SNP_GET_EXT_REPORT", err, exitinfo2);
    VHSM_ASSIGN_OR_RETURN(out.report, ParseReportResponse(resp.data));
    // An all-zero buffer means the host supplied no certificates.
    if (!IsAllZero(certs)) out.cert_table = std::move(certs);
    return out;
  }
}

Result<SecretBytes> SevGuestFirmware::GetDerivedKey(const DerivedKeyRequest& request) {
  if (request.vmpl > 3) return InvalidArgumentError("key request.vmpl: got " + std::to_string(request.vmpl) + ", want 0..3");
  abi::DerivedKeyReqV2 req;
  req.v1.root_key_select = static_cast<uint32_t>(request.root_key_select);
  req.v1.guest_field_select = request.guest_field_select;
  req.v1.vmpl = request.vmpl;
  req.v1.guest_svn = request.guest_svn;
  req.v1.tcb_version = request.tcb_version;
  req.launch_mit_vector = request.launch_mit_vector;
  // Message version 2 only when the v2 field is used: older firmware rejects version 2.
  const bool v2 = (request.guest_field_select & field_select::kLaunchMitVector) != 0 ||
                  request.launch_mit_vector != 0;
  abi::DerivedKeyResp resp;
  abi::GuestRequestIoctl arg;
  arg.msg_version = v2 ? 2 : 1;
  arg.req_data = Ptr(&req);
  arg.resp_data = Ptr(&resp);
  auto [err, exitinfo2] = Call(abi::kIocGetDerivedKey, arg);
  Status failed = (err != 0 || exitinfo2 != 0) ? GuestRequestError("SNP_GET_DERIVED_KEY", err, exitinfo2) : OkStatus();
  Result<SecretBytes> key = failed.ok() ? ParseDerivedKeyResponse(resp.data) : Result<SecretBytes>(failed);
  OPENSSL_cleanse(resp.data, sizeof(resp.data));
  return key;
}

Result<CertificateSet> SevGuestFirmware::GetCertificates() {
  std::array<uint8_t, 64> zeros{};
  VHSM_ASSIGN_OR_RETURN(ReportResponse r, GetReport(zeros, options_.certificate_vmpl));
  if (r.cert_table.empty()) return CertificateSet{};
  VHSM_ASSIGN_OR_RETURN(std::vector<CertTableEntry> entries, ParseCertTable(r.cert_table));
  return CertificateSetFromTable(entries);
}

}  // namespace vhsm::snp
