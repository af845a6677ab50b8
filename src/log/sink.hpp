// The per-node log files and the internal entry points of the logging layer (SPEC 13.1, 13.4).
//
//   auto sink = std::make_shared<log::detail::NodeSink>(run_dir, "device", "client", filter);
//   log::detail::set_thread_sink(sink);                 // first thing on a node thread
//   if (log::detail::wants(sink.get(), Level::Debug, "patchbay::nat"))
//     log::detail::write(sink.get(), Level::Debug, "patchbay::nat", "new mapping", {{"port", 4000}});
//   sink->close();                                      // lab teardown: later records are dropped
//
// A NodeSink opens nothing until the first record reaches it (an idle node costs no descriptor),
// writes each line with one write(2) under its own mutex (no torn or interleaved lines, readers
// see it at once) and, once closed, drops everything: a record racing with teardown is either
// written before close() returns or not at all. Threads keep their sink alive through a
// shared_ptr, so a late record never touches freed memory.
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "log/filter.hpp"
#include "patchbay/fd.hpp"
#include "patchbay/log.hpp"

namespace patchbay::log::detail {

class NodeSink {
 public:
  // `kind` is "device" or "router"; `name` is sanitised for the file names.
  NodeSink(std::filesystem::path dir, std::string_view kind, std::string_view name,
           std::shared_ptr<const Filter> filter);
  NodeSink(const NodeSink&) = delete;
  NodeSink& operator=(const NodeSink&) = delete;

  const Filter& filter() const { return *filter_; }
  // <dir>/<kind>.<name>.<ext>
  std::filesystem::path path(std::string_view ext) const;
  // One record: its .tracing.jsonl line and .tracing.log text (without / with the newline) and,
  // for timeline events, its .events.jsonl line (empty: none).
  void write(std::string_view json_line, std::string_view text, std::string_view event_line);
  // Closes the files; every later write() is dropped.
  void close();

 private:
  bool append(UniqueFd& fd, std::string_view ext, std::string_view data);  // mu_ held
  void report(const std::filesystem::path& file, int err);                 // mu_ held

  const std::filesystem::path dir_;
  const std::string stem_;  // "<kind>.<name>"
  const std::shared_ptr<const Filter> filter_;
  std::mutex mu_;
  bool closed_ = false;
  bool reported_ = false;
  UniqueFd json_, text_, events_;
};

// The node context of the calling thread: threads the lab creates for a node set it first.
void set_thread_sink(std::shared_ptr<NodeSink> sink);

bool is_event_target(std::string_view target);
// "<prefix>::_events::<kind>" ("_events::<kind>" for an empty prefix).
std::string event_target(std::string_view prefix, std::string_view kind);

// A process-wide bound on what any sink or console can want: the most verbose level any filter
// ever enabled (it only grows). A record more verbose than it is dropped with one atomic load,
// before anyone looks up a node's sink. Timeline events are written at Info whatever the filter,
// so every sink raises it to at least Info.
void raise_ceiling(int level);
bool below_ceiling(Level level);

// Would a record at `level` for `target` reach `sink`'s files (null: none) or the console?
bool wants(const NodeSink* sink, Level level, std::string_view target);

// Writes a record, with the calling thread's spans, to `sink` (null: none) and the console, each
// if its filter lets it through. Never throws.
void write(NodeSink* sink, Level level, std::string_view target, std::string_view message, Fields fields);

}  // namespace patchbay::log::detail
