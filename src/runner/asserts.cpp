#include "runner/asserts.hpp"

#include <re2/re2.h>

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <optional>

#include "patchbay/error.hpp"

namespace patchbay::runner {
namespace {

// Searched in this order (SPEC 15.4) and the first one present splits the check, so a right side may
// contain a later operator: "x.msg == a < b" compares against "a < b".
constexpr std::array<std::string_view, 8> kOperators = {" == ", " != ", " contains ", " matches ",
                                                        " >= ", " <= ", " > ",        " < "};

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::optional<double> parse_number(std::string_view s) {
  s = trim(s);
  if (s.starts_with('+')) s.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string describe(const Check& c, const std::string& got) {
  return "'" + c.lhs + "' (got '" + got + "') " + c.op + " '" + c.rhs + "'";
}

}  // namespace

Check parse_check(std::string_view check) {
  for (auto op : kOperators) {
    const std::size_t at = check.find(op);
    if (at == std::string_view::npos) continue;
    Check c{std::string(trim(check.substr(0, at))), std::string(trim(op)),
            std::string(trim(check.substr(at + op.size())))};
    if (c.lhs.empty())
      throw ConfigError("assert '" + std::string(check) + "'", "missing capture key before '" + c.op + "'");
    if (c.op == "matches") {
      RE2 re(c.rhs, RE2::Quiet);
      if (!re.ok())
        throw ConfigError("assert '" + std::string(check) + "'",
                          "invalid regex '" + c.rhs + "': " + re.error());
    }
    return c;
  }
  throw ConfigError(
      "assert '" + std::string(check) + "'",
      "no operator found (expected one of ==, !=, contains, matches, >=, <=, >, < with spaces around it)");
}

AssertOutcome evaluate(const Check& c, const CaptureStore& store) {
  const std::optional<std::string> got = store.latest(c.lhs);
  if (!got) return {false, "assert FAILED: cannot resolve '" + c.lhs + "'"};
  const std::string& v = *got;

  bool ok = false;
  if (c.op == "==") {
    ok = v == c.rhs;
  } else if (c.op == "!=") {
    ok = v != c.rhs;
  } else if (c.op == "contains") {
    ok = v.find(c.rhs) != std::string::npos;
  } else if (c.op == "matches") {
    RE2 re(c.rhs, RE2::Quiet);
    if (!re.ok()) return {false, "assert FAILED: " + describe(c, v) + ": invalid regex: " + re.error()};
    ok = RE2::PartialMatch(v, re);
  } else {
    const auto l = parse_number(v);
    if (!l) return {false, "assert FAILED: " + describe(c, v) + ": left side is not a number"};
    const auto r = parse_number(c.rhs);
    if (!r) return {false, "assert FAILED: " + describe(c, v) + ": right side is not a number"};
    if (c.op == ">=") {
      ok = *l >= *r;
    } else if (c.op == "<=") {
      ok = *l <= *r;
    } else if (c.op == ">") {
      ok = *l > *r;
    } else if (c.op == "<") {
      ok = *l < *r;
    } else {
      return {false, "assert FAILED: " + describe(c, v) + ": unknown operator"};
    }
  }
  if (!ok) return {false, "assert FAILED: " + describe(c, v)};
  return {true, "assert: PASS " + describe(c, v)};
}

}  // namespace patchbay::runner
