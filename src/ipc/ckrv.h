// ckrv.h: the one mapping from vhsm Status to a PKCS#11 CK_RV, used at both ends of the wire:
// vhsmd maps store/firmware/crypto failures, the client module maps transport failures. Codes
// the daemon decides itself (CKR_PIN_INCORRECT, ...) travel as CK_RV and never pass through here.
#pragma once

#include <p11-kit/pkcs11.h>

#include "base/status.h"

namespace vhsm::ipc {

CK_RV ToCkRv(const Status& status);

}  // namespace vhsm::ipc
