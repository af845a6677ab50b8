// Sim files (SPEC 15.2): one TOML file describing a topology, binaries and the steps to run.
//
// load_sim reads the file, resolves `[[extends]]` and `[sim].topology`, and keeps everything the
// later stages need as plain data: the lab table to build and the raw step, template and group
// tables as JSON (expand.hpp turns those into concrete steps).
//
//   auto sim = patchbay::runner::load_sim("sims/ping.toml", std::filesystem::current_path());
//   auto counted = patchbay::runner::counted_devices(*sim.topology);
//   auto steps = patchbay::runner::expand_steps(sim, counted);
//
// Every failure is a PhaseError whose phase says which stage failed (SPEC 15.7): read-sim,
// parse-sim, load-extends or load-topology. Messages name the file, the table and the key.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

#include "runner/phase.hpp"

namespace patchbay::runner {

struct SimFile {
  std::filesystem::path path;                          // as given
  std::string name;                                    // [sim].name, default the file stem
  std::optional<std::string> topology_ref;             // [sim].topology
  std::optional<std::filesystem::path> topology_path;  // resolved file when external
  bool inline_topology = false;                        // [[router]]/[device]/[region] present in the sim
  // The lab table to build: the sim's router/device/region tables (inline) or the loaded external
  // topology file. Never null; empty when the sim has no topology at all.
  std::shared_ptr<toml::table> topology;
  // [[binary]] tables after merging extends: sim definitions override extends; among extends files
  // the first definition of a name wins.
  std::vector<nlohmann::json> binaries;
  std::vector<nlohmann::json> prepare;              // extends' [[prepare]] first, then the sim's
  std::map<std::string, nlohmann::json> templates;  // [[step-template]] by name, raw (incl. "name")
  std::map<std::string, nlohmann::json> groups;     // [[step-group]] by name: raw table incl. "step"
  std::vector<nlohmann::json> steps;                // raw [[step]] tables in file order
  std::vector<std::string> warnings;                // unknown top-level keys etc.
};

// Relative `path` is taken relative to `cwd`, which is also the last place searched for extends
// files and topologies.
SimFile load_sim(const std::filesystem::path& path, const std::filesystem::path& cwd);

// True when the table has a top-level `sim`, `step` or `binary` key: `patchbay inspect` uses this
// to tell sims from topology files.
bool looks_like_sim(const toml::table& root);

// Base name -> count for every [device.X] with `count`. A count that is not an integer in
// 1..100000 throws PhaseError("load-topology") naming the device and the value.
std::map<std::string, int> counted_devices(const toml::table& topology);

}  // namespace patchbay::runner
