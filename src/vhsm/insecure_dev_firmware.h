// insecure_dev_firmware.h: a stand-in snp::Firmware for development and tests on machines without
// SEV-SNP and before the simulator is wired in: GetDerivedKey is HMAC-SHA256 under a random seed
// kept in a state directory, over the request and (when selected) a "measurement" file in the same
// directory, so changing the measurement changes the key exactly as on real hardware. It provides
// NO protection (the seed is a plain file) and is selected only by `vhsmd --platform insecure-dev`.
#pragma once

#include <memory>
#include <string>

#include "snp/firmware.h"

namespace vhsm::hsm {

class InsecureDevFirmware final : public snp::Firmware {
 public:
  // Creates DIR/seed (32 random bytes, hex) and DIR/measurement (48 zero bytes, hex) if absent.
  static Result<std::unique_ptr<InsecureDevFirmware>> Open(const std::string& dir);

  std::string_view Name() const override { return "insecure-dev"; }
  Result<snp::ReportResponse> GetReport(std::span<const uint8_t, 64> report_data, uint32_t vmpl) override;
  Result<SecretBytes> GetDerivedKey(const snp::DerivedKeyRequest& request) override;
  Result<snp::CertificateSet> GetCertificates() override;

 private:
  InsecureDevFirmware() = default;
  SecretBytes seed_;
  Bytes measurement_;
};

}  // namespace vhsm::hsm
