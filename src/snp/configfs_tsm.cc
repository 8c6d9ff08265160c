// configfs_tsm.cc: configfs-tsm backend. See configfs_tsm.h.
#include "snp/configfs_tsm.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <thread>

#include "crypto/random.h"
#include "snp/report.h"

namespace vhsm::snp {
namespace {

constexpr const char* kAttributes[] = {"inblob",   "outblob",         "auxblob",     "provider",
                                       "generation", "privlevel",     "privlevel_floor",
                                       "service_provider", "service_guid", "service_manifest_version",
                                       "manifestblob"};

std::string ErrnoText(int err) { return std::strerror(err); }

bool Exists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

Status IoError(const std::string& what, const std::string& path, int err) {
  std::string m = what + " " + path + ": " + ErrnoText(err);
  if (err == ENOENT) return NotFoundError(m);
  if (err == EACCES || err == EPERM) return PermissionDeniedError(m);
  if (err == EINVAL) return InvalidArgumentError(m);
  return UnavailableError(m);
}

Result<Bytes> ReadAttr(const std::string& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open", path, errno);
  Bytes out;
  uint8_t buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return IoError("cannot read", path, err);
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      ::close(fd);
      return ResourceExhaustedError(path + ": more than " + std::to_string(max_bytes) + " bytes");
    }
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  return out;
}

// One write(2) of all of `data` to an existing attribute (never created here: a missing
// attribute means the interface is not what we think it is).
Status WriteAttr(const std::string& path, ByteSpan data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return IoError("cannot open", path, errno);
  ssize_t n;
  do {
    n = ::write(fd, data.data(), data.size());
  } while (n < 0 && errno == EINTR);
  int err = errno;
  if (::close(fd) != 0 && n >= 0) return IoError("cannot write", path, errno);
  if (n < 0) return IoError("cannot write", path, err);
  if (static_cast<size_t>(n) != data.size()) {
    return UnavailableError(path + ": short write of " + std::to_string(n) + " of " +
                            std::to_string(data.size()) + " bytes");
  }
  return OkStatus();
}

bool WaitUntil(uint32_t wait_ms, const std::function<bool()>& ready) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    if (ready()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Removes the entry on every path. configfs removes attribute files with the directory; a
// file-backed tree (tests) needs them unlinked first, which configfs would refuse anyway.
class EntryGuard {
 public:
  explicit EntryGuard(std::string path) : path_(std::move(path)) {}
  ~EntryGuard() {
    if (::rmdir(path_.c_str()) == 0 || errno != ENOTEMPTY) return;
    for (const char* a : kAttributes) ::unlink((path_ + "/" + a).c_str());
    ::rmdir(path_.c_str());
  }
  EntryGuard(const EntryGuard&) = delete;
  EntryGuard& operator=(const EntryGuard&) = delete;

 private:
  std::string path_;
};

}  // namespace

Result<uint64_t> ParseTsmGeneration(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty() || text.size() > 20) {
    return DataLossError("generation: want 1..20 decimal digits, got " + std::to_string(text.size()) + " characters");
  }
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return DataLossError("generation: non-digit character in \"" + std::string(text) + "\"");
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return DataLossError("generation: value out of range");
    v = v * 10 + d;
  }
  return v;
}

Result<std::string> ParseTsmProvider(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty() || text.size() > 64) {
    return DataLossError("provider: want 1..64 characters, got " + std::to_string(text.size()));
  }
  for (char c : text) {
    if (c < 0x21 || c > 0x7E) return DataLossError("provider: non-printable character");
  }
  return std::string(text);
}

Result<std::unique_ptr<ConfigfsTsmFirmware>> ConfigfsTsmFirmware::Open(const ConfigfsTsmOptions& options,
                                                                       std::unique_ptr<Firmware> key_backend) {
  struct stat st{};
  if (::stat(options.root.c_str(), &st) != 0) {
    return NotFoundError("configfs-tsm: " + options.root + ": " + ErrnoText(errno) +
                         " (needs Linux 6.7+ with CONFIG_TSM_REPORTS and configfs mounted)");
  }
  if (!S_ISDIR(st.st_mode)) return FailedPreconditionError("configfs-tsm: " + options.root + " is not a directory");
  if (options.max_attempts < 1) return InvalidArgumentError("configfs-tsm: max_attempts must be >= 1");
  return std::unique_ptr<ConfigfsTsmFirmware>(new ConfigfsTsmFirmware(options, std::move(key_backend)));
}

Result<ReportResponse> ConfigfsTsmFirmware::TryOnce(std::span<const uint8_t, 64> report_data,
                                                    std::optional<uint32_t> vmpl, bool& conflict) {
  conflict = false;
  VHSM_ASSIGN_OR_RETURN(Bytes rnd, crypto::RandomBytes(4));
  const std::string entry = options_.root + "/" + options_.entry_prefix + "-" + std::to_string(::getpid()) + "-" +
                            std::to_string(counter_.fetch_add(1)) + "-" + HexEncode(rnd);
  if (::mkdir(entry.c_str(), 0700) != 0) return IoError("configfs-tsm: cannot create report entry", entry, errno);
  entries_created_.fetch_add(1);
  EntryGuard guard(entry);
  const std::string gen_path = entry + "/generation";
  if (!WaitUntil(options_.attribute_wait_ms, [&] { return Exists(gen_path); })) {
    return UnavailableError("configfs-tsm: " + gen_path + " did not appear (not a configfs-tsm report entry?)");
  }
  VHSM_ASSIGN_OR_RETURN(Bytes g0_text, ReadAttr(gen_path, 64));
  VHSM_ASSIGN_OR_RETURN(uint64_t g0, ParseTsmGeneration(AsStringView(g0_text)));
  uint64_t writes = 0;

  const std::string floor_path = entry + "/privlevel_floor";
  auto read_floor = [&]() -> Result<uint64_t> {
    VHSM_ASSIGN_OR_RETURN(Bytes t, ReadAttr(floor_path, 64));
    Result<uint64_t> v = ParseTsmGeneration(AsStringView(t));
    if (!v.ok()) return DataLossError(floor_path + ": not a number");
    return v;
  };
  if (!vmpl.has_value()) {
    uint32_t floor = 0;
    if (Exists(floor_path)) {
      VHSM_ASSIGN_OR_RETURN(uint64_t f, read_floor());
      floor = static_cast<uint32_t>(std::min<uint64_t>(f, 3));
    }
    vmpl = floor;
  }
  const std::string priv_path = entry + "/privlevel";
  if (Exists(priv_path)) {
    std::string level = std::to_string(*vmpl) + "\n";
    Status s = WriteAttr(priv_path, AsBytes(level));
    if (!s.ok()) {
      if (s.code() == StatusCode::kInvalidArgument && Exists(floor_path)) {
        Result<uint64_t> floor = read_floor();
        if (floor.ok()) {
          return InvalidArgumentError("configfs-tsm: privlevel (VMPL) " + std::to_string(*vmpl) +
                                      " refused; this guest's privlevel_floor is " + std::to_string(*floor));
        }
      }
      return s;
    }
    ++writes;
  } else if (*vmpl != 0) {
    return UnimplementedError("configfs-tsm: " + priv_path + " is missing, cannot request VMPL " +
                              std::to_string(*vmpl));
  }
  VHSM_RETURN_IF_ERROR(WriteAttr(entry + "/inblob", ByteSpan(report_data.data(), report_data.size())));
  ++writes;

  const std::string out_path = entry + "/outblob";
  Result<Bytes> outblob = Bytes();
  bool got = WaitUntil(options_.attribute_wait_ms, [&] {
    outblob = ReadAttr(out_path, kMaxOutblobBytes);
    return !outblob.ok() || !outblob->empty();
  });
  if (!outblob.ok()) return outblob.status().Annotate("configfs-tsm: outblob");
  if (!got) return UnavailableError("configfs-tsm: " + out_path + " stayed empty");
  if (outblob->size() != kReportSize) {
    return DataLossError("configfs-tsm: outblob: got " + std::to_string(outblob->size()) + " bytes, want " +
                         std::to_string(kReportSize));
  }
  ReportResponse out;
  const std::string aux_path = entry + "/auxblob";
  if (Exists(aux_path)) {
    VHSM_ASSIGN_OR_RETURN(Bytes aux, ReadAttr(aux_path, kMaxAuxblobBytes));
    if (!IsAllZero(aux)) out.cert_table = std::move(aux);  // all zero: host supplied no certificates
  }
  VHSM_ASSIGN_OR_RETURN(Bytes provider_text, ReadAttr(entry + "/provider", 256));
  VHSM_ASSIGN_OR_RETURN(std::string provider, ParseTsmProvider(AsStringView(provider_text)));
  if (!options_.expected_provider.empty() && provider != options_.expected_provider) {
    return FailedPreconditionError("configfs-tsm: provider is \"" + provider + "\", want \"" +
                                   options_.expected_provider + "\" (not an SEV-SNP guest?)");
  }
  VHSM_ASSIGN_OR_RETURN(Bytes g1_text, ReadAttr(gen_path, 64));
  VHSM_ASSIGN_OR_RETURN(uint64_t g1, ParseTsmGeneration(AsStringView(g1_text)));
  if (g1 != g0 + writes) {
    conflict = true;
    return UnavailableError("configfs-tsm: generation went from " + std::to_string(g0) + " to " +
                            std::to_string(g1) + " across our " + std::to_string(writes) +
                            " writes: another writer changed the entry");
  }
  out.report = std::move(*outblob);
  return out;
}

Result<ReportResponse> ConfigfsTsmFirmware::GetReport(std::span<const uint8_t, 64> report_data, uint32_t vmpl) {
  if (vmpl > 3) return InvalidArgumentError("vmpl: got " + std::to_string(vmpl) + ", want 0..3");
  Status last;
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    bool conflict = false;
    Result<ReportResponse> r = TryOnce(report_data, vmpl, conflict);
    if (r.ok() || !conflict) return r;
    last = r.status();
  }
  return UnavailableError(last.message() + " (gave up after " + std::to_string(options_.max_attempts) +
                          " entries)");
}

Result<SecretBytes> ConfigfsTsmFirmware::GetDerivedKey(const DerivedKeyRequest& request) {
  if (!key_backend_) {
    return UnimplementedError("configfs-tsm has no derived-key interface; derived keys need /dev/sev-guest "
                              "(--platform sev-guest)");
  }
  return key_backend_->GetDerivedKey(request);
}

Result<CertificateSet> ConfigfsTsmFirmware::GetCertificates() {
  std::array<uint8_t, 64> zeros{};
  Status last;
  for (int attempt = 0; attempt < options_.max_attempts; ++attempt) {
    bool conflict = false;
    Result<ReportResponse> r = TryOnce(zeros, std::nullopt, conflict);
    if (!r.ok()) {
      if (!conflict) return r.status();
      last = r.status();
      continue;
    }
    if (r->cert_table.empty()) return CertificateSet{};
    VHSM_ASSIGN_OR_RETURN(std::vector<CertTableEntry> entries, ParseCertTable(r->cert_table));
    return CertificateSetFromTable(entries);
  }
  return UnavailableError(last.message());
}

}  // namespace vhsm::snp
