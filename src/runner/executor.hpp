// Runs one sim file (SPEC 15.7): load, build the lab into the sim directory, expand the steps,
// execute them in order under the sim deadline, then stop what is left, write the reports and
// destroy the lab.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "patchbay/types.hpp"
#include "runner/console.hpp"
#include "runner/results.hpp"

namespace patchbay::runner {

// What every sim of one invocation shares.
struct Invocation {
  std::filesystem::path run_root;
  std::filesystem::path project_root;
  std::filesystem::path cwd;
  std::map<std::string, std::string> binaries;  // resolved once per invocation
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<std::uint64_t> seed;
  std::optional<LinkEngine> link_engine;
  Console* console = nullptr;
};

struct StepRef {
  std::size_t index = 0;  // 0-based position in the expanded step list
  std::string action, id, device;
};

struct SimOutcome {
  std::string sim;                 // sim name
  std::filesystem::path sim_path;  // the file
  std::filesystem::path sim_dir;   // empty when the run root could not take it
  bool ok = false;
  std::chrono::system_clock::time_point started_at, ended_at;
  std::uint64_t runtime_ms = 0;
  std::optional<std::string> phase, message, error_line;
  std::optional<StepRef> step;
  std::vector<StepResultRecord> results;
  // error_line if set, else the message (progress.json / manifest.json / terminal).
  std::string error_summary() const;
};

SimOutcome run_sim(const std::filesystem::path& sim_path, const Invocation& inv);

}  // namespace patchbay::runner
