// softhsm_token.h: a throwaway SoftHSM2 token for tests of PKCS#11 consumers (p11::Key,
// vhsm-attestd's PKCS#11 signing key). Writes a SoftHSM2 config under a temp dir, points
// SOFTHSM2_CONF at it (process-wide: tests using it must not run SoftHSM2 with another config at
// the same time), initialises a token with softhsm2-util and makes keys with pkcs11-tool, the way
// an operator would. Tests call VHSM_REQUIRE_SOFTHSM() first: it skips with a visible message
// when SoftHSM2 or pkcs11-tool is not installed.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace vhsm::p11test {

inline constexpr char kSoftHsmModule[] = "/usr/lib/softhsm/libsofthsm2.so";

inline bool SoftHsmAvailable() {
  return std::filesystem::exists(kSoftHsmModule) && std::system("command -v softhsm2-util >/dev/null 2>&1") == 0 &&
         std::system("command -v pkcs11-tool >/dev/null 2>&1") == 0;
}

class SoftHsmToken {
 public:
  // `dir` must outlive the token (a TempDir). Returns "" on success, else what failed.
  std::string Init(const std::string& dir, const std::string& label, const std::string& pin) {
    dir_ = dir;
    pin_ = pin;
    std::filesystem::create_directories(dir + "/tokens");
    conf_ = dir + "/softhsm2.conf";
    std::ofstream(conf_) << "directories.tokendir = " << dir << "/tokens\nobjectstore.backend = file\n"
                         << "log.level = ERROR\nslots.removable = false\n";
    setenv("SOFTHSM2_CONF", conf_.c_str(), 1);
    return Run("softhsm2-util --init-token --free --label '" + label + "' --so-pin 12345678 --pin '" + pin + "'");
  }
  // EC key pair via pkcs11-tool; curve "prime256v1" or "secp384r1"; id in hex.
  std::string MakeEcKey(const std::string& label, const std::string& id_hex, const std::string& curve) {
    return Tool("--keypairgen --key-type EC:" + curve + " --label '" + label + "' --id " + id_hex + " --usage-sign");
  }
  // AES-256 secret key generated inside the token.
  std::string MakeAesKey(const std::string& label, const std::string& id_hex) {
    return Tool("--keygen --key-type AES:32 --label '" + label + "' --id " + id_hex + " --usage-decrypt");
  }
  // AES-256 secret key with known bytes (for cross-checks against OpenSSL).
  std::string ImportAesKey(const std::string& label, const std::string& id_hex, const std::string& key_file) {
    return Tool("--write-object '" + key_file + "' --type secrkey --key-type AES:32 --label '" + label + "' --id " +
                id_hex + " --usage-decrypt");
  }
  std::string Tool(const std::string& args) {
    return Run(std::string("pkcs11-tool --module ") + kSoftHsmModule + " --login --pin '" + pin_ + "' " + args);
  }
  const std::string& conf() const { return conf_; }

 private:
  std::string Run(const std::string& cmd) {
    const std::string log = dir_ + "/tool.log";
    const std::string full = "SOFTHSM2_CONF='" + conf_ + "' " + cmd + " >'" + log + "' 2>&1";
    if (std::system(full.c_str()) == 0) return "";
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    return cmd + " failed: " + ss.str();
  }
  std::string dir_, conf_, pin_;
};

}  // namespace vhsm::p11test

#define VHSM_REQUIRE_SOFTHSM()                                                                    \
  do {                                                                                            \
    if (!::vhsm::p11test::SoftHsmAvailable())                                                     \
      GTEST_SKIP() << "SoftHSM2 (" << ::vhsm::p11test::kSoftHsmModule                             \
                   << ") or pkcs11-tool not installed: PKCS#11 test skipped (apt-get install softhsm2 opensc)"; \
  } while (0)
