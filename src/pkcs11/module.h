// module.h: internals of libvhsm-pkcs11.so shared with its unit tests: flattening of CK_MECHANISM
// parameters and CK_ATTRIBUTE templates for the wire, and the output-buffer rules (the NULL-buffer
// length query and CKR_BUFFER_TOO_SMALL) applied locally so a length query costs no extra round
// trip. The C entry points themselves are in module.cc; none lets an exception escape.
#pragma once

#include <p11-kit/pkcs11.h>

#include "base/bytes.h"
#include "ipc/codec.h"

namespace vhsm::pkcs11 {

// CKR_OK, CKR_ARGUMENTS_BAD (NULL mechanism) or CKR_MECHANISM_PARAM_INVALID.
CK_RV FlattenMechanism(const CK_MECHANISM* m, ipc::WireMechanism* out);
// `with_values` false sends only types (C_GetAttributeValue: has_value = pValue != NULL).
// CKR_ARGUMENTS_BAD for a NULL template with count > 0, CKR_ATTRIBUTE_VALUE_INVALID for a value
// above the wire limit.
CK_RV FlattenTemplate(const CK_ATTRIBUTE* t, CK_ULONG n, bool with_values, ipc::WireTemplate* out);

// C_GetAttributeValue of an attribute-array attribute (CKA_WRAP_TEMPLATE, ...): `encoded` is the
// daemon's ipc::EncodeAttrArray value. pValue == NULL → ulValueLen = count * sizeof(CK_ATTRIBUTE);
// a shorter array → CK_UNAVAILABLE_INFORMATION + CKR_BUFFER_TOO_SMALL; else each entry gets its
// type and, per the same rules, its value (CKR_BUFFER_TOO_SMALL if any inner buffer is short).
CK_RV DeliverAttrArray(ByteSpan encoded, CK_ATTRIBUTE* out);

// The PKCS#11 output convention (spec 5.2): out == NULL → length only (CKR_OK, keep result);
// short buffer → CKR_BUFFER_TOO_SMALL with the needed length (keep result); else copy.
// `done` is set when the result was delivered and the operation ends.
CK_RV DeliverOutput(ByteSpan result, CK_BYTE_PTR out, CK_ULONG_PTR out_len, bool* done);

}  // namespace vhsm::pkcs11
