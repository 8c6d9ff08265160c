// configfs_tsm.h: snp::Firmware over the Linux configfs-tsm report interface (Linux 6.7+,
// CONFIG_TSM_REPORTS). Each report gets its own entry: mkdir <root>/<unique>, write `privlevel`
// and exactly 64 bytes to `inblob`, read `outblob` (the report), `auxblob` (certificate table),
// `provider`, and `generation` before and after; if another writer touched the entry in between
// (generation moved by more than our own writes) the entry is discarded and the request retried
// in a fresh one. The entry is always removed. A report is returned whole or not at all.
// configfs-tsm has no derived-key interface: GetDerivedKey goes to an optional key backend
// (normally /dev/sev-guest) and is Unimplemented without one.
// Spec: Linux Documentation/ABI/testing/configfs-tsm-report; snp-facts.md sections 8-9.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/status.h"
#include "snp/firmware.h"

namespace vhsm::snp {

inline constexpr char kDefaultConfigfsTsmRoot[] = "/sys/kernel/config/tsm/report";
inline constexpr size_t kMaxOutblobBytes = 16 * 1024;
inline constexpr size_t kMaxAuxblobBytes = 64 * 1024;

struct ConfigfsTsmOptions {
  std::string root = kDefaultConfigfsTsmRoot;
  int max_attempts = 4;  // entries tried when a concurrent writer is detected
  // How long to wait for attribute files and a non-empty outblob. On configfs both exist and
  // reads are synchronous, so the wait never happens; it lets a file-backed test tree, where a
  // helper thread plays the kernel, answer asynchronously.
  uint32_t attribute_wait_ms = 5000;
  std::string entry_prefix = "vhsm";
  std::string expected_provider = "sev_guest";
};

// "123\n" → 123. Strict: decimal digits, at most 20, optional single trailing newline.
Result<uint64_t> ParseTsmGeneration(std::string_view text);
// "sev_guest\n" → "sev_guest": printable, at most 64 characters, optional trailing newline.
Result<std::string> ParseTsmProvider(std::string_view text);

class ConfigfsTsmFirmware final : public Firmware {
 public:
  // FailedPrecondition/NotFound when `options.root` is not an existing directory.
  static Result<std::unique_ptr<ConfigfsTsmFirmware>> Open(const ConfigfsTsmOptions& options,
                                                           std::unique_ptr<Firmware> key_backend = nullptr);

  std::string_view Name() const override { return "configfs-tsm"; }
  Result<ReportResponse> GetReport(std::span<const uint8_t, 64> report_data, uint32_t vmpl) override;
  Result<SecretBytes> GetDerivedKey(const DerivedKeyRequest& request) override;
  // A report at the entry's privlevel_floor with zero REPORT_DATA; the auxblob's certificates.
  Result<CertificateSet> GetCertificates() override;

  // Entries created so far (tests).
  int entries_created() const { return entries_created_.load(); }

 private:
  ConfigfsTsmFirmware(ConfigfsTsmOptions options, std::unique_ptr<Firmware> key_backend)
      : options_(std::move(options)), key_backend_(std::move(key_backend)) {}
  struct Attempt;
  Result<ReportResponse> TryOnce(std::span<const uint8_t, 64> report_data, std::optional<uint32_t> vmpl,
                                 bool& conflict);

  ConfigfsTsmOptions options_;
  std::unique_ptr<Firmware> key_backend_;
  std::atomic<int> entries_created_{0};
  std::atomic<uint64_t> counter_{0};
};

}  // namespace vhsm::snp
