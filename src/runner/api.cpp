// The public runner API (include/patchbay/runner.hpp) over the CLI's commands.
#include "patchbay/runner.hpp"

#include "runner/commands.hpp"

namespace patchbay {

namespace {

runner::RunOptions to_run_options(const SimRunOptions& o) {
  runner::RunOptions r;
  for (const auto& in : o.inputs) r.inputs.push_back(in.string());
  r.work_dir = o.work_dir;
  r.project_root = o.project_root;
  r.binary_overrides = o.binary_overrides;
  r.no_build = o.no_build;
  r.verbose = o.verbose;
  r.timeout = o.timeout;
  r.seed = o.seed;
  r.live = false;
  r.summary = false;
  r.handle_signals = false;
  return r;
}

}  // namespace

SimRunResult run_sims(const SimRunOptions& options) {
  runner::RunResult r = runner::run_sims(to_run_options(options));
  SimRunResult out;
  out.exit_code = r.exit_code;
  out.run_dir = r.run_root;
  for (const auto& s : r.sims)
    out.sims.push_back({s.sim, s.sim_path, s.sim_dir, s.ok, s.ok ? std::string() : s.error_summary()});
  return out;
}

int prepare_sims(const SimRunOptions& options) {
  return runner::prepare_command(to_run_options(options));
}

}  // namespace patchbay
