// release_policy.cc
#include "services/provisioning/release_policy.h"

#include <cctype>

#include "jose/json_util.h"

namespace vhsm::provisioning {

using nlohmann::json;

enum class Op { kEquals, kNotEquals, kIn, kGreaterOrEquals, kLessOrEquals, kExists, kMatches };

struct ReleasePolicy::Node {
  enum class Kind { kAllOf, kAnyOf, kTest } kind = Kind::kTest;
  std::vector<Node> children;
  // kTest only.
  std::string pointer;
  std::vector<std::string> tokens;
  Op op = Op::kEquals;
  json value;
};

namespace {

using Node = ReleasePolicy::Node;

struct OpName {
  std::string_view name;
  Op op;
};
constexpr OpName kOps[] = {{"equals", Op::kEquals},
                           {"notEquals", Op::kNotEquals},
                           {"in", Op::kIn},
                           {"greaterOrEquals", Op::kGreaterOrEquals},
                           {"lessOrEquals", Op::kLessOrEquals},
                           {"exists", Op::kExists},
                           {"matches", Op::kMatches}};

std::string_view NameOf(Op op) {
  for (const OpName& o : kOps) {
    if (o.op == op) return o.name;
  }
  return "?";
}

// Short JSON text for messages (claims are public token content; bounded for log hygiene).
std::string Show(const json& v) {
  std::string s = jose::DumpJson(v);
  if (s.size() > 160) s = s.substr(0, 157) + "...";
  return s;
}

struct Parser {
  size_t nodes = 0;

  Result<Node> ParseNode(const json& j, const std::string& where, int depth) {
    if (++nodes > kMaxPolicyNodes) {
      return ResourceExhaustedError("policy: more than " + std::to_string(kMaxPolicyNodes) + " nodes");
    }
    if (depth > kMaxPolicyDepth) {
      return InvalidArgumentError("policy " + where + ": nested deeper than " + std::to_string(kMaxPolicyDepth));
    }
    if (!j.is_object()) return InvalidArgumentError("policy " + where + ": want an object, got " + Show(j));
    if (j.contains("allOf") || j.contains("anyOf")) return ParseGroup(j, where, depth);
    return ParseTest(j, where);
  }

  Result<Node> ParseGroup(const json& j, const std::string& where, int depth) {
    if (j.size() != 1) {
      return InvalidArgumentError("policy " + where + ": an allOf/anyOf object takes no other member");
    }
    const bool all = j.contains("allOf");
    const std::string name = all ? "allOf" : "anyOf";
    const json& arr = j.at(name);
    if (!arr.is_array()) return InvalidArgumentError("policy " + where + "." + name + ": want an array");
    if (arr.empty()) {
      return InvalidArgumentError("policy " + where + "." + name + ": empty (an empty " + name +
                                  " would decide nothing; write the tests out)");
    }
    Node n;
    n.kind = all ? Node::Kind::kAllOf : Node::Kind::kAnyOf;
    const std::string prefix = (where == "$" ? "" : where + ".") + name;
    for (size_t i = 0; i < arr.size(); ++i) {
      VHSM_ASSIGN_OR_RETURN(Node child, ParseNode(arr[i], prefix + "[" + std::to_string(i) + "]", depth + 1));
      n.children.push_back(std::move(child));
    }
    return n;
  }

  Result<Node> ParseTest(const json& j, const std::string& where) {
    if (!j.contains("claim")) {
      return InvalidArgumentError("policy " + where + ": want \"allOf\", \"anyOf\" or a test with \"claim\"");
    }
    if (!j["claim"].is_string()) return InvalidArgumentError("policy " + where + ".claim: want a string");
    Node n;
    n.pointer = j["claim"].get<std::string>();
    Result<std::vector<std::string>> tokens = ParseJsonPointer(n.pointer);
    if (!tokens.ok()) return tokens.status().Annotate("policy " + where + ".claim");
    n.tokens = std::move(*tokens);
    bool have_op = false;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "claim") continue;
      const OpName* found = nullptr;
      for (const OpName& o : kOps) {
        if (o.name == it.key()) found = &o;
      }
      if (found == nullptr) {
        return InvalidArgumentError("policy " + where + ": unknown member \"" + it.key().substr(0, 64) +
                                    "\" (operators: equals, notEquals, in, greaterOrEquals, lessOrEquals, "
                                    "exists, matches)");
      }
      if (have_op) return InvalidArgumentError("policy " + where + ": more than one operator in one test");
      have_op = true;
      n.op = found->op;
      n.value = it.value();
    }
    if (!have_op) return InvalidArgumentError("policy " + where + ": test on " + n.pointer + " has no operator");
    const std::string at = "policy " + where + "." + std::string(NameOf(n.op));
    switch (n.op) {
      case Op::kEquals:
      case Op::kNotEquals:
        break;
      case Op::kIn:
        if (!n.value.is_array() || n.value.empty() || n.value.size() > kMaxInValues) {
          return InvalidArgumentError(at + ": want a non-empty array of at most " + std::to_string(kMaxInValues) +
                                      " values");
        }
        break;
      case Op::kGreaterOrEquals:
      case Op::kLessOrEquals:
        if (!n.value.is_number()) return InvalidArgumentError(at + ": want a number, got " + Show(n.value));
        break;
      case Op::kExists:
        if (!n.value.is_boolean()) return InvalidArgumentError(at + ": want true or false, got " + Show(n.value));
        break;
      case Op::kMatches:
        if (!n.value.is_string() || n.value.get<std::string>().empty()) {
          return InvalidArgumentError(at + ": want a non-empty pattern string");
        }
        break;
    }
    return n;
  }
};

json ToJson(const Node& n) {
  switch (n.kind) {
    case Node::Kind::kAllOf:
    case Node::Kind::kAnyOf: {
      json arr = json::array();
      for (const Node& c : n.children) arr.push_back(ToJson(c));
      return json{{n.kind == Node::Kind::kAllOf ? "allOf" : "anyOf", std::move(arr)}};
    }
    case Node::Kind::kTest:
      break;
  }
  return json{{"claim", n.pointer}, {std::string(NameOf(n.op)), n.value}};
}

// Evaluates one test; on failure sets `detail`.
bool EvalTest(const Node& n, const json& claims, std::string& detail) {
  const json* v = ResolveJsonPointer(claims, n.tokens);
  const std::string want = "want " + std::string(NameOf(n.op)) + " " + Show(n.value);
  auto fail = [&](const std::string& found) {
    detail = "claim " + n.pointer + ": " + want + ", found " + found;
    return false;
  };
  if (n.op == Op::kExists) {
    const bool want_present = n.value.get<bool>();
    if ((v != nullptr) == want_present) return true;
    return fail(v ? Show(*v) : "no such claim");
  }
  if (v == nullptr) return fail("no such claim");
  switch (n.op) {
    case Op::kEquals:
      if (*v == n.value) return true;
      break;
    case Op::kNotEquals:
      if (*v != n.value) return true;
      break;
    case Op::kIn:
      for (const json& e : n.value) {
        if (*v == e) return true;
      }
      break;
    case Op::kGreaterOrEquals:
      if (!v->is_number()) return fail(Show(*v) + " (not a number)");
      if (!(*v < n.value)) return true;
      break;
    case Op::kLessOrEquals:
      if (!v->is_number()) return fail(Show(*v) + " (not a number)");
      if (!(n.value < *v)) return true;
      break;
    case Op::kMatches:
      if (!v->is_string()) return fail(Show(*v) + " (not a string)");
      if (GlobMatches(n.value.get_ref<const std::string&>(), v->get_ref<const std::string&>())) return true;
      break;
    case Op::kExists:
      break;
  }
  return fail(Show(*v));
}

bool Eval(const Node& n, const json& claims, const std::string& where, PolicyDecision& d) {
  if (n.kind == Node::Kind::kTest) {
    if (EvalTest(n, claims, d.detail)) return true;
    d.rule = where;
    return false;
  }
  const bool all = n.kind == Node::Kind::kAllOf;
  const std::string prefix = (where == "$" ? "" : where + ".") + (all ? "allOf" : "anyOf");
  PolicyDecision first_failure;
  for (size_t i = 0; i < n.children.size(); ++i) {
    PolicyDecision sub;
    const bool ok = Eval(n.children[i], claims, prefix + "[" + std::to_string(i) + "]", sub);
    if (all && !ok) {
      d = std::move(sub);
      return false;
    }
    if (!all && ok) return true;
    if (!all && i == 0) first_failure = std::move(sub);
  }
  if (all) return true;
  d.rule = prefix;
  d.detail = "none of " + std::to_string(n.children.size()) + " alternatives holds; " + first_failure.rule + ": " +
             first_failure.detail;
  return false;
}

}  // namespace

Result<std::vector<std::string>> ParseJsonPointer(std::string_view pointer) {
  if (pointer.size() > kMaxPointerBytes) {
    return InvalidArgumentError("JSON pointer: " + std::to_string(pointer.size()) + " bytes, limit " +
                                std::to_string(kMaxPointerBytes));
  }
  std::vector<std::string> tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') return InvalidArgumentError("JSON pointer: must be empty or start with '/'");
  std::string cur;
  for (size_t i = 1; i <= pointer.size(); ++i) {
    if (i == pointer.size() || pointer[i] == '/') {
      tokens.push_back(std::move(cur));
      cur.clear();
      continue;
    }
    char c = pointer[i];
    if (c == '~') {
      if (i + 1 >= pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1')) {
        return InvalidArgumentError("JSON pointer: '~' at offset " + std::to_string(i) +
                                    " must be followed by 0 or 1 (RFC 6901 section 3)");
      }
      cur += pointer[i + 1] == '0' ? '~' : '/';
      ++i;
      continue;
    }
    cur += c;
  }
  return tokens;
}

const json* ResolveJsonPointer(const json& doc, const std::vector<std::string>& tokens) {
  const json* cur = &doc;
  for (const std::string& t : tokens) {
    if (cur->is_object()) {
      auto it = cur->find(t);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      if (t.empty() || t.size() > 9 || (t.size() > 1 && t[0] == '0')) return nullptr;
      size_t idx = 0;
      for (char c : t) {
        if (c < '0' || c > '9') return nullptr;
        idx = idx * 10 + static_cast<size_t>(c - '0');
      }
      if (idx >= cur->size()) return nullptr;
      cur = &(*cur)[idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

bool GlobMatches(std::string_view pattern, std::string_view text) {
  // Iterative wildcard matching with one backtrack point (the last '*'): O(|p|*|t|) worst case.
  auto lower = [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); };
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || (pattern[p] != '*' && lower(pattern[p]) == lower(text[t])))) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

ReleasePolicy::ReleasePolicy(std::unique_ptr<Node> root, std::string canonical)
    : root_(std::move(root)), canonical_(std::move(canonical)) {}
ReleasePolicy::ReleasePolicy(ReleasePolicy&&) noexcept = default;
ReleasePolicy& ReleasePolicy::operator=(ReleasePolicy&&) noexcept = default;
ReleasePolicy::~ReleasePolicy() = default;

Result<ReleasePolicy> ReleasePolicy::Parse(std::string_view text) {
  if (text.size() > kMaxPolicyBytes) {
    return ResourceExhaustedError("policy: " + std::to_string(text.size()) + " bytes, limit " +
                                  std::to_string(kMaxPolicyBytes));
  }
  jose::JsonLimits limits;
  limits.max_bytes = kMaxPolicyBytes;
  limits.max_depth = 2 * kMaxPolicyDepth + 4;  // each policy level is an object inside an array
  VHSM_ASSIGN_OR_RETURN(json j, jose::ParseJsonObject(text, "policy", limits));
  return FromJson(j);
}

Result<ReleasePolicy> ReleasePolicy::FromJson(const json& policy) {
  Parser p;
  VHSM_ASSIGN_OR_RETURN(Node root, p.ParseNode(policy, "$", 0));
  std::string canonical = jose::DumpJson(ToJson(root));
  return ReleasePolicy(std::make_unique<Node>(std::move(root)), std::move(canonical));
}

PolicyDecision ReleasePolicy::Evaluate(const json& claims) const {
  PolicyDecision d;
  d.allowed = Eval(*root_, claims, "$", d);
  if (d.allowed) {
    d.rule.clear();
    d.detail.clear();
  }
  return d;
}

}  // namespace vhsm::provisioning
