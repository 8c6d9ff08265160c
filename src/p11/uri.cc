#include "p11/uri.h"

#include <array>
#include <charconv>

namespace vhsm::p11 {

namespace {

constexpr std::string_view kScheme = "pkcs11:";

bool IsUnreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}
// RFC 7512 section 2.3: pk11-res-avail, plus "&" in the path and "/", "?", "|" in the query.
bool IsResAvail(char c) {
  return IsUnreserved(c) || c == ':' || c == '[' || c == ']' || c == '@' || c == '!' || c == '$' || c == '\'' ||
         c == '(' || c == ')' || c == '*' || c == '+' || c == ',' || c == '=';
}
bool IsPathChar(char c) { return IsResAvail(c) || c == '&'; }
bool IsQueryChar(char c) { return IsResAvail(c) || c == '/' || c == '?' || c == '|'; }

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `v`; every literal character must satisfy `allowed`.
Result<Bytes> PctDecode(std::string_view v, bool (*allowed)(char), std::string_view attr, size_t max_bytes) {
  Bytes out;
  out.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    if (c == '%') {
      if (i + 2 >= v.size()) {
        return InvalidArgumentError("pkcs11 URI: " + std::string(attr) + ": truncated percent-encoding");
      }
      const int hi = HexVal(v[i + 1]);
      const int lo = HexVal(v[i + 2]);
      if (hi < 0 || lo < 0) {
        return InvalidArgumentError("pkcs11 URI: " + std::string(attr) + ": bad percent-encoding at offset " +
                                    std::to_string(i));
      }
      out.push_back(static_cast<uint8_t>(hi * 16 + lo));
      i += 2;
    } else if (allowed(c)) {
      out.push_back(static_cast<uint8_t>(c));
    } else {
      return InvalidArgumentError("pkcs11 URI: " + std::string(attr) + ": character 0x" +
                                  HexEncode(Bytes{static_cast<uint8_t>(c)}) + " must be percent-encoded");
    }
    if (out.size() > max_bytes) {
      return InvalidArgumentError("pkcs11 URI: " + std::string(attr) + ": longer than " + std::to_string(max_bytes) +
                                  " bytes");
    }
  }
  return out;
}

std::string PctEncode(ByteSpan b) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (uint8_t c : b) {
    if (IsUnreserved(static_cast<char>(c))) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Status SetOnce(std::optional<std::string>& field, std::string_view attr, Bytes value) {
  if (field) return InvalidArgumentError("pkcs11 URI: " + std::string(attr) + ": given more than once");
  field = std::string(value.begin(), value.end());
  return OkStatus();
}

Result<uint64_t> ParseDecimal(std::string_view attr, const Bytes& v, uint64_t max) {
  uint64_t n = 0;
  const char* b = reinterpret_cast<const char*>(v.data());
  auto [p, ec] = std::from_chars(b, b + v.size(), n);
  if (v.empty() || ec != std::errc() || p != b + v.size() || n > max) {
    return InvalidArgumentError("pkcs11 URI: " + std::string(attr) + ": want a decimal number up to " +
                                std::to_string(max) + ", got '" + std::string(AsStringView(v)) + "'");
  }
  return n;
}

Status ParsePathAttr(Pkcs11Uri& u, std::string_view name, std::string_view raw) {
  auto text = [&](size_t max) { return PctDecode(raw, IsPathChar, name, max); };
  auto str = [&](std::optional<std::string>& field, size_t max) -> Status {
    VHSM_ASSIGN_OR_RETURN(Bytes v, text(max));
    return SetOnce(field, name, std::move(v));
  };
  auto twice = [&] { return InvalidArgumentError("pkcs11 URI: " + std::string(name) + ": given more than once"); };
  if (name == "token") return str(u.token, 32);
  if (name == "manufacturer") return str(u.manufacturer, 32);
  if (name == "serial") return str(u.serial, 16);
  if (name == "model") return str(u.model, 16);
  if (name == "library-manufacturer") return str(u.library_manufacturer, 32);
  if (name == "library-description") return str(u.library_description, 32);
  if (name == "slot-manufacturer") return str(u.slot_manufacturer, 32);
  if (name == "slot-description") return str(u.slot_description, 64);
  if (name == "object") return str(u.object, kMaxValueBytes);
  if (name == "id") {
    if (u.id) return twice();
    VHSM_ASSIGN_OR_RETURN(Bytes v, text(kMaxIdBytes));
    u.id = std::move(v);
    return OkStatus();
  }
  if (name == "slot-id") {
    if (u.slot_id) return twice();
    VHSM_ASSIGN_OR_RETURN(Bytes v, text(20));
    VHSM_ASSIGN_OR_RETURN(u.slot_id, ParseDecimal(name, v, UINT64_MAX));
    return OkStatus();
  }
  if (name == "library-version") {
    if (u.library_version) return twice();
    VHSM_ASSIGN_OR_RETURN(Bytes v, text(7));
    const std::string s(v.begin(), v.end());
    const size_t dot = s.find('.');
    LibraryVersion lv;
    VHSM_ASSIGN_OR_RETURN(uint64_t major, ParseDecimal(name, ToBytes(s.substr(0, dot)), 255));
    lv.major = static_cast<uint8_t>(major);
    if (dot != std::string::npos) {
      VHSM_ASSIGN_OR_RETURN(uint64_t minor, ParseDecimal(name, ToBytes(s.substr(dot + 1)), 255));
      lv.minor = static_cast<uint8_t>(minor);
    }
    u.library_version = lv;
    return OkStatus();
  }
  if (name == "type") {
    if (u.type) return twice();
    VHSM_ASSIGN_OR_RETURN(Bytes v, text(16));
    const std::string_view t = AsStringView(v);
    static constexpr std::array<ObjectType, 5> kTypes = {ObjectType::kPublic, ObjectType::kPrivate,
                                                         ObjectType::kCert, ObjectType::kSecretKey,
                                                         ObjectType::kData};
    for (ObjectType ot : kTypes) {
      if (t == ObjectTypeName(ot)) {
        u.type = ot;
        return OkStatus();
      }
    }
    return InvalidArgumentError("pkcs11 URI: type: want public, private, cert, secret-key or data, got '" +
                                std::string(t) + "'");
  }
  return InvalidArgumentError("pkcs11 URI: path attribute '" + std::string(name) +
                              "' is not supported (unknown path attributes are rejected: they narrow the match)");
}

Status ParseQueryAttr(Pkcs11Uri& u, std::string_view name, std::string_view raw) {
  auto str = [&](std::optional<std::string>& field, size_t max) -> Status {
    VHSM_ASSIGN_OR_RETURN(Bytes v, PctDecode(raw, IsQueryChar, name, max));
    return SetOnce(field, name, std::move(v));
  };
  if (name == "module-path") return str(u.module_path, kMaxValueBytes);
  if (name == "module-name") return str(u.module_name, 255);
  if (name == "pin-source") return str(u.pin_source, kMaxValueBytes);
  if (name == "pin-value") {
    if (u.pin_value) return InvalidArgumentError("pkcs11 URI: pin-value: given more than once");
    Result<Bytes> v = PctDecode(raw, IsQueryChar, name, kMaxPinBytes);
    if (!v.ok()) return InvalidArgumentError("pkcs11 URI: pin-value: malformed (value not shown)");
    u.pin_value = SecretBytes(*v);
    std::fill(v->begin(), v->end(), 0);
    return OkStatus();
  }
  if (name.substr(0, 2) == "x-") return OkStatus();  // vendor query attribute: ignored
  return InvalidArgumentError("pkcs11 URI: query attribute '" + std::string(name) + "' is not supported");
}

// Splits "name=value"; the name must be non-empty and made of [a-z0-9-].
Result<std::pair<std::string_view, std::string_view>> SplitAttr(std::string_view a, std::string_view part) {
  const size_t eq = a.find('=');
  if (eq == std::string_view::npos || eq == 0) {
    return InvalidArgumentError("pkcs11 URI: " + std::string(part) + " attribute: want name=value, got '" +
                                std::string(a.substr(0, 64)) + "'");
  }
  const std::string_view name = a.substr(0, eq);
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return InvalidArgumentError("pkcs11 URI: " + std::string(part) + " attribute name '" +
                                  std::string(name.substr(0, 64)) + "': want lowercase letters, digits and '-'");
    }
  }
  return std::make_pair(name, a.substr(eq + 1));
}

void AppendAttr(std::string& out, char sep, bool& first, std::string_view name, ByteSpan value) {
  if (!first) out.push_back(sep);
  first = false;
  out += name;
  out.push_back('=');
  out += PctEncode(value);
}

}  // namespace

std::string_view ObjectTypeName(ObjectType t) {
  switch (t) {
    case ObjectType::kPublic: return "public";
    case ObjectType::kPrivate: return "private";
    case ObjectType::kCert: return "cert";
    case ObjectType::kSecretKey: return "secret-key";
    case ObjectType::kData: return "data";
  }
  return "?";
}

bool IsPkcs11Uri(std::string_view text) {
  if (text.size() < kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kScheme[i]) return false;
  }
  return true;
}

Result<Pkcs11Uri> ParsePkcs11Uri(std::string_view text) {
  if (text.size() > kMaxUriBytes) {
    return InvalidArgumentError("pkcs11 URI: longer than " + std::to_string(kMaxUriBytes) + " bytes (got " +
                                std::to_string(text.size()) + ")");
  }
  if (!IsPkcs11Uri(text)) return InvalidArgumentError("pkcs11 URI: want the scheme 'pkcs11:'");
  std::string_view rest = text.substr(kScheme.size());
  if (rest.find('#') != std::string_view::npos) return InvalidArgumentError("pkcs11 URI: a fragment ('#') is not allowed");
  std::string_view path = rest, query;
  if (const size_t q = rest.find('?'); q != std::string_view::npos) {
    path = rest.substr(0, q);
    query = rest.substr(q + 1);
  }
  Pkcs11Uri u;
  auto each = [](std::string_view s, char sep, auto&& fn) -> Status {
    while (!s.empty()) {
      const size_t end = s.find(sep);
      const std::string_view a = s.substr(0, end);
      if (a.empty()) return InvalidArgumentError(std::string("pkcs11 URI: empty attribute (stray '") + sep + "')");
      VHSM_RETURN_IF_ERROR(fn(a));
      if (end == std::string_view::npos) break;
      s = s.substr(end + 1);
      if (s.empty()) return InvalidArgumentError(std::string("pkcs11 URI: trailing '") + sep + "'");
    }
    return OkStatus();
  };
  VHSM_RETURN_IF_ERROR(each(path, ';', [&](std::string_view a) -> Status {
    VHSM_ASSIGN_OR_RETURN(auto nv, SplitAttr(a, "path"));
    return ParsePathAttr(u, nv.first, nv.second);
  }));
  VHSM_RETURN_IF_ERROR(each(query, '&', [&](std::string_view a) -> Status {
    VHSM_ASSIGN_OR_RETURN(auto nv, SplitAttr(a, "query"));
    return ParseQueryAttr(u, nv.first, nv.second);
  }));
  if (u.pin_value && u.pin_source) {
    return InvalidArgumentError("pkcs11 URI: pin-value and pin-source: give at most one");
  }
  if (u.module_path && u.module_path->empty()) return InvalidArgumentError("pkcs11 URI: module-path: empty");
  return u;
}

Pkcs11Uri Pkcs11Uri::Clone() const {
  Pkcs11Uri c;
  c.token = token;
  c.manufacturer = manufacturer;
  c.serial = serial;
  c.model = model;
  c.library_manufacturer = library_manufacturer;
  c.library_description = library_description;
  c.library_version = library_version;
  c.slot_manufacturer = slot_manufacturer;
  c.slot_description = slot_description;
  c.slot_id = slot_id;
  c.object = object;
  c.id = id;
  c.type = type;
  c.module_path = module_path;
  c.module_name = module_name;
  if (pin_value) c.pin_value = pin_value->Clone();
  c.pin_source = pin_source;
  return c;
}

std::string Pkcs11Uri::ToString(bool with_pin) const {
  std::string out(kScheme);
  bool first = true;
  auto path = [&](std::string_view name, const std::optional<std::string>& v) {
    if (v) AppendAttr(out, ';', first, name, AsBytes(*v));
  };
  path("token", token);
  path("manufacturer", manufacturer);
  path("serial", serial);
  path("model", model);
  path("library-manufacturer", library_manufacturer);
  path("library-description", library_description);
  if (library_version) {
    const std::string v = std::to_string(library_version->major) + "." + std::to_string(library_version->minor);
    AppendAttr(out, ';', first, "library-version", AsBytes(v));
  }
  path("slot-manufacturer", slot_manufacturer);
  path("slot-description", slot_description);
  if (slot_id) AppendAttr(out, ';', first, "slot-id", AsBytes(std::to_string(*slot_id)));
  path("object", object);
  if (id) AppendAttr(out, ';', first, "id", *id);
  if (type) AppendAttr(out, ';', first, "type", AsBytes(ObjectTypeName(*type)));
  std::string q;
  bool qfirst = true;
  auto query = [&](std::string_view name, const std::optional<std::string>& v) {
    if (v) AppendAttr(q, '&', qfirst, name, AsBytes(*v));
  };
  query("module-path", module_path);
  query("module-name", module_name);
  query("pin-source", pin_source);
  if (pin_value) {
    if (with_pin) {
      AppendAttr(q, '&', qfirst, "pin-value", pin_value->Expose());
    } else {
      AppendAttr(q, '&', qfirst, "pin-value", AsBytes("REDACTED"));
    }
  }
  if (!q.empty()) out += "?" + q;
  return out;
}

bool Pkcs11Uri::Equals(const Pkcs11Uri& o) const {
  const bool pin_eq = (!pin_value && !o.pin_value) ||
                      (pin_value && o.pin_value && ConstantTimeEquals(pin_value->Expose(), o.pin_value->Expose()));
  return pin_eq && token == o.token && manufacturer == o.manufacturer && serial == o.serial && model == o.model &&
         library_manufacturer == o.library_manufacturer && library_description == o.library_description &&
         library_version == o.library_version && slot_manufacturer == o.slot_manufacturer &&
         slot_description == o.slot_description && slot_id == o.slot_id && object == o.object && id == o.id &&
         type == o.type && module_path == o.module_path && module_name == o.module_name &&
         pin_source == o.pin_source;
}

}  // namespace vhsm::p11
