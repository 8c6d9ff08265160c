# PKCS#11 throughput tool (loads any module) and the ours-vs-SoftHSM2 comparison script
# (bench/pkcs11_compare.sh BUILD_DIR).
add_executable(pkcs11_bench pkcs11_bench.cc)
target_include_directories(pkcs11_bench PRIVATE ${P11KIT_INCLUDE_DIRS})
target_compile_options(pkcs11_bench PRIVATE ${VHSM_WARNINGS})
target_link_libraries(pkcs11_bench PRIVATE ${CMAKE_DL_LIBS} Threads::Threads OpenSSL::Crypto)
set_target_properties(pkcs11_bench PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
