// mech_params.h: flat encodings of PKCS#11 mechanism parameter structures (which contain
// pointers) for the wire. The client module fills these from CK_MECHANISM.pParameter; vhsmd
// decodes them per mechanism type. Decoders are bounds-checked and reject trailing bytes.
// Field names avoid p11-kit's leaked compatibility macros (hash_alg, counter_bits, tag_bits, ...).
#pragma once

#include <cstdint>

#include "base/bytes.h"
#include "base/status.h"

namespace vhsm::ipc {

struct GcmParams {
  Bytes iv;
  Bytes aad;
  uint64_t tag_length_bits = 128;
};
struct PssParams {
  uint64_t hash_mechanism = 0;
  uint64_t mgf = 0;
  uint64_t salt_len = 0;
};
struct OaepParams {
  uint64_t hash_mechanism = 0;
  uint64_t mgf = 0;
  uint64_t source = 0;
  Bytes label;
};
// CK_ECDH1_DERIVE_PARAMS: key derivation function, optional shared info, the peer's public point.
struct Ecdh1Params {
  uint64_t kdf = 0;
  Bytes shared_data;
  Bytes public_data;
};
struct CtrParams {
  uint64_t ctr_bits = 0;
  Bytes counter_block;  // 16 bytes
};

Bytes EncodeGcm(const GcmParams& p);
Result<GcmParams> DecodeGcm(ByteSpan b);
Bytes EncodePss(const PssParams& p);
Result<PssParams> DecodePss(ByteSpan b);
Bytes EncodeOaep(const OaepParams& p);
Result<OaepParams> DecodeOaep(ByteSpan b);
Bytes EncodeCtr(const CtrParams& p);
Result<CtrParams> DecodeCtr(ByteSpan b);
Bytes EncodeEcdh1(const Ecdh1Params& p);
Result<Ecdh1Params> DecodeEcdh1(ByteSpan b);

}  // namespace vhsm::ipc
