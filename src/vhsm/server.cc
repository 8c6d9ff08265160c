#include "vhsm/server.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/byte_reader.h"
#include "ipc/codec.h"
#include "ipc/transport.h"

namespace vhsm::hsm {
namespace {

using ipc::MsgReader;
using ipc::MsgWriter;
using ipc::Opcode;

Bytes RvOnly(CK_RV rv) {
  MsgWriter w;
  w.PutU64(rv);
  return w.Take();
}

void PutPadded(MsgWriter& w, const unsigned char* p, size_t n) { w.PutBytes(ByteSpan(p, n)); }

Result<std::vector<CK_ATTRIBUTE_TYPE>> TypesOf(const ipc::WireTemplate& t) {
  std::vector<CK_ATTRIBUTE_TYPE> types;
  types.reserve(t.size());
  for (const auto& a : t) types.push_back(static_cast<CK_ATTRIBUTE_TYPE>(a.type));
  return types;
}

}  // namespace

Server::Server(Token& token, Logger& log, ServerOptions options)
    : token_(token), log_(log), options_(std::move(options)) {}

Server::~Server() {
  Stop();
  std::lock_guard<std::mutex> lock(conns_mu_);
  for (auto& t : finished_) t.join();
  finished_.clear();
}

Status Server::Listen() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options_.socket_path.empty() || options_.socket_path.size() >= sizeof(addr.sun_path)) {
    return InvalidArgumentError("--socket: path length " + std::to_string(options_.socket_path.size()) +
                                ", want 1.." + std::to_string(sizeof(addr.sun_path) - 1));
  }
  std::memcpy(addr.sun_path, options_.socket_path.data(), options_.socket_path.size());
  ::unlink(options_.socket_path.c_str());
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return UnavailableError(std::string("socket: ") + std::strerror(errno));
  mode_t old = ::umask(0117);  // the socket file is created 0660
  int rc = ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::umask(old);
  if (rc != 0) return UnavailableError("bind " + options_.socket_path + ": " + std::strerror(errno));
  if (::chmod(options_.socket_path.c_str(), 0660) != 0) {
    return UnavailableError("chmod " + options_.socket_path + ": " + std::strerror(errno));
  }
  if (options_.socket_group && ::chown(options_.socket_path.c_str(), static_cast<uid_t>(-1), *options_.socket_group) != 0) {
    return UnavailableError("chgrp " + options_.socket_path + " to gid " + std::to_string(*options_.socket_group) +
                            ": " + std::strerror(errno));
  }
  if (::listen(listen_fd_, 128) != 0) return UnavailableError(std::string("listen: ") + std::strerror(errno));
  return OkStatus();
}

bool Server::PeerAllowed(const ucred& cred) const {
  if (cred.uid == ::geteuid()) return true;
  if (std::find(options_.allowed_uids.begin(), options_.allowed_uids.end(), cred.uid) != options_.allowed_uids.end()) {
    return true;
  }
  if (options_.allowed_gids.empty()) return false;
  auto listed = [&](gid_t g) {
    return std::find(options_.allowed_gids.begin(), options_.allowed_gids.end(), g) != options_.allowed_gids.end();
  };
  if (listed(cred.gid)) return true;
  // SO_PEERCRED carries only the primary gid: look up the account's supplementary groups.
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(cred.uid, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return false;
  std::vector<gid_t> groups(64);
  int n = static_cast<int>(groups.size());
  if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) {
    if (n <= 0 || n > 65536) return false;
    groups.resize(static_cast<size_t>(n));
    if (::getgrouplist(pw.pw_name, pw.pw_gid, groups.data(), &n) < 0) return false;
  }
  groups.resize(static_cast<size_t>(n));
  return std::any_of(groups.begin(), groups.end(), listed);
}

Result<gid_t> ResolveGroup(const std::string& name_or_gid) {
  if (name_or_gid.empty()) return InvalidArgumentError("socket_group: empty");
  if (std::all_of(name_or_gid.begin(), name_or_gid.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (name_or_gid.size() > 10) return InvalidArgumentError("socket_group: gid " + name_or_gid + " out of range");
    const unsigned long v = std::stoul(name_or_gid);
    if (v >= 0xffffffffUL) return InvalidArgumentError("socket_group: gid " + name_or_gid + " out of range");
    return static_cast<gid_t>(v);
  }
  std::vector<char> buf(16384);
  group gr{};
  group* found = nullptr;
  const int rc = ::getgrnam_r(name_or_gid.c_str(), &gr, buf.data(), buf.size(), &found);
  if (rc != 0) return UnavailableError("socket_group: looking up \"" + name_or_gid + "\": " + std::strerror(rc));
  if (found == nullptr) return NotFoundError("socket_group: no group named \"" + name_or_gid + "\"");
  return gr.gr_gid;
}

void Server::Run() {
  while (true) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      std::lock_guard<std::mutex> lock(conns_mu_);
      if (stopping_) return;
      if (errno == EMFILE || errno == ENFILE) {
        log_.Warn("accept: out of file descriptors");
        ::usleep(10000);
        continue;
      }
      log_.Error(std::string("accept: ") + std::strerror(errno));
      return;
    }
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || !PeerAllowed(cred)) {
      log_.Warn("refused connection from uid " + std::to_string(cred.uid) + " gid " + std::to_string(cred.gid) +
                " pid " + std::to_string(cred.pid) + ": not in the allow-list");
      ::close(fd);
      continue;
    }
    std::lock_guard<std::mutex> lock(conns_mu_);
    for (auto& t : finished_) t.join();
    finished_.clear();
    if (stopping_) {
      ::close(fd);
      return;
    }
    conns_.emplace(fd, std::thread([this, fd] {
      ServeConnection(fd);
      std::lock_guard<std::mutex> l(conns_mu_);
      auto it = conns_.find(fd);
      if (it != conns_.end()) {
        finished_.push_back(std::move(it->second));
        conns_.erase(it);
      }
      ::close(fd);
      conns_cv_.notify_all();
    }));
  }
}

void Server::RequestStop() {
  std::lock_guard<std::mutex> lock(conns_mu_);
  if (stopping_) return;
  stopping_ = true;
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  for (auto& [fd, t] : conns_) ::shutdown(fd, SHUT_RDWR);
}

void Server::Stop() {
  RequestStop();
  // Connection threads move themselves to finished_ (closing their fd under the lock) and notify.
  std::unique_lock<std::mutex> lock(conns_mu_);
  conns_cv_.wait(lock, [this] { return conns_.empty(); });
  for (auto& t : finished_) t.join();
  finished_.clear();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
    listen_fd_ = -1;
  }
}

void Server::DetachApp(const std::shared_ptr<App>& app, uint32_t pid) {
  std::shared_ptr<App> release;
  {
    std::lock_guard<std::mutex> lock(apps_mu_);
    for (auto it = apps_.begin(); it != apps_.end(); ++it) {
      if (it->second.app == app && it->first.first == pid) {
        if (--it->second.refs == 0) {
          release = it->second.app;
          apps_.erase(it);
        }
        break;
      }
    }
  }
  if (release) token_.ReleaseApp(*release);
}

void Server::ServeConnection(int fd) {
  ucred cred{};
  socklen_t len = sizeof(cred);
  ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len);
  std::shared_ptr<App> app;
  ipc::FrameReader reader(fd);
  std::unique_ptr<ipc::ShmChannel> shm;  // once attached, every message is announced in its lanes
  while (true) {
    Result<ipc::Frame> frame = [&]() -> Result<ipc::Frame> {
      if (shm) return shm->Receive(reader, options_.spin_us);
      reader.Spin(options_.spin_us);
      return reader.Read();
    }();
    if (!frame.ok()) {
      if (frame.status().code() != StatusCode::kUnavailable) {
        log_.Warn("dropping client pid " + std::to_string(cred.pid) + ": " + frame.status().ToString());
      }
      break;
    }
    const ipc::Opcode op = frame->header.opcode;
    const uint32_t id = frame->header.request_id;
    if (op == ipc::Opcode::kDoorbell) continue;  // nothing to answer (a stray one on the socket path)
    if (op == ipc::Opcode::kShmAttach) {
      if (!AttachShm(fd, app != nullptr, frame->payload, id, shm)) break;
      continue;
    }
    Bytes reply = Handle(app, static_cast<uint32_t>(cred.pid), op, frame->payload);
    if (reply.size() >= 8 && LoadU64Le(reply.data()) != CKR_OK) {
      log_.Debug("opcode " + std::to_string(static_cast<int>(op)) + " -> CK_RV 0x" +
                 HexEncode(ByteSpan(reply.data(), 4)) + " (little-endian)");
    }
    if (reply.size() > ipc::kMaxPayload) reply = RvOnly(CKR_DEVICE_MEMORY);
    Status sent = shm ? shm->Send(fd, op, id, reply) : ipc::WriteAll(fd, ipc::EncodeFrame(op, id, reply));
    if (!sent.ok()) break;
  }
  if (app) DetachApp(app, static_cast<uint32_t>(cred.pid));
}

bool Server::AttachShm(int fd, bool hello_done, ByteSpan payload, uint32_t request_id,
                       std::unique_ptr<ipc::ShmChannel>& shm) {
  auto refuse = [&](CK_RV rv) { return ipc::WriteAll(fd, ipc::EncodeFrame(ipc::Opcode::kShmAttach, request_id, RvOnly(rv))).ok(); };
  if (!payload.empty()) return refuse(CKR_ARGUMENTS_BAD);
  if (!hello_done) return refuse(CKR_CRYPTOKI_NOT_INITIALIZED);
  if (shm) return refuse(CKR_OPERATION_ACTIVE);
  if (!options_.shm) return refuse(CKR_FUNCTION_NOT_SUPPORTED);
  int memfd = -1;
  Result<std::unique_ptr<ipc::ShmChannel>> created = ipc::ShmChannel::Create(&memfd);
  if (!created.ok()) {
    log_.Warn("shared lanes unavailable, staying on the socket: " + created.status().ToString());
    return refuse(CKR_FUNCTION_NOT_SUPPORTED);
  }
  MsgWriter w;
  w.PutU64(CKR_OK);
  w.PutU64(ipc::kShmLaneBytes);
  Status sent = ipc::WriteAllWithFd(fd, ipc::EncodeFrame(ipc::Opcode::kShmAttach, request_id, w.Take()), memfd);
  ::close(memfd);
  if (!sent.ok()) return false;
  shm = std::move(*created);
  return true;
}

Bytes Server::Handle(std::shared_ptr<App>& app, uint32_t pid, Opcode op, ByteSpan payload) {
  MsgReader r(payload);
  MsgWriter w;
  auto bad = [&](const Status& s) {
    log_.Debug("bad request: " + s.ToString());
    return RvOnly(CKR_ARGUMENTS_BAD);
  };
#define VHSM_GET(lhs, expr)               \
  auto VHSM_CONCAT_(res_, __LINE__) = (expr); \
  if (!VHSM_CONCAT_(res_, __LINE__).ok()) return bad(VHSM_CONCAT_(res_, __LINE__).status()); \
  lhs = std::move(VHSM_CONCAT_(res_, __LINE__)).value()
#define VHSM_END()                                      \
  if (Status e = r.ExpectEnd("request"); !e.ok()) return bad(e)

  if (op == Opcode::kHello) {
    VHSM_GET(uint64_t version, r.GetU64("hello.version"));
    VHSM_GET(ByteSpan app_token, r.GetBytes("hello.app_token", 64));
    VHSM_END();
    if (version != ipc::kProtocolVersion) return RvOnly(CKR_DEVICE_ERROR);
    if (app) return RvOnly(CKR_CRYPTOKI_ALREADY_INITIALIZED);
    std::lock_guard<std::mutex> lock(apps_mu_);
    AppEntry& e = apps_[{pid, Bytes(app_token.begin(), app_token.end())}];
    if (!e.app) e.app = token_.NewApp();
    ++e.refs;
    app = e.app;
    w.PutU64(CKR_OK);
    w.PutU64(ipc::kProtocolVersion);
    return w.Take();
  }
  if (!app) return RvOnly(CKR_CRYPTOKI_NOT_INITIALIZED);
  App& a = *app;

  switch (op) {
    case Opcode::kGetTokenInfo: {
      VHSM_END();
      CK_TOKEN_INFO info;
      CK_RV rv = token_.GetTokenInfo(&info);
      w.PutU64(rv);
      PutPadded(w, info.label, 32);
      PutPadded(w, info.manufacturerID, 32);
      PutPadded(w, info.model, 16);
      PutPadded(w, info.serialNumber, 16);
      for (CK_ULONG v : {info.flags, info.ulMaxSessionCount, info.ulSessionCount, info.ulMaxRwSessionCount,
                         info.ulRwSessionCount, info.ulMaxPinLen, info.ulMinPinLen, info.ulTotalPublicMemory,
                         info.ulFreePublicMemory, info.ulTotalPrivateMemory, info.ulFreePrivateMemory}) {
        w.PutU64(v);
      }
      return w.Take();
    }
    case Opcode::kGetMechanismList: {
      VHSM_END();
      auto mechs = token_.engine().Mechanisms();
      w.PutU64(CKR_OK);
      w.PutU64(mechs.size());
      for (const MechanismEntry& m : mechs) {
        w.PutU64(m.type);
        w.PutU64(m.min_key);
        w.PutU64(m.max_key);
        w.PutU64(m.flags);
      }
      return w.Take();
    }
    case Opcode::kInitToken: {
      VHSM_GET(ByteSpan pin, r.GetBytes("so_pin", 256));
      VHSM_GET(ByteSpan label, r.GetBytes("label", 32));
      VHSM_END();
      return RvOnly(token_.InitToken(pin, label));
    }
    case Opcode::kInitPin: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(ByteSpan pin, r.GetBytes("pin", 256));
      VHSM_END();
      return RvOnly(token_.InitPin(a, s, pin));
    }
    case Opcode::kSetPin: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(ByteSpan old_pin, r.GetBytes("old_pin", 256));
      VHSM_GET(ByteSpan new_pin, r.GetBytes("new_pin", 256));
      VHSM_END();
      return RvOnly(token_.SetPin(a, s, old_pin, new_pin));
    }
    case Opcode::kOpenSession: {
      VHSM_GET(uint64_t flags, r.GetU64("flags"));
      VHSM_END();
      CK_SESSION_HANDLE h = 0;
      CK_RV rv = token_.OpenSession(a, flags, &h);
      w.PutU64(rv);
      w.PutU64(h);
      return w.Take();
    }
    case Opcode::kCloseSession: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_END();
      return RvOnly(token_.CloseSession(a, s));
    }
    case Opcode::kCloseAllSessions: {
      VHSM_END();
      return RvOnly(token_.CloseAllSessions(a));
    }
    case Opcode::kGetSessionInfo: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_END();
      CK_STATE state = 0;
      CK_FLAGS flags = 0;
      CK_RV rv = token_.GetSessionInfo(a, s, &state, &flags);
      w.PutU64(rv);
      w.PutU64(state);
      w.PutU64(flags);
      return w.Take();
    }
    case Opcode::kLogin: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(uint64_t user, r.GetU64("user_type"));
      VHSM_GET(ByteSpan pin, r.GetBytes("pin", 256));
      VHSM_END();
      return RvOnly(token_.Login(a, s, user, pin));
    }
    case Opcode::kLogout: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_END();
      return RvOnly(token_.Logout(a, s));
    }
    case Opcode::kCreateObject: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(ipc::WireTemplate t, r.GetTemplate("template"));
      VHSM_END();
      AttrMap m;
      CK_RV rv = ParseTemplate(t, &m);
      CK_OBJECT_HANDLE h = 0;
      if (rv == CKR_OK) rv = token_.CreateObject(a, s, m, &h);
      w.PutU64(rv);
      w.PutU64(h);
      return w.Take();
    }
    case Opcode::kDestroyObject: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(uint64_t h, r.GetU64("object"));
      VHSM_END();
      return RvOnly(token_.DestroyObject(a, s, h));
    }
    case Opcode::kGetAttributeValue: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(uint64_t h, r.GetU64("object"));
      VHSM_GET(ipc::WireTemplate t, r.GetTemplate("template"));
      VHSM_END();
      VHSM_GET(std::vector<CK_ATTRIBUTE_TYPE> types, TypesOf(t));
      std::vector<AttrResult> results;
      CK_RV rv = token_.GetAttributes(a, s, h, types, &results);
      w.PutU64(rv);
      if (rv == CKR_OK) {
        w.PutU64(results.size());
        for (const AttrResult& res : results) {
          w.PutU64(res.rv);
          w.PutBytes(res.value);
        }
      }
      return w.Take();
    }
    case Opcode::kSetAttributeValue: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(uint64_t h, r.GetU64("object"));
      VHSM_GET(ipc::WireTemplate t, r.GetTemplate("template"));
      VHSM_END();
      AttrMap m;
      CK_RV rv = ParseTemplate(t, &m);
      if (rv == CKR_OK) rv = token_.SetAttributes(a, s, h, m);
      return RvOnly(rv);
    }
    case Opcode::kGetObjectSize: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(uint64_t h, r.GetU64("object"));
      VHSM_END();
      CK_ULONG size = 0;
      CK_RV rv = token_.GetObjectSize(a, s, h, &size);
      w.PutU64(rv);
      w.PutU64(size);
      return w.Take();
    }
    case Opcode::kFindObjects: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(ipc::WireTemplate t, r.GetTemplate("template"));
      VHSM_END();
      AttrMap m;
      CK_RV rv = ParseTemplate(t, &m);
      std::vector<CK_OBJECT_HANDLE> found;
      // An unknown attribute in a search template matches nothing (it is not an error).
      if (rv == CKR_ATTRIBUTE_TYPE_INVALID) {
        rv = CKR_OK;
      } else if (rv == CKR_OK) {
        rv = token_.FindObjects(a, s, m, &found);
      }
      w.PutU64(rv);
      w.PutU64(found.size());
      for (CK_OBJECT_HANDLE h : found) w.PutU64(h);
      return w.Take();
    }
    case Opcode::kGenerateKey: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(ipc::WireMechanism mech, r.GetMechanism("mechanism"));
      VHSM_GET(ipc::WireTemplate t, r.GetTemplate("template"));
      VHSM_END();
      AttrMap m;
      CK_RV rv = ParseTemplate(t, &m);
      CK_OBJECT_HANDLE h = 0;
      if (rv == CKR_OK) rv = token_.GenerateKey(a, s, mech, m, &h);
      w.PutU64(rv);
      w.PutU64(h);
      return w.Take();
    }
    case Opcode::kGenerateKeyPair: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(ipc::WireMechanism mech, r.GetMechanism("mechanism"));
      VHSM_GET(ipc::WireTemplate pt, r.GetTemplate("public_template"));
      VHSM_GET(ipc::WireTemplate st, r.GetTemplate("private_template"));
      VHSM_END();
      AttrMap pm, sm;
      CK_RV rv = ParseTemplate(pt, &pm);
      if (rv == CKR_OK) rv = ParseTemplate(st, &sm);
      CK_OBJECT_HANDLE ph = 0, sh = 0;
      if (rv == CKR_OK) rv = token_.GenerateKeyPair(a, s, mech, pm, sm, &ph, &sh);
      w.PutU64(rv);
      w.PutU64(ph);
      w.PutU64(sh);
      return w.Take();
    }
    case Opcode::kSign:
    case Opcode::kEncrypt:
    case Opcode::kDecrypt: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(ipc::WireMechanism mech, r.GetMechanism("mechanism"));
      VHSM_GET(uint64_t key, r.GetU64("key"));
      VHSM_GET(ByteSpan data, r.GetBytes("data"));
      VHSM_END();
      Bytes out;
      CK_RV rv = op == Opcode::kSign      ? token_.Sign(a, s, mech, key, data, &out)
                 : op == Opcode::kEncrypt ? token_.Encrypt(a, s, mech, key, data, &out)
                                          : token_.Decrypt(a, s, mech, key, data, &out);
      w.PutU64(rv);
      w.PutBytes(out);
      Bytes reply = w.Take();
      if (op == Opcode::kDecrypt) OPENSSL_cleanse(out.data(), out.size());
      return reply;
    }
    case Opcode::kVerify: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(ipc::WireMechanism mech, r.GetMechanism("mechanism"));
      VHSM_GET(uint64_t key, r.GetU64("key"));
      VHSM_GET(ByteSpan data, r.GetBytes("data"));
      VHSM_GET(ByteSpan sig, r.GetBytes("signature"));
      VHSM_END();
      return RvOnly(token_.Verify(a, s, mech, key, data, sig));
    }
    case Opcode::kDigest: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(ipc::WireMechanism mech, r.GetMechanism("mechanism"));
      VHSM_GET(ByteSpan data, r.GetBytes("data"));
      VHSM_END();
      Bytes out;
      CK_RV rv = token_.Digest(a, s, mech, data, &out);
      w.PutU64(rv);
      w.PutBytes(out);
      return w.Take();
    }
    case Opcode::kGenerateRandom: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(uint64_t n, r.GetU64("length"));
      VHSM_END();
      Bytes out;
      CK_RV rv = token_.GenerateRandom(a, s, n, &out);
      w.PutU64(rv);
      w.PutBytes(out);
      return w.Take();
    }
    case Opcode::kCopyObject: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(uint64_t h, r.GetU64("object"));
      VHSM_GET(ipc::WireTemplate t, r.GetTemplate("template"));
      VHSM_END();
      AttrMap m;
      CK_RV rv = ParseTemplate(t, &m);
      CK_OBJECT_HANDLE out = 0;
      if (rv == CKR_OK) rv = token_.CopyObject(a, s, h, m, &out);
      w.PutU64(rv);
      w.PutU64(out);
      return w.Take();
    }
    case Opcode::kWrapKey: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(ipc::WireMechanism mech, r.GetMechanism("mechanism"));
      VHSM_GET(uint64_t wk, r.GetU64("wrapping_key"));
      VHSM_GET(uint64_t key, r.GetU64("key"));
      VHSM_END();
      Bytes out;
      CK_RV rv = token_.WrapKey(a, s, mech, wk, key, &out);
      w.PutU64(rv);
      w.PutBytes(out);
      return w.Take();
    }
    case Opcode::kUnwrapKey: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(ipc::WireMechanism mech, r.GetMechanism("mechanism"));
      VHSM_GET(uint64_t uk, r.GetU64("unwrapping_key"));
      VHSM_GET(ByteSpan wrapped, r.GetBytes("wrapped_key", ipc::kMaxAttributeValue));
      VHSM_GET(ipc::WireTemplate t, r.GetTemplate("template"));
      VHSM_END();
      AttrMap m;
      CK_RV rv = ParseTemplate(t, &m);
      CK_OBJECT_HANDLE out = 0;
      if (rv == CKR_OK) rv = token_.UnwrapKey(a, s, mech, uk, wrapped, m, &out);
      w.PutU64(rv);
      w.PutU64(out);
      return w.Take();
    }
    case Opcode::kDeriveKey: {
      VHSM_GET(uint64_t s, r.GetU64("session"));
      VHSM_GET(ipc::WireMechanism mech, r.GetMechanism("mechanism"));
      VHSM_GET(uint64_t base, r.GetU64("base_key"));
      VHSM_GET(ipc::WireTemplate t, r.GetTemplate("template"));
      VHSM_END();
      AttrMap m;
      CK_RV rv = ParseTemplate(t, &m);
      CK_OBJECT_HANDLE out = 0;
      if (rv == CKR_OK) rv = token_.DeriveKey(a, s, mech, base, m, &out);
      w.PutU64(rv);
      w.PutU64(out);
      return w.Take();
    }
    default:
      return RvOnly(CKR_FUNCTION_NOT_SUPPORTED);
  }
#undef VHSM_GET
#undef VHSM_END
}

}  // namespace vhsm::hsm
