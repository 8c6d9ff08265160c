# KDS URL building, fetcher (against a fake KDS on loopback) and collateral cache tests.
vhsm_test(NAME kds_test SRCS kds_test.cc DEPS snp_kds PkgConfig::CPPHTTPLIB Threads::Threads)
