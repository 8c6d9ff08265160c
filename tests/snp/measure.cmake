# Launch measurement tests: OVMF parser, VMSA pages, launch digest (shared known answers and
# Debian's ovmf package), ID blocks.
vhsm_test(NAME ovmf_test SRCS ${CMAKE_CURRENT_LIST_DIR}/ovmf_test.cc DEPS snp_measure)
vhsm_test(NAME vmsa_test SRCS ${CMAKE_CURRENT_LIST_DIR}/vmsa_test.cc DEPS snp_measure)
vhsm_test(NAME measure_test SRCS ${CMAKE_CURRENT_LIST_DIR}/measure_test.cc DEPS snp_measure)
vhsm_test(NAME id_block_test SRCS ${CMAKE_CURRENT_LIST_DIR}/id_block_test.cc DEPS snp_measure)

# CLI: `vhsm measure` end to end (known answer, subcommand vs option parsing, error messages).
if(TARGET vhsm)
  set(_kat_dir ${VHSM_SHARED_DIR}/snp-vectors/measure)
  if(EXISTS ${_kat_dir}/ovmf_AmdSev_suffix.bin)
    add_test(NAME measure_cli.known_answer_direct_boot
      COMMAND vhsm measure --ovmf ${_kat_dir}/ovmf_AmdSev_suffix.bin --kernel /dev/null
              --initrd /dev/null --append "console=ttyS0 loglevel=7" --guest-features 0x21)
    set_tests_properties(measure_cli.known_answer_direct_boot PROPERTIES PASS_REGULAR_EXPRESSION
      "^803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895dfe778d0228977\n$")
    add_test(NAME measure_cli.ovmf_hash_subcommand
      COMMAND vhsm measure ovmf-hash --ovmf ${_kat_dir}/ovmf_AmdSev_suffix.bin)
    set_tests_properties(measure_cli.ovmf_hash_subcommand PROPERTIES PASS_REGULAR_EXPRESSION
      "^086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16aff8c374c2a55c467a50da6d466b74\n$")
    add_test(NAME measure_cli.json_lists_inputs
      COMMAND vhsm measure --ovmf ${_kat_dir}/ovmf_AmdSev_suffix.bin --vcpus 4 --vcpu-type EPYC-v4 --json)
    set_tests_properties(measure_cli.json_lists_inputs PROPERTIES PASS_REGULAR_EXPRESSION
      "\"sha256\": \"8f765dfabc127fc0a938a0744a3103ec15864d7d794eb4c398aa976b6d6ab16c\"")
    add_test(NAME measure_cli.rejects_zero_vcpus
      COMMAND vhsm measure --ovmf ${_kat_dir}/ovmf_AmdSev_suffix.bin --vcpus 0)
    set_tests_properties(measure_cli.rejects_zero_vcpus PROPERTIES PASS_REGULAR_EXPRESSION
      "vcpus: got 0, want 1..512")
    add_test(NAME measure_cli.rejects_unknown_vcpu_type
      COMMAND vhsm measure --ovmf ${_kat_dir}/ovmf_AmdSev_suffix.bin --vcpu-type EPYC-Foo)
    set_tests_properties(measure_cli.rejects_unknown_vcpu_type PROPERTIES PASS_REGULAR_EXPRESSION
      "unknown vCPU type \"EPYC-Foo\"")
    add_test(NAME measure_cli.refuses_kernel_without_hashes
      COMMAND vhsm measure --ovmf ${_kat_dir}/ovmf_OvmfX64_suffix.bin --kernel /dev/null)
    set_tests_properties(measure_cli.refuses_kernel_without_hashes PROPERTIES PASS_REGULAR_EXPRESSION
      "no SNP kernel-hashes support")
  endif()
  add_test(NAME measure_cli.rejects_non_ovmf COMMAND vhsm measure --ovmf ${CMAKE_CURRENT_LIST_FILE})
  set_tests_properties(measure_cli.rejects_non_ovmf PROPERTIES PASS_REGULAR_EXPRESSION
    "not a multiple of 4096|not an OVMF image")
  get_property(_tests DIRECTORY PROPERTY TESTS)
  foreach(t ${_tests})
    if(t MATCHES "^measure_cli\\.")
      set_tests_properties(${t} PROPERTIES LABELS unit)
    endif()
  endforeach()
endif()
