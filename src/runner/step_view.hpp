// One expanded sim step as typed values (SPEC 15.4): every accessor's ConfigError names the step's
// position, its action and the key, so a bad step reads "step 3 (set-nat) key 'nat': ...".
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "patchbay/error.hpp"
#include "runner/duration.hpp"
#include "runner/values.hpp"

namespace patchbay::runner {

// A step that failed at run time (not a configuration error): its message is what sim.json and
// the terminal show.
struct StepFailed : Error {
  using Error::Error;
};

// "2m", "3s" or "250ms": the shortest exact spelling, for messages.
inline std::string describe(std::chrono::milliseconds d) {
  if (d.count() % 60000 == 0) return std::to_string(d.count() / 60000) + "m";
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

struct StepView {
  const nlohmann::json& j;
  std::size_t index;  // 0-based
  std::string action;

  std::string where(const std::string& key) const {
    return "step " + std::to_string(index + 1) + " (" + action + ")" +
           (key.empty() ? "" : " key '" + key + "'");
  }
  bool has(const char* key) const { return j.contains(key) && !j.at(key).is_null(); }
  std::string str(const char* key) const {
    if (!has(key)) throw ConfigError(where(key), "missing");
    if (!j.at(key).is_string()) throw ConfigError(where(key), "expected a string, got " + j.at(key).dump());
    return j.at(key).get<std::string>();
  }
  std::optional<std::string> opt_str(const char* key) const {
    if (!has(key)) return std::nullopt;
    return str(key);
  }
  std::vector<std::string> strings(const char* key) const {
    return has(key) ? string_or_strings(j.at(key), where(key)) : std::vector<std::string>{};
  }
  // A table of strings; other values are kept as their JSON text.
  std::map<std::string, std::string> table(const char* key) const {
    std::map<std::string, std::string> out;
    if (!has(key)) return out;
    if (!j.at(key).is_object()) throw ConfigError(where(key), "expected a table");
    for (auto& [k, v] : j.at(key).items()) out[k] = v.is_string() ? v.get<std::string>() : v.dump();
    return out;
  }
  std::optional<std::chrono::milliseconds> duration(const char* key) const {
    if (!has(key)) return std::nullopt;
    return parse_duration(str(key), where(key));
  }
  bool boolean(const char* key, bool dflt) const {
    if (!has(key)) return dflt;
    if (!j.at(key).is_boolean()) throw ConfigError(where(key), "expected true or false");
    return j.at(key).get<bool>();
  }
};

}  // namespace patchbay::runner
