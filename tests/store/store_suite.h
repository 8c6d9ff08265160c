// store_suite.h: the backend-independent store test suite (store_suite.cc). Each backend's test
// binary instantiates it: store_test for SQLite, store_pg_test for PostgreSQL.
#pragma once

#include <gtest/gtest.h>

#include "store_backends.h"

namespace vhsm::store::testing {

class StoreTest : public ::testing::TestWithParam<Backend> {};

inline std::string BackendParamName(const ::testing::TestParamInfo<Backend>& info) { return BackendName(info.param); }

}  // namespace vhsm::store::testing
