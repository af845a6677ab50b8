// The report files of a run (SPEC 15.9): sim.json per sim, progress.json and manifest.json per
// run root. All timestamps are UTC "%Y-%m-%dT%H:%M:%SZ"; files are replaced atomically.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "runner/executor.hpp"

namespace patchbay::runner {

void write_json_atomic(const std::filesystem::path& path, const nlohmann::json& j);
void write_sim_json(const SimOutcome& o, const nlohmann::json& setup);

// progress.json and manifest.json of one invocation; rewritten at each sim start and end.
class RunReport {
 public:
  RunReport(std::filesystem::path run_root, std::vector<std::filesystem::path> sims);
  void sim_started(std::size_t i);
  void sim_finished(std::size_t i, const SimOutcome& o);
  void finish();                              // status done, manifest ended_at / success
  void fail_all(const std::string& message);  // nothing could run (binaries): every sim errors, finish()
  const std::vector<SimOutcome>& outcomes() const { return outcomes_; }
  std::string run_name() const { return run_root_.filename().string(); }

 private:
  void write();
  std::filesystem::path run_root_;
  std::vector<std::filesystem::path> sims_;
  std::vector<std::string> status_;
  std::vector<SimOutcome> outcomes_;
  std::vector<bool> has_outcome_;
  std::chrono::system_clock::time_point started_, updated_;
  std::chrono::steady_clock::time_point t0_;
  bool done_ = false;
  std::optional<std::size_t> current_;
};

}  // namespace patchbay::runner
