// jose_fuzz_keys.h: fixed keys for the JOSE fuzzers, so seed corpora made by
// gen_jose_corpus.py verify/decrypt and the fuzzer explores past the signature/tag checks.
// Test-only keys (RFC 7515 appendix A.3 and RFC 7520 section 5.4); never used outside fuzzing.
#pragma once

namespace vhsm::jose::fuzzkeys {

// RFC 7515 A.3 P-256 key: JWS tokens in the corpus are signed with it.
inline constexpr const char* kSigningJwk =
    R"({"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",)"
    R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"})";

// RFC 7520 5.4 P-384 key: JWEs in the corpus are encrypted to it.
inline constexpr const char* kDecryptionJwk =
    R"({"kty":"EC","crv":"P-384","x":"YU4rRUzdmVqmRtWOs2OpDE_T5fsNIodcG8G5FWPrTPMyxpzsSOGaQLpe2FpxBmu2",)"
    R"("y":"A8-yxCHxkfBz3hKZfI1jUYMjUhsEveZ9THuwFjH2sCNdtksRJU7D5-SkgaFL1ETP",)"
    R"("d":"iTx2pk7wW-GqJkHcEkFQb2EFyYcO7RugmaW3mRrQVAOUiPommT0IdnYK2xDlZh-j"})";

}  // namespace vhsm::jose::fuzzkeys
