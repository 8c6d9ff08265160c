// bytes.h: byte containers and text encodings (hex, standard and URL-safe base64) used at every
// edge. Decoders are strict: they reject bad characters, odd lengths and non-canonical padding
// with a Status naming what was wrong, so untrusted text never half-decodes.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vhsm {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

inline ByteSpan AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsStringView(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes ToBytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Lowercase hex.
std::string HexEncode(ByteSpan data);
// Accepts upper/lowercase; an optional "0x" prefix; rejects odd lengths and non-hex characters.
Result<Bytes> HexDecode(std::string_view hex);
// Decodes hex that must be exactly `want_len` bytes; `what` names the field in errors.
Result<Bytes> HexDecodeExact(std::string_view hex, size_t want_len, std::string_view what);

// RFC 4648 section 4 (with padding).
std::string Base64Encode(ByteSpan data);
Result<Bytes> Base64Decode(std::string_view text);
// RFC 4648 section 5, no padding (JOSE). Decoding rejects '=' and whitespace.
std::string Base64UrlEncode(ByteSpan data);
Result<Bytes> Base64UrlDecode(std::string_view text);

// True when every byte is zero.
bool IsAllZero(ByteSpan data);
// Constant-time equality for MACs, tags, PINs, tokens (CRYPTO_memcmp). Lengths are public.
bool ConstantTimeEquals(ByteSpan a, ByteSpan b);

}  // namespace vhsm
