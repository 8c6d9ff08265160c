// Unit tests for src/provisioner: secret validation per key type, resource paths, the REPORT_DATA
// binding (ARCHITECTURE.md known answer for the JCS+SHA-384 step), startup config parsing, and
// import into a SealedStore (attributes, replace/refuse, reload through hsm::Token), atomicity of
// a pair import against a process that dies mid-transaction (fork + _exit), import into a live
// Token, the admin-socket request parser and the admin socket's mode and framing. The RCAR
// exchange itself is tested against the real services in tests/integration.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>

#include "base/bytes.h"
#include "base/log.h"
#include "crypto/digest.h"
#include "crypto/keys.h"
#include "jose/jcs.h"
#include "jose/jwk.h"
#include "provisioner/admin_protocol.h"
#include "provisioner/admin_server.h"
#include "provisioner/import.h"
#include "provisioner/provisioner.h"
#include "provisioner/secret.h"
#include "provisioner/startup.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"
#include "vhsm/engine.h"
#include "vhsm/object.h"
#include "vhsm/sealed_store.h"
#include "vhsm/token.h"

namespace vhsm::provisioner {
namespace {

using ::testing::HasSubstr;

SecretBytes Raw(size_t n, uint8_t fill = 0x42) { return SecretBytes(Bytes(n, fill)); }

TEST(ValidateSecret, AesLengths) {
  for (size_t n : {16u, 24u, 32u}) {
    ASSERT_OK_AND_ASSIGN(ValidatedSecret v, ValidateSecret(SecretKeyType::kAes, Raw(n)));
    EXPECT_EQ(v.bits, static_cast<int>(n * 8));
    EXPECT_EQ(v.material.size(), n);
  }
  for (size_t n : {0u, 15u, 20u, 33u, 64u}) {
    auto r = ValidateSecret(SecretKeyType::kAes, Raw(n));
    EXPECT_THAT(r.status(), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
    EXPECT_THAT(r.status().message(), HasSubstr("got " + std::to_string(n) + " bytes, want 16, 24 or 32"));
  }
}

TEST(ValidateSecret, HmacBounds) {
  EXPECT_OK(ValidateSecret(SecretKeyType::kHmac, Raw(16)).status());
  EXPECT_OK(ValidateSecret(SecretKeyType::kGeneric, Raw(512)).status());
  EXPECT_THAT(ValidateSecret(SecretKeyType::kHmac, Raw(15)).status(), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(ValidateSecret(SecretKeyType::kHmac, Raw(513)).status(), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
}

TEST(ValidateSecret, EcAndRsaPkcs8) {
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey ec, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
  ASSERT_OK_AND_ASSIGN(SecretBytes der, ec.ToPkcs8Der());
  ASSERT_OK_AND_ASSIGN(SecretBytes pem, ec.ToPem());
  ASSERT_OK_AND_ASSIGN(ValidatedSecret v1, ValidateSecret(SecretKeyType::kEc, der.Clone()));
  EXPECT_EQ(v1.curve, crypto::EcCurve::kP256);
  ASSERT_OK_AND_ASSIGN(ValidatedSecret v2, ValidateSecret(SecretKeyType::kEc, std::move(pem)));
  // PEM is normalised to the same PKCS#8 DER.
  EXPECT_TRUE(ConstantTimeEquals(v1.material.Expose(), v2.material.Expose()));
  // An EC key requested as RSA, and random bytes as EC, are refused with a reason.
  auto wrong = ValidateSecret(SecretKeyType::kRsa, der.Clone());
  EXPECT_THAT(wrong.status(), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_THAT(wrong.status().message(), HasSubstr("got a EC P-256 private key, want RSA"));
  EXPECT_THAT(ValidateSecret(SecretKeyType::kEc, Raw(32)).status(), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
}

TEST(ResourcePath, ParseAndReject) {
  ASSERT_OK_AND_ASSIGN(ResourcePath p, ParseResourcePath("demo/key/aes-256"));
  EXPECT_EQ(p.repo, "demo");
  EXPECT_EQ(p.tag, "aes-256");
  EXPECT_EQ(p.ToString(), "demo/key/aes-256");
  for (const char* bad : {"", "a/b", "a/b/c/d", "a//c", "../b/c", "a/b/c?x", "a/b/ c"}) {
    EXPECT_THAT(ParseResourcePath(bad).status(), StatusIs(StatusCode::kInvalidArgument, ::testing::_)) << bad;
  }
}

TEST(Binding, JcsSha384KnownAnswerFromArchitecture) {
  nlohmann::json obj = nlohmann::json::parse(R"({"b":1,"a":"test","c":{"d":"e"}})");
  ASSERT_OK_AND_ASSIGN(std::string canonical, jose::Canonicalize(obj));
  EXPECT_EQ(HexEncode(crypto::Sha384(AsBytes(canonical))),
            "e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3");
}

TEST(Binding, ReportDataIsSha384OfCanonicalRuntimeDataThenZeros) {
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey k, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
  ASSERT_OK_AND_ASSIGN(nlohmann::json jwk, jose::PublicKeyToJwk(k.Public()));
  const std::string nonce = "q83vAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw=";
  ASSERT_OK_AND_ASSIGN(auto rd, BindingReportData(nonce, jwk, ""));
  // Built by hand: members in code-unit order, no whitespace.
  ASSERT_OK_AND_ASSIGN(std::string key_text, jose::Canonicalize(jwk));
  const std::string text = "{\"additional-evidence\":\"\",\"nonce\":\"" + nonce + "\",\"tee-pubkey\":" + key_text + "}";
  Bytes want = crypto::Sha384(AsBytes(text));
  EXPECT_EQ(HexEncode(ByteSpan(rd.data(), 48)), HexEncode(want));
  EXPECT_TRUE(IsAllZero(ByteSpan(rd.data() + 48, 16)));
  // Any change of nonce or key changes it.
  ASSERT_OK_AND_ASSIGN(auto rd2, BindingReportData(nonce + "x", jwk, ""));
  EXPECT_NE(rd, rd2);
}

TEST(StartupConfig, ParsesEntriesAndRejectsBadOnes) {
  std::map<std::string, std::string> c = {
      {"attestation_url", "http://127.0.0.1:1"},
      {"provisioning_url", "http://127.0.0.1:2"},
      {"provision", "demo/key/aes:app-aes:aes, demo/key/ec:app-ec:ec:0a0b"},
      {"provision_on_duplicate", "replace"},
      {"provision_ephemeral_key", "p384"}};
  ASSERT_OK_AND_ASSIGN(StartupConfig cfg, ParseStartupConfig(c));
  ASSERT_EQ(cfg.resources.size(), 2u);
  EXPECT_EQ(cfg.resources[1].import.label, "app-ec");
  EXPECT_EQ(cfg.resources[1].import.id, (Bytes{0x0a, 0x0b}));
  EXPECT_EQ(cfg.resources[1].request.key_type, SecretKeyType::kEc);
  EXPECT_EQ(cfg.resources[0].import.on_duplicate, OnDuplicate::kReplace);
  EXPECT_EQ(cfg.provisioner.ephemeral, EphemeralKeyKind::kP384);
  c["provision"] = "demo/key/aes:app-aes:des";
  EXPECT_THAT(ParseStartupConfig(c).status(), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  c["provision"] = "demo/key:app:aes";
  EXPECT_THAT(ParseStartupConfig(c).status(), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  c.erase("attestation_url");
  c["provision"] = "demo/key/aes:app-aes:aes";
  EXPECT_THAT(ParseStartupConfig(c).status(), StatusIs(StatusCode::kInvalidArgument, ::testing::_));
  EXPECT_OK(ParseStartupConfig({}).status());
}

// A platform whose derived key depends on a "measurement" byte.
class FakeFirmware : public snp::Firmware {
 public:
  explicit FakeFirmware(uint8_t m) : m_(m) {}
  std::string_view Name() const override { return "fake"; }
  Result<snp::ReportResponse> GetReport(std::span<const uint8_t, 64>, uint32_t) override {
    return UnimplementedError("fake");
  }
  Result<SecretBytes> GetDerivedKey(const snp::DerivedKeyRequest&) override { return SecretBytes(Bytes(32, m_)); }
  Result<snp::CertificateSet> GetCertificates() override { return snp::CertificateSet{}; }

 private:
  uint8_t m_;
};

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(engine_, hsm::Engine::Create());
    Reopen();
  }
  void Reopen() {
    store_.reset();
    snp::DerivedKeyRequest req;
    req.guest_field_select = snp::field_select::kMeasurement;
    ASSERT_OK_AND_ASSIGN(store_, hsm::SealedStore::Open(dir_.Join("t.sqlite"), fw_, req));
  }
  ProvisionedSecret Secret(SecretKeyType type, SecretBytes raw, const std::string& tag) {
    ProvisionedSecret s;
    s.path = ResourcePath{"demo", "key", tag};
    auto v = ValidateSecret(type, std::move(raw));
    EXPECT_OK(v.status());
    s.secret = std::move(*v);
    s.jti = "jti-" + tag;
    return s;
  }
  std::map<uint64_t, hsm::Object> Objects() {
    std::map<uint64_t, hsm::Object> out;
    EXPECT_OK(store_->ForEachObject([&](uint64_t id, SecretBytes body) -> Status {
      hsm::Object o;
      Status s = hsm::ParseObjectBody(body.Expose(), &o);
      out.emplace(id, std::move(o));
      return s;
    }));
    return out;
  }

  testdata::TempDir dir_;
  FakeFirmware fw_{1};
  std::unique_ptr<hsm::Engine> engine_;
  std::unique_ptr<hsm::SealedStore> store_;
};

TEST_F(ImportTest, AesKeyIsSensitiveTokenObjectWithVendorAttributes) {
  ImportOptions opt{"app-aes", {}, OnDuplicate::kRefuse, nullptr};
  ASSERT_OK_AND_ASSIGN(ImportResult r, ImportProvisioned(*store_, *engine_, Secret(SecretKeyType::kAes, Raw(32), "a"), opt));
  ASSERT_EQ(r.object_ids.size(), 1u);
  auto objs = Objects();
  ASSERT_EQ(objs.size(), 1u);
  const hsm::Object& o = objs.begin()->second;
  EXPECT_EQ(o.cls(), static_cast<CK_ULONG>(CKO_SECRET_KEY));
  EXPECT_EQ(o.key_type(), static_cast<CK_ULONG>(CKK_AES));
  EXPECT_TRUE(o.GetBool(CKA_TOKEN));
  EXPECT_TRUE(o.GetBool(CKA_SENSITIVE));
  EXPECT_FALSE(o.GetBool(CKA_EXTRACTABLE, true));
  EXPECT_TRUE(o.GetBool(CKA_ENCRYPT));
  EXPECT_EQ(*o.Get(kCkaVhsmResource), ToBytes("demo/key/a"));
  EXPECT_EQ(*o.Get(kCkaVhsmTokenJti), ToBytes("jti-a"));
  EXPECT_EQ(o.secret.size(), 32u);
  // Same label again: refused, nothing changes.
  auto again = ImportProvisioned(*store_, *engine_, Secret(SecretKeyType::kAes, Raw(16), "b"), opt);
  EXPECT_THAT(again.status(), StatusIs(StatusCode::kAlreadyExists, ::testing::_));
  EXPECT_EQ(Objects().begin()->second.secret.size(), 32u);
}

TEST_F(ImportTest, ReplaceKeepsIdAndSwapsMaterial) {
  ImportOptions opt{"k", {}, OnDuplicate::kReplace, nullptr};
  ASSERT_OK_AND_ASSIGN(ImportResult r1, ImportProvisioned(*store_, *engine_, Secret(SecretKeyType::kAes, Raw(32, 1), "a"), opt));
  ASSERT_OK_AND_ASSIGN(ImportResult r2, ImportProvisioned(*store_, *engine_, Secret(SecretKeyType::kAes, Raw(16, 2), "b"), opt));
  EXPECT_TRUE(r2.replaced);
  EXPECT_EQ(r1.object_ids, r2.object_ids);
  auto objs = Objects();
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs.begin()->second.secret.size(), 16u);
  EXPECT_EQ(*objs.begin()->second.Get(kCkaVhsmTokenJti), ToBytes("jti-b"));
}

TEST_F(ImportTest, EcKeyBecomesPairThatTheTokenLoadsAndSignsWith) {
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey ec, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
  ASSERT_OK_AND_ASSIGN(SecretBytes der, ec.ToPkcs8Der());
  ImportOptions opt{"app-ec", {0x01, 0x02}, OnDuplicate::kReplace, nullptr};
  ASSERT_OK_AND_ASSIGN(ImportResult r, ImportProvisioned(*store_, *engine_, Secret(SecretKeyType::kEc, std::move(der), "e"), opt));
  ASSERT_EQ(r.object_ids.size(), 2u);
  auto objs = Objects();
  ASSERT_EQ(objs.size(), 2u);
  hsm::Object& priv = objs[r.object_ids[0]];
  hsm::Object& pub = objs[r.object_ids[1]];
  EXPECT_EQ(priv.cls(), static_cast<CK_ULONG>(CKO_PRIVATE_KEY));
  EXPECT_EQ(pub.cls(), static_cast<CK_ULONG>(CKO_PUBLIC_KEY));
  EXPECT_EQ(*priv.Get(CKA_ID), (Bytes{0x01, 0x02}));
  EXPECT_EQ(*pub.Get(CKA_ID), (Bytes{0x01, 0x02}));
  ASSERT_OK(engine_->Prepare(&priv));
  ASSERT_OK(engine_->Prepare(&pub));
  ipc::WireMechanism mech;
  mech.type = CKM_ECDSA_SHA256;
  Bytes sig;
  ASSERT_EQ(engine_->Sign(mech, priv, AsBytes("hello"), &sig), static_cast<CK_RV>(CKR_OK));
  EXPECT_EQ(engine_->Verify(mech, pub, AsBytes("hello"), sig), static_cast<CK_RV>(CKR_OK));
  // The public object matches the provisioned key.
  ASSERT_OK(ec.Public().Verify(crypto::SignatureScheme::kEcdsaSha256, AsBytes("hello"), sig,
                               crypto::EcdsaFormat::kRawRs));
  // The whole token loads the imported objects after a reopen.
  Reopen();
  Logger log(LogLevel::kError);
  ASSERT_OK_AND_ASSIGN(auto token, hsm::Token::Open(*store_, *engine_, hsm::TokenOptions{}, log));
  // Replacing the EC pair with an AES key removes the public half.
  ASSERT_OK(ImportProvisioned(*store_, *engine_, Secret(SecretKeyType::kAes, Raw(32), "x"), opt).status());
  EXPECT_EQ(Objects().size(), 1u);
}

TEST_F(ImportTest, StoreFromAnotherMeasurementDoesNotOpen) {
  ASSERT_OK(ImportProvisioned(*store_, *engine_, Secret(SecretKeyType::kAes, Raw(32), "a"), ImportOptions{"k", {}, OnDuplicate::kReplace, nullptr}).status());
  store_.reset();
  FakeFirmware other(2);
  snp::DerivedKeyRequest req;
  req.guest_field_select = snp::field_select::kMeasurement;
  EXPECT_THAT(hsm::SealedStore::Open(dir_.Join("t.sqlite"), other, req).status(),
              StatusIs(StatusCode::kPermissionDenied, ::testing::_));
}

// A child process opens the store, starts importing, and dies (_exit) after the first row of the
// batch was written inside the transaction. Returns the child's exit status.
int ImportAndDieAfterFirstWrite(const std::string& path, const hsm::Engine& engine, ProvisionedSecret secret,
                                ImportOptions opt) {
  pid_t pid = ::fork();
  if (pid == 0) {
    FakeFirmware fw(1);
    snp::DerivedKeyRequest req;
    req.guest_field_select = snp::field_select::kMeasurement;
    auto store = hsm::SealedStore::Open(path, fw, req);
    if (!store.ok()) ::_exit(3);
    opt.after_write = [](size_t i) {
      if (i == 0) ::_exit(42);
    };
    (void)ImportProvisioned(**store, engine, secret, opt);
    ::_exit(4);  // the hook did not run: the import wrote fewer than two rows
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST_F(ImportTest, PairImportKilledMidTransactionLeavesNothing) {
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey ec, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
  ASSERT_OK_AND_ASSIGN(SecretBytes der, ec.ToPkcs8Der());
  ProvisionedSecret s = Secret(SecretKeyType::kEc, std::move(der), "e");
  store_.reset();
  EXPECT_EQ(ImportAndDieAfterFirstWrite(dir_.Join("t.sqlite"), *engine_, std::move(s), ImportOptions{"pair", {}, OnDuplicate::kReplace, nullptr}), 42);
  Reopen();
  EXPECT_EQ(Objects().size(), 0u) << "a half-imported key pair survived the crash";
  ASSERT_OK_AND_ASSIGN(auto ids, FindObjectsByLabel(*store_, "pair"));
  EXPECT_TRUE(ids.empty());
}

TEST_F(ImportTest, ReplaceKilledMidTransactionKeepsTheOldPair) {
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey old_key, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
  ASSERT_OK_AND_ASSIGN(SecretBytes old_der, old_key.ToPkcs8Der());
  ASSERT_OK_AND_ASSIGN(Bytes old_spki, old_key.Public().ToDer());
  ImportOptions opt{"pair", {}, OnDuplicate::kReplace, nullptr};
  ASSERT_OK(ImportProvisioned(*store_, *engine_, Secret(SecretKeyType::kEc, std::move(old_der), "old"), opt).status());
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey new_key, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
  ASSERT_OK_AND_ASSIGN(SecretBytes new_der, new_key.ToPkcs8Der());
  ProvisionedSecret s = Secret(SecretKeyType::kEc, std::move(new_der), "new");
  store_.reset();
  EXPECT_EQ(ImportAndDieAfterFirstWrite(dir_.Join("t.sqlite"), *engine_, std::move(s), opt), 42);
  Reopen();
  auto objs = Objects();
  ASSERT_EQ(objs.size(), 2u);
  for (auto& [id, o] : objs) {
    EXPECT_EQ(*o.Get(CKA_PUBLIC_KEY_INFO), old_spki) << "object " << id << " is from the interrupted import";
    EXPECT_EQ(*o.Get(kCkaVhsmTokenJti), ToBytes("jti-old"));
  }
  // Without the crash the replace goes through as a whole.
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey k3, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
  ASSERT_OK_AND_ASSIGN(SecretBytes d3, k3.ToPkcs8Der());
  ASSERT_OK_AND_ASSIGN(Bytes spki3, k3.Public().ToDer());
  ASSERT_OK(ImportProvisioned(*store_, *engine_, Secret(SecretKeyType::kEc, std::move(d3), "third"), opt).status());
  for (auto& [id, o] : Objects()) EXPECT_EQ(*o.Get(CKA_PUBLIC_KEY_INFO), spki3);
}

TEST_F(ImportTest, LiveTokenImportRefusesOrReplacesAtomically) {
  Logger log(LogLevel::kError);
  ASSERT_OK_AND_ASSIGN(auto token, hsm::Token::Open(*store_, *engine_, hsm::TokenOptions{}, log));
  ASSERT_OK_AND_ASSIGN(crypto::PrivateKey ec, crypto::PrivateKey::GenerateEc(crypto::EcCurve::kP256));
  ASSERT_OK_AND_ASSIGN(SecretBytes der, ec.ToPkcs8Der());
  ImportOptions refuse{"live", {}, OnDuplicate::kRefuse, nullptr};
  ASSERT_OK_AND_ASSIGN(ImportResult r1, ImportIntoToken(*token, Secret(SecretKeyType::kEc, std::move(der), "e"), refuse));
  ASSERT_EQ(r1.object_ids.size(), 2u);
  EXPECT_EQ(token->TokenObjectsWithLabel("live").size(), 2u);
  EXPECT_THAT(ImportIntoToken(*token, Secret(SecretKeyType::kAes, Raw(32), "a"), refuse).status(),
              StatusIs(StatusCode::kAlreadyExists, HasSubstr("refuse")));
  ImportOptions replace{"live", {}, OnDuplicate::kReplace, nullptr};
  ASSERT_OK_AND_ASSIGN(ImportResult r2, ImportIntoToken(*token, Secret(SecretKeyType::kAes, Raw(32), "a"), replace));
  EXPECT_TRUE(r2.replaced);
  ASSERT_EQ(r2.object_ids.size(), 1u);
  EXPECT_EQ(token->TokenObjectsWithLabel("live"), (std::vector<CK_OBJECT_HANDLE>{r2.object_ids[0]}));
  // The store holds exactly what the live token shows, and a reload sees the same.
  auto objs = Objects();
  ASSERT_EQ(objs.size(), 1u);
  EXPECT_EQ(objs.begin()->first, r2.object_ids[0]);
  token.reset();
  ASSERT_OK_AND_ASSIGN(token, hsm::Token::Open(*store_, *engine_, hsm::TokenOptions{}, log));
  EXPECT_EQ(token->TokenObjectsWithLabel("live"), (std::vector<CK_OBJECT_HANDLE>{r2.object_ids[0]}));
}

TEST(AdminProtocol, ParsesProvisionAndStatus) {
  ASSERT_OK_AND_ASSIGN(AdminRequest st, ParseAdminRequest(R"({"op":"status"})"));
  EXPECT_EQ(st.op, AdminOp::kStatus);
  ASSERT_OK_AND_ASSIGN(AdminRequest p, ParseAdminRequest(
      R"({"op":"provision","resource":"demo/key/aes-256","label":"L","key_type":"aes","id":"0a0b","on_duplicate":"replace"})"));
  EXPECT_EQ(p.op, AdminOp::kProvision);
  EXPECT_EQ(p.entry.request.path.ToString(), "demo/key/aes-256");
  EXPECT_EQ(p.entry.import.label, "L");
  EXPECT_EQ(p.entry.request.key_type, SecretKeyType::kAes);
  EXPECT_EQ(p.entry.import.id, (Bytes{0x0a, 0x0b}));
  ASSERT_TRUE(p.on_duplicate.has_value());
  EXPECT_EQ(*p.on_duplicate, OnDuplicate::kReplace);
  // Round trip through the encoder.
  ASSERT_OK_AND_ASSIGN(AdminRequest q, ParseAdminRequest(EncodeAdminRequest(p)));
  EXPECT_EQ(EncodeAdminRequest(q), EncodeAdminRequest(p));
}

TEST(AdminProtocol, RejectsBadRequestsNamingTheMember) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "admin request"},
      {"[]", "admin request"},
      {R"({"op":"delete"})", "op: got \"delete\""},
      {R"({"op":"status","x":1})", "takes no other members"},
      {R"({"op":"provision","resource":"a/b","label":"L","key_type":"aes"})", "resource"},
      {R"({"op":"provision","resource":"a/b/../c","label":"L","key_type":"aes"})", "resource"},
      {R"({"op":"provision","resource":"a/b/c","label":"","key_type":"aes"})", "label"},
      {R"({"op":"provision","resource":"a/b/c","label":"L","key_type":"des"})", "des"},
      {R"({"op":"provision","resource":"a/b/c","label":"L","key_type":"aes","id":"xyz"})", "id"},
      {R"({"op":"provision","resource":"a/b/c","label":"L","key_type":"aes","on_duplicate":"keep"})", "on_duplicate"},
      {R"({"op":"provision","resource":"a/b/c","label":"L","key_type":"aes","extra":true})", "unknown member \"extra\""},
      {R"({"op":"provision","resource":"a/b/c","label":5,"key_type":"aes"})", "label"},
  };
  for (const auto& [json, want] : cases) {
    EXPECT_THAT(ParseAdminRequest(json).status(), StatusIs(StatusCode::kInvalidArgument, HasSubstr(want))) << json;
  }
  std::string big = R"({"op":"status","pad":")" + std::string(kMaxAdminFrame, 'a') + "\"}";
  EXPECT_FALSE(ParseAdminRequest(big).ok());
  Bytes hdr{0x00, 0x01, 0x00, 0x01};  // 65537 bytes announced
  EXPECT_THAT(DecodeAdminFrameLength(hdr).status(), StatusIs(StatusCode::kResourceExhausted, HasSubstr("65537")));
  EXPECT_FALSE(EncodeAdminFrame(std::string(kMaxAdminFrame + 1, 'x')).ok());
}

TEST(AdminServer, SocketIs0600AndServesOneFramePerConnection) {
  testdata::TempDir dir;
  Logger log(LogLevel::kError);
  AdminServerOptions o;
  o.socket_path = dir.Join("admin.sock");
  AdminServer server(o, [](std::string_view body) { return "{\"ok\":true,\"echo\":" + std::to_string(body.size()) + "}"; }, log);
  ASSERT_OK(server.Start());
  struct stat st{};
  ASSERT_EQ(::stat(o.socket_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_TRUE(AdminServer::PeerAllowed(::geteuid()));
  EXPECT_TRUE(AdminServer::PeerAllowed(0));
  EXPECT_EQ(AdminServer::PeerAllowed(::geteuid() + 1), ::geteuid() + 1 == 0);
  for (int i = 0; i < 2; ++i) {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", o.socket_path.c_str());
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    ASSERT_OK(WriteAdminFrame(fd, R"({"op":"status"})"));
    ASSERT_OK_AND_ASSIGN(std::string answer, ReadAdminFrame(fd));
    EXPECT_EQ(answer, R"({"ok":true,"echo":15})");
    ::close(fd);
  }
  // An over-size frame header is answered with an error, not read.
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", o.socket_path.c_str());
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  const uint8_t hdr[4] = {0x7f, 0xff, 0xff, 0xff};
  ASSERT_EQ(::send(fd, hdr, 4, 0), 4);
  ASSERT_OK_AND_ASSIGN(std::string answer, ReadAdminFrame(fd));
  EXPECT_THAT(answer, HasSubstr("RESOURCE_EXHAUSTED"));
  ::close(fd);
  server.Stop();
  EXPECT_NE(::access(o.socket_path.c_str(), F_OK), 0);
}

}  // namespace
}  // namespace vhsm::provisioner
