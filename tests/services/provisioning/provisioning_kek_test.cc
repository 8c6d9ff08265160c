// KEK held in a PKCS#11 token (`--kek pkcs11:...`): resource values are sealed and opened by the
// token (CKM_AES_GCM, SoftHSM2 here), the KEK id is a key check value (same key, same id, however
// the URI names it), nothing readable is stored, and a store written under the token KEK does
// not open under another KEK. Skips with a message when SoftHSM2 / pkcs11-tool are absent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "base/bytes.h"
#include "base/clock.h"
#include "base/file.h"
#include "p11/softhsm_token.h"
#include "services/provisioning/provisioning_store.h"
#include "services/provisioning/resource_path.h"
#include "store/database.h"
#include "testing/status_matchers.h"
#include "testing/testdata.h"

namespace vhsm::provisioning {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'790'000'000;

std::string KekUri(const std::string& naming, const std::string& pin) {
  return "pkcs11:token=kek-token;" + naming + ";type=secret-key?module-path=" + p11test::kSoftHsmModule +
         "&pin-value=" + pin;
}

TEST(TokenKekTest, ValuesAreSealedByTheTokenAndOpenOnlyUnderIt) {
  VHSM_REQUIRE_SOFTHSM();
  testdata::TempDir dir;
  p11test::SoftHsmToken token;
  ASSERT_EQ(token.Init(dir.Join("hsm"), "kek-token", "1234"), "");
  ASSERT_EQ(token.MakeAesKey("kek", "4b"), "");

  ASSERT_OK_AND_ASSIGN(Kek kek, LoadKek(KekUri("object=kek", "1234")));
  ASSERT_NE(kek.hsm, nullptr);
  EXPECT_EQ(kek.id.size(), 16u);
  EXPECT_TRUE(kek.key.empty());  // the key never leaves the token
  // The id is a check value of the key itself: naming the same object by CKA_ID gives the same id.
  ASSERT_OK_AND_ASSIGN(Kek same, LoadKek(KekUri("id=%4b", "1234")));
  EXPECT_EQ(same.id, kek.id);

  const std::string url = "sqlite:" + dir.Join("prov.db");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<store::Database> db, store::Open(url));
  FixedClock clock(kNow);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ProvisioningStore> ps, ProvisioningStore::Open(*db, std::move(kek), clock));
  ASSERT_OK_AND_ASSIGN(ResourcePath rp, ParseResourcePath("default/key/aes"));
  const std::string secret = "0123456789abcdef-token-kek-value";
  ASSERT_OK_AND_ASSIGN(ResourceInfo info, ps->PutResource(rp, AsBytes(secret)));
  EXPECT_EQ(info.kek_id, ps->kek_id());
  ASSERT_OK_AND_ASSIGN(SecretBytes back, ps->GetResource(rp, nullptr));
  EXPECT_EQ(std::string(back.Expose().begin(), back.Expose().end()), secret);

  // Stored: iv || ciphertext || tag, never the value.
  ASSERT_OK_AND_ASSIGN(store::Rows rows, db->Query("SELECT value FROM prov_resources", {}));
  ASSERT_EQ(rows.size(), 1u);
  ASSERT_OK_AND_ASSIGN(Bytes stored, rows[0].Blob("value"));
  EXPECT_EQ(stored.size(), 12 + secret.size() + 16);
  EXPECT_EQ(std::string(stored.begin(), stored.end()).find(secret), std::string::npos);

  // The same store under a file KEK: refused, naming both KEK ids.
  ps.reset();
  ASSERT_OK_AND_ASSIGN(Kek local, MakeKek(SecretBytes(Bytes(32, 0x42))));
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<ProvisioningStore> other, ProvisioningStore::Open(*db, std::move(local), clock));
  EXPECT_THAT(other->GetResource(rp, nullptr), StatusIs(StatusCode::kDataLoss, HasSubstr("KEK id")));
}

TEST(TokenKekTest, TamperedValueFailsAndBadUrisAreClear) {
  VHSM_REQUIRE_SOFTHSM();
  testdata::TempDir dir;
  p11test::SoftHsmToken token;
  ASSERT_EQ(token.Init(dir.Join("hsm"), "kek-token", "1234"), "");
  ASSERT_EQ(token.MakeAesKey("kek", "4b"), "");
  // Before any successful login: PKCS#11 login state is per application, so once a session of
  // this process is logged in the token does not check another PIN.
  EXPECT_THAT(LoadKek(KekUri("object=kek", "9999")), StatusIs(StatusCode::kUnauthenticated, HasSubstr("--kek")));
  ASSERT_OK_AND_ASSIGN(Kek kek, LoadKek(KekUri("object=kek", "1234")));

  ASSERT_OK_AND_ASSIGN(Bytes sealed, SealUnderKek(kek, AsBytes("value"), AsBytes("aad")));
  ASSERT_OK_AND_ASSIGN(SecretBytes opened, OpenUnderKek(kek, sealed, AsBytes("aad")));
  EXPECT_EQ(opened.size(), 5u);
  EXPECT_FALSE(OpenUnderKek(kek, sealed, AsBytes("other aad")).ok());
  sealed[14] ^= 1;
  EXPECT_FALSE(OpenUnderKek(kek, sealed, AsBytes("aad")).ok());
  EXPECT_THAT(OpenUnderKek(kek, Bytes(20, 0), AsBytes("aad")), StatusIs(StatusCode::kInvalidArgument, HasSubstr("28")));

  EXPECT_THAT(LoadKek(KekUri("object=absent", "1234")), StatusIs(StatusCode::kNotFound, HasSubstr("--kek")));
  EXPECT_THAT(LoadKek("pkcs11:token=kek-token;object=kek"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("--kek")));
}

}  // namespace
}  // namespace vhsm::provisioning
