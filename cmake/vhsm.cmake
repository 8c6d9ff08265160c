# vhsm.cmake: one-line helpers for libraries, tests, fuzzers and benchmarks, plus flags.
include(GoogleTest)

set(VHSM_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wnon-virtual-dtor)
if(VHSM_WERROR)
  list(APPEND VHSM_WARNINGS -Werror)
endif()
add_compile_definitions(OPENSSL_API_COMPAT=30000 OPENSSL_NO_DEPRECATED)

if(VHSM_SANITIZE)
  add_compile_options(-fsanitize=${VHSM_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${VHSM_SANITIZE})
endif()
if(VHSM_FUZZ)
  # Instrument everything for coverage; only fuzz executables link the libFuzzer main.
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
if(VHSM_HARDEN)
  add_compile_options(-U_FORTIFY_SOURCE -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fstack-clash-protection -fcf-protection)
  add_link_options(-Wl,-z,relro,-z,now -pie)
endif()

# Link with lld when it is installed: the test executables are large (debug info, ASan), and GNU ld
# spent about twice as long on each of them.
option(VHSM_LLD "Link with lld when available" ON)
find_program(VHSM_LD_LLD ld.lld)
if(VHSM_LLD AND VHSM_LD_LLD)
  add_link_options(-fuse-ld=lld)
endif()

# Tests that load SoftHSM2 (a third-party test peer) into an ASan process: SoftHSM2 2.6.1 leaks
# OpenSSL objects it allocates itself, so LeakSanitizer gets a suppression for that module only
# (full stacks are needed to see it behind libcrypto, which has no frame pointers). Our own code
# in those processes stays leak-checked.
set(VHSM_SOFTHSM_TEST_ENV "")
if(VHSM_SANITIZE MATCHES "address")
  set(VHSM_SOFTHSM_TEST_ENV
      "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/sanitizers/lsan-softhsm2.supp:fast_unwind_on_malloc=0")
endif()

function(_vhsm_resolve_deps out)
  set(res)
  foreach(d ${ARGN})
    if(TARGET vhsm_${d})
      list(APPEND res vhsm_${d})
    else()
      list(APPEND res ${d})
    endif()
  endforeach()
  set(${out} ${res} PARENT_SCOPE)
endfunction()

# vhsm_library(NAME snp SRCS report.cc ... DEPS base crypto OpenSSL::Crypto)
function(vhsm_library)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  add_library(vhsm_${A_NAME} STATIC ${A_SRCS})
  target_include_directories(vhsm_${A_NAME} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_compile_options(vhsm_${A_NAME} PRIVATE ${VHSM_WARNINGS})
  _vhsm_resolve_deps(deps ${A_DEPS})
  target_link_libraries(vhsm_${A_NAME} PUBLIC ${deps})
endfunction()

# vhsm_test(NAME report_test SRCS report_test.cc DEPS snp [LABELS unit] [ENV K=V...])
function(vhsm_test)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS;LABELS;ENV" ${ARGN})
  if(NOT A_SRCS)
    set(A_SRCS ${A_NAME}.cc)
  endif()
  if(NOT A_LABELS)
    set(A_LABELS unit)
  endif()
  add_executable(${A_NAME} ${A_SRCS})
  target_compile_options(${A_NAME} PRIVATE ${VHSM_WARNINGS})
  _vhsm_resolve_deps(deps ${A_DEPS})
  target_link_libraries(${A_NAME} PRIVATE ${deps} vhsm_testing GTest::gmock GTest::gtest_main)
  set_target_properties(${A_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  # gtest_discover_tests splits list-valued properties, so escape the separators.
  set(env "VHSM_SHARED_DIR=${VHSM_SHARED_DIR}" "VHSM_SOURCE_DIR=${PROJECT_SOURCE_DIR}"
          "VHSM_BUILD_DIR=${CMAKE_BINARY_DIR}" ${A_ENV})
  string(REPLACE ";" "\\;" env "${env}")
  string(REPLACE ";" "\\;" labels "${A_LABELS}")
  gtest_discover_tests(${A_NAME}
    DISCOVERY_MODE PRE_TEST
    PROPERTIES LABELS "${labels}" ENVIRONMENT "${env}"
    TEST_PREFIX "${A_NAME}.")
endfunction()

# vhsm_fuzzer(NAME report_fuzzer DEPS snp): libFuzzer binary under VHSM_FUZZ, otherwise a replay
# driver that ctest runs over fuzz/corpus/<name without _fuzzer>/ in every build.
function(vhsm_fuzzer)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  if(NOT A_SRCS)
    set(A_SRCS ${A_NAME}.cc)
  endif()
  string(REGEX REPLACE "_fuzzer$" "" corpus ${A_NAME})
  _vhsm_resolve_deps(deps ${A_DEPS})
  if(VHSM_FUZZ)
    add_executable(${A_NAME} ${A_SRCS})
    target_link_options(${A_NAME} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${A_NAME} ${A_SRCS} ${PROJECT_SOURCE_DIR}/fuzz/replay_main.cc)
  endif()
  target_compile_options(${A_NAME} PRIVATE ${VHSM_WARNINGS})
  target_link_libraries(${A_NAME} PRIVATE ${deps})
  set_target_properties(${A_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  if(NOT TARGET vhsm_fuzzers)
    add_custom_target(vhsm_fuzzers)
  endif()
  add_dependencies(vhsm_fuzzers ${A_NAME})
  if(NOT VHSM_FUZZ)
    add_test(NAME fuzz_replay.${corpus} COMMAND ${A_NAME} ${PROJECT_SOURCE_DIR}/fuzz/corpus/${corpus})
    set_tests_properties(fuzz_replay.${corpus} PROPERTIES LABELS fuzz-replay)
  else()
    # `ctest --preset fuzz`: each fuzzer for FUZZ_SECONDS (environment, default 20) on a copy of
    # its seed corpus.
    add_test(NAME fuzz_smoke.${corpus}
             COMMAND ${PROJECT_SOURCE_DIR}/scripts/fuzz-one.sh $<TARGET_FILE:${A_NAME}>
                     ${PROJECT_SOURCE_DIR}/fuzz/corpus/${corpus})
    set_tests_properties(fuzz_smoke.${corpus} PROPERTIES LABELS fuzz-smoke TIMEOUT 900)
  endif()
endfunction()

# vhsm_bench(NAME snp_verify_bench DEPS attest)
function(vhsm_bench)
  cmake_parse_arguments(A "" "NAME" "SRCS;DEPS" ${ARGN})
  if(NOT A_SRCS)
    set(A_SRCS ${A_NAME}.cc)
  endif()
  find_package(benchmark REQUIRED)
  add_executable(${A_NAME} ${A_SRCS})
  _vhsm_resolve_deps(deps ${A_DEPS})
  target_link_libraries(${A_NAME} PRIVATE ${deps} benchmark::benchmark)
  set_target_properties(${A_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
endfunction()
