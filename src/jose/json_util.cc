#include "jose/json_util.h"

#include <cmath>
#include <set>
#include <vector>

namespace vhsm::jose {

using nlohmann::json;

Result<json> ParseJsonStrict(std::string_view text, std::string_view what, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return ResourceExhaustedError(std::string(what) + ": " + std::to_string(text.size()) +
                                  " bytes, limit " + std::to_string(limits.max_bytes));
  }
  // The callback tracks member names per open object to find duplicates, and the depth.
  std::vector<std::set<std::string>> open_objects;
  bool duplicate = false;
  bool too_deep = false;
  std::string duplicate_name;
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
    switch (event) {
      case json::parse_event_t::object_start:
        open_objects.emplace_back();
        if (depth >= limits.max_depth) too_deep = true;
        break;
      case json::parse_event_t::array_start:
        if (depth >= limits.max_depth) too_deep = true;
        break;
      case json::parse_event_t::object_end:
        if (!open_objects.empty()) open_objects.pop_back();
        break;
      case json::parse_event_t::key:
        if (!open_objects.empty() && parsed.is_string()) {
          const std::string& name = parsed.get_ref<const std::string&>();
          if (!open_objects.back().insert(name).second && !duplicate) {
            duplicate = true;
            duplicate_name = name.substr(0, 64);
          }
        }
        break;
      default:
        break;
    }
    return true;
  };
  json value;
  try {
    value = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/false);
  } catch (const std::exception&) {
    return InvalidArgumentError(std::string(what) + ": not valid JSON");
  }
  if (value.is_discarded()) return InvalidArgumentError(std::string(what) + ": not valid JSON");
  if (duplicate) {
    return InvalidArgumentError(std::string(what) + ": duplicate member \"" + duplicate_name + "\"");
  }
  if (too_deep) {
    return InvalidArgumentError(std::string(what) + ": nesting deeper than " +
                                std::to_string(limits.max_depth));
  }
  return value;
}

Result<json> ParseJsonObject(std::string_view text, std::string_view what, const JsonLimits& limits) {
  VHSM_ASSIGN_OR_RETURN(json value, ParseJsonStrict(text, what, limits));
  if (!value.is_object()) return InvalidArgumentError(std::string(what) + ": want a JSON object");
  return value;
}

namespace {

const json* Find(const json& obj, std::string_view member) {
  if (!obj.is_object()) return nullptr;
  auto it = obj.find(std::string(member));
  return it == obj.end() ? nullptr : &*it;
}

std::string Name(std::string_view what, std::string_view member) {
  return std::string(what) + "." + std::string(member);
}

}  // namespace

Result<std::optional<std::string>> OptionalString(const json& obj, std::string_view member, std::string_view what) {
  const json* v = Find(obj, member);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) {
    return InvalidArgumentError(Name(what, member) + ": want a string, got " + v->type_name());
  }
  return std::optional<std::string>(v->get_ref<const std::string&>());
}

Result<std::string> GetString(const json& obj, std::string_view member, std::string_view what) {
  VHSM_ASSIGN_OR_RETURN(std::optional<std::string> s, OptionalString(obj, member, what));
  if (!s) return InvalidArgumentError(Name(what, member) + ": missing");
  return *std::move(s);
}

Result<std::optional<Bytes>> OptionalBase64Url(const json& obj, std::string_view member, std::string_view what) {
  VHSM_ASSIGN_OR_RETURN(std::optional<std::string> s, OptionalString(obj, member, what));
  if (!s) return std::optional<Bytes>();
  auto decoded = Base64UrlDecode(*s);
  if (!decoded.ok()) {
    return InvalidArgumentError(Name(what, member) + ": not base64url: " + decoded.status().message());
  }
  return std::optional<Bytes>(std::move(decoded).value());
}

Result<Bytes> GetBase64Url(const json& obj, std::string_view member, std::string_view what) {
  VHSM_ASSIGN_OR_RETURN(std::optional<Bytes> b, OptionalBase64Url(obj, member, what));
  if (!b) return InvalidArgumentError(Name(what, member) + ": missing");
  return *std::move(b);
}

Result<std::optional<int64_t>> OptionalInt(const json& obj, std::string_view member, std::string_view what) {
  const json* v = Find(obj, member);
  if (v == nullptr) return std::optional<int64_t>();
  if (v->is_number_integer()) {
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return InvalidArgumentError(Name(what, member) + ": out of range");
    }
    return std::optional<int64_t>(v->get<int64_t>());
  }
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (!std::isfinite(d) || d > 9.0e15 || d < -9.0e15) {
      return InvalidArgumentError(Name(what, member) + ": out of range");
    }
    return std::optional<int64_t>(static_cast<int64_t>(d));
  }
  return InvalidArgumentError(Name(what, member) + ": want a number, got " + v->type_name());
}

std::string DumpJson(const json& value) {
  return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string DumpJson(const nlohmann::ordered_json& value) {
  return value.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace vhsm::jose
