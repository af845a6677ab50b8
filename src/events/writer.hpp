// OutputWriter: a lab's output directory, events.jsonl and state.json (SPEC 13.1-13.3).
//
//   events::OutputWriter out(OutDir::nested("/tmp/runs"), "demo", "lab 'lab-p1a'");  // may throw
//   bus.set_sink([&](const LabEvent& ev) { out.enqueue(ev); });
//   ...
//   out.stop();   // drains, writes the final state.json ("stopped"), joins the thread
//
// Guarantees:
// - enqueue() never blocks on I/O and never drops an event accepted before stop(): the queue has
//   no bound. It is safe to call under the EventBus lock.
// - One thread ("patchbay:out") appends every event's line to events.jsonl within 100 ms and keeps
//   its own LabState, rewritten to state.json (via state.json.tmp + rename) at most once per second
//   while changes are pending, and once more by stop() with status "stopped".
// - After stop() returns nothing is written; later enqueue() calls are ignored.
// - Failing to create the directory or to open events.jsonl throws SystemError naming the path;
//   a later write failure is reported once on stderr and the writer carries on.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "patchbay/events.hpp"
#include "patchbay/fd.hpp"
#include "patchbay/lab.hpp"

namespace patchbay::events {

// `exact`: the directory itself (created if missing). `nested`: a new directory
// `<base>/<YYYYmmdd_HHMMSS>-<name>` (local time of `now`, name sanitised to [A-Za-z0-9_-]), with
// "-1", "-2", ... appended while the name is taken. Throws SystemError "<context>: create
// directory '<path>': <errno text>".
std::filesystem::path claim_run_dir(const OutDir& out, std::string_view name,
                                    std::chrono::system_clock::time_point now, const std::string& context);

class OutputWriter {
 public:
  // `name` names a nested run directory (label or lab prefix); `context` prefixes error messages
  // ("lab 'lab-p1a'").
  OutputWriter(const OutDir& out, std::string_view name, std::string context);
  OutputWriter(const OutputWriter&) = delete;
  OutputWriter& operator=(const OutputWriter&) = delete;
  ~OutputWriter();  // == stop()

  const std::filesystem::path& dir() const { return dir_; }
  void enqueue(const LabEvent& ev);
  void stop();

 private:
  void run();
  void write_events(const std::deque<LabEvent>& batch);
  void write_state();
  void report(const std::filesystem::path& file, std::string_view step, int err);

  const std::string context_;
  const std::filesystem::path dir_;
  UniqueFd events_fd_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<LabEvent> queue_;  // guarded by mu_
  bool stopping_ = false;       // guarded by mu_

  // Writer thread only.
  LabState state_;
  bool reported_ = false;

  std::mutex stop_mu_;  // serialises stop() so concurrent callers both return after the join
  std::thread thread_;
};

}  // namespace patchbay::events
