// httplib.h: the one way vhsm code includes cpp-httplib. Debian's libcpp-httplib.so (0.11) is
// built with OpenSSL, zlib and Brotli support, and those macros change class layouts, so every
// translation unit must see the same three definitions or the program breaks the ODR in ways
// that crash at run time. Never include <httplib.h> directly; include "http/httplib.h".
#pragma once

#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif

#include <httplib.h>  // NOLINT: the wrapped include

static_assert(sizeof(CPPHTTPLIB_VERSION) > 0, "cpp-httplib");
