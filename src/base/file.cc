#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace vhsm {
namespace {

std::string Errno(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { if (fd_ >= 0) ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { int f = fd_; fd_ = -1; return f; }

 private:
  int fd_;
};

}  // namespace

Result<Bytes> ReadFileBytes(const std::string& path, size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return NotFoundError(Errno("cannot open", path));
    return UnavailableError(Errno("cannot open", path));
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return UnavailableError(Errno("cannot stat", path));
  if (S_ISDIR(st.st_mode)) return InvalidArgumentError(path + ": is a directory");
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes) {
    return ResourceExhaustedError(path + ": " + std::to_string(st.st_size) + " bytes exceeds the limit of " +
                                  std::to_string(max_bytes));
  }
  Bytes out;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return UnavailableError(Errno("cannot read", path));
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > max_bytes) {
      return ResourceExhaustedError(path + ": exceeds the limit of " + std::to_string(max_bytes) + " bytes");
    }
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

Result<std::string> ReadFileText(const std::string& path, size_t max_bytes) {
  VHSM_ASSIGN_OR_RETURN(Bytes b, ReadFileBytes(path, max_bytes));
  return std::string(b.begin(), b.end());
}

Status WriteFileAtomic(const std::string& path, ByteSpan data, unsigned mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (fd.get() < 0) return UnavailableError(Errno("cannot create", tmp));
  if (::fchmod(fd.get(), mode) != 0) return UnavailableError(Errno("cannot chmod", tmp));
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.get(), data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = UnavailableError(Errno("cannot write", tmp));
      ::unlink(tmp.c_str());
      return s;
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd.get()) != 0) {
    Status s = UnavailableError(Errno("cannot fsync", tmp));
    ::unlink(tmp.c_str());
    return s;
  }
  ::close(fd.release());
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = UnavailableError(Errno("cannot rename to", path));
    ::unlink(tmp.c_str());
    return s;
  }
  // Make the rename durable.
  const size_t slash = path.find_last_of('/');
  const std::string dir = slash == std::string::npos ? std::string(".") : slash == 0 ? std::string("/") : path.substr(0, slash);
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() >= 0) ::fsync(dfd.get());
  return OkStatus();
}

bool FileExists(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace vhsm
