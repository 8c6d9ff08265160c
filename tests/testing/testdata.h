// testdata.h: locating test inputs. Shared SNP vectors live outside the repo in
// ../shared/snp-vectors (env VHSM_SHARED_DIR overrides); tests that need them call
// RequireSnpVectors() which skips with a plain message when they are absent.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "base/bytes.h"

namespace vhsm::testdata {

// Absolute path of shared/snp-vectors, or "" when absent.
std::string SnpVectorsDir();
// Repo source dir (VHSM_SOURCE_DIR) and build dir (VHSM_BUILD_DIR).
std::string SourceDir();
std::string BuildDir();
// Reads a file under shared/snp-vectors; aborts the test (ADD_FAILURE + empty) on error.
Bytes ReadVector(const std::string& relative_path);
// Reads a file under tests/data/.
Bytes ReadTestData(const std::string& relative_path);

// A fresh directory removed (recursively) when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace vhsm::testdata

#define VHSM_REQUIRE_SNP_VECTORS()                                                                   \
  do {                                                                                              \
    if (::vhsm::testdata::SnpVectorsDir().empty())                                                  \
      GTEST_SKIP() << "shared/snp-vectors not found (set VHSM_SHARED_DIR); real-vector test skipped"; \
  } while (0)
