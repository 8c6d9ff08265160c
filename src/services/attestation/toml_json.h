// toml_json.h: converts TOML text (toml++) into the nlohmann::json value the Attestation Service's
// policy and config parsers take, so JSON and TOML files share one schema and one validator.
// Tables become objects, arrays arrays, integers/floats/booleans/strings themselves; TOML dates
// and times become RFC 3339 strings. toml++'s exceptions never leave this unit.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

#include "base/status.h"

namespace vhsm::attestation {

// kInvalidArgument with toml++'s line/column message for malformed TOML; kResourceExhausted
// when `text` is longer than `max_bytes`.
Result<nlohmann::json> TomlToJson(std::string_view text, size_t max_bytes);

}  // namespace vhsm::attestation
