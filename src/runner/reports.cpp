#include "runner/reports.hpp"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <vector>

#include "events/run_files.hpp"
#include "patchbay/error.hpp"
#include "runner/files.hpp"
#include "runner/phase.hpp"
#include "runner/rundir.hpp"

namespace patchbay::runner {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

json step_json(const std::optional<StepRef>& s) {
  if (!s) return nullptr;
  return {{"index", s->index}, {"action", s->action}, {"id", s->id}, {"device", s->device}};
}

json opt(const std::optional<std::string>& s) {
  return s ? json(*s) : json(nullptr);
}

}  // namespace

void write_json_atomic(const fs::path& path, const json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

void write_sim_json(const SimOutcome& o, const json& setup) {
  json err = nullptr;
  if (!o.ok)
    err = {{"phase", o.phase.value_or("step")},
           {"message", o.message.value_or("")},
           {"step", step_json(o.step)}};
  json j = {{"sim", o.sim},
            {"sim_dir", o.sim_dir.string()},
            {"status", o.ok ? "ok" : "error"},
            {"started_at", utc_timestamp(o.started_at)},
            {"ended_at", utc_timestamp(o.ended_at)},
            {"runtime_ms", o.runtime_ms},
            {"setup", setup},
            {"logs", json::array()},
            {"error_line", opt(o.error_line)},
            {"error", err}};
  // sim.json lists itself too, so write once to exist, then with the final listing.
  write_json_atomic(o.sim_dir / "sim.json", j);
  j["logs"] = events::list_logs(o.sim_dir);
  write_json_atomic(o.sim_dir / "sim.json", j);
}

RunReport::RunReport(fs::path run_root, std::vector<fs::path> sims)
    : run_root_(std::move(run_root)),
      sims_(std::move(sims)),
      status_(sims_.size(), "pending"),
      outcomes_(sims_.size()),
      has_outcome_(sims_.size(), false),
      started_(std::chrono::system_clock::now()),
      t0_(std::chrono::steady_clock::now()) {
  for (std::size_t i = 0; i < sims_.size(); ++i) outcomes_[i].sim = sims_[i].stem().string();
  write();
}

void RunReport::sim_started(std::size_t i) {
  status_.at(i) = "running";
  current_ = i;
  write();
}

void RunReport::sim_finished(std::size_t i, const SimOutcome& o) {
  status_.at(i) = o.ok ? "ok" : "error";
  outcomes_.at(i) = o;
  has_outcome_.at(i) = true;
  current_.reset();
  write();
}

void RunReport::fail_all(const std::string& message) {
  for (std::size_t i = 0; i < sims_.size(); ++i) {
    if (has_outcome_[i]) continue;
    outcomes_[i].ok = false;
    outcomes_[i].message = message;
    has_outcome_[i] = true;
    status_[i] = "error";
  }
  finish();
}

void RunReport::finish() {
  done_ = true;
  write();
}

void RunReport::write() {
  updated_ = std::chrono::system_clock::now();
  std::size_t completed = 0, ok = 0, error = 0;
  json sims = json::array(), man_sims = json::array();
  for (std::size_t i = 0; i < sims_.size(); ++i) {
    const auto& o = outcomes_[i];
    bool fin = has_outcome_[i];
    completed += fin;
    ok += fin && o.ok;
    error += fin && !o.ok;
    json dir = o.sim_dir.empty() ? json(nullptr) : json(fs::relative(o.sim_dir, run_root_).string());
    json sim_json =
        o.sim_dir.empty() ? json(nullptr) : json((fs::relative(o.sim_dir, run_root_) / "sim.json").string());
    json err = fin && !o.ok ? json(o.error_summary()) : json(nullptr);
    json rt = fin ? json(o.runtime_ms) : json(nullptr);
    sims.push_back({{"sim", o.sim},
                    {"status", status_[i]},
                    {"sim_dir", dir},
                    {"runtime_ms", rt},
                    {"sim_json", sim_json},
                    {"error", err}});
    man_sims.push_back({{"sim", o.sim},
                        {"sim_dir", dir},
                        {"status", status_[i]},
                        {"runtime_ms", rt},
                        {"sim_json", sim_json},
                        {"error", err}});
  }
  const std::string now = utc_timestamp(updated_);
  json progress = {{"run", run_name()},
                   {"status", done_ ? "done" : "running"},
                   {"started_at", utc_timestamp(started_)},
                   {"updated_at", now},
                   {"total", sims_.size()},
                   {"completed", completed},
                   {"ok", ok},
                   {"error", error},
                   {"current_sim", current_ ? json(outcomes_[*current_].sim) : json(nullptr)},
                   {"simulations", sims}};
  write_json_atomic(run_root_ / "progress.json", progress);

  utsname u{};
  ::uname(&u);
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  const char* rl = std::getenv("RUST_LOG");
  json env = {{"os", "linux"},
              {"arch", u.machine},
              {"family", "unix"},
              {"current_dir", fs::current_path(ec).string()},
              {"executable", exe.string()},
              {"rust_log", rl ? json(rl) : json(nullptr)},
              {"patchbay_version", version()}};
  auto runtime =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0_);
  json manifest = {{"run", run_name()},
                   {"started_at", utc_timestamp(started_)},
                   {"status", done_ ? "done" : "running"},
                   {"ended_at", done_ ? json(now) : json(nullptr)},
                   {"runtime_ms", done_ ? json(runtime.count()) : json(nullptr)},
                   {"success", done_ ? json(error == 0 && completed == sims_.size()) : json(nullptr)},
                   {"environment", env},
                   {"simulations", man_sims}};
  write_json_atomic(run_root_ / "manifest.json", manifest);
}

}  // namespace patchbay::runner
