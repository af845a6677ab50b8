#include "runner/executor.hpp"

#include <signal.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "config/lab_toml.hpp"
#include "patchbay/lab.hpp"
#include "runner/asserts.hpp"
#include "runner/capture_steps.hpp"
#include "runner/duration.hpp"
#include "runner/expand.hpp"
#include "runner/file_steps.hpp"
#include "runner/interpolate.hpp"
#include "runner/interrupt.hpp"
#include "runner/lab_steps.hpp"
#include "runner/phase.hpp"
#include "runner/process.hpp"
#include "runner/reports.hpp"
#include "runner/rundir.hpp"
#include "runner/sim_file.hpp"
#include "runner/step_view.hpp"

namespace patchbay::runner {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string SimOutcome::error_summary() const {
  if (error_line) return *error_line;
  return message.value_or("");
}

namespace {

Clock::time_point earlier(Clock::time_point a, Clock::time_point b) {
  return a < b ? a : b;
}
Clock::time_point after(milliseconds d) {
  return Clock::now() + d;
}

struct Spawned {
  std::unique_ptr<StepProcess> proc;
  std::map<std::string, std::string> results;
  std::string device;
  bool collected = false;  // results are recorded once, at the first wait-for
};

class SimRun {
 public:
  SimRun(const Invocation& inv, SimOutcome& out) : inv_(inv), out_(out), con_(*inv.console) {}

  void run() {
    // Capture waits block on a condition variable; a signal reaches them through cancel().
    std::jthread watcher([this](std::stop_token st) {
      while (!st.stop_requested()) {
        if (interrupted()) {
          store_.cancel();
          return;
        }
        std::this_thread::sleep_for(milliseconds(100));
      }
    });
    started_ = Clock::now();
    deadline_ = inv_.timeout ? started_ + *inv_.timeout : Clock::time_point::max();
    SimFile sim = load();
    out_.sim = sim.name;
    out_.sim_dir = make_sim_dir(inv_.run_root, sim.name);
    setup_["sim_path"] = fs::absolute(out_.sim_path).lexically_normal().string();
    setup_["topology_ref"] = sim.topology_ref ? json(*sim.topology_ref) : json(nullptr);
    setup_["topology_mode"] = sim.inline_topology || !sim.topology_ref ? "inline" : "external";
    for (auto& w : sim.warnings) con_.warn(w);
    try {
      configure_lab(sim);
      std::vector<json> steps;
      try {
        std::vector<std::string> warnings;
        steps = expand_steps(sim, counted_devices(*sim.topology), &warnings);
        for (auto& w : warnings) con_.warn(w);
      } catch (const PhaseError&) {
        throw;
      } catch (const Error& e) {
        throw PhaseError("expand-steps", e.what());
      }
      setup_["steps"] = steps.size();
      execute(steps);
    } catch (...) {
      // The original failure is what sim.json must report; a failure to write results then
      // only gets a log line.
      try {
        finish();
      } catch (const std::exception& e) {
        con_.error(std::string("sim: ") + e.what());
      }
      throw;
    }
    finish();
  }

  json setup() const { return setup_; }
  const std::optional<StepRef>& failed_step() const { return failed_; }
  fs::path failed_stdout, failed_stderr;

 private:
  SimFile load() {
    try {
      return load_sim(out_.sim_path, inv_.cwd);
    } catch (const PhaseError& e) {
      // The sim directory is named after the file when the file cannot name it.
      out_.sim = out_.sim_path.stem().string();
      out_.sim_dir = make_sim_dir(inv_.run_root, out_.sim);
      setup_["sim_path"] = fs::absolute(out_.sim_path).lexically_normal().string();
      throw;
    }
  }

  void configure_lab(const SimFile& sim) {
    try {
      LabOpts opts;
      opts.label(sim.name).outdir(OutDir::exact(out_.sim_dir));
      if (inv_.seed) opts.seed(*inv_.seed);
      if (inv_.link_engine) opts.link_engine(*inv_.link_engine);
      lab_.emplace(std::move(opts));
      std::string source = sim.topology_path ? sim.topology_path->string() : sim.path.string();
      config::build_lab(*lab_, *sim.topology, source);
    } catch (const Error& e) {
      throw PhaseError("configure-lab", e.what());
    }
    setup_["routers"] = lab_->routers().size();
    setup_["devices"] = lab_->devices().size();
    setup_["regions"] = lab_->regions().size();
    lab_vars_ = lab_->env_vars();
    con_.info("sim: lab ready: " + std::to_string(lab_->routers().size()) + " routers, " +
              std::to_string(lab_->devices().size()) + " devices (seed " + std::to_string(lab_->seed()) +
              ")");
  }

  void execute(const std::vector<json>& steps) {
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const json& s = steps[i];
      StepRef ref;
      ref.index = i;
      ref.action = s.value("action", "");
      ref.id = s.contains("id") && s["id"].is_string() ? s["id"].get<std::string>() : "";
      ref.device = s.contains("device") && s["device"].is_string() ? s["device"].get<std::string>() : "";
      // A wait-for names the step it waits for; it does not define the id.
      if (!ref.id.empty() && ref.action != "wait-for") kinds_[ref.id] = ref.action;
    }
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const json& s = steps[i];
      StepView v{s, i, s.value("action", "")};
      StepRef ref{i, v.action, s.value("id", ""), s.value("device", "")};
      try {
        check_interrupt();
        if (Clock::now() >= deadline_) throw StepFailed("sim timed out");
        std::string label = v.action + (ref.id.empty() ? "" : " id=" + ref.id) +
                            (ref.device.empty() ? "" : " device=" + ref.device);
        con_.set_step("step " + std::to_string(i + 1) + "/" + std::to_string(steps.size()) + " " + label);
        con_.info("sim: step action=" + v.action + " id=" + ref.id + " device=" + ref.device);
        wait_requires(v);
        step(v);
      } catch (const std::exception& e) {
        failed_ = ref;
        if (interrupted()) throw PhaseError("step", "interrupted");
        if (Clock::now() >= deadline_) throw PhaseError("step", "sim timed out");
        throw PhaseError("step", e.what());
      }
    }
  }

  InterpContext ctx(Clock::time_point deadline) const {
    InterpContext c;
    c.binaries = &inv_.binaries;
    c.lab_vars = &lab_vars_;
    c.captures = &store_;
    c.deadline = earlier(deadline, deadline_);
    c.warn = [this](const std::string& w) { con_.warn(w); };
    return c;
  }
  InterpContext ctx() const { return ctx(after(std::chrono::seconds(300))); }

  void wait_requires(const StepView& v) {
    for (auto& key : v.strings("requires")) {
      auto dl = earlier(after(std::chrono::seconds(300)), deadline_);
      if (!store_.wait_for(key, dl)) {
        check_interrupt();
        if (Clock::now() >= deadline_) throw StepFailed("sim timed out");
        throw StepFailed("requirement '" + key + "' was not met within 300s");
      }
    }
  }

  void step(const StepView& v) {
    const std::string& a = v.action;
    if (a == "run" || a == "spawn") return start_process(v, a == "run");
    if (a == "wait") {
      auto d = v.duration("duration");
      if (!d) throw ConfigError(v.where("duration"), "missing (e.g. \"2s\")");
      return sleep_until(after(*d));
    }
    if (a == "wait-for") return wait_for(v);
    if (a == "assert") return check(v);
    if (run_lab_step(*lab_, v, [this](const std::string& w) { con_.warn(w); })) return;
    if (pcaps_.run(*lab_, v, ctx(), store_)) return;
    if (a == "gen-certs") return gen_certs(v);
    if (a == "gen-file") return gen_file_step(v, ctx(), out_.sim_dir, store_);
    throw ConfigError(v.where("action"), "unknown action '" + a + "'");
  }

  void sleep_until(Clock::time_point t) {
    const auto end = earlier(t, deadline_);
    while (Clock::now() < end) {
      check_interrupt();
      std::this_thread::sleep_until(earlier(end, Clock::now() + milliseconds(100)));
    }
    if (t > deadline_) throw StepFailed("sim timed out");
  }

  static void check_interrupt() {
    if (interrupted()) throw StepFailed("interrupted");
  }

  Command command(const StepView& v) {
    auto c = ctx();
    std::vector<std::string> argv;
    if (v.has("cmd") && v.j.at("cmd").is_string())
      argv = {"/bin/sh", "-c", interpolate(v.str("cmd"), c)};
    else
      argv = interpolate_args(v.strings("cmd"), c);
    if (argv.empty()) throw ConfigError(v.where("cmd"), "missing or empty");
    Command cmd(argv[0]);
    cmd.args(std::vector<std::string>(argv.begin() + 1, argv.end()));
    for (auto& [k, val] : lab_vars_) cmd.env(k, val);
    if (const char* rl = std::getenv("NETSIM_RUST_LOG")) cmd.env("RUST_LOG", rl);
    for (auto& [k, val] : v.table("env")) cmd.env(k, interpolate(val, c));
    return cmd;
  }

  std::unique_ptr<StreamCapturer> capturer(const StepView& v, const std::string& id, bool spawn) {
    Parser p = v.has("parser") ? parse_parser(v.str("parser"), v.where("parser")) : Parser::Text;
    std::vector<CaptureSpec> specs;
    if (v.has("captures")) specs = parse_captures(v.j.at("captures"), v.where("captures"));
    const CaptureInput input = capture_input(spawn, specs);
    return std::make_unique<StreamCapturer>(id, p, std::move(specs), store_, input);
  }

  void start_process(const StepView& v, bool wait) {
    auto dev = step_device(*lab_, v);
    std::string id = v.opt_str("id").value_or(dev.name());
    auto cmd = command(v);
    auto proc =
        std::make_unique<StepProcess>(dev, std::move(cmd), out_.sim_dir, id, capturer(v, id, !wait), con_);
    if (!wait) {
      Spawned sp{std::move(proc), v.table("results"), dev.name(), false};
      spawned_[id] = std::move(sp);
      if (auto ready = v.duration("ready_after")) sleep_until(after(*ready));
      return;
    }
    auto limit = v.duration("timeout");
    auto dl = limit ? earlier(after(*limit), deadline_) : deadline_;
    auto st = proc->wait_until(dl);
    if (!st) {
      proc->terminate();
      note_logs(*proc);
      check_interrupt();
      if (limit && (deadline_ == Clock::time_point::max() || after(milliseconds(0)) < deadline_))
        throw StepFailed("'run' on '" + dev.name() + "' timed out after " + describe(*limit));
      throw StepFailed("sim timed out");
    }
    collect(id, v.table("results"));
    if (!st->success()) {
      note_logs(*proc);
      throw StepFailed("'run' on '" + dev.name() + "' (id " + id + ") " + exit_text(*st));
    }
  }

  static std::string exit_text(const ExitStatus& st) {
    if (st.code) return "exited with status " + std::to_string(*st.code);
    if (st.signal) return "was killed by signal " + std::to_string(*st.signal);
    return "ended";
  }

  void note_logs(const StepProcess& p) {
    failed_stdout = p.stdout_log();
    failed_stderr = p.stderr_log();
  }

  void collect(const std::string& id, const std::map<std::string, std::string>& results) {
    if (results.empty()) return;
    if (auto rec = collect_results(id, results, store_)) out_.results.push_back(*rec);
  }

  void wait_for(const StepView& v) {
    auto id = v.str("id");
    auto it = spawned_.find(id);
    if (it == spawned_.end()) {
      // As in the original runner, nothing to wait for is not an error: a run / gen-certs / gen-file
      // step is already done, an id no step defines was reported when the steps were expanded.
      auto k = kinds_.find(id);
      if (k != kinds_.end() && k->second == "spawn")
        con_.warn("wait-for: " + v.where("id") + ": the spawn step with id '" + id +
                  "' has not run yet; not waiting");
      return;
    }
    auto limit = v.duration("timeout").value_or(std::chrono::seconds(300));
    auto dl = earlier(after(limit), deadline_);
    auto& sp = it->second;
    auto st = sp.proc->wait_until(dl);
    if (!st) {
      note_logs(*sp.proc);
      check_interrupt();
      if (Clock::now() >= deadline_) throw StepFailed("sim timed out");
      throw StepFailed("wait-for '" + id + "' timed out after " + describe(limit));
    }
    if (!sp.collected) collect(id, sp.results);
    sp.collected = true;
    if (!st->success()) {
      if (v.boolean("require_success", false)) {
        note_logs(*sp.proc);
        throw StepFailed("spawned '" + id + "' on '" + sp.device + "' " + exit_text(*st));
      }
      con_.warn("wait-for: '" + id + "' " + exit_text(*st));
    }
  }

  void check(const StepView& v) {
    auto checks = v.strings("checks");
    if (auto c = v.opt_str("check")) checks.insert(checks.begin(), *c);
    if (checks.empty()) throw ConfigError(v.where("check"), "an assert needs `check` or `checks`");
    for (auto& c : checks) {
      auto r = evaluate(parse_check(c), store_);
      if (!r.pass) throw StepFailed(r.message);
      con_.info(r.message);
    }
  }

  void gen_certs(const StepView& v) {
    gen_certs_step(*lab_, v, ctx(), out_.sim_dir, store_);
    con_.info("gen-certs: done");
  }

  // After the last step or a failure: stop what still runs, write results, destroy the lab.
  void finish() {
    store_.cancel();
    // One grace period for all: SIGTERM to every group, then SIGKILL whatever is left after 1 s.
    bool any = false;
    for (auto& [id, sp] : spawned_) {
      if (!sp.proc->finished()) {
        con_.info("sim: stopping spawned '" + id + "' on " + sp.device);
        sp.proc->signal_group(SIGTERM);
        any = true;
      }
    }
    const auto grace = after(std::chrono::seconds(1));
    for (auto& [id, sp] : spawned_) {
      if (any && !sp.proc->finished()) sp.proc->wait_until(grace);
      if (!sp.proc->finished()) sp.proc->terminate(milliseconds(0));
    }
    spawned_.clear();
    for (auto& e : pcaps_.stop_all(store_)) con_.warn("capture: " + e);
    try {
      if (!out_.sim_dir.empty() && !out_.results.empty())
        write_sim_results(out_.sim_dir, out_.sim, out_.results);
    } catch (const std::exception& e) {
      lab_.reset();
      throw PhaseError("write-results", e.what());
    }
    lab_.reset();
  }

  const Invocation& inv_;
  SimOutcome& out_;
  Console& con_;
  std::optional<Lab> lab_;
  std::map<std::string, std::string> lab_vars_;
  CaptureStore store_;
  std::map<std::string, Spawned> spawned_;
  PacketCaptureSteps pcaps_;
  std::map<std::string, std::string> kinds_;  // step id -> action
  Clock::time_point started_, deadline_;
  json setup_ = {{"sim_path", nullptr},
                 {"topology_ref", nullptr},
                 {"topology_mode", nullptr},
                 {"routers", 0},
                 {"devices", 0},
                 {"regions", 0},
                 {"steps", 0}};
  std::optional<StepRef> failed_;
};

// Last line containing "error" (any case) of the failing step's stderr, then stdout.
std::optional<std::string> find_error_line(const fs::path& err, const fs::path& out) {
  for (auto& p : {err, out}) {
    if (p.empty()) continue;
    std::ifstream f(p);
    std::string line, last;
    while (std::getline(f, line)) {
      std::string lower = line;
      std::transform(lower.begin(), lower.end(), lower.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      if (lower.find("error") != std::string::npos) last = line;
    }
    if (!last.empty()) return last;
  }
  return std::nullopt;
}

}  // namespace

SimOutcome run_sim(const fs::path& sim_path, const Invocation& inv) {
  SimOutcome out;
  out.sim_path = sim_path;
  out.sim = sim_path.stem().string();
  out.started_at = std::chrono::system_clock::now();
  auto t0 = Clock::now();
  SimRun run(inv, out);
  try {
    run.run();
    out.ok = true;
  } catch (const PhaseError& e) {
    out.phase = e.phase();
    out.message = e.what();
  } catch (const std::exception& e) {
    out.phase = "step";
    out.message = e.what();
  }
  out.step = run.failed_step();
  if (!out.ok) out.error_line = find_error_line(run.failed_stderr, run.failed_stdout);
  out.ended_at = std::chrono::system_clock::now();
  out.runtime_ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count());
  if (!out.sim_dir.empty()) {
    try {
      write_sim_json(out, run.setup());
    } catch (const std::exception& e) {
      if (out.ok) {
        out.ok = false;
        out.phase = "write-results";
        out.message = e.what();
      }
    }
  }
  return out;
}

}  // namespace patchbay::runner
