// harness.h: shared by the PKCS#11 conformance test and the benchmark tool: loads any PKCS#11
// module with dlopen + C_GetFunctionList, and (for our module) runs a real vhsmd in a temp dir.
// Target selection by environment: VHSM_P11_TARGET=vhsm (default) or softhsm
// (/usr/lib/softhsm/libsofthsm2.so with SOFTHSM2_CONF pointing at a temp config).
#pragma once

#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace vhsm::p11test {

// A vhsmd child process. Start() waits for its "listening on" line.
class Daemon {
 public:
  Daemon(std::string bin, std::string dir) : bin_(std::move(bin)), dir_(std::move(dir)) {}
  ~Daemon() { Stop(); }
  std::string socket() const { return dir_ + "/vhsm.sock"; }
  std::string sim_dir() const { return dir_ + "/platform"; }
  // Returns "" on success, otherwise the daemon's stderr/stdout.
  std::string Start() {
    int out[2];
    if (pipe(out) != 0) return "pipe failed";
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], 1);
      dup2(out[1], 2);
      close(out[0]);
      std::string s = socket(), st = dir_ + "/store", sim = sim_dir();
      execl(bin_.c_str(), bin_.c_str(), "--socket", s.c_str(), "--store", st.c_str(), "--platform", "sim",
            "--sim-state", sim.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    close(out[1]);
    std::string text;
    char buf[512];
    while (true) {
      ssize_t n = read(out[0], buf, sizeof(buf));
      if (n <= 0) break;
      text.append(buf, static_cast<size_t>(n));
      if (text.find("listening on unix:") != std::string::npos) {
        // Keep draining in the background so the daemon never blocks on a full pipe.
        fd_ = out[0];
        return "";
      }
    }
    close(out[0]);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return text.empty() ? "vhsmd exited without output" : text;
  }
  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);  // kill -9: acknowledged objects must already be durable
      int status = 0;
      waitpid(pid_, &status, 0);
      pid_ = -1;
    }
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

 private:
  std::string bin_, dir_;
  pid_t pid_ = -1;
  int fd_ = -1;
};

struct Module {
  void* handle = nullptr;
  CK_FUNCTION_LIST_PTR f = nullptr;
  std::string path;
  bool Load(const std::string& p) {
    path = p;
    handle = dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) return false;
    auto get = reinterpret_cast<CK_C_GetFunctionList>(dlsym(handle, "C_GetFunctionList"));
    return get != nullptr && get(&f) == CKR_OK;
  }
};

// Writes a SoftHSM2 config with its token dir under `dir`; returns the config path.
inline std::string WriteSoftHsmConfig(const std::string& dir) {
  std::filesystem::create_directories(dir + "/softhsm-tokens");
  std::string conf = dir + "/softhsm2.conf";
  std::ofstream(conf) << "directories.tokendir = " << dir << "/softhsm-tokens\nobjectstore.backend = file\n"
                      << "log.level = ERROR\nslots.removable = false\n";
  return conf;
}

inline CK_SLOT_ID FindSlot(CK_FUNCTION_LIST_PTR f, const std::string& label, bool uninitialized) {
  CK_ULONG n = 0;
  if (f->C_GetSlotList(CK_TRUE, nullptr, &n) != CKR_OK || n == 0) return ~0ul;
  std::vector<CK_SLOT_ID> slots(n);
  if (f->C_GetSlotList(CK_TRUE, slots.data(), &n) != CKR_OK) return ~0ul;
  for (CK_ULONG i = 0; i < n; ++i) {
    CK_TOKEN_INFO ti;
    if (f->C_GetTokenInfo(slots[i], &ti) != CKR_OK) continue;
    bool init = (ti.flags & CKF_TOKEN_INITIALIZED) != 0;
    std::string l(reinterpret_cast<char*>(ti.label), 32);
    l.erase(l.find_last_not_of(' ') + 1);
    if (uninitialized ? !init || slots.size() == 1 : l == label) return slots[i];
  }
  return ~0ul;
}

inline void PadLabel(const std::string& s, CK_UTF8CHAR out[32]) {
  std::memset(out, ' ', 32);
  std::memcpy(out, s.data(), std::min<size_t>(32, s.size()));
}

}  // namespace vhsm::p11test
