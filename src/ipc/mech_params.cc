#include "ipc/mech_params.h"

#include "ipc/codec.h"

namespace vhsm::ipc {

Bytes EncodeGcm(const GcmParams& p) {
  MsgWriter w;
  w.PutBytes(p.iv);
  w.PutBytes(p.aad);
  w.PutU64(p.tag_length_bits);
  return w.Take();
}
Result<GcmParams> DecodeGcm(ByteSpan b) {
  MsgReader r(b);
  GcmParams p;
  VHSM_ASSIGN_OR_RETURN(ByteSpan iv, r.GetBytes("gcm.iv", 256));
  VHSM_ASSIGN_OR_RETURN(ByteSpan aad, r.GetBytes("gcm.aad", kMaxAttributeValue));
  VHSM_ASSIGN_OR_RETURN(p.tag_length_bits, r.GetU64("gcm.tag_length_bits"));
  VHSM_RETURN_IF_ERROR(r.ExpectEnd("gcm"));
  p.iv.assign(iv.begin(), iv.end());
  p.aad.assign(aad.begin(), aad.end());
  return p;
}

Bytes EncodePss(const PssParams& p) {
  MsgWriter w;
  w.PutU64(p.hash_mechanism);
  w.PutU64(p.mgf);
  w.PutU64(p.salt_len);
  return w.Take();
}
Result<PssParams> DecodePss(ByteSpan b) {
  MsgReader r(b);
  PssParams p;
  VHSM_ASSIGN_OR_RETURN(p.hash_mechanism, r.GetU64("pss.hash_mechanism"));
  VHSM_ASSIGN_OR_RETURN(p.mgf, r.GetU64("pss.mgf"));
  VHSM_ASSIGN_OR_RETURN(p.salt_len, r.GetU64("pss.salt_len"));
  VHSM_RETURN_IF_ERROR(r.ExpectEnd("pss"));
  return p;
}

Bytes EncodeOaep(const OaepParams& p) {
  MsgWriter w;
  w.PutU64(p.hash_mechanism);
  w.PutU64(p.mgf);
  w.PutU64(p.source);
  w.PutBytes(p.label);
  return w.Take();
}
Result<OaepParams> DecodeOaep(ByteSpan b) {
  MsgReader r(b);
  OaepParams p;
  VHSM_ASSIGN_OR_RETURN(p.hash_mechanism, r.GetU64("oaep.hash_mechanism"));
  VHSM_ASSIGN_OR_RETURN(p.mgf, r.GetU64("oaep.mgf"));
  VHSM_ASSIGN_OR_RETURN(p.source, r.GetU64("oaep.source"));
  VHSM_ASSIGN_OR_RETURN(ByteSpan label, r.GetBytes("oaep.label", kMaxAttributeValue));
  VHSM_RETURN_IF_ERROR(r.ExpectEnd("oaep"));
  p.label.assign(label.begin(), label.end());
  return p;
}

Bytes EncodeCtr(const CtrParams& p) {
  MsgWriter w;
  w.PutU64(p.ctr_bits);
  w.PutBytes(p.counter_block);
  return w.Take();
}
Result<CtrParams> DecodeCtr(ByteSpan b) {
  MsgReader r(b);
  CtrParams p;
  VHSM_ASSIGN_OR_RETURN(p.ctr_bits, r.GetU64("ctr.ctr_bits"));
  VHSM_ASSIGN_OR_RETURN(ByteSpan cb, r.GetBytes("ctr.cb", 16));
  VHSM_RETURN_IF_ERROR(r.ExpectEnd("ctr"));
  if (cb.size() != 16) return InvalidArgumentError("ctr.cb: got " + std::to_string(cb.size()) + " bytes, want 16");
  p.counter_block.assign(cb.begin(), cb.end());
  return p;
}

Bytes EncodeEcdh1(const Ecdh1Params& p) {
  MsgWriter w;
  w.PutU64(p.kdf);
  w.PutBytes(p.shared_data);
  w.PutBytes(p.public_data);
  return w.Take();
}
Result<Ecdh1Params> DecodeEcdh1(ByteSpan b) {
  MsgReader r(b);
  Ecdh1Params p;
  VHSM_ASSIGN_OR_RETURN(p.kdf, r.GetU64("ecdh1.kdf"));
  VHSM_ASSIGN_OR_RETURN(ByteSpan shared, r.GetBytes("ecdh1.shared_data", kMaxAttributeValue));
  // An uncompressed P-521 point is 133 bytes; 1 KiB leaves room for a DER wrapping.
  VHSM_ASSIGN_OR_RETURN(ByteSpan pub, r.GetBytes("ecdh1.public_data", 1024));
  VHSM_RETURN_IF_ERROR(r.ExpectEnd("ecdh1"));
  p.shared_data.assign(shared.begin(), shared.end());
  p.public_data.assign(pub.begin(), pub.end());
  return p;
}

}  // namespace vhsm::ipc
