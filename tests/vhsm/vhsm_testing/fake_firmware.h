// fake_firmware.h: a deterministic snp::Firmware for vhsm tests: the derived key is SHA-256 over a
// "platform secret" string, the encoded request and the selected measurement, so a test can
// model "same VM", "other measurement" and "other machine".
#pragma once

#include <string>

#include "crypto/digest.h"
#include "snp/firmware.h"
#include "vhsm/sealed_store.h"

namespace vhsm::hsm::testing {

class FakeFirmware final : public snp::Firmware {
 public:
  FakeFirmware(std::string platform_secret, std::string measurement)
      : secret_(std::move(platform_secret)), measurement_(std::move(measurement)) {}
  std::string_view Name() const override { return "fake"; }
  Result<snp::ReportResponse> GetReport(std::span<const uint8_t, 64>, uint32_t) override {
    return UnimplementedError("fake");
  }
  Result<SecretBytes> GetDerivedKey(const snp::DerivedKeyRequest& r) override {
    ++derive_calls;
    Bytes msg = ToBytes(secret_);
    Bytes req = EncodeKeyRequest(r);
    msg.insert(msg.end(), req.begin(), req.end());
    if (r.guest_field_select & snp::field_select::kMeasurement) msg.insert(msg.end(), measurement_.begin(), measurement_.end());
    Bytes k = crypto::Sha256(msg);
    return SecretBytes(k);
  }
  Result<snp::CertificateSet> GetCertificates() override { return snp::CertificateSet{}; }
  int derive_calls = 0;

 private:
  std::string secret_;
  std::string measurement_;
};

}  // namespace vhsm::hsm::testing
