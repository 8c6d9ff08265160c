// Unit tests of the client module's local logic: mechanism/template flattening and the output
// buffer rules.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "ipc/mech_params.h"
#include "pkcs11/module.h"
#include "testing/status_matchers.h"

namespace vhsm::pkcs11 {
namespace {

TEST(FlattenMechanismTest, GcmParametersTravelByValue) {
  CK_BYTE iv[12] = {1, 2, 3}, aad[3] = {7, 8, 9};
  CK_GCM_PARAMS p = {iv, 12, 96, aad, 3, 128};
  CK_MECHANISM m = {CKM_AES_GCM, &p, sizeof(p)};
  ipc::WireMechanism w;
  ASSERT_EQ(FlattenMechanism(&m, &w), CKR_OK);
  ASSERT_OK_AND_ASSIGN(ipc::GcmParams g, ipc::DecodeGcm(w.param));
  EXPECT_EQ(g.iv, Bytes(iv, iv + 12));
  EXPECT_EQ(g.aad, Bytes(aad, aad + 3));
  EXPECT_EQ(g.tag_length_bits, 128u);
}

TEST(FlattenMechanismTest, RejectsBadParameters) {
  ipc::WireMechanism w;
  EXPECT_EQ(FlattenMechanism(nullptr, &w), CKR_ARGUMENTS_BAD);
  CK_MECHANISM wrong_size = {CKM_AES_GCM, &w, 3};
  EXPECT_EQ(FlattenMechanism(&wrong_size, &w), CKR_MECHANISM_PARAM_INVALID);
  CK_MECHANISM null_with_len = {CKM_AES_CBC, nullptr, 16};
  EXPECT_EQ(FlattenMechanism(&null_with_len, &w), CKR_MECHANISM_PARAM_INVALID);
  CK_GCM_PARAMS p = {nullptr, 12, 96, nullptr, 0, 128};
  CK_MECHANISM null_iv = {CKM_AES_GCM, &p, sizeof(p)};
  EXPECT_EQ(FlattenMechanism(&null_iv, &w), CKR_MECHANISM_PARAM_INVALID);
}

TEST(FlattenTemplateTest, CopiesValuesAndFlagsNullBuffers) {
  CK_BBOOL t = CK_TRUE;
  CK_ATTRIBUTE a[] = {{CKA_TOKEN, &t, 1}, {CKA_LABEL, nullptr, 0}};
  ipc::WireTemplate w;
  ASSERT_EQ(FlattenTemplate(a, 2, true, &w), CKR_OK);
  EXPECT_EQ(w[0].value, Bytes{1});
  EXPECT_FALSE(w[1].has_value);
  EXPECT_EQ(FlattenTemplate(nullptr, 1, true, &w), CKR_ARGUMENTS_BAD);
  CK_ATTRIBUTE bad[] = {{CKA_LABEL, nullptr, 5}};
  EXPECT_EQ(FlattenTemplate(bad, 1, true, &w), CKR_ATTRIBUTE_VALUE_INVALID);
  // For C_GetAttributeValue only types travel, and NULL pValue marks a length query.
  CK_BYTE buf[4];
  CK_ATTRIBUTE q[] = {{CKA_LABEL, buf, 4}, {CKA_ID, nullptr, 0}};
  ASSERT_EQ(FlattenTemplate(q, 2, false, &w), CKR_OK);
  EXPECT_TRUE(w[0].has_value);
  EXPECT_TRUE(w[0].value.empty());
  EXPECT_FALSE(w[1].has_value);
}

TEST(FlattenTemplateTest, AttributeArraysTravelAsInnerTemplates) {
  CK_KEY_TYPE kt = CKK_AES;
  CK_BBOOL t = CK_TRUE;
  CK_ATTRIBUTE inner[] = {{CKA_KEY_TYPE, &kt, sizeof(kt)}, {CKA_EXTRACTABLE, &t, 1}};
  CK_ATTRIBUTE a[] = {{CKA_WRAP_TEMPLATE, inner, sizeof(inner)}};
  ipc::WireTemplate w;
  ASSERT_EQ(FlattenTemplate(a, 1, true, &w), CKR_OK);
  ASSERT_OK_AND_ASSIGN(ipc::WireTemplate back, ipc::DecodeAttrArray(w[0].value));
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].type, CKA_KEY_TYPE);
  EXPECT_EQ(back[0].value.size(), sizeof(CK_KEY_TYPE));
  EXPECT_EQ(back[1].value, Bytes{1});
  // Length not a multiple of CK_ATTRIBUTE, and a nested array, are invalid values.
  CK_ATTRIBUTE ragged[] = {{CKA_WRAP_TEMPLATE, inner, sizeof(inner) - 1}};
  EXPECT_EQ(FlattenTemplate(ragged, 1, true, &w), CKR_ATTRIBUTE_VALUE_INVALID);
  CK_ATTRIBUTE nested[] = {{CKA_UNWRAP_TEMPLATE, a, sizeof(a)}};
  EXPECT_EQ(FlattenTemplate(nested, 1, true, &w), CKR_ATTRIBUTE_VALUE_INVALID);
}

TEST(DeliverAttrArrayTest, CountThenLengthsThenValues) {
  const Bytes label = {'a', 'b', 'c'};
  Bytes encoded = ipc::EncodeAttrArray({{CKA_LABEL, true, label}, {CKA_TOKEN, true, {1}}});
  CK_ATTRIBUTE out = {CKA_UNWRAP_TEMPLATE, nullptr, 0};
  ASSERT_EQ(DeliverAttrArray(encoded, &out), CKR_OK);
  EXPECT_EQ(out.ulValueLen, 2 * sizeof(CK_ATTRIBUTE));
  CK_ATTRIBUTE arr[2] = {};
  out.pValue = arr;
  out.ulValueLen = sizeof(CK_ATTRIBUTE);  // too short for two entries
  EXPECT_EQ(DeliverAttrArray(encoded, &out), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(out.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  out.ulValueLen = sizeof(arr);
  ASSERT_EQ(DeliverAttrArray(encoded, &out), CKR_OK);  // lengths only (NULL inner buffers)
  EXPECT_EQ(arr[0].type, CKA_LABEL);
  EXPECT_EQ(arr[0].ulValueLen, 3u);
  EXPECT_EQ(arr[1].ulValueLen, 1u);
  CK_BYTE lbuf[2], tbuf[1];
  arr[0].pValue = lbuf;
  arr[0].ulValueLen = sizeof(lbuf);
  arr[1].pValue = tbuf;
  arr[1].ulValueLen = 1;
  EXPECT_EQ(DeliverAttrArray(encoded, &out), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(arr[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(tbuf[0], 1);
  CK_BYTE lbig[8];
  arr[0].pValue = lbig;
  arr[0].ulValueLen = sizeof(lbig);
  ASSERT_EQ(DeliverAttrArray(encoded, &out), CKR_OK);
  EXPECT_EQ(Bytes(lbig, lbig + arr[0].ulValueLen), label);
  EXPECT_EQ(DeliverAttrArray(Bytes{1, 2}, &out), CKR_DEVICE_ERROR);
}

TEST(DeliverOutputTest, LengthQueryShortBufferThenCopy) {
  Bytes result = {1, 2, 3, 4};
  bool done = true;
  CK_ULONG len = 0;
  EXPECT_EQ(DeliverOutput(result, nullptr, &len, &done), CKR_OK);
  EXPECT_EQ(len, 4u);
  EXPECT_FALSE(done);
  CK_BYTE out[8];
  len = 3;
  EXPECT_EQ(DeliverOutput(result, out, &len, &done), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(len, 4u);
  EXPECT_FALSE(done);
  len = 8;
  EXPECT_EQ(DeliverOutput(result, out, &len, &done), CKR_OK);
  EXPECT_EQ(len, 4u);
  EXPECT_TRUE(done);
  EXPECT_EQ(out[3], 4);
  EXPECT_EQ(DeliverOutput(result, out, nullptr, &done), CKR_ARGUMENTS_BAD);
}

}  // namespace
}  // namespace vhsm::pkcs11
