// Lab files warn about unknown keys instead of failing (SPEC 15.1 rule 5), also inside the values
// spelt as JSON that the library reads strictly: a link condition table (`impair`,
// `downlink_condition`, `uplink_condition`) and `nat = { custom = {...} }`. These functions drop
// the keys the library does not read and report each one by its path; whatever is left the library
// still checks as before (types, ranges, required keys). A string value passes through untouched.
//
//   auto j = drop_unknown_condition_keys(toml_to_json(v), "impair", warn);   // warn("impair.colour")
//   s.impair = LinkCondition::from_json(j);
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

namespace patchbay::config {

using UnknownKey = std::function<void(const std::string& key_path)>;

// A link condition table, flat or the legacy { manual = {...} }, with its burst_loss table.
nlohmann::json drop_unknown_condition_keys(nlohmann::json j, const std::string& path, const UnknownKey& warn);

// A NAT value: { custom = {...} } with its timeouts table; keys beside `custom` are unknown too.
nlohmann::json drop_unknown_nat_keys(nlohmann::json j, const std::string& path, const UnknownKey& warn);

}  // namespace patchbay::config
