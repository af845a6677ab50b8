// Step results and reports (SPEC 15.9): results.json/.md per sim, combined-results.json/.md per run
// root, and the terminal "Run Summary:" table.
//
//   // step results = { duration = ".secs", down_bytes = ".bytes" } (keys already made absolute)
//   if (auto rec = collect_results("xfer", step_results, store)) records.push_back(*rec);
//   write_sim_results(sim_dir, "iperf", records);       // results.json + results.md
//   write_combined(run_root, {{run, sim_dir, "iperf", records}});
//
// Records hold the captured strings unchanged; the numbers (elapsed_s, mb_s, ...) are derived when
// a report is rendered. Files are written atomically (temporary name in the same directory, then
// rename), so a reader such as the devtools server never sees half a file. Write failures throw
// patchbay::SystemError naming the file.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "runner/captures.hpp"

namespace patchbay::runner {

struct StepResultRecord {
  std::string id;
  std::optional<std::string> duration, up_bytes, down_bytes, latency_ms;
};

// `duration` as an unsigned integer is microseconds, otherwise float seconds.
std::optional<double> elapsed_s(const StepResultRecord&);
// down_bytes / (elapsed_s * 1e6) when elapsed_s > 0.
std::optional<double> mb_s(const StepResultRecord&);
std::optional<double> up_mb_s(const StepResultRecord&);
std::optional<double> latency(const StepResultRecord&);

// `results` maps a result field (duration|up_bytes|down_bytes|latency_ms) to a capture key; an unknown
// field throws ConfigError naming the step. Each field takes the latest value of its key; nullopt
// when no field resolved.
std::optional<StepResultRecord> collect_results(const std::string& step_id,
                                                const std::map<std::string, std::string>& results,
                                                const CaptureStore& store);

// results.json {"sim", "steps": [{id, duration, up_bytes, down_bytes, latency_ms}]} (strings or null)
// and results.md (columns without any value are left out). Writes nothing when `recs` is empty.
void write_sim_results(const std::filesystem::path& sim_dir, const std::string& sim,
                       const std::vector<StepResultRecord>& recs);

struct SimResults {
  std::string run;      // run root name, e.g. sim-250101-120000
  std::string sim_dir;  // sim directory name inside it
  std::string sim;      // sim name
  std::vector<StepResultRecord> steps;
};

// combined-results.json {"runs": [{run, sim_dir, sim, steps}]} sorted by run, then sim_dir, and
// combined-results.md: a per-sim-name summary (| Sim | N | Max Down (MB/s) | Max Up (MB/s) |), a
// blank line, then one detail row per record.
void write_combined(const std::filesystem::path& run_root, std::vector<SimResults> sims);

// "Run Summary:" followed by an aligned plain-text table, one row per entry of `sims` in order
// (Sim, N, Max Down (MB/s), Max Up (MB/s); "-" when absent). Ends with a newline.
std::string summary_table(const std::vector<SimResults>& sims);

}  // namespace patchbay::runner
