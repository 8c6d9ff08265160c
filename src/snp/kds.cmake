# kds.cmake: AMD KDS URL building, HTTP fetcher (cpp-httplib), on-disk collateral cache.
# Debian's cpp-httplib is a compiled library built with OpenSSL, zlib and brotli support; its
# pkg-config Cflags carry the matching CPPHTTPLIB_*_SUPPORT defines, which every user of
# httplib.h in the same binary must see (class layouts depend on them), so they are PUBLIC here.
if(NOT TARGET PkgConfig::CPPHTTPLIB)
  pkg_check_modules(CPPHTTPLIB REQUIRED IMPORTED_TARGET GLOBAL cpp-httplib)
endif()
vhsm_library(NAME snp_kds SRCS kds.cc
  DEPS snp crypto PkgConfig::CPPHTTPLIB OpenSSL::SSL OpenSSL::Crypto Threads::Threads)
