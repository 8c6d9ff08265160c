// admin_request_fuzzer.cc: vhsmd's admin-socket request parser (provisioner/admin_protocol.h) on
// arbitrary bytes: the first 4 bytes as a frame header, the rest as a request body. Properties:
// never crashes; an over-size announced length is always refused; an accepted request encodes to
// a body that parses to the same request (same encoding again).
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "provisioner/admin_protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vhsm::provisioner;
  if (size >= 4) {
    vhsm::Result<uint32_t> n = DecodeAdminFrameLength(vhsm::ByteSpan(data, 4));
    const uint32_t announced = (uint32_t{data[0]} << 24) | (uint32_t{data[1]} << 16) | (uint32_t{data[2]} << 8) | data[3];
    if (n.ok() != (announced <= kMaxAdminFrame)) std::abort();
  }
  std::string_view body(reinterpret_cast<const char*>(data), size);
  vhsm::Result<AdminRequest> r = ParseAdminRequest(body);
  if (!r.ok()) return 0;
  const std::string enc = EncodeAdminRequest(*r);
  vhsm::Result<AdminRequest> again = ParseAdminRequest(enc);
  if (!again.ok() || EncodeAdminRequest(*again) != enc) std::abort();
  if (!EncodeAdminFrame(enc).ok()) std::abort();
  return 0;
}
