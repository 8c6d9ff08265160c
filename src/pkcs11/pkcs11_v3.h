// pkcs11_v3.h: the few PKCS#11 3.0 ABI definitions libvhsm-pkcs11.so needs that p11-kit 0.24's
// header (PKCS#11 2.40) lacks: the CK_INTERFACE structure returned by C_GetInterface /
// C_GetInterfaceList and the 3.0 function list (the 2.40 list followed by 24 new entry points, in
// the order of OASIS "PKCS #11 Cryptographic Token Interface Base Specification Version 3.0",
// section 5.1.3 "CK_FUNCTION_LIST_3_0", and its pkcs11f.h). Declared here, not in a copy of the
// OASIS headers; names carry a Vhsm prefix where p11-kit might later define the same type.
#pragma once

#include <p11-kit/pkcs11.h>

extern "C" {

// PKCS#11 3.0 sec. 3.6 CK_INTERFACE.
struct VhsmCkInterface {
  CK_UTF8CHAR* pInterfaceName;
  CK_VOID_PTR pFunctionList;
  CK_FLAGS flags;
};
inline constexpr CK_FLAGS kVhsmCkfInterfaceForkSafe = 0x00000001UL;  // CKF_INTERFACE_FORK_SAFE

// The 3.0 entry points (PKCS#11 3.0 sec. 5.1, 5.6, 5.7, 5.9, 5.11 ... 5.16).
using VhsmCkGetInterfaceList = CK_RV (*)(VhsmCkInterface*, CK_ULONG_PTR);
using VhsmCkGetInterface = CK_RV (*)(CK_UTF8CHAR_PTR, CK_VERSION_PTR, VhsmCkInterface**, CK_FLAGS);
using VhsmCkLoginUser = CK_RV (*)(CK_SESSION_HANDLE, CK_USER_TYPE, CK_UTF8CHAR_PTR, CK_ULONG, CK_UTF8CHAR_PTR,
                                  CK_ULONG);
using VhsmCkSessionCancel = CK_RV (*)(CK_SESSION_HANDLE, CK_FLAGS);
using VhsmCkMessageInit = CK_RV (*)(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE);
using VhsmCkMessageFinal = CK_RV (*)(CK_SESSION_HANDLE);
// C_EncryptMessage / C_DecryptMessage: (param, aad, in, out).
using VhsmCkCryptMessage = CK_RV (*)(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                     CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
// C_EncryptMessageBegin / C_DecryptMessageBegin: (param, aad).
using VhsmCkCryptMessageBegin = CK_RV (*)(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG);
// C_EncryptMessageNext / C_DecryptMessageNext: (param, in, out, flags).
using VhsmCkCryptMessageNext = CK_RV (*)(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG,
                                         CK_BYTE_PTR, CK_ULONG_PTR, CK_FLAGS);
// C_SignMessage / C_SignMessageNext: (param, data, signature out).
using VhsmCkSignMessage = CK_RV (*)(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                    CK_ULONG_PTR);
// C_SignMessageBegin / C_VerifyMessageBegin: (param).
using VhsmCkMessageBegin = CK_RV (*)(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG);
// C_VerifyMessage / C_VerifyMessageNext: (param, data, signature in).
using VhsmCkVerifyMessage = CK_RV (*)(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                      CK_ULONG);

// CK_FUNCTION_LIST_3_0: the 2.40 members, then these in this order.
struct VhsmCkFunctionList30 {
  CK_FUNCTION_LIST v240;  // version {3, 0} and the 2.40 entry points, laid out identically
  VhsmCkGetInterfaceList C_GetInterfaceList;
  VhsmCkGetInterface C_GetInterface;
  VhsmCkLoginUser C_LoginUser;
  VhsmCkSessionCancel C_SessionCancel;
  VhsmCkMessageInit C_MessageEncryptInit;
  VhsmCkCryptMessage C_EncryptMessage;
  VhsmCkCryptMessageBegin C_EncryptMessageBegin;
  VhsmCkCryptMessageNext C_EncryptMessageNext;
  VhsmCkMessageFinal C_MessageEncryptFinal;
  VhsmCkMessageInit C_MessageDecryptInit;
  VhsmCkCryptMessage C_DecryptMessage;
  VhsmCkCryptMessageBegin C_DecryptMessageBegin;
  VhsmCkCryptMessageNext C_DecryptMessageNext;
  VhsmCkMessageFinal C_MessageDecryptFinal;
  VhsmCkMessageInit C_MessageSignInit;
  VhsmCkSignMessage C_SignMessage;
  VhsmCkMessageBegin C_SignMessageBegin;
  VhsmCkSignMessage C_SignMessageNext;
  VhsmCkMessageFinal C_MessageSignFinal;
  VhsmCkMessageInit C_MessageVerifyInit;
  VhsmCkVerifyMessage C_VerifyMessage;
  VhsmCkMessageBegin C_VerifyMessageBegin;
  VhsmCkVerifyMessage C_VerifyMessageNext;
  VhsmCkMessageFinal C_MessageVerifyFinal;
};
// Embedding CK_FUNCTION_LIST must not add padding before the 3.0 members.
static_assert(sizeof(CK_FUNCTION_LIST) % alignof(void*) == 0);

CK_RV C_GetInterfaceList(VhsmCkInterface* list, CK_ULONG_PTR count);
CK_RV C_GetInterface(CK_UTF8CHAR_PTR name, CK_VERSION_PTR version, VhsmCkInterface** iface, CK_FLAGS flags);

}  // extern "C"
