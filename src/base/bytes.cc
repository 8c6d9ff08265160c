#include "base/bytes.h"

#include <openssl/crypto.h>

#include <array>

namespace vhsm {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kStdAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string EncodeBase64(ByteSpan data, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    if (pad) out += "==";
  } else if (rest == 2) {
    uint32_t v = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    if (pad) out += '=';
  }
  return out;
}

Result<Bytes> DecodeBase64(std::string_view text, const char* alphabet, bool padded) {
  std::array<int, 256> table;
  table.fill(-1);
  for (int k = 0; k < 64; ++k) table[static_cast<uint8_t>(alphabet[k])] = k;

  size_t len = text.size();
  size_t pad = 0;
  if (padded) {
    if (len % 4 != 0) return InvalidArgumentError("base64: length " + std::to_string(len) + " is not a multiple of 4");
    while (pad < 2 && len > 0 && text[len - 1] == '=') { --len; ++pad; }
  }
  if (len % 4 == 1) return InvalidArgumentError("base64: truncated input");
  Bytes out;
  out.reserve(len * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < len; ++i) {
    int v = table[static_cast<uint8_t>(text[i])];
    if (v < 0) return InvalidArgumentError("base64: invalid character at offset " + std::to_string(i));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>((acc >> bits) & 0xFF));
    }
  }
  // Non-canonical encodings (non-zero leftover bits) are rejected.
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return InvalidArgumentError("base64: non-canonical trailing bits");
  if (padded && pad != (4 - len % 4) % 4) return InvalidArgumentError("base64: wrong padding");
  return out;
}

}  // namespace

std::string HexEncode(ByteSpan data) {
  std::string out;
  out.reserve(data.size() * 2);
  for (uint8_t b : data) {
    out += kHexDigits[b >> 4];
    out += kHexDigits[b & 0xF];
  }
  return out;
}

Result<Bytes> HexDecode(std::string_view hex) {
  if (hex.size() >= 2 && hex[0] == '0' && (hex[1] == 'x' || hex[1] == 'X')) hex.remove_prefix(2);
  if (hex.size() % 2 != 0) return InvalidArgumentError("hex: odd number of digits (" + std::to_string(hex.size()) + ")");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgumentError("hex: invalid digit at offset " + std::to_string(2 * i));
    out[i] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return out;
}

Result<Bytes> HexDecodeExact(std::string_view hex, size_t want_len, std::string_view what) {
  auto decoded = HexDecode(hex);
  if (!decoded.ok()) return decoded.status().Annotate(what);
  if (decoded->size() != want_len) {
    return InvalidArgumentError(std::string(what) + ": got " + std::to_string(decoded->size()) +
                                " bytes, want " + std::to_string(want_len));
  }
  return decoded;
}

std::string Base64Encode(ByteSpan data) { return EncodeBase64(data, kStdAlphabet, true); }
Result<Bytes> Base64Decode(std::string_view text) { return DecodeBase64(text, kStdAlphabet, true); }
std::string Base64UrlEncode(ByteSpan data) { return EncodeBase64(data, kUrlAlphabet, false); }
Result<Bytes> Base64UrlDecode(std::string_view text) { return DecodeBase64(text, kUrlAlphabet, false); }

bool IsAllZero(ByteSpan data) {
  uint8_t acc = 0;
  for (uint8_t b : data) acc |= b;
  return acc == 0;
}

bool ConstantTimeEquals(ByteSpan a, ByteSpan b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace vhsm
