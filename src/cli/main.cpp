// The `patchbay` command line (SPEC 15.10). Flag parsing only; the work is in src/runner.
// Exit codes: 0 success, 1 failure, 2 usage error, 3 environment error, 130 interrupted.
#include <csignal>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "patchbay/error.hpp"
#include "patchbay/types.hpp"
#include "patchbay/userns.hpp"
#include "runner/commands.hpp"
#include "runner/duration.hpp"
#include "runner/phase.hpp"

namespace pr = patchbay::runner;

namespace {

// Labs need namespaces: enter a user namespace before any thread exists (no-op as root).
int enter_userns() {
  try {
    patchbay::init_userns();
    return 0;
  } catch (const patchbay::Error& e) {
    std::cerr << "patchbay: " << e.what() << "\n";
    return 3;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"patchbay: realistic networks from Linux namespaces; runs sims (TOML) inside them",
               "patchbay"};
  app.set_version_flag("-V,--version", std::string("patchbay ") + pr::version());
  app.require_subcommand(1);

  pr::RunOptions ro;
  std::string timeout, engine, project_root;
  std::optional<std::uint64_t> seed;
  auto* run = app.add_subcommand("run", "run sim files (or the sims listed in patchbay.toml)");
  run->add_option("sims", ro.inputs, "sim files or directories (searched recursively for *.toml)");
  run->add_option("--work-dir", ro.work_dir, "output directory")->capture_default_str();
  run->add_option("--binary", ro.binary_overrides, "override a binary: NAME:MODE:VALUE (path|fetch|build)");
  run->add_flag("--no-build", ro.no_build, "skip build commands; use existing artifacts");
  run->add_flag("-v,--verbose", ro.verbose, "print every line the sims' programs write");
  run->add_option("--project-root", project_root,
                  "directory that relative binary paths resolve against (default: cwd)");
  run->add_option("--timeout", timeout, "per-sim deadline, e.g. 90s or 5m; interrupts running steps");
  run->add_option("--seed", seed, "lab seed for every sim (default random, recorded in events)");
  run->add_option("--link-engine", engine, "userspace (default) or netem")
      ->check(CLI::IsMember({"userspace", "netem"}));
  run->add_flag("--json", ro.json, "print manifest.json on stdout instead of the summary table");

  pr::RunOptions po;
  std::string p_root;
  auto* prep =
      app.add_subcommand("prepare", "resolve binaries and run [[prepare]] entries without running sims");
  prep->add_option("sims", po.inputs, "sim files or directories");
  prep->add_option("--work-dir", po.work_dir, "output directory")->capture_default_str();
  prep->add_option("--binary", po.binary_overrides, "override a binary: NAME:MODE:VALUE");
  prep->add_flag("--no-build", po.no_build, "skip build commands");
  prep->add_option("--project-root", p_root, "project root (default: cwd)");

  pr::InspectOptions io;
  auto* insp = app.add_subcommand("inspect", "build a lab from a lab or sim file and keep it running");
  insp->add_option("input", io.input, "lab (topology) or sim TOML file")
      ->required()
      ->check(CLI::ExistingFile);
  insp->add_option("--work-dir", io.work_dir, "where inspect/<prefix>.json is written")
      ->capture_default_str();

  pr::RunInOptions rio;
  std::string inspect_id;
  auto* runin =
      app.add_subcommand("run-in", "run a command inside a node of a lab kept by `patchbay inspect`");
  runin->add_option("node", rio.node, "router or device name")->required();
  runin->add_option("--inspect", inspect_id,
                    "inspect id (lab prefix) or session file (default $NETSIM_INSPECT)");
  runin->add_option("--work-dir", rio.work_dir, "work directory of the inspect session")
      ->capture_default_str();
  runin->add_option("cmd", rio.argv, "command and arguments (after --)")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  try {
    if (*run) {
      if (!project_root.empty()) ro.project_root = project_root;
      if (!timeout.empty()) ro.timeout = pr::parse_duration(timeout, "--timeout");
      ro.seed = seed;
      if (!engine.empty())
        ro.link_engine =
            engine == "netem" ? patchbay::LinkEngine::KernelNetem : patchbay::LinkEngine::Userspace;
      if (int rc = enter_userns()) return rc;
      return pr::run_command(ro);
    }
    if (*prep) {
      if (!p_root.empty()) po.project_root = p_root;
      if (int rc = enter_userns()) return rc;
      return pr::prepare_command(po);
    }
    if (*insp) {
      if (int rc = enter_userns()) return rc;
      return pr::inspect_command(io);
    }
    if (*runin) {
      if (!inspect_id.empty()) rio.inspect = inspect_id;
      return pr::run_in_command(rio);
    }
  } catch (const patchbay::ConfigError& e) {
    std::cerr << "patchbay: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "patchbay: " << e.what() << "\n";
    return 1;
  }
  return 2;
}
