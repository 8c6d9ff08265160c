# Attestation Service benchmark (owner: attestd): RCAR round trips on loopback with 2 client
# threads and appraisal-only throughput, beside raw ECDSA P-384 verify in the same run.
if(TARGET vhsm_attestation AND TARGET vhsm_sim)
  vhsm_bench(NAME attestd_bench DEPS attestation sim)
  target_compile_options(attestd_bench PRIVATE ${VHSM_WARNINGS})
endif()
