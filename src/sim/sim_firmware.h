// sim_firmware.h: a software AMD secure processor implementing snp::Firmware from a SimState.
// Reports are byte-exact ATTESTATION_REPORTs (ABI 56860 Table 22; v5 per rev 1.58) that differ
// from real ones only in whose key signed them: ECDSA P-384/SHA-384 over bytes [0, 0x2A0) with
// R and S stored little-endian, by the simulator's VCEK (or VLEK). The extended-report
// certificate table uses AMD's GUIDs. Derived keys follow MSG_KEY_REQ: deterministic
// HKDF-SHA384 from the chip secret (root VCEK) or the launch's VMRK secret, mixing the VMPL, the
// field-select mask and every selected field, and nothing that is not selected. Requests real
// firmware would refuse (VMPL below the guest's, guest_svn above the launch SVN, tcb_version above
// COMMITTED_TCB, reserved select bits) get InvalidArgument. Thread-safe (state is immutable).
#pragma once

#include <memory>
#include <string>

#include "snp/firmware.h"
#include "snp/report.h"
#include "sim/sim_state.h"

namespace vhsm::sim {

class SimFirmware final : public snp::Firmware {
 public:
  // Loads the state directory made by `vhsm sim init`.
  static Result<std::unique_ptr<SimFirmware>> Open(const std::string& state_dir);
  // Takes an already loaded (possibly test-modified) state; validates it.
  static Result<std::unique_ptr<SimFirmware>> Create(SimState state);

  std::string_view Name() const override { return "sim"; }
  Result<snp::ReportResponse> GetReport(std::span<const uint8_t, 64> report_data, uint32_t vmpl) override;
  Result<SecretBytes> GetDerivedKey(const snp::DerivedKeyRequest& request) override;
  Result<snp::CertificateSet> GetCertificates() override;

  const SimConfig& config() const { return state_.config; }
  // The unsigned report GetReport would sign (signature fields zero). InvalidArgument for
  // vmpl > 3 or below the guest's VMPL.
  Result<snp::AttestationReport> BuildUnsignedReport(std::span<const uint8_t, 64> report_data,
                                                      uint32_t vmpl) const;
  // Raw extended-report certificate table (ARK, ASK/ASVK, VCEK/VLEK with AMD's GUIDs).
  Bytes CertTable() const;

 private:
  explicit SimFirmware(SimState state) : state_(std::move(state)) {}
  SimState state_;
};

// Signs report bytes [0, 0x2A0) with `key` (EC P-384) and stores R and S little-endian at
// 0x2A0/0x2E8. `report` must be kReportSize bytes.
Status SignReportBytes(EVP_PKEY* key, std::span<uint8_t> report);

}  // namespace vhsm::sim
