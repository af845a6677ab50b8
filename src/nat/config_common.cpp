#include "nat/config_common.hpp"

#include <algorithm>

#include "patchbay/error.hpp"
#include "sys/spelling.hpp"

namespace patchbay::nat {

using json = nlohmann::json;

std::string show(const json& v) {
  std::string s = v.is_string() ? "'" + v.get<std::string>() + "'" : v.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

void fail(const std::string& path, const std::string& cause) {
  throw InvalidArgument(path, cause);
}

void unknown_value(const std::string& path, const json& v, const std::string& expected) {
  fail(path, "unknown value " + show(v) + " (expected " + expected + ")");
}

std::string key_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

const json& expect_object(const json& v, const std::string& path) {
  if (!v.is_object()) fail(path, "expected an object, got " + show(v));
  return v;
}

void check_keys(const json& obj, const std::string& path, std::initializer_list<std::string_view> known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) == known.end())
      fail(path, "unknown key '" + it.key() + "' (expected " + sys::one_of(known) + ")");
  }
}

const json* member(const json& obj, std::string_view key) {
  auto it = obj.find(std::string(key));
  return it == obj.end() ? nullptr : &*it;
}

const json& required(const json& obj, const std::string& path, std::string_view key) {
  if (const json* v = member(obj, key)) return *v;
  fail(path, "missing key '" + std::string(key) + "'");
}

const json* custom_body(const json& v) {
  return v.is_object() && v.size() == 1 ? member(v, "custom") : nullptr;
}

bool read_bool(const json& v, const std::string& path) {
  if (!v.is_boolean()) fail(path, "expected true or false, got " + show(v));
  return v.get<bool>();
}

std::uint64_t read_uint(const json& v, const std::string& path, std::uint64_t lo, std::uint64_t hi) {
  // nlohmann stores parsed non-negative numbers as unsigned but values built in code (json(5)) as
  // signed, so both representations must be accepted.
  std::optional<std::uint64_t> n;
  if (v.is_number_unsigned()) {
    n = v.get<std::uint64_t>();
  } else if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
    n = static_cast<std::uint64_t>(v.get<std::int64_t>());
  }
  if (!n || *n < lo || *n > hi)
    fail(path,
         "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " + show(v));
  return *n;
}

Nat nat_of_kind(Nat::Kind kind) {
  for (const Nat& n : Nat::presets())
    if (n.kind() == kind) return n;
  return Nat::none();  // Custom has no preset value; callers only pass preset kinds
}

Firewall firewall_of_kind(Firewall::Kind kind) {
  for (const Firewall& f : Firewall::presets())
    if (f.kind() == kind) return f;
  return Firewall::none();
}

}  // namespace patchbay::nat
