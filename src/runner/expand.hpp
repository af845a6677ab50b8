// Step expansion (SPEC 15.3): raw [[step]] tables -> the concrete steps the executor runs.
//
// Resolves `use` (a group first, then a template), substitutes `${group.<var>}`, merges template
// and call site, defaults ids, rewrites `.`-prefixed results, and clones steps, wait-fors and assert
// checks per instance of a counted device. The output is one JSON object per step, each with a
// string `action`.
//
//   auto sim = load_sim(path, cwd);
//   auto steps = expand_steps(sim, counted_devices(*sim.topology));
//   for (auto& s : steps) run(s["action"].get<std::string>(), s);
//
// Every error is PhaseError("expand-steps") naming the file, the 1-based [[step]] index (and the
// group step inside it) and the key. Runtime `${...}` references other than `${group.*}` are left
// untouched for the executor.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runner/sim_file.hpp"

namespace patchbay::runner {

// `counted` maps a device base name to its instance count (counted_devices()). Call-site keys
// that `use` ignores, and a wait-for on an id no step defines (kept: it waits for nothing, as in
// the original runner), are reported in `warnings` when given.
std::vector<nlohmann::json> expand_steps(const SimFile& sim, const std::map<std::string, int>& counted,
                                         std::vector<std::string>* warnings = nullptr);

// Replaces every `${group.<k>}` in the string values of `value` (recursively) with vars[k];
// non-string vars are inserted as compact JSON. An unknown k throws PhaseError("expand-steps")
// with `where` as the context.
nlohmann::json substitute_group_vars(const nlohmann::json& value, const nlohmann::json& vars,
                                     const std::string& where);

}  // namespace patchbay::runner
