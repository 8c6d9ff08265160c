#include "jose/jcs.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "jose/json_util.h"

namespace vhsm::jose {
namespace {

using nlohmann::json;

// Decodes UTF-8 strictly (no overlongs, no surrogates, max U+10FFFF) into UTF-16 code units.
Result<std::u16string> Utf8ToUtf16(std::string_view s) {
  std::u16string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<uint8_t>(s[i]);
    uint32_t cp = 0;
    size_t len = 0;
    if (b0 < 0x80) {
      cp = b0;
      len = 1;
    } else if ((b0 & 0xE0) == 0xC0) {
      cp = b0 & 0x1Fu;
      len = 2;
    } else if ((b0 & 0xF0) == 0xE0) {
      cp = b0 & 0x0Fu;
      len = 3;
    } else if ((b0 & 0xF8) == 0xF0) {
      cp = b0 & 0x07u;
      len = 4;
    } else {
      return InvalidArgumentError("JCS: invalid UTF-8 lead byte at offset " + std::to_string(i));
    }
    if (i + len > s.size()) return InvalidArgumentError("JCS: truncated UTF-8 sequence");
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<uint8_t>(s[i + k]);
      if ((b & 0xC0) != 0x80) return InvalidArgumentError("JCS: invalid UTF-8 continuation byte");
      cp = (cp << 6) | (b & 0x3Fu);
    }
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return InvalidArgumentError("JCS: invalid UTF-8 (overlong, surrogate or out of range)");
    }
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out.push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out.push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      out.push_back(static_cast<char16_t>(cp));
    }
    i += len;
  }
  return out;
}

// RFC 8785 section 3.2.2.2: escape only '"', '\\' and control characters; the short forms for
// \b \t \n \f \r, otherwise \u00xx in lowercase hex. All other characters are literal UTF-8.
Status AppendString(std::string_view s, std::string& out) {
  VHSM_RETURN_IF_ERROR(Utf8ToUtf16(s).status());  // validates
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (char c : s) {
    const auto u = static_cast<uint8_t>(c);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out.push_back(kHex[u >> 4]);
          out.push_back(kHex[u & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return OkStatus();
}

Status Append(const json& value, std::string& out, int depth);

Status AppendObject(const json& value, std::string& out, int depth) {
  // Sort by UTF-16 code units (RFC 8785 section 3.2.3), which differs from the UTF-8 byte order
  // nlohmann's std::map uses for characters above U+FFFF versus U+E000..U+FFFF.
  std::vector<std::pair<std::u16string, const std::string*>> keys;
  std::vector<const json*> values;
  keys.reserve(value.size());
  for (auto it = value.begin(); it != value.end(); ++it) {
    VHSM_ASSIGN_OR_RETURN(std::u16string k16, Utf8ToUtf16(it.key()));
    keys.emplace_back(std::move(k16), &it.key());
  }
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  out.push_back('{');
  bool first = true;
  for (const auto& [k16, key] : keys) {
    if (!first) out.push_back(',');
    first = false;
    VHSM_RETURN_IF_ERROR(AppendString(*key, out));
    out.push_back(':');
    VHSM_RETURN_IF_ERROR(Append(value.at(*key), out, depth + 1));
  }
  out.push_back('}');
  return OkStatus();
}

Status Append(const json& value, std::string& out, int depth) {
  if (depth > 64) return InvalidArgumentError("JCS: nesting deeper than 64");
  switch (value.type()) {
    case json::value_t::null: out += "null"; return OkStatus();
    case json::value_t::boolean: out += value.get<bool>() ? "true" : "false"; return OkStatus();
    case json::value_t::string: return AppendString(value.get_ref<const std::string&>(), out);
    case json::value_t::number_integer: {
      // JCS numbers are doubles: large integers lose precision exactly as in ECMAScript.
      VHSM_ASSIGN_OR_RETURN(std::string s, FormatEcmaScriptNumber(static_cast<double>(value.get<int64_t>())));
      out += s;
      return OkStatus();
    }
    case json::value_t::number_unsigned: {
      VHSM_ASSIGN_OR_RETURN(std::string s, FormatEcmaScriptNumber(static_cast<double>(value.get<uint64_t>())));
      out += s;
      return OkStatus();
    }
    case json::value_t::number_float: {
      VHSM_ASSIGN_OR_RETURN(std::string s, FormatEcmaScriptNumber(value.get<double>()));
      out += s;
      return OkStatus();
    }
    case json::value_t::array: {
      out.push_back('[');
      bool first = true;
      for (const json& v : value) {
        if (!first) out.push_back(',');
        first = false;
        VHSM_RETURN_IF_ERROR(Append(v, out, depth + 1));
      }
      out.push_back(']');
      return OkStatus();
    }
    case json::value_t::object: return AppendObject(value, out, depth);
    case json::value_t::binary: return InvalidArgumentError("JCS: binary values have no JSON form");
    case json::value_t::discarded: return InvalidArgumentError("JCS: discarded value");
  }
  return InvalidArgumentError("JCS: unknown value type");
}

}  // namespace

Result<std::string> FormatEcmaScriptNumber(double value) {
  if (!std::isfinite(value)) return InvalidArgumentError("JCS: NaN and Infinity are not JSON numbers");
  if (value == 0) return std::string("0");  // also -0
  // Shortest round-trip digits and exponent, from to_chars in scientific form: "d.ddde±xx".
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  if (res.ec != std::errc()) return InternalError("JCS: to_chars failed");
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  std::string out;
  if (sci.front() == '-') {
    out.push_back('-');
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits.push_back(c);
  }
  int exp10 = 0;
  std::string_view exp_text = sci.substr(e_pos + 1);
  if (!exp_text.empty() && exp_text.front() == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exp10);
  // ECMA-262 Number::toString: k digits, n = position of the decimal point.
  const int k = static_cast<int>(digits.size());
  const int n = exp10 + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out += digits.substr(0, static_cast<size_t>(n));
    out.push_back('.');
    out += digits.substr(static_cast<size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out += digits.substr(1);
    }
    out.push_back('e');
    out.push_back(n - 1 >= 0 ? '+' : '-');
    out += std::to_string(std::abs(n - 1));
  }
  return out;
}

Result<std::string> Canonicalize(const json& value) {
  std::string out;
  VHSM_RETURN_IF_ERROR(Append(value, out, 0));
  return out;
}

Result<std::string> CanonicalizeText(std::string_view json_text) {
  JsonLimits limits;
  limits.max_bytes = 1024 * 1024;
  limits.max_depth = 64;
  VHSM_ASSIGN_OR_RETURN(json value, ParseJsonStrict(json_text, "JCS input", limits));
  return Canonicalize(value);
}

}  // namespace vhsm::jose
