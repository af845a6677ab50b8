// TOML values as JSON, for the readers that hand a TOML table to a JSON-based parser (the lab
// file's `nat`, `firewall` and link conditions; the sim runner's steps, binaries and templates).
//
//   nlohmann::json j = config::toml_to_json(*table["step"].as_array()->get(0));
//
// Strings, booleans, arrays and tables map one to one; integers stay integers (int64) and floats
// floats. Dates and times have no JSON type and become their TOML 1.0 (RFC 3339) text:
// "1979-05-27", "07:32:00", "07:32:00.999999", "1979-05-27T07:32:00" (local) and
// "1979-05-27T07:32:00Z" / "1979-05-27T00:32:00-07:00" (with an offset), so a user sees what they
// wrote. Never throws for a well-formed toml++ tree.
#pragma once

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

namespace patchbay::config {

nlohmann::json toml_to_json(const toml::node& node);

}  // namespace patchbay::config
