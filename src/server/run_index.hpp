// Run discovery under the devtools server's base directory (SPEC 14.1).
//
//   RunIndex index(base, std::chrono::seconds(2));
//   index.start();                                 // first scan now, then one every 2 s
//   auto run = index.find("sim-260305-143001/ping-e2e");
//   auto gen = index.wait_change(seen, 250ms);     // the runs/subscribe stream
//
// Discovery: when <base>/events.jsonl exists, base itself is the only run (named after the base
// directory). Otherwise every directory at depth 1 to 3 below base that holds events.jsonl is a
// run named by its path relative to base ('/'-separated); symlinked directories (`latest`) are
// never entered. `invocation` is the first component of a nested name, else null; `label` and
// `status` come from the run's state.json (null when missing or unreadable). Sorted by name,
// descending. All methods are thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace patchbay::server {

struct RunInfo {
  std::string name;
  std::filesystem::path dir;
  std::optional<std::string> label, status, invocation;
  bool operator==(const RunInfo&) const = default;
};

inline constexpr int kMaxRunDepth = 3;

// label and status of a state.json, keyed by its path and reused while the file's inode, size and
// mtime stay the same: a rescan every 2 s must not re-parse large, unchanged state files.
struct StateCacheEntry {
  std::uint64_t ino = 0, size = 0;
  std::int64_t mtime_ns = 0;
  std::optional<std::string> label, status;
};
using StateCache = std::map<std::filesystem::path, StateCacheEntry>;

// One scan. With a cache, entries of runs that are gone are dropped from it.
std::vector<RunInfo> discover_runs(const std::filesystem::path& base, StateCache* cache = nullptr);
// [{"name","label","status","invocation"}] (the /api/runs body), keys in that order.
nlohmann::ordered_json runs_json(const std::vector<RunInfo>& runs);

class RunIndex {
 public:
  RunIndex(std::filesystem::path base, std::chrono::milliseconds interval);
  RunIndex(const RunIndex&) = delete;
  RunIndex& operator=(const RunIndex&) = delete;
  ~RunIndex();  // == stop()

  void start();  // scans once, then rescans every `interval` on a thread
  void stop();   // joins the thread and wakes every wait_change()

  // Rescans now and returns the fresh list (a request for /api/runs never sees a stale list).
  std::vector<RunInfo> scan();
  // From the last scan, without scanning.
  std::optional<RunInfo> find(const std::string& name) const;

  // Grows by one whenever a scan finds a different list (a run appeared or vanished, or a label
  // or status changed).
  std::uint64_t generation() const;
  // Returns as soon as generation() != seen, after `timeout`, or at stop(); returns generation().
  std::uint64_t wait_change(std::uint64_t seen, std::chrono::milliseconds timeout);

 private:
  void loop();

  const std::filesystem::path base_;
  const std::chrono::milliseconds interval_;
  std::mutex scan_mu_;  // one scan at a time, so results are published in scan order
  StateCache cache_;    // guarded by scan_mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RunInfo> runs_;     // guarded by mu_
  std::uint64_t generation_ = 0;  // guarded by mu_
  bool stopping_ = false;         // guarded by mu_
  std::thread thread_;
};

}  // namespace patchbay::server
