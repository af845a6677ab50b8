// The `patchbay` command line (SPEC 15.10). Flag parsing only; the work is in src/runner and src/server.
// Exit codes: 0 success, 1 failure, 2 usage error, 3 environment error, 130 interrupted.
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "patchbay/error.hpp"
#include "patchbay/log.hpp"
#include "patchbay/types.hpp"
#include "patchbay/userns.hpp"
#include "runner/commands.hpp"
#include "runner/duration.hpp"
#include "runner/fmt_log.hpp"
#include "runner/interrupt.hpp"
#include "runner/phase.hpp"
#include "server/command.hpp"
#include "vm/vm.hpp"

namespace pr = patchbay::runner;
namespace ps = patchbay::server;

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

// `run --open` / `run --bind`: the devtools server on the work dir while the sims run. Started
// after enter_userns() (which needs a process without threads). With --open it keeps serving
// after the run until Ctrl-C; the exit code stays the run's.
int run_with_devtools(const pr::RunOptions& ro, const std::string& bind, bool open) {
  if (!open && bind.empty()) return pr::run_command(ro);
  std::unique_ptr<ps::Server> web;
  try {
    web = ps::serve_in_background(ro.work_dir, bind.empty() ? std::string(ps::kDefaultBind) : bind);
  } catch (const ps::BindError& e) {
    std::cerr << "patchbay: " << e.what() << "\n";
    return 3;
  } catch (const patchbay::InvalidArgument& e) {
    std::cerr << "patchbay: run: " << e.what() << "\n";
    return 2;
  }
  std::cerr << "patchbay: " << web->url() << "\n";
  if (open) ps::open_in_browser(web->url(), std::cerr);
  int rc = pr::run_command(ro);
  if (open && (rc == 0 || rc == 1)) {
    std::cerr << "run finished; server still running (Ctrl-C to exit)\n";
    while (!pr::interrupted()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return rc;
}

// `run-in NODE [flags] -- CMD...` and, as in the original tool, `run-in NODE [flags] CMD...`.
// CLI11 sees only what precedes the first "--" (in a subcommand without positionals left it would
// not take "--" CMD as extras); run-in's prefix_command() then hands every word from the first one
// that is not a run-in flag on to remaining(). Returns the arguments CLI11 parses and the words after
// that "--", if any.
std::pair<std::vector<const char*>, std::optional<std::vector<std::string>>> split_run_in(int argc,
                                                                                          char** argv) {
  std::vector<const char*> parsed(argv, argv + argc);
  if (argc < 2 || std::string_view(argv[1]) != "run-in") return {parsed, std::nullopt};
  auto dashes = std::find(parsed.begin() + 2, parsed.end(), std::string_view("--"));
  if (dashes == parsed.end()) return {parsed, std::nullopt};
  std::vector<std::string> after(dashes + 1, parsed.end());
  parsed.erase(dashes, parsed.end());
  return {parsed, after};
}

// `vm ssh` and `vm run` take the rest of the line as it is: ssh's remote command (one leading `--`
// dropped) or run's sims and `patchbay run` flags, which CLI11 must not read as vm's own.
std::pair<std::vector<const char*>, std::vector<std::string>> split_vm(std::vector<const char*> parsed) {
  std::vector<std::string> rest;
  if (parsed.size() < 3 || std::string_view(parsed[1]) != "vm") return {parsed, rest};
  auto it = std::find_if(parsed.begin() + 2, parsed.end(), [](const char* a) {
    return std::string_view(a) == "ssh" || std::string_view(a) == "run";
  });
  if (it == parsed.end()) return {parsed, rest};
  rest.assign(it + 1, parsed.end());
  if (std::string_view(*it) == "ssh" && !rest.empty() && rest.front() == "--") rest.erase(rest.begin());
  if (std::string_view(*it) == "run") std::erase(rest, "--");
  parsed.erase(it + 1, parsed.end());
  return {parsed, rest};
}

// The command of run-in: the words from the first non-flag one (remaining()), then a "--" that
// belongs to the command itself (when the command started before it) and what followed it.
std::vector<std::string> run_in_command_words(const CLI::App& runin,
                                              const std::optional<std::vector<std::string>>& after) {
  std::vector<std::string> words = runin.remaining();
  if (!after) return words;
  if (!words.empty()) words.emplace_back("--");
  words.insert(words.end(), after->begin(), after->end());
  return words;
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
  run->add_option("--link-engine", engine, "userspace (the default and only engine)")
      ->check(CLI::IsMember({"userspace"}));
  run->add_flag("--json", ro.json, "print manifest.json on stdout instead of the summary table");
  bool run_open = false;
  std::string run_bind;
  run->add_flag("--open", run_open,
                "serve the work dir (devtools UI) and open a browser; serve on after the run");
  run->add_option("--bind", run_bind, "devtools server address while the sims run (default 127.0.0.1:7421)");

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

  ps::ServeOptions so;
  std::string serve_dir;
  auto* serve = app.add_subcommand("serve", "serve a work dir or outdir of runs to the devtools UI");
  serve->add_option("outdir", serve_dir, "directory of runs (default .patchbay-work)");
  serve->add_flag("--testdir", so.testdir, "serve $PATCHBAY_OUTDIR (where tests' labs write)");
  serve->add_option("--bind", so.bind, "address to listen on; port 0 picks a free port")
      ->capture_default_str();
  serve->add_flag("--open", so.open, "open the UI in a browser (xdg-open)");

  pr::RunInOptions rio;
  std::string inspect_id;
  auto* runin =
      app.add_subcommand("run-in", "run a command inside a node of a lab kept by `patchbay inspect`");
  runin->add_option("node", rio.node, "router or device name")->required();
  runin->add_option("--inspect", inspect_id,
                    "inspect id (lab prefix) or session file (default $NETSIM_INSPECT)");
  runin->add_option("--work-dir", rio.work_dir, "work directory of the inspect session")
      ->capture_default_str();
  runin->prefix_command();
  runin->footer("The command follows NODE and run-in's flags, with or without a `--` before it.");

  pr::FmtLogOptions flo;
  auto* fmtlog = app.add_subcommand("fmt-log", "render .tracing.jsonl log lines as ANSI text");
  fmtlog->add_option("input", flo.input, "FILE, DIR (with -r) or - for stdin (default)");
  fmtlog->add_flag("-f,--follow", flo.follow, "keep printing lines appended to FILE");
  fmtlog->add_flag("-r,--recursive", flo.recursive,
                   "write X.tracing.log next to every X.tracing.jsonl in DIR");
  fmtlog->add_flag("--no-color", flo.no_color, "plain text without ANSI escape codes");

  namespace pv = patchbay::vm;
  pv::VmOptions vo;
  auto* vm = app.add_subcommand("vm", "run labs in a QEMU Linux VM (macOS, locked-down hosts); docs/vm.md");
  vm->require_subcommand(1);
  vm->add_option("--project-root", vo.project_root, "directory shared with the VM as /app (default: .)");
  auto* vm_up = vm->add_subcommand("up", "boot the VM (or reuse a running one); waits until ssh answers");
  vm_up->add_flag("--recreate", vo.recreate, "stop it and start again from a fresh disk");
  auto* vm_down = vm->add_subcommand("down", "stop the VM (SIGTERM, SIGKILL after 20 s)");
  auto* vm_status = vm->add_subcommand("status", "print whether the VM runs; exit 0 running, 3 not");
  auto* vm_cleanup = vm->add_subcommand("cleanup", "remove the pid file and sockets of a VM that is gone");
  auto* vm_ssh = vm->add_subcommand("ssh", "run a command in the VM: vm ssh -- CMD (a shell without CMD)");
  auto* vm_run =
      vm->add_subcommand("run", "patchbay run in the VM: vm run SIMS... [RUN FLAGS] (boots it if needed)");
  auto* vm_serve = vm->add_subcommand("serve", "serve the VM's runs to the devtools UI");
  vm_serve->add_option("--bind", vo.bind, "address to listen on");
  vm_ssh->allow_extras();
  vm_run->allow_extras();

  auto [run_in_args, after_dashes] = split_run_in(argc, argv);
  auto [cli_args, vm_words] = split_vm(run_in_args);
  vo.args = vm_words;
  try {
    app.parse(static_cast<int>(cli_args.size()), cli_args.data());
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  try {
    if (*fmtlog) return pr::fmt_log_command(flo);
    if (*vm) {
      if (*vm_up) return pv::vm_up(vo, std::cout, std::cerr);
      if (*vm_down) return pv::vm_down(vo, std::cout, std::cerr);
      if (*vm_status) return pv::vm_status(vo, std::cout, std::cerr);
      if (*vm_cleanup) return pv::vm_cleanup(vo, std::cout, std::cerr);
      if (*vm_ssh) return pv::vm_ssh(vo, std::cout, std::cerr);
      if (*vm_run) return pv::vm_run(vo, std::cout, std::cerr);
      if (*vm_serve) return pv::vm_serve(vo, std::cout, std::cerr);
    }
    // Library log records on stderr: warnings and errors unless PATCHBAY_LOG / RUST_LOG ask for more.
    const char* pl = std::getenv("PATCHBAY_LOG");
    const char* rl = std::getenv("RUST_LOG");
    patchbay::log::init_console((pl && *pl) || (rl && *rl) ? "" : "warn");
    if (*run) {
      if (!project_root.empty()) ro.project_root = project_root;
      if (!timeout.empty()) ro.timeout = pr::parse_duration(timeout, "--timeout");
      ro.seed = seed;
      if (!engine.empty()) ro.link_engine = patchbay::LinkEngine::Userspace;
      if (int rc = enter_userns()) return rc;
      return run_with_devtools(ro, run_bind, run_open);
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
    if (*serve) {
      if (!serve_dir.empty()) so.outdir = serve_dir;
      return ps::serve_command(so);
    }
    if (*runin) {
      if (!inspect_id.empty()) rio.inspect = inspect_id;
      rio.argv = run_in_command_words(*runin, after_dashes);
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
