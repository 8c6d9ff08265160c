// jcs.h: JSON Canonicalization Scheme (RFC 8785) over nlohmann::json. Used where a hash must be
// computed over JSON that different implementations serialise differently: the RCAR REPORT_DATA
// binding (SHA-384 of the canonical runtime data, ARCHITECTURE.md section 3) and RFC 7638 JWK
// thumbprints. Object members are sorted by their UTF-16 code units, strings use the minimal
// escapes of ECMAScript JSON.stringify, and numbers are IEEE 754 doubles printed as ECMAScript
// Number.prototype.toString does. Stateless and thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "base/status.h"

namespace vhsm::jose {

// Canonical UTF-8 text of `value`. kInvalidArgument for values JCS cannot represent: NaN or
// infinite numbers, invalid UTF-8 in strings or member names, binary values.
Result<std::string> Canonicalize(const nlohmann::json& value);

// Parses `json_text` strictly (duplicate members rejected) and canonicalises it.
Result<std::string> CanonicalizeText(std::string_view json_text);

// ECMAScript Number::toString for a finite double ("1e+21", "0.000001", "1e-7", "-0" → "0").
Result<std::string> FormatEcmaScriptNumber(double value);

}  // namespace vhsm::jose
