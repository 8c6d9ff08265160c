// resource_path.cc
#include "services/provisioning/resource_path.h"

namespace vhsm::provisioning {
namespace {

std::vector<std::string_view> Split(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (;;) {
    size_t slash = text.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(text.substr(start));
      return parts;
    }
    parts.push_back(text.substr(start, slash - start));
    start = slash + 1;
    if (parts.size() > 8) return parts;  // caller rejects the count
  }
}

constexpr const char* kWhat[] = {"repo", "type", "tag"};

}  // namespace

std::vector<std::string> ResourcePath::PolicyKeys() const {
  return {ToString(), repo + "/" + type + "/", repo + "/"};
}

Status ValidateSegment(std::string_view segment, std::string_view what) {
  const std::string w(what);
  if (segment.empty()) return InvalidArgumentError("resource path: " + w + " is empty");
  if (segment.size() > kMaxSegmentBytes) {
    return InvalidArgumentError("resource path: " + w + " is " + std::to_string(segment.size()) +
                                " characters, limit " + std::to_string(kMaxSegmentBytes));
  }
  if (segment == "." || segment == "..") {
    return InvalidArgumentError("resource path: " + w + " may not be '.' or '..'");
  }
  for (char c : segment) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '-';
    if (!ok) {
      return InvalidArgumentError("resource path: " + w + " holds a character outside [A-Za-z0-9._-] (0x" +
                                  std::string(1, "0123456789abcdef"[(static_cast<unsigned char>(c) >> 4) & 0xF]) +
                                  std::string(1, "0123456789abcdef"[static_cast<unsigned char>(c) & 0xF]) + ")");
    }
  }
  return OkStatus();
}

Result<ResourcePath> ParseResourcePath(std::string_view text) {
  if (text.size() > 3 * kMaxSegmentBytes + 2) {
    return InvalidArgumentError("resource path: " + std::to_string(text.size()) + " characters, limit " +
                                std::to_string(3 * kMaxSegmentBytes + 2));
  }
  std::vector<std::string_view> parts = Split(text);
  if (parts.size() != 3) {
    return InvalidArgumentError("resource path: want <repo>/<type>/<tag>, got " + std::to_string(parts.size()) +
                                " segment(s)");
  }
  for (size_t i = 0; i < 3; ++i) VHSM_RETURN_IF_ERROR(ValidateSegment(parts[i], kWhat[i]));
  return ResourcePath{std::string(parts[0]), std::string(parts[1]), std::string(parts[2])};
}

Result<std::string> ParsePolicyTarget(std::string_view text) {
  if (text.size() > 3 * kMaxSegmentBytes + 3) {
    return InvalidArgumentError("policy target: " + std::to_string(text.size()) + " characters, too long");
  }
  std::vector<std::string_view> parts = Split(text);
  // "repo/" and "repo/type/" arrive with an empty last segment.
  if (parts.size() >= 2 && parts.size() <= 3 && parts.back().empty()) parts.pop_back();
  if (parts.empty() || parts.size() > 3) {
    return InvalidArgumentError("policy target: want <repo>[/<type>[/<tag>]], got " +
                                std::to_string(parts.size()) + " segment(s)");
  }
  std::string key;
  for (size_t i = 0; i < parts.size(); ++i) {
    VHSM_RETURN_IF_ERROR(ValidateSegment(parts[i], kWhat[i]));
    key += parts[i];
    if (i + 1 < parts.size() || parts.size() < 3) key += "/";
  }
  return key;
}

}  // namespace vhsm::provisioning
