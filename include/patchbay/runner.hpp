// patchbay/runner.hpp: running sim files from C++, as `patchbay run` and `patchbay prepare` do
// (SPEC 15). Part of the `patchbay::runner` library (CMake) / `patchbay-runner` (pkg-config), not
// of the umbrella header.
//
//   #include <patchbay/runner.hpp>
//   patchbay::SimRunOptions o;
//   o.inputs = {"sims/iperf.toml"};
//   o.work_dir = "/tmp/work";
//   patchbay::SimRunResult r = patchbay::run_sims(o);
//   for (const auto& s : r.sims)
//     if (!s.ok) std::cerr << s.name << " failed: " << s.error << "\n";
//   bool all_passed = r.ok();
//
// Guarantees: each call writes a run directory under `work_dir` exactly like the CLI (manifest.json,
// per-sim reports, `latest`), prints the CLI's progress lines on stderr (run_sims prints nothing on
// stdout), installs no signal handler, and returns after every lab it built is torn down. Bad input (no sim
// found, a malformed --binary override) gives exit code 2 and no run directory; a failing sim gives 1. The
// calling process must be able to make namespaces: call init_userns() first when not root
// (patchbay/userns.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace patchbay {

struct SimRunOptions {
  // Sim files or directories; empty = the sims patchbay.toml lists under `project_root`.
  std::vector<std::filesystem::path> inputs;
  std::filesystem::path work_dir = ".patchbay-work";
  std::filesystem::path project_root;                // empty = the current directory
  std::vector<std::string> binary_overrides;         // "name:mode:value", as --binary
  bool no_build = false;                             // as --no-build
  bool verbose = false;                              // echo every step's output on stderr
  std::optional<std::chrono::milliseconds> timeout;  // per sim, over the sims' own
  std::optional<std::uint64_t> seed;
};

struct SimReport {
  std::string name;            // [sim] name, or the file stem
  std::filesystem::path file;  // the sim file
  std::filesystem::path dir;   // its directory in the run (empty if none was made)
  bool ok = false;
  std::string error;  // the one-line failure, empty when ok
};

struct SimRunResult {
  int exit_code = 0;              // 0 all passed, 1 a sim failed, 2 bad input, 130 interrupted
  std::filesystem::path run_dir;  // <work_dir>/sim-YYMMDD-HHMMSS..., empty when none was made
  std::vector<SimReport> sims;
  bool ok() const { return exit_code == 0; }
};

// Runs the sims one after another (binaries assembled first, as the CLI does).
SimRunResult run_sims(const SimRunOptions& options);
// Resolves and builds the sims' binaries and runs their [[prepare]] commands, nothing else.
// Returns the CLI's exit code.
int prepare_sims(const SimRunOptions& options);

}  // namespace patchbay
