#include "testing/testdata.h"

#include <cstdlib>
#include <filesystem>

#include "base/file.h"

namespace vhsm::testdata {

namespace fs = std::filesystem;

static std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string SnpVectorsDir() {
  std::string shared = Env("VHSM_SHARED_DIR");
  if (shared.empty()) shared = std::string(VHSM_DEFAULT_SHARED_DIR);
  fs::path p = fs::path(shared) / "snp-vectors";
  std::error_code ec;
  if (!fs::exists(p / "MANIFEST.json", ec)) return "";
  return fs::weakly_canonical(p, ec).string();
}

std::string SourceDir() {
  std::string s = Env("VHSM_SOURCE_DIR");
  return s.empty() ? std::string(VHSM_DEFAULT_SOURCE_DIR) : s;
}

std::string BuildDir() {
  std::string s = Env("VHSM_BUILD_DIR");
  return s.empty() ? std::string(VHSM_DEFAULT_BUILD_DIR) : s;
}

Bytes ReadVector(const std::string& rel) {
  auto r = ReadFileBytes(SnpVectorsDir() + "/" + rel);
  if (!r.ok()) {
    ADD_FAILURE() << "cannot read vector " << rel << ": " << r.status().ToString();
    return {};
  }
  return *r;
}

Bytes ReadTestData(const std::string& rel) {
  auto r = ReadFileBytes(SourceDir() + "/tests/data/" + rel);
  if (!r.ok()) {
    ADD_FAILURE() << "cannot read test data " << rel << ": " << r.status().ToString();
    return {};
  }
  return *r;
}

TempDir::TempDir() {
  std::string base = Env("TMPDIR");
  if (base.empty()) base = "/tmp";
  std::string templ = base + "/vhsm-test-XXXXXX";
  char* p = mkdtemp(templ.data());
  if (p == nullptr) std::abort();
  path_ = p;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace vhsm::testdata
