// The CLI's subcommands as functions returning exit codes (SPEC 15.10): main.cpp only parses
// flags. Exit codes: 0 success, 1 failure, 2 usage error, 3 environment error.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "patchbay/types.hpp"
#include "runner/executor.hpp"

namespace patchbay::runner {

struct RunOptions {
  std::vector<std::string> inputs;  // files or directories; empty = patchbay.toml discovery
  std::filesystem::path work_dir = ".patchbay-work";
  std::vector<std::string> binary_overrides;  // name:mode:value
  bool no_build = false;
  bool verbose = false;
  bool json = false;                   // print the manifest as JSON on stdout instead of the summary
  std::filesystem::path project_root;  // empty = cwd
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<std::uint64_t> seed;
  std::optional<LinkEngine> link_engine;
  std::optional<bool> live;    // status line; default: stderr is a terminal
  bool summary = true;         // the summary table (or the manifest with `json`) on stdout
  bool handle_signals = true;  // SIGINT/SIGTERM stop the run (interrupt.hpp); off for library callers
};

// What `patchbay run` did: its exit code, the run directory (empty when none was made) and one
// outcome per sim that was loaded (in order; sims not started are missing after an interrupt).
struct RunResult {
  int exit_code = 0;
  std::filesystem::path run_root;
  std::vector<SimOutcome> sims;
};
RunResult run_sims(const RunOptions& opts);
int run_command(const RunOptions& opts);  // run_sims(opts).exit_code
int prepare_command(const RunOptions& opts);

struct InspectOptions {
  std::filesystem::path input;
  std::filesystem::path work_dir = ".patchbay-work";
};
// Builds the lab, starts a keeper in every node, writes the session file, prints the exports and
// blocks until SIGINT/SIGTERM.
int inspect_command(const InspectOptions& opts);

struct RunInOptions {
  std::string node;
  std::optional<std::string> inspect;  // id or path to the session file; default $NETSIM_INSPECT
  std::filesystem::path work_dir = ".patchbay-work";
  std::vector<std::string> argv;
};
// Joins the node's namespaces in-process and execs argv; returns only on failure.
int run_in_command(const RunInOptions& opts);

std::string sanitize_for_env_key(std::string_view name);  // "fetcher-1" -> "fetcher_1"

}  // namespace patchbay::runner
