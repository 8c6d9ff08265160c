// vhsmd: the vHSM daemon. Parses flags (and an optional key=value config file), hardens the
// process, opens the platform firmware, the sealed token store and the token, then serves the
// PKCS#11 protocol on a Unix socket. Prints "listening on unix:PATH" once ready.
//   vhsmd --socket PATH --store DIR --platform auto|sev-guest|configfs-tsm|sim [--sim-state DIR] [--config F]
//         [--admin-socket PATH]
// --admin-socket (or config admin_socket): on-demand provisioning and status for `vhsm provision`
// (mode 0600, root or vhsmd's uid only; see provisioner/admin_server.h).
// Config keys: allowed_uids, allowed_gids (comma lists), socket_group (name or gid the socket file
// is chgrp'd to, so that group can reach it), spin_us (poll for a client's next request this long
// before sleeping; 50, 0 disables), shm (true|false, default true: offer clients shared-memory
// lanes, see ipc/shm_channel.h), max_pin_failures, pbkdf2_iterations,
// seal_fields (comma list of measurement, policy, image_id, family_id, guest_svn, tcb_version),
// secure_heap_mb (32; 0 disables: the mlock'ed, never-dumped arena for key material, see
// base/secret_bytes.h), log_level (debug|info|warning|error).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "base/log.h"
#include "base/secret_bytes.h"
#include "provisioner/admin_server.h"
#include "provisioner/on_demand.h"
#include "provisioner/startup.h"
#include "snp/firmware.h"
#include "snp/platform.h"
#include "vhsm/engine.h"
#include "vhsm/hardening.h"
#include "vhsm/insecure_dev_firmware.h"
#include "vhsm/sealed_store.h"
#include "vhsm/server.h"
#include "vhsm/token.h"
#ifdef VHSM_HAVE_SIM
#include "sim/sim_firmware.h"
#endif

namespace {

using vhsm::Result;
using vhsm::Status;

struct Flags {
  std::string socket;
  std::string store;
  std::string platform;
  std::string sim_state;
  std::string admin_socket;
  std::map<std::string, std::string> config;
};

int Usage(const std::string& why) {
  std::cerr << "vhsmd: " << why << "\n"
            << "usage: vhsmd --socket PATH --store DIR --platform auto|sev-guest|configfs-tsm|sim [--sim-state DIR] [--config F] [--admin-socket PATH]\n";
  return 2;
}

Status ReadConfig(const std::string& path, std::map<std::string, std::string>* out) {
  std::ifstream in(path);
  if (!in) return vhsm::UnavailableError("--config: cannot read " + path);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    auto eq = line.find('=');
    auto trim = [](std::string s) {
      const char* ws = " \t\r\"";
      s.erase(0, s.find_first_not_of(ws));
      s.erase(s.find_last_not_of(ws) + 1);
      return s;
    };
    if (trim(line).empty()) continue;
    if (eq == std::string::npos) return vhsm::InvalidArgumentError(path + ":" + std::to_string(n) + ": want key = value");
    (*out)[trim(line.substr(0, eq))] = trim(line.substr(eq + 1));
  }
  return vhsm::OkStatus();
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Result<uint64_t> SealFields(const std::string& spec) {
  namespace fs = vhsm::snp::field_select;
  uint64_t mask = 0;
  for (const std::string& f : SplitComma(spec)) {
    if (f == "measurement") mask |= fs::kMeasurement;
    else if (f == "policy") mask |= fs::kGuestPolicy;
    else if (f == "image_id") mask |= fs::kImageId;
    else if (f == "family_id") mask |= fs::kFamilyId;
    else if (f == "guest_svn") mask |= fs::kGuestSvn;
    else if (f == "tcb_version") mask |= fs::kTcbVersion;
    else return vhsm::InvalidArgumentError("seal_fields: unknown field \"" + f + "\"");
  }
  return mask;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&](std::string* dst) {
      if (i + 1 >= argc) return false;
      *dst = argv[++i];
      return true;
    };
    bool ok = true;
    if (a == "--socket") ok = next(&flags.socket);
    else if (a == "--store") ok = next(&flags.store);
    else if (a == "--platform") ok = next(&flags.platform);
    else if (a == "--sim-state") ok = next(&flags.sim_state);
    else if (a == "--config") ok = next(&config_path);
    else if (a == "--admin-socket") ok = next(&flags.admin_socket);
    else if (a == "--help" || a == "-h") return Usage("help");
    else return Usage("unknown flag " + a);
    if (!ok) return Usage(a + " needs a value");
  }
  if (!config_path.empty()) {
    if (Status s = ReadConfig(config_path, &flags.config); !s.ok()) return Usage(s.ToString());
  }
  if (flags.socket.empty()) flags.socket = flags.config.count("socket") ? flags.config["socket"] : "";
  if (flags.store.empty()) flags.store = flags.config.count("store") ? flags.config["store"] : "";
  if (flags.platform.empty()) flags.platform = flags.config.count("platform") ? flags.config["platform"] : "auto";
  if (flags.sim_state.empty() && flags.config.count("sim_state")) flags.sim_state = flags.config["sim_state"];
  if (flags.admin_socket.empty() && flags.config.count("admin_socket")) flags.admin_socket = flags.config["admin_socket"];
  if (flags.socket.empty() || flags.store.empty()) return Usage("--socket and --store are required");

  vhsm::LogLevel level = vhsm::LogLevel::kInfo;
  if (flags.config["log_level"] == "debug") level = vhsm::LogLevel::kDebug;
  if (flags.config["log_level"] == "warning") level = vhsm::LogLevel::kWarning;
  if (flags.config["log_level"] == "error") level = vhsm::LogLevel::kError;
  vhsm::Logger log(level);

  vhsm::hsm::HardeningResult hard = vhsm::hsm::HardenProcess();
  if (!hard.notes.empty()) log.Warn("hardening: " + hard.notes);
  // Key material (every SecretBytes) goes to the secret arena: a separate mlock'ed, MADV_DONTDUMP
  // mapping (base/secret_bytes.h). Set up before any key exists.
  {
    unsigned long mb = 32;
    if (flags.config.count("secure_heap_mb")) {
      try {
        mb = std::stoul(flags.config["secure_heap_mb"]);
      } catch (const std::exception&) {
        return Usage("config: secure_heap_mb: not a number");
      }
      if (mb > 65536) return Usage("config: secure_heap_mb: got " + std::to_string(mb) + ", want 0..65536");
    }
    if (mb > 0) {
      std::string err;
      if (!vhsm::InitSecureHeap(static_cast<size_t>(mb) << 20, &err)) {
        log.Warn("secure heap: " + err + "; key material stays in the ordinary heap");
      } else {
        const vhsm::SecureHeapStatus sh = vhsm::GetSecureHeapStatus();
        const std::string size = std::to_string(sh.size >> 20) + " MiB";
        if (sh.locked) {
          log.Info("secure heap: " + size + ", locked in memory, excluded from core dumps");
        } else {
          log.Warn("secure heap: " + size + ", excluded from core dumps but NOT locked (mlock failed: raise "
                   "RLIMIT_MEMLOCK, e.g. LimitMEMLOCK=infinity, or grant CAP_IPC_LOCK)");
        }
      }
    }
  }

  std::unique_ptr<vhsm::snp::Firmware> firmware;
  if (flags.platform == "insecure-dev") {
    // A sealing key from a plain seed file protects nothing: only development builds offer it.
#ifdef VHSM_INSECURE_DEV_PLATFORM
    if (flags.sim_state.empty()) return Usage("--platform insecure-dev needs --sim-state DIR");
    auto fw = vhsm::hsm::InsecureDevFirmware::Open(flags.sim_state);
    if (!fw.ok()) return Usage(fw.status().ToString());
    firmware = std::move(*fw);
    log.Warn("platform insecure-dev: sealing key comes from a plain file; for development only");
#else
    return Usage("--platform insecure-dev: not in this build (it seals with a key from a plain file; configure "
                 "with -DVHSM_INSECURE_DEV_PLATFORM=ON for development); use sim, auto, sev-guest or configfs-tsm");
#endif
  } else if (flags.platform == "sim") {
#ifdef VHSM_HAVE_SIM
    if (flags.sim_state.empty()) return Usage("--platform sim needs --sim-state DIR");
    auto fw = vhsm::sim::SimFirmware::Open(flags.sim_state);
    if (!fw.ok()) return Usage(fw.status().ToString());
    firmware = std::move(*fw);
#else
    return Usage("--platform sim: this build has no simulator");
#endif
  } else if (flags.platform == "auto" || flags.platform == "sev-guest" || flags.platform == "configfs-tsm") {
    // The real guest interfaces; "auto" never falls back to the simulator.
    vhsm::snp::PlatformOptions po;
    po.platform = flags.platform;
    auto fw = vhsm::snp::OpenFirmware(po);
    if (!fw.ok()) {
      std::cerr << "vhsmd: --platform " << flags.platform << ": " << fw.status().ToString() << "\n";
      return 1;
    }
    firmware = std::move(*fw);
  } else {
    return Usage("--platform: got \"" + flags.platform + "\", want auto, sev-guest, configfs-tsm or sim");
  }

  vhsm::snp::DerivedKeyRequest request;
  auto fields = SealFields(flags.config.count("seal_fields") ? flags.config["seal_fields"] : "measurement,policy");
  if (!fields.ok()) return Usage(fields.status().ToString());
  request.guest_field_select = *fields;

  vhsm::hsm::TokenOptions topts;
  vhsm::hsm::ServerOptions sopts;
  sopts.socket_path = flags.socket;
  try {
    if (flags.config.count("max_pin_failures")) topts.max_pin_failures = static_cast<uint32_t>(std::stoul(flags.config["max_pin_failures"]));
    if (flags.config.count("pbkdf2_iterations")) topts.pbkdf2_iterations = static_cast<uint32_t>(std::stoul(flags.config["pbkdf2_iterations"]));
    for (const auto& u : SplitComma(flags.config["allowed_uids"])) sopts.allowed_uids.push_back(static_cast<uid_t>(std::stoul(u)));
    for (const auto& g : SplitComma(flags.config["allowed_gids"])) sopts.allowed_gids.push_back(static_cast<gid_t>(std::stoul(g)));
    if (flags.config.count("spin_us")) {
      const unsigned long v = std::stoul(flags.config["spin_us"]);
      if (v > 10000) return Usage("config: spin_us: got " + std::to_string(v) + ", want 0..10000");
      sopts.spin_us = static_cast<unsigned>(v);
    }
  } catch (const std::exception& e) {
    return Usage(std::string("config: bad number: ") + e.what());
  }
  if (flags.config.count("shm")) {
    const std::string& v = flags.config["shm"];
    if (v != "true" && v != "false") return Usage("config: shm: got \"" + v + "\", want true or false");
    sopts.shm = v == "true";
  }

  if (flags.config.count("socket_group")) {
    auto gid = vhsm::hsm::ResolveGroup(flags.config["socket_group"]);
    if (!gid.ok()) return Usage(gid.status().ToString());
    sopts.socket_group = *gid;
  }

  std::error_code ec;
  std::filesystem::create_directories(flags.store, ec);
  std::filesystem::permissions(flags.store, std::filesystem::perms::owner_all, ec);
  auto engine = vhsm::hsm::Engine::Create();
  if (!engine.ok()) return Usage(engine.status().ToString());
  auto store = vhsm::hsm::SealedStore::Open(flags.store + "/token0.sqlite", *firmware, request);
  if (!store.ok()) {
    std::cerr << "vhsmd: cannot open token store: " << store.status().ToString() << "\n";
    return 1;
  }
  // Resources listed in the config are attested for, fetched and sealed before the token loads.
  std::string startup_outcome;
  if (Status s = vhsm::provisioner::ProvisionAtStart(flags.config, *firmware, **store, **engine, log, &startup_outcome);
      !s.ok()) {
    std::cerr << "vhsmd: provisioning failed: " << s.ToString() << "\n";
    return 1;
  }
  auto token = vhsm::hsm::Token::Open(**store, **engine, topts, log);
  if (!token.ok()) {
    std::cerr << "vhsmd: cannot load token: " << token.status().ToString() << "\n";
    return 1;
  }
  if (const vhsm::SecureHeapStatus sh = vhsm::GetSecureHeapStatus(); sh.initialised) {
    const std::string line = "secure heap: " + std::to_string((sh.used + 1023) >> 10) + " KiB of " +
                             std::to_string(sh.size >> 20) + " MiB in use after loading the token";
    if (sh.fallbacks > 0) {
      log.Warn(line + "; " + std::to_string(sh.fallbacks) +
               " secrets did not fit and are in the ordinary heap: raise secure_heap_mb");
    } else {
      log.Info(line);
    }
  }
  // On-demand provisioning into the live token through the admin socket.
  std::unique_ptr<vhsm::provisioner::OnDemandProvisioner> on_demand;
  std::unique_ptr<vhsm::provisioner::AdminServer> admin;
  if (!flags.admin_socket.empty()) {
    auto pcfg = vhsm::provisioner::ParseStartupConfig(flags.config);
    if (!pcfg.ok()) return Usage(pcfg.status().ToString());
    on_demand = std::make_unique<vhsm::provisioner::OnDemandProvisioner>(std::move(*pcfg), *firmware, **token, log,
                                                                         startup_outcome);
    vhsm::provisioner::AdminServerOptions aopts;
    aopts.socket_path = flags.admin_socket;
    admin = std::make_unique<vhsm::provisioner::AdminServer>(
        aopts, [&on_demand](std::string_view body) { return on_demand->Handle(body); }, log);
    // The admin thread must not take SIGTERM/SIGINT (their default action would end vhsmd without
    // a clean stop): it starts with them blocked; below, the main thread blocks them too and one
    // thread waits for them.
    sigset_t stop_signals, old_mask;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
    Status started = admin->Start();
    pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    if (Status s = started; !s.ok()) {
      std::cerr << "vhsmd: " << s.ToString() << "\n";
      return 1;
    }
    log.Info("admin socket on unix:" + flags.admin_socket);
  }
  vhsm::hsm::Server server(**token, log, sopts);
  if (Status s = server.Listen(); !s.ok()) {
    std::cerr << "vhsmd: " << s.ToString() << "\n";
    return 1;
  }
  // SIGTERM/SIGINT: a dedicated thread waits for them and stops the server.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // It only asks the server to stop; main waits for the connections, then joins it (waking it
  // with SIGTERM if Run() ended for another reason), so nothing outlives `server`.
  std::thread waiter([set, &server] {
    int sig = 0;
    sigwait(&set, &sig);
    server.RequestStop();
  });
  std::printf("listening on unix:%s\n", flags.socket.c_str());
  std::fflush(stdout);
  server.Run();
  server.Stop();
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (admin) admin->Stop();
  return 0;
}
