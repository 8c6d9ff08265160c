#include "ipc/ckrv.h"

namespace vhsm::ipc {

CK_RV ToCkRv(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk: return CKR_OK;
    case StatusCode::kInvalidArgument: return CKR_ARGUMENTS_BAD;
    case StatusCode::kNotFound: return CKR_OBJECT_HANDLE_INVALID;
    case StatusCode::kAlreadyExists: return CKR_GENERAL_ERROR;
    case StatusCode::kUnauthenticated: return CKR_PIN_INCORRECT;
    case StatusCode::kPermissionDenied: return CKR_USER_NOT_LOGGED_IN;
    case StatusCode::kFailedPrecondition: return CKR_FUNCTION_FAILED;
    case StatusCode::kResourceExhausted: return CKR_DEVICE_MEMORY;
    case StatusCode::kOutOfRange: return CKR_DATA_LEN_RANGE;
    case StatusCode::kUnimplemented: return CKR_FUNCTION_NOT_SUPPORTED;
    case StatusCode::kUnavailable: return CKR_DEVICE_ERROR;
    case StatusCode::kDeadlineExceeded: return CKR_DEVICE_ERROR;
    case StatusCode::kDataLoss: return CKR_DEVICE_ERROR;
    case StatusCode::kInternal: return CKR_GENERAL_ERROR;
  }
  return CKR_GENERAL_ERROR;
}

}  // namespace vhsm::ipc
