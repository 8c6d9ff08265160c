// json_util.h: strict, exception-free JSON parsing for JOSE inputs (headers, JWKs, flattened JWE).
// Wraps nlohmann::json so no exception leaves the jose library: input size and nesting depth are
// bounded, duplicate object members are rejected (RFC 7515 section 5.2 / RFC 7516 section 5.2
// allow rejecting them; we always do), and typed member getters return a Status naming the member.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace vhsm::jose {

struct JsonLimits {
  size_t max_bytes = 64 * 1024;
  int max_depth = 16;
};

// Parses `text` as one JSON value. kInvalidArgument for malformed JSON, duplicate keys or too
// deep nesting (message names `what`); kResourceExhausted when longer than limits.max_bytes.
Result<nlohmann::json> ParseJsonStrict(std::string_view text, std::string_view what,
                                       const JsonLimits& limits = {});
// As ParseJsonStrict and additionally requires a JSON object.
Result<nlohmann::json> ParseJsonObject(std::string_view text, std::string_view what,
                                       const JsonLimits& limits = {});

// Member accessors on an object. Get* fail with kInvalidArgument when the member is absent or of
// the wrong type; Optional* return nullopt when absent and fail only on the wrong type.
Result<std::string> GetString(const nlohmann::json& obj, std::string_view member, std::string_view what);
Result<std::optional<std::string>> OptionalString(const nlohmann::json& obj, std::string_view member,
                                                  std::string_view what);
// A base64url (no padding) string member decoded to bytes.
Result<Bytes> GetBase64Url(const nlohmann::json& obj, std::string_view member, std::string_view what);
Result<std::optional<Bytes>> OptionalBase64Url(const nlohmann::json& obj, std::string_view member,
                                               std::string_view what);
// An integer NumericDate-like member (RFC 7519 section 2); fractional values are truncated.
Result<std::optional<int64_t>> OptionalInt(const nlohmann::json& obj, std::string_view member,
                                           std::string_view what);

// Serialises without exceptions (invalid UTF-8 is replaced, never thrown).
std::string DumpJson(const nlohmann::json& value);
std::string DumpJson(const nlohmann::ordered_json& value);

}  // namespace vhsm::jose
