// Reading sim-file values that were converted to JSON.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "patchbay/error.hpp"

namespace patchbay::runner {

// A string or an array of strings (cmd, checks, requires, features ...); `where` names the file,
// table and key in the ConfigError.
inline std::vector<std::string> string_or_strings(const nlohmann::json& v, const std::string& where) {
  if (v.is_string()) return {v.get<std::string>()};
  if (!v.is_array()) throw ConfigError(where, "expected a string or an array of strings, got " + v.dump());
  std::vector<std::string> out;
  for (auto& e : v) {
    if (!e.is_string()) throw ConfigError(where, "expected an array of strings, found " + e.dump());
    out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace patchbay::runner
