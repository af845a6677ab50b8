// patchbay/log.hpp: structured logging into the lab's per-node files (SPEC 13.4, 13.5).
//
//   client.run([] {                                   // a node thread: records land in its files
//     log::Span s1("s1", {{"z", 3}});
//     log::Span s2("s2", {{"y", 2}});
//     log::info("foo", "", {{"x", 1}});               // ... INFO s1{z=3}:s2{y=2}: foo: x=1
//     emit_event("TcpRoundtripComplete", {{"bytes", 5}});   // also device.client.events.jsonl
//   });
//   server.log(log::Level::Warn, "app", "slow", {{"ms", 250}});   // from any thread, explicitly
//   if (log::enabled(log::Level::Debug, "app::hot")) { /* build expensive fields */ }
//
// Where records go:
// - Threads the lab creates for a node (Node::run, spawn, spawn_thread, reflectors) carry that
//   node's context; Node::log / Node::emit_event target a node from any thread. With an output
//   directory such records are appended to <kind>.<name>.tracing.jsonl (JSON) and .tracing.log
//   (ANSI text, byte-identical to `patchbay fmt-log`), and records whose target contains
//   "_events::" also to <kind>.<name>.events.jsonl. Files are created on first write; a node that
//   logs nothing has no file and costs no descriptor.
// - Every record, with or without node context, also goes to the console (stderr) once
//   init_console() was called, filtered by the console's own filter.
//
// Guarantees:
// - The file filter is the lab's (LabOpts::log_filter, else $PATCHBAY_LOG, else $RUST_LOG, else
//   "info"), parsed once per lab. Syntax: comma-separated `level` or `target=level` directives
//   (error, warn, info, debug, trace, off); a bare target means trace; the longest matching target
//   prefix wins; targets no directive matches use the bare level (none: off). Records whose target
//   contains "_events::" are always written to the files.
// - A record that no sink accepts costs a thread-local read and a comparison; the library formats
//   and allocates nothing for it (the caller still builds the field values it passes, e.g. long
//   strings). Call enabled() before computing expensive fields.
// - Thread-safe: records from many threads never interleave inside a line; every line is written
//   with one write(2) and is visible to readers at once (no user-space buffering).
// - Never throws (I/O failures are reported once on stderr). Records for a removed node or a
//   destroyed lab reach only the console; nothing is written after the lab closed its files.
// - A record with an empty message has no "message" field (as tracing's message-less events).
// - Fields keep their order. Integer literals become int64; unsigned values narrower than 64 bits
//   need a cast (std::variant would find int64 and uint64 equally good).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace patchbay {

namespace log {

enum class Level { Error, Warn, Info, Debug, Trace };
using Value = std::variant<std::string, std::int64_t, std::uint64_t, double, bool>;
using Fields = std::initializer_list<std::pair<std::string_view, Value>>;

// "ERROR", "WARN", "INFO", "DEBUG", "TRACE".
std::string_view level_name(Level level);

// One record in the current thread's node context (if any) and on the console (if initialised).
void record(Level level, std::string_view target, std::string_view message, Fields fields = {});
inline void error(std::string_view target, std::string_view msg, Fields fields = {}) {
  record(Level::Error, target, msg, fields);
}
inline void warn(std::string_view target, std::string_view msg, Fields fields = {}) {
  record(Level::Warn, target, msg, fields);
}
inline void info(std::string_view target, std::string_view msg, Fields fields = {}) {
  record(Level::Info, target, msg, fields);
}
inline void debug(std::string_view target, std::string_view msg, Fields fields = {}) {
  record(Level::Debug, target, msg, fields);
}
inline void trace(std::string_view target, std::string_view msg, Fields fields = {}) {
  record(Level::Trace, target, msg, fields);
}

// Would a record at `level` for `target` be written anywhere from this thread?
bool enabled(Level level, std::string_view target);

// A span: while it lives, every record of this thread carries it ("span" = the innermost,
// "spans" = outermost first). RAII on a thread-local stack: destroy it on the thread that made
// it; neither copyable nor movable. In a coroutine, do not keep a Span across co_await: other
// tasks on the io thread would carry it.
class Span {
 public:
  explicit Span(std::string_view name, Fields fields = {});
  ~Span();
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  struct Data {
    std::string name;
    std::vector<std::pair<std::string, Value>> fields;
  };

 private:
  Data data_;
};

// The process-wide stderr sink (the CLI uses it). `filter` uses the syntax above; empty = the
// environment ($PATCHBAY_LOG, $RUST_LOG, "info"). Colour when stderr is a terminal. May be called
// again to replace the filter.
void init_console(std::string filter);

// Renders one `.tracing.jsonl` line as the ANSI text line of SPEC 13.4 (with its newline), or
// plain text without escape codes when `color` is false. nullopt when the line is not a JSON
// object with string "timestamp" and "level" (callers pass such lines through unchanged).
std::optional<std::string> render_line(std::string_view json_line, bool color = true);

}  // namespace log

// A timeline event (SPEC 13.5) in the current node context: an INFO record with target
// "patchbay::_events::<kind>" (or "<target_prefix>::_events::<kind>") and no message.
void emit_event(std::string_view kind, log::Fields fields = {});
void emit_event(std::string_view target_prefix, std::string_view kind, log::Fields fields = {});

}  // namespace patchbay
