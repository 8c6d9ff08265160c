#include "crypto/digest.h"

#include <gtest/gtest.h>

#include "testing/status_matchers.h"

namespace vhsm::crypto {
namespace {

// FIPS 180-2 "abc" vectors.
TEST(DigestTest, FipsAbcVectors) {
  EXPECT_EQ(HexEncode(Sha256(AsBytes("abc"))), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha384(AsBytes("abc"))),
            "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
  EXPECT_EQ(HexEncode(Digest(HashAlg::kSha1, AsBytes("abc"))), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(DigestTest, IncrementalMatchesOneShotAndClones) {
  Hasher h(HashAlg::kSha384);
  h.Update(AsBytes("a"));
  Hasher copy = h.Clone();
  h.Update(AsBytes("bc"));
  copy.Update(AsBytes("bc"));
  Bytes want = Sha384(AsBytes("abc"));
  EXPECT_EQ(h.Finish(), want);
  EXPECT_EQ(copy.Finish(), want);
}

}  // namespace
}  // namespace vhsm::crypto
