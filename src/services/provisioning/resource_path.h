// resource_path.h: the names the Provisioning Service stores secrets and policies under. A
// resource is <repo>/<type>/<tag> (Trustee KBS layout); a policy is attached to a full path or a
// prefix "repo/" or "repo/type/". Segments are checked before anything touches the store: only
// [A-Za-z0-9._-], 1..128 characters, never "." or "..", so no name can climb out of its repo or
// alias another after URL decoding. Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace vhsm::provisioning {

inline constexpr size_t kMaxSegmentBytes = 128;

struct ResourcePath {
  std::string repo, type, tag;
  // "repo/type/tag".
  std::string ToString() const { return repo + "/" + type + "/" + tag; }
  // The policy keys that may cover this resource, most specific first:
  // {"repo/type/tag", "repo/type/", "repo/"}.
  std::vector<std::string> PolicyKeys() const;
};

// kInvalidArgument naming `what` and the rule broken.
Status ValidateSegment(std::string_view segment, std::string_view what);

// Parses "repo/type/tag" (exactly three valid segments). kInvalidArgument otherwise.
Result<ResourcePath> ParseResourcePath(std::string_view text);

// Parses a policy target "repo", "repo/type" or "repo/type/tag" (a trailing '/' is allowed on
// the first two) into its policy key: "repo/", "repo/type/" or "repo/type/tag".
Result<std::string> ParsePolicyTarget(std::string_view text);

}  // namespace vhsm::provisioning
