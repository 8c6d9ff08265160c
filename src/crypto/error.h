// error.h: turns the OpenSSL error queue into a Status (and drains it), so no OpenSSL error
// leaks into an unrelated later call.
#pragma once

#include <string_view>

#include "base/status.h"

namespace vhsm::crypto {

// Returns Status(code, "<what>: <openssl reasons>") and clears the thread's error queue.
Status OpenSslError(std::string_view what, StatusCode code = StatusCode::kInternal);
// Clears the queue without reporting (e.g. after an expected verify failure).
void ClearOpenSslErrors();

}  // namespace vhsm::crypto
