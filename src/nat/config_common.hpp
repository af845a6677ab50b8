// What the NAT, firewall and router-preset configuration files (nat_config.cpp,
// firewall_config.cpp, presets.cpp) share: reading JSON values with the key path in every error
// ("nat.custom.timeouts.udp: expected an integer from 1 to ...", all InvalidArgument), and the
// preset value of a kind. Pure values; no kernel access.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "patchbay/firewall.hpp"
#include "patchbay/nat.hpp"

namespace patchbay::nat {

// Strings quoted, anything else compact and bounded so a huge object cannot flood the message.
std::string show(const nlohmann::json& v);

[[noreturn]] void fail(const std::string& path, const std::string& cause);
[[noreturn]] void unknown_value(const std::string& path, const nlohmann::json& v,
                                const std::string& expected);

std::string key_path(const std::string& path, std::string_view key);  // "a" + "b" -> "a.b"
const nlohmann::json& expect_object(const nlohmann::json& v, const std::string& path);
// A misspelt optional key would otherwise silently keep its default, so unknown keys are errors.
void check_keys(const nlohmann::json& obj, const std::string& path,
                std::initializer_list<std::string_view> known);
const nlohmann::json* member(const nlohmann::json& obj, std::string_view key);  // nullptr if absent
const nlohmann::json& required(const nlohmann::json& obj, const std::string& path, std::string_view key);
// {"custom": X} -> &X, anything else -> nullptr.
const nlohmann::json* custom_body(const nlohmann::json& v);

bool read_bool(const nlohmann::json& v, const std::string& path);
std::uint64_t read_uint(const nlohmann::json& v, const std::string& path, std::uint64_t lo, std::uint64_t hi);

// A string that `lookup` knows, else unknown_value(path, v, expected).
template <class E, class Lookup>
E read_named(const nlohmann::json& v, const std::string& path, Lookup lookup, const std::string& expected) {
  if (v.is_string()) {
    if (std::optional<E> e = lookup(v.get_ref<const std::string&>())) return *e;
  }
  unknown_value(path, v, expected);
}

// The preset value of a preset kind (Custom has none: Nat::none() / Firewall::none()).
Nat nat_of_kind(Nat::Kind kind);
Firewall firewall_of_kind(Firewall::Kind kind);

}  // namespace patchbay::nat
