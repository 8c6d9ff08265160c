// ipc_fuzzer: the vhsmd frame header decoder and the payload codec (templates, mechanisms,
// mechanism parameters) on arbitrary bytes. Property: whatever decodes re-encodes to bytes that
// decode to the same value.
#include <cstdint>
#include <cstdlib>

#include "ipc/codec.h"
#include "ipc/mech_params.h"
#include "ipc/protocol.h"

using namespace vhsm;       // NOLINT
using namespace vhsm::ipc;  // NOLINT

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteSpan in(data, size);
  if (size >= kHeaderSize) {
    Result<FrameHeader> h = DecodeHeader(in.first(kHeaderSize));
    if (h.ok()) {
      Bytes again = EncodeFrame(h->opcode, h->request_id, {});
      Result<FrameHeader> h2 = DecodeHeader(again);
      if (!h2.ok() || h2->opcode != h->opcode || h2->request_id != h->request_id) std::abort();
    }
    in = in.subspan(kHeaderSize);
  }
  MsgReader r(in);
  Result<WireTemplate> t = r.GetTemplate("template");
  if (t.ok()) {
    MsgWriter w;
    w.PutTemplate(*t);
    Bytes b = w.Take();
    MsgReader r2(b);
    Result<WireTemplate> t2 = r2.GetTemplate("template");
    if (!t2.ok() || !(*t2 == *t)) std::abort();
  }
  Result<WireMechanism> m = r.GetMechanism("mechanism");
  if (m.ok()) {
    if (auto g = DecodeGcm(m->param); g.ok()) {
      auto g2 = DecodeGcm(EncodeGcm(*g));
      if (!g2.ok() || g2->iv != g->iv || g2->aad != g->aad || g2->tag_length_bits != g->tag_length_bits) std::abort();
    }
    if (auto p = DecodePss(m->param); p.ok()) {
      if (EncodePss(*p) != m->param) std::abort();
    }
    if (auto o = DecodeOaep(m->param); o.ok()) {
      if (EncodeOaep(*o) != m->param) std::abort();
    }
    if (auto c = DecodeCtr(m->param); c.ok()) {
      if (EncodeCtr(*c) != m->param) std::abort();
    }
  }
  return 0;
}
