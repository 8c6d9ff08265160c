#include "services/attestation/toml_json.h"

#include <sstream>
#include <string>

#include <toml++/toml.h>

#include "base/ascii.h"

namespace vhsm::attestation {

namespace {

constexpr int kMaxDepth = 16;

Result<nlohmann::json> Convert(const toml::node& node, int depth) {
  if (depth > kMaxDepth) return InvalidArgumentError("TOML: nesting deeper than 16");
  if (const toml::table* t = node.as_table()) {
    nlohmann::json obj = nlohmann::json::object();
    for (const auto& [key, value] : *t) {
      VHSM_ASSIGN_OR_RETURN(nlohmann::json v, Convert(value, depth + 1));
      obj[std::string(key.str())] = std::move(v);
    }
    return obj;
  }
  if (const toml::array* a = node.as_array()) {
    nlohmann::json arr = nlohmann::json::array();
    for (const toml::node& e : *a) {
      VHSM_ASSIGN_OR_RETURN(nlohmann::json v, Convert(e, depth + 1));
      arr.push_back(std::move(v));
    }
    return arr;
  }
  if (auto v = node.value_exact<std::string>()) return nlohmann::json(*v);
  if (auto v = node.value_exact<int64_t>()) return nlohmann::json(*v);
  if (auto v = node.value_exact<double>()) return nlohmann::json(*v);
  if (auto v = node.value_exact<bool>()) return nlohmann::json(*v);
  // Dates and times: their TOML text form.
  std::ostringstream os;
  node.visit([&os](const auto& n) { os << n; });
  return nlohmann::json(os.str());
}

}  // namespace

Result<nlohmann::json> TomlToJson(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes) {
    return ResourceExhaustedError("TOML: " + std::to_string(text.size()) + " bytes, maximum " +
                                  std::to_string(max_bytes));
  }
  VHSM_RETURN_IF_ERROR(RequireAscii(text, "TOML"));
  toml::table table;
#if TOML_EXCEPTIONS
  try {
    table = toml::parse(text);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << "TOML: " << e.description() << " at line " << e.source().begin.line << ", column "
       << e.source().begin.column;
    return InvalidArgumentError(os.str());
  } catch (...) {
    return InvalidArgumentError("TOML: parse failed");
  }
#else
  toml::parse_result r = toml::parse(text);
  if (!r) {
    std::ostringstream os;
    os << "TOML: " << r.error().description() << " at line " << r.error().source().begin.line;
    return InvalidArgumentError(os.str());
  }
  table = std::move(r).table();
#endif
  return Convert(table, 0);
}

}  // namespace vhsm::attestation
