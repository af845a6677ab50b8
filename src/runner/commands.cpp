// `patchbay run` and `patchbay prepare`.
#include "runner/commands.hpp"

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include <toml++/toml.h>

#include "patchbay/error.hpp"
#include "runner/binaries.hpp"
#include "runner/console.hpp"
#include "runner/discovery.hpp"
#include "runner/executor.hpp"
#include "runner/interrupt.hpp"
#include "runner/phase.hpp"
#include "runner/reports.hpp"
#include "runner/results.hpp"
#include "runner/rundir.hpp"
#include "runner/sim_file.hpp"
#include "runner/values.hpp"

namespace patchbay::runner {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

fs::path root_of(const RunOptions& o) {
  return o.project_root.empty() ? fs::current_path() : fs::absolute(o.project_root);
}

// Directory searches also meet lab files (topos/) and step libraries ([[extends]] targets): those
// hold no [sim], [[step]] or [[binary]] and are skipped. Files named explicitly always run, and a
// file that does not parse is kept so that its sim fails with the parse error.
bool runnable(const fs::path& p, Console& con) {
  try {
    if (looks_like_sim(toml::parse_file(p.string()))) return true;
  } catch (const toml::parse_error&) {
    return true;
  }
  con.info("skipping " + p.string() + ": not a sim (no [sim], [[step]] or [[binary]])");
  return false;
}

std::vector<fs::path> sim_files(const RunOptions& o, Console& con) {
  std::vector<fs::path> found;
  if (o.inputs.empty()) {
    for (auto& p : discover_sims(root_of(o), [&](const std::string& m) { con.info(m); }))
      if (runnable(p, con)) found.push_back(p);
    return found;
  }
  std::vector<std::string> files;
  for (auto& in : o.inputs) {
    if (!fs::is_directory(in)) {
      files.push_back(in);
      continue;
    }
    for (auto& p : expand_inputs({in}))
      if (runnable(p, con)) files.push_back(p.string());
  }
  return files.empty() ? found : expand_inputs(files);
}

// Loads every sim once to gather its [[binary]] specs. For `run` (loaded == nullptr) a sim that
// does not load is skipped here and fails with its own phase when it runs; `prepare` stops.
std::vector<BinarySpec> gather_binaries(const std::vector<fs::path>& sims, const fs::path& cwd,
                                        std::vector<SimFile>* loaded) {
  std::vector<std::pair<std::string, BinarySpec>> specs;
  for (auto& p : sims) {
    try {
      auto sim = load_sim(p, cwd);
      for (auto& b : sim.binaries) specs.emplace_back(p.string(), parse_binary(b, p.string()));
      if (loaded) loaded->push_back(std::move(sim));
    } catch (const PhaseError&) {
      if (loaded) throw;
    }
  }
  return merge_binary_specs(specs);
}

std::map<std::string, std::string> assemble(const RunOptions& o,
                                            const std::map<std::string, BinaryOverride>& overrides,
                                            const std::vector<fs::path>& sims, const fs::path& run_root,
                                            Console& con, std::vector<SimFile>* loaded = nullptr) {
  auto specs = gather_binaries(sims, fs::current_path(), loaded);
  AssembleOpts ao;
  ao.project_root = root_of(o);
  ao.run_root = run_root;
  ao.no_build = o.no_build;
  ao.log = [&](const std::string& m) { con.info(m); };
  return assemble_binaries(specs, overrides, ao);
}

std::string rel(const fs::path& p) {
  std::error_code ec;
  auto r = fs::relative(p, fs::current_path(), ec);
  return ec || r.empty() ? p.string() : r.string();
}

}  // namespace

RunResult run_sims(const RunOptions& o) {
  RunResult res;
  Console con(o.live.value_or(::isatty(STDERR_FILENO) == 1), o.verbose);
  if (o.handle_signals) install_interrupt_handler();
  std::vector<fs::path> sims;
  std::map<std::string, BinaryOverride> overrides;
  Invocation inv;
  try {  // usage errors: exit 2
    overrides = parse_binary_overrides(o.binary_overrides);
    sims = sim_files(o, con);
    if (sims.empty()) throw ConfigError("patchbay run", "no sim files found");
  } catch (const Error& e) {
    con.error(e.what());
    res.exit_code = 2;
    return res;
  }
  try {
    inv.run_root = make_run_root(o.work_dir, std::chrono::system_clock::now());
  } catch (const Error& e) {
    con.error(e.what());
    res.exit_code = 1;
    return res;
  }
  res.run_root = inv.run_root;
  con.info("run: " + std::to_string(sims.size()) + " simulation(s), output in " + rel(inv.run_root));
  inv.project_root = root_of(o);
  inv.cwd = fs::current_path();
  inv.timeout = o.timeout;
  inv.seed = o.seed;
  inv.link_engine = o.link_engine;
  inv.console = &con;
  RunReport report(inv.run_root, sims);
  try {
    inv.binaries = assemble(o, overrides, sims, inv.run_root, con);
  } catch (const Error& e) {
    con.error(e.what());
    report.fail_all(std::string("binaries: ") + e.what());
    std::cerr << "no simulation ran; see " << rel(inv.run_root / "manifest.json") << "\n";
    res.sims = report.outcomes();
    res.exit_code = interrupted() ? 130 : 1;
    return res;
  }

  std::vector<SimResults> combined;
  for (std::size_t i = 0; i < sims.size() && !interrupted(); ++i) {
    con.set_sim(i + 1, sims.size(), sims[i].stem().string());
    con.info("sim: start " + rel(sims[i]));
    report.sim_started(i);
    SimOutcome out = run_sim(sims[i], inv);
    report.sim_finished(i, out);
    if (out.ok)
      con.info("sim: " + out.sim + " ok in " + std::to_string(out.runtime_ms) + " ms");
    else
      con.error("sim: " + out.sim + " failed (" + out.phase.value_or("step") + "): " + out.error_summary());
    if (!out.results.empty())
      combined.push_back(
          {report.run_name(), fs::relative(out.sim_dir, inv.run_root).string(), out.sim, out.results});
    try {
      write_combined(inv.run_root, combined);
    } catch (const std::exception& e) {
      con.warn(std::string("combined results: ") + e.what());
    }
  }
  con.clear_status();
  report.finish();
  res.sims = report.outcomes();

  if (interrupted()) {
    con.error("interrupted; sims not started are left pending in " + rel(inv.run_root / "progress.json"));
    res.exit_code = 130;
    return res;
  }
  std::vector<const SimOutcome*> failed;
  for (auto& oc : report.outcomes())
    if (!oc.ok) failed.push_back(&oc);
  if (o.summary && o.json) {
    std::ifstream f(inv.run_root / "manifest.json");
    std::stringstream ss;
    ss << f.rdbuf();
    con.print(ss.str());
  } else if (o.summary) {
    con.print(summary_table(combined));
  }
  if (!failed.empty()) {
    std::string msg = "one or more simulations failed:\n";
    for (auto* f : failed) msg += "- " + f->sim + " (" + rel(f->sim_dir) + "): " + f->error_summary() + "\n";
    msg += "see " + rel(inv.run_root / "manifest.json") + "\n";
    std::cerr << msg;
    res.exit_code = 1;
  }
  return res;
}

int run_command(const RunOptions& o) {
  return run_sims(o).exit_code;
}

namespace {

// Runs one [[prepare]] command; its output goes to <run root>/.prepare/<n>.log.
void run_prepare_cmd(const std::vector<std::string>& argv, const fs::path& cwd, const fs::path& log,
                     Console& con) {
  con.info("prepare: " + argv.front() + (argv.size() > 1 ? " ..." : "") + " (log " + rel(log) + ")");
  std::ofstream f(log, std::ios::app);
  run_program(
      argv, cwd, [&](const std::string& line) { f << line << "\n"; }, "prepare");
}

}  // namespace

int prepare_command(const RunOptions& o) {
  Console con(false, o.verbose);
  // Build commands run in process groups of their own, out of reach of the terminal's Ctrl-C:
  // the flag lets run_program forward it to them.
  if (o.handle_signals) install_interrupt_handler();
  try {
    auto sims = sim_files(o, con);
    if (sims.empty()) throw ConfigError("patchbay prepare", "no sim files found");
    auto run_root = fs::absolute(make_run_root(o.work_dir, std::chrono::system_clock::now()));
    std::vector<SimFile> loaded;
    auto bins = assemble(o, parse_binary_overrides(o.binary_overrides), sims, run_root, con, &loaded);
    auto dir = run_root / ".prepare";
    fs::create_directories(dir);
    std::size_t n = 0;
    for (auto& sim : loaded) {
      for (auto& p : sim.prepare) {
        const std::string where = sim.path.string() + ": [[prepare]]";
        auto strings = [&](const char* key) {
          return p.contains(key) ? string_or_strings(p.at(key), where + " " + key)
                                 : std::vector<std::string>{};
        };
        if (p.contains("mode") && !p["mode"].is_string())
          throw ConfigError(where + " mode", "expected a string");
        std::string mode = p.value("mode", "build");
        std::vector<std::string> argv;
        if (p.contains("cmd")) {
          argv = p["cmd"].is_string() ? std::vector<std::string>{"/bin/sh", "-c", p["cmd"].get<std::string>()}
                                      : strings("cmd");
          if (argv.empty()) throw ConfigError(where + " cmd", "is empty");
        } else if (mode == "build") {
          if (!find_in_path("cargo"))
            throw ConfigError(where, "uses cargo-specific keys but cargo was not found in PATH");
          argv = {"cargo", "build", "--release"};
          if (p.contains("all-features")) {
            if (!p["all-features"].is_boolean())
              throw ConfigError(where + " all-features", "expected true or false");
            if (p["all-features"].get<bool>()) argv.push_back("--all-features");
          }
          auto features = strings("features");
          if (!features.empty()) {
            std::string joined;
            for (auto& f : features) joined += (joined.empty() ? "" : ",") + f;
            argv.insert(argv.end(), {"--features", joined});
          }
          for (auto& e : strings("examples")) argv.insert(argv.end(), {"--example", e});
          for (auto& b : strings("bins")) argv.insert(argv.end(), {"--bin", b});
        } else {
          throw ConfigError(where + " mode", "unknown mode '" + mode + "' (expected build, or a cmd)");
        }
        if (!o.no_build) run_prepare_cmd(argv, root_of(o), dir / (std::to_string(++n) + ".log"), con);
      }
    }
    std::cout << "prepared " << sims.size() << " simulations and " << bins.size() << " binaries under "
              << rel(run_root) << "\n";
    return 0;
  } catch (const std::exception& e) {
    con.error(e.what());
    return interrupted() ? 130 : 1;
  }
}

std::string sanitize_for_env_key(std::string_view name) {
  std::string out;
  for (char c : name) out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
  return out;
}

}  // namespace patchbay::runner
