// release_policy.h: the Provisioning Service's per-resource release policies. A policy is JSON:
//   node := {"allOf": [node, ...]} | {"anyOf": [node, ...]} | test
//   test := {"claim": "<RFC 6901 JSON Pointer into the token payload>", <op>: <value>}
//   op   := "equals" | "notEquals" | "in" | "greaterOrEquals" | "lessOrEquals" | "exists" | "matches"
// e.g. {"allOf":[{"claim":"/submods/cpu0/ear.status","equals":"affirming"}]}. Semantics:
//   equals / notEquals  the claim is present and (not) equal to the value (deep JSON equality;
//                       numbers compare by value)
//   in                  the claim is present and equal to one element of the (non-empty) array
//   greaterOrEquals / lessOrEquals  the claim and the value are numbers, compared numerically
//   exists              true: the claim is present; false: it is absent
//   matches             the claim is a string matching the pattern, ASCII case-insensitively,
//                       '*' = any run, '?' = one character (hex prefix: "a1b2*")
// A missing claim fails every test except {"exists": false}. Parsing is strict (unknown
// members, duplicate members, empty allOf/anyOf, wrong value types are errors naming the place)
// and bounded (64 KiB, depth 16, 512 nodes). Evaluation never fails: it yields a decision that
// names the first failing test by its position ("allOf[1]") plus a human-readable detail.
// Immutable after parsing; thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vhsm::provisioning {

inline constexpr size_t kMaxPolicyBytes = 64 * 1024;
inline constexpr int kMaxPolicyDepth = 16;
inline constexpr size_t kMaxPolicyNodes = 512;
inline constexpr size_t kMaxPointerBytes = 512;
inline constexpr size_t kMaxInValues = 256;

struct PolicyDecision {
  bool allowed = false;
  std::string rule;    // position of the deciding test ("allOf[1]", "anyOf"), "" when allowed
  std::string detail;  // "claim /submods/cpu0/ear.status: want equals \"affirming\", found \"warning\""
};

// RFC 6901 JSON Pointer, parsed into reference tokens. kInvalidArgument for a pointer that does
// not start with '/' (except ""), a bad '~' escape, or more than kMaxPointerBytes.
Result<std::vector<std::string>> ParseJsonPointer(std::string_view pointer);
// The value the tokens point at, or nullptr when absent. Array indexes are decimal without
// leading zeros ("-" and anything else never match).
const nlohmann::json* ResolveJsonPointer(const nlohmann::json& doc, const std::vector<std::string>& tokens);

// Glob match as described above ('*', '?', ASCII case-insensitive); linear memory, no recursion.
bool GlobMatches(std::string_view pattern, std::string_view text);

class ReleasePolicy {
 public:
  struct Node;

  static Result<ReleasePolicy> Parse(std::string_view text);
  static Result<ReleasePolicy> FromJson(const nlohmann::json& policy);

  ReleasePolicy(ReleasePolicy&&) noexcept;
  ReleasePolicy& operator=(ReleasePolicy&&) noexcept;
  ~ReleasePolicy();

  PolicyDecision Evaluate(const nlohmann::json& claims) const;

  // The policy as parsed (compact JSON with sorted keys: stable under Parse -> text -> Parse).
  const std::string& canonical_text() const { return canonical_; }

 private:
  ReleasePolicy(std::unique_ptr<Node> root, std::string canonical);
  std::unique_ptr<Node> root_;
  std::string canonical_;
};

}  // namespace vhsm::provisioning
