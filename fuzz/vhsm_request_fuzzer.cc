// vhsm_request_fuzzer: whole request payloads into vhsmd's dispatcher (Server::Handle) after a
// hello, over a real Token and SealedStore in a temp dir: template parsing, attribute policy and
// every decoder a client can reach. First input byte picks the opcode. Property: no crash, and
// every reply starts with a CK_RV.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "base/byte_reader.h"
#include "base/log.h"
#include "ipc/codec.h"
#include "vhsm/engine.h"
#include "vhsm/insecure_dev_firmware.h"
#include "vhsm/sealed_store.h"
#include "vhsm/server.h"
#include "vhsm/token.h"

using namespace vhsm;       // NOLINT
using namespace vhsm::hsm;  // NOLINT

namespace {
struct World {
  Logger log{LogLevel::kError};
  std::unique_ptr<InsecureDevFirmware> fw;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<SealedStore> store;
  std::unique_ptr<Token> token;
  std::unique_ptr<Server> server;
  std::shared_ptr<App> app;
  CK_SESSION_HANDLE session = 0;
};

World* Setup() {
  auto* w = new World();
  char tmpl[] = "/tmp/vhsm-fuzz-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  w->fw = std::move(InsecureDevFirmware::Open(dir + "/platform")).value();
  w->engine = std::move(Engine::Create()).value();
  snp::DerivedKeyRequest req;
  w->store = std::move(SealedStore::Open(dir + "/t.sqlite", *w->fw, req)).value();
  TokenOptions o;
  o.pbkdf2_iterations = 1;
  w->token = std::move(Token::Open(*w->store, *w->engine, o, w->log)).value();
  w->server = std::make_unique<Server>(*w->token, w->log, ServerOptions{});
  ipc::MsgWriter hello;
  hello.PutU64(ipc::kProtocolVersion);
  hello.PutBytes(Bytes(16, 1));
  Bytes hb = hello.Take();
  w->server->Handle(w->app, 1, ipc::Opcode::kHello, hb);
  Bytes label(32, ' ');
  w->token->InitToken(AsBytes("so-pin-1"), label);
  w->token->OpenSession(*w->app, CKF_SERIAL_SESSION | CKF_RW_SESSION, &w->session);
  w->token->Login(*w->app, w->session, CKU_SO, AsBytes("so-pin-1"));
  w->token->InitPin(*w->app, w->session, AsBytes("1234"));
  w->token->Logout(*w->app, w->session);
  w->token->Login(*w->app, w->session, CKU_USER, AsBytes("1234"));
  return w;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* w = Setup();
  if (size < 1) return 0;
  auto op = static_cast<ipc::Opcode>(data[0] % static_cast<uint8_t>(ipc::Opcode::kMaxOpcode) + 1);
  // Keep the token usable across inputs: no re-init, no logout, no session teardown.
  if (op == ipc::Opcode::kInitToken || op == ipc::Opcode::kLogout || op == ipc::Opcode::kCloseAllSessions ||
      op == ipc::Opcode::kHello || op == ipc::Opcode::kSetPin || op == ipc::Opcode::kInitPin ||
      op == ipc::Opcode::kLogin || op == ipc::Opcode::kCloseSession) {
    return 0;
  }
  // Let inputs name the live session: bytes 1..8 are replaced by its handle when they are zero.
  Bytes payload(data + 1, data + size);
  if (payload.size() >= 8 && LoadU64Le(payload.data()) == 0) StoreU64Le(payload.data(), w->session);
  Bytes reply = w->server->Handle(w->app, 1, op, payload);
  if (reply.size() < 8) std::abort();
  return 0;
}
