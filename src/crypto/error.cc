#include "crypto/error.h"

#include <openssl/err.h>

#include <string>

namespace vhsm::crypto {

Status OpenSslError(std::string_view what, StatusCode code) {
  std::string msg(what);
  unsigned long e;
  bool first = true;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    msg += first ? ": " : "; ";
    msg += buf;
    first = false;
  }
  return Status(code, std::move(msg));
}

void ClearOpenSslErrors() { ERR_clear_error(); }

}  // namespace vhsm::crypto
