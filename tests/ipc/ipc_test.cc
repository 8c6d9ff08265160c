#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "base/byte_reader.h"
#include "ipc/ckrv.h"
#include "ipc/codec.h"
#include "ipc/mech_params.h"
#include "ipc/protocol.h"
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

}  // namespace
}  // namespace vhsm::ipc
