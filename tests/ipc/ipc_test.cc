#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "base/byte_reader.h"
#include "ipc/ckrv.h"
#include "ipc/codec.h"
#include "ipc/mech_params.h"
#include "ipc/protocol.h"
#include "ipc/transport.h"
#include "testing/status_matchers.h"

namespace vhsm::ipc {
namespace {

using ::testing::HasSubstr;

TEST(FrameTest, RoundTripsHeader) {
  Bytes payload = {1, 2, 3};
  Bytes frame = EncodeFrame(Opcode::kSign, 77, payload);
  ASSERT_EQ(frame.size(), kHeaderSize + 3);
  ASSERT_OK_AND_ASSIGN(FrameHeader h, DecodeHeader(ByteSpan(frame).first(kHeaderSize)));
  EXPECT_EQ(h.opcode, Opcode::kSign);
  EXPECT_EQ(h.request_id, 77u);
  EXPECT_EQ(h.payload_len, 3u);
  EXPECT_EQ(h.version, kProtocolVersion);
}

TEST(FrameTest, RejectsBadMagic) {
  Bytes frame = EncodeFrame(Opcode::kHello, 1, {});
  frame[0] ^= 0xff;
  EXPECT_THAT(DecodeHeader(frame), StatusIs(StatusCode::kInvalidArgument, HasSubstr("frame.magic")));
}

TEST(FrameTest, RejectsWrongVersion) {
  Bytes frame = EncodeFrame(Opcode::kHello, 1, {});
  StoreU16Le(frame.data() + 4, 2);
  EXPECT_THAT(DecodeHeader(frame), StatusIs(StatusCode::kFailedPrecondition, HasSubstr("frame.version: got 2")));
}

TEST(FrameTest, RejectsUnknownOpcode) {
  Bytes frame = EncodeFrame(Opcode::kHello, 1, {});
  StoreU16Le(frame.data() + 6, 0);
  EXPECT_THAT(DecodeHeader(frame), StatusIs(StatusCode::kInvalidArgument, HasSubstr("frame.opcode")));
  StoreU16Le(frame.data() + 6, static_cast<uint16_t>(Opcode::kMaxOpcode) + 1);
  EXPECT_THAT(DecodeHeader(frame), StatusIs(StatusCode::kInvalidArgument, HasSubstr("frame.opcode")));
}

TEST(FrameTest, RejectsOversizedPayloadLength) {
  Bytes frame = EncodeFrame(Opcode::kHello, 1, {});
  StoreU32Le(frame.data() + 12, kMaxPayload + 1);
  EXPECT_THAT(DecodeHeader(frame), StatusIs(StatusCode::kResourceExhausted, HasSubstr("frame.payload_len")));
}

TEST(FrameTest, RejectsTruncatedHeader) {
  Bytes frame = EncodeFrame(Opcode::kHello, 1, {});
  EXPECT_THAT(DecodeHeader(ByteSpan(frame).first(10)), StatusIs(StatusCode::kInvalidArgument, HasSubstr("frame")));
}

TEST(CodecTest, TemplateRoundTrip) {
  WireTemplate t = {{1, true, {1}}, {3, false, {}}, {0x102, true, {9, 8, 7}}};
  MsgWriter w;
  w.PutTemplate(t);
  w.PutMechanism({0x1087, {1, 2}});
  Bytes b = w.Take();
  MsgReader r(b);
  ASSERT_OK_AND_ASSIGN(WireTemplate back, r.GetTemplate("t"));
  EXPECT_EQ(back, t);
  ASSERT_OK_AND_ASSIGN(WireMechanism m, r.GetMechanism("m"));
  EXPECT_EQ(m.type, 0x1087u);
  EXPECT_EQ(m.param, (Bytes{1, 2}));
  EXPECT_OK(r.ExpectEnd("x"));
}

TEST(CodecTest, RejectsTooManyAttributes) {
  ByteWriter w;
  w.WriteU32Le(kMaxAttributes + 1);
  MsgReader r(w.bytes());
  EXPECT_THAT(r.GetTemplate("template"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("limit 128")));
}

TEST(CodecTest, RejectsOversizedAttributeValue) {
  ByteWriter w;
  w.WriteU32Le(1);
  w.WriteU64Le(CKA_LABEL);
  w.WriteU8(1);
  w.WriteU32Le(kMaxAttributeValue + 1);
  MsgReader r(w.bytes());
  EXPECT_THAT(r.GetTemplate("template"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("exceeds limit")));
}

TEST(CodecTest, RejectsTruncatedValueAndBadFlags) {
  ByteWriter w;
  w.WriteU32Le(1);
  w.WriteU64Le(CKA_LABEL);
  w.WriteU8(1);
  w.WriteU32Le(10);
  w.WriteBytes(Bytes{1, 2});
  MsgReader r(w.bytes());
  EXPECT_THAT(r.GetTemplate("template"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("template")));
  ByteWriter w2;
  w2.WriteU32Le(1);
  w2.WriteU64Le(CKA_LABEL);
  w2.WriteU8(7);
  MsgReader r2(w2.bytes());
  EXPECT_THAT(r2.GetTemplate("template"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("flags: got 7")));
}

TEST(CodecTest, ExpectEndReportsTrailingBytes) {
  Bytes b = {1, 2, 3};
  MsgReader r(b);
  EXPECT_THAT(r.ExpectEnd("request"), StatusIs(StatusCode::kInvalidArgument, HasSubstr("3 trailing bytes")));
}

TEST(CodecTest, OnlyTheTemplateAttributesAreAttributeArrays) {
  EXPECT_TRUE(IsArrayAttribute(0x40000211u));   // CKA_WRAP_TEMPLATE
  EXPECT_TRUE(IsArrayAttribute(0x40000212u));   // CKA_UNWRAP_TEMPLATE
  EXPECT_TRUE(IsArrayAttribute(0x40000213u));   // CKA_DERIVE_TEMPLATE
  EXPECT_FALSE(IsArrayAttribute(0x40000600u));  // CKA_ALLOWED_MECHANISMS: mechanism types, not attributes
  // vhsm's vendor attributes (resource path, token jti) have the CKF_ARRAY_ATTRIBUTE bit set as
  // part of their number; they are byte strings (treating them as arrays lost them once).
  EXPECT_FALSE(IsArrayAttribute(0x80000000u | 0x56480001u));
  EXPECT_FALSE(IsArrayAttribute(0x80000000u | 0x56480002u));
  EXPECT_FALSE(IsArrayAttribute(0x00000003u));  // CKA_LABEL
}

TEST(MechParamsTest, RoundTrips) {
  GcmParams g{{1, 2, 3}, {4, 5}, 96};
  ASSERT_OK_AND_ASSIGN(GcmParams g2, DecodeGcm(EncodeGcm(g)));
  EXPECT_EQ(g2.iv, g.iv);
  EXPECT_EQ(g2.aad, g.aad);
  EXPECT_EQ(g2.tag_length_bits, 96u);
  ASSERT_OK_AND_ASSIGN(PssParams p, DecodePss(EncodePss({CKM_SHA256, CKG_MGF1_SHA256, 32})));
  EXPECT_EQ(p.salt_len, 32u);
  ASSERT_OK_AND_ASSIGN(OaepParams o, DecodeOaep(EncodeOaep({CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, {7}})));
  EXPECT_EQ(o.label, Bytes{7});
  EXPECT_THAT(DecodeCtr(EncodeCtr({32, Bytes(15)})), StatusIs(StatusCode::kInvalidArgument, HasSubstr("want 16")));
  Bytes trailing = EncodePss({1, 2, 3});
  trailing.push_back(0);
  EXPECT_THAT(DecodePss(trailing), StatusIs(StatusCode::kInvalidArgument, HasSubstr("trailing")));
}

TEST(CkRvTest, MapsEveryStatusCode) {
  struct Row {
    StatusCode code;
    CK_RV rv;
  };
  const Row rows[] = {
      {StatusCode::kOk, CKR_OK},
      {StatusCode::kInvalidArgument, CKR_ARGUMENTS_BAD},
      {StatusCode::kNotFound, CKR_OBJECT_HANDLE_INVALID},
      {StatusCode::kAlreadyExists, CKR_GENERAL_ERROR},
      {StatusCode::kUnauthenticated, CKR_PIN_INCORRECT},
      {StatusCode::kPermissionDenied, CKR_USER_NOT_LOGGED_IN},
      {StatusCode::kFailedPrecondition, CKR_FUNCTION_FAILED},
      {StatusCode::kResourceExhausted, CKR_DEVICE_MEMORY},
      {StatusCode::kOutOfRange, CKR_DATA_LEN_RANGE},
      {StatusCode::kUnimplemented, CKR_FUNCTION_NOT_SUPPORTED},
      {StatusCode::kUnavailable, CKR_DEVICE_ERROR},
      {StatusCode::kDeadlineExceeded, CKR_DEVICE_ERROR},
      {StatusCode::kDataLoss, CKR_DEVICE_ERROR},
      {StatusCode::kInternal, CKR_GENERAL_ERROR},
  };
  for (const Row& row : rows) {
    Status s = row.code == StatusCode::kOk ? OkStatus() : Status(row.code, "x");
    EXPECT_EQ(ToCkRv(s), row.rv) << StatusCodeName(row.code);
  }
}


// FrameReader over a real socket pair: what one recv() brings is not what one frame is.
class FrameReaderTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds_), 0); }
  void TearDown() override {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  void Send(ByteSpan b) { ASSERT_TRUE(WriteAll(fds_[0], b).ok()); }
  int fds_[2] = {-1, -1};
};

TEST_F(FrameReaderTest, SeveralFramesInOneReceiveComeOutOneByOne) {
  Bytes both = EncodeFrame(Opcode::kSign, 7, Bytes{1, 2, 3});
  Bytes second = EncodeFrame(Opcode::kVerify, 8, Bytes(100, 9));
  both.insert(both.end(), second.begin(), second.end());
  Send(both);
  FrameReader reader(fds_[1]);
  Result<Frame> a = reader.Read();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->header.request_id, 7u);
  EXPECT_EQ(a->payload, (Bytes{1, 2, 3}));
  Result<Frame> b = reader.Read();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->header.opcode, Opcode::kVerify);
  EXPECT_EQ(b->payload, Bytes(100, 9));
}

TEST_F(FrameReaderTest, FrameArrivingByteByByteIsReassembled) {
  const Bytes frame = EncodeFrame(Opcode::kEncrypt, 3, Bytes(40, 5));
  std::thread writer([&] {
    for (uint8_t byte : frame) {
      ASSERT_TRUE(WriteAll(fds_[0], ByteSpan(&byte, 1)).ok());
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  FrameReader reader(fds_[1], /*buffer_size=*/32);  // smaller than the frame: compaction path too
  Result<Frame> f = reader.Read();
  writer.join();
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->payload, Bytes(40, 5));
}

TEST_F(FrameReaderTest, PayloadLargerThanTheBufferIsReadWhole) {
  Bytes big(300000);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  const Bytes frame = EncodeFrame(Opcode::kDigest, 1, big);
  const Bytes next = EncodeFrame(Opcode::kDigest, 2, Bytes{42});
  std::thread writer([&] {
    ASSERT_TRUE(WriteAll(fds_[0], frame).ok());
    ASSERT_TRUE(WriteAll(fds_[0], next).ok());
  });
  FrameReader reader(fds_[1], 4096);
  Result<Frame> f = reader.Read();
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->payload, big);
  Result<Frame> g = reader.Read();
  writer.join();
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->header.request_id, 2u);
  EXPECT_EQ(g->payload, Bytes{42});
}

TEST_F(FrameReaderTest, TruncatedFrameAndBadHeaderAreErrors) {
  Bytes frame = EncodeFrame(Opcode::kSign, 1, Bytes(10, 1));
  frame.resize(frame.size() - 3);
  Send(frame);
  ::shutdown(fds_[0], SHUT_WR);
  FrameReader reader(fds_[1]);
  Result<Frame> f = reader.Read();
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kUnavailable) << f.status().ToString();
  EXPECT_NE(f.status().message().find("frame payload: peer closed"), std::string::npos) << f.status().ToString();

  int bad[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, bad), 0);
  Bytes wrong = EncodeFrame(Opcode::kSign, 1, Bytes{});
  wrong[0] ^= 0xff;  // magic
  ASSERT_TRUE(WriteAll(bad[0], wrong).ok());
  FrameReader r2(bad[1]);
  Result<Frame> g = r2.Read();
  EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument) << g.status().ToString();
  ::close(bad[0]);
  ::close(bad[1]);
}

TEST_F(FrameReaderTest, SpinReturnsWhenDataArrivesAndGivesUpWhenNoneDoes) {
  FrameReader reader(fds_[1]);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(SpinUntilReadable(fds_[1], 2000));  // nothing sent: gives up after ~2 ms
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::microseconds(2000));
  Send(EncodeFrame(Opcode::kHello, 1, Bytes{}));
  EXPECT_TRUE(SpinUntilReadable(fds_[1], 1000000));
  EXPECT_FALSE(SpinUntilReadable(fds_[1], 0));  // 0 = never spin
  reader.Spin(50);
  Result<Frame> f = reader.Read();
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->header.opcode, Opcode::kHello);
}

}  // namespace
}  // namespace vhsm::ipc
