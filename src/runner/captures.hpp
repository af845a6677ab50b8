// Captures (SPEC 15.5): named values scraped from a step's output, shared by every later step.
//
//   CaptureStore store;
//   StreamCapturer cap("srv", Parser::Ndjson, parse_captures(step["captures"], "step 'srv'"), store);
//   cap.line(Pipe::Stdout, R"({"kind":"ready","addr":"10.0.0.1:4433"})");  // from the reader threads
//   cap.finish();                                                          // at process exit
//   store.wait_for("srv.addr", deadline);  // -> "10.0.0.1:4433"
//
// Keys are "<step id>.<capture name>". Every match appends to the key's history; consumers read the
// latest value. CaptureStore is thread-safe; StreamCapturer::line may be called concurrently from the
// stdout and stderr reader threads. Which pipes the captures read is decided per step, as the
// original runner does it (capture_input below), not per capture.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace re2 {
class RE2;
}

namespace patchbay::runner {

enum class Pipe { Stdout, Stderr };
enum class Parser { Text, Ndjson, Json };

// "text" | "ndjson" | "json"; anything else throws ConfigError naming `what` and the value.
Parser parse_parser(std::string_view s, std::string_view what);

struct CaptureSpec {
  std::string name;
  Pipe pipe = Pipe::Stdout;
  std::optional<std::string> regex;                        // RE2 syntax; group 1, else the whole match
  std::vector<std::pair<std::string, std::string>> match;  // field -> expected string form
  std::optional<std::string> pick;                         // dot path, optional leading '.'
};

// Parses a step's "captures" object {name: {pipe, regex, match, pick}} (null = no captures).
// A bad pipe value, an invalid regex, an empty pick segment or a wrong type throws ConfigError
// "<where>: capture '<name>': key '<key>': ..."; unknown keys are warned about on stderr.
// Match values may be strings, numbers or booleans; non-strings are kept in their compact JSON
// form, the same form a JSON field is compared in.
std::vector<CaptureSpec> parse_captures(const nlohmann::json& captures, std::string_view where);

// Which output lines a step's captures read. As in the original runner, every capture of a step reads
// the same lines: a `spawn` step's captures read stdout and stderr; a `run` step's read stdout and
// stderr once any of its captures has pipe = "stderr", otherwise stdout only. A capture's own `pipe`
// only takes part in that choice. With the json parser the lines read form the one document.
enum class CaptureInput { Stdout, StdoutAndStderr };
CaptureInput capture_input(bool spawn, const std::vector<CaptureSpec>& specs);

// Thread-safe store of capture histories.
class CaptureStore {
 public:
  void record(const std::string& key, std::string value);  // appends to the key's history, wakes waiters
  std::optional<std::string> latest(const std::string& key) const;
  std::vector<std::string> history(const std::string& key) const;
  bool contains(const std::string& key) const;
  // Blocks until the key has a value, the deadline passes, or cancel(); nullopt unless it has a value.
  // A default-constructed deadline lies in the past: the call then only checks.
  std::optional<std::string> wait_for(const std::string& key,
                                      std::chrono::steady_clock::time_point deadline) const;
  void cancel();  // all current and future waits return at once (the sim is ending)
  std::map<std::string, std::vector<std::string>> snapshot() const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::map<std::string, std::vector<std::string>> values_;
  bool cancelled_ = false;
};

// Feeds one process's output to its captures.
//   text:   regex captures per line; captures without a regex do nothing.
//   ndjson: per line, regex captures apply their regex; the others parse the line as JSON (lines that
//           are not JSON are skipped), require every `match` field, then record `pick` (missing path
//           -> ""), or the whole matched value when there is no pick.
//   json:   regex captures per line while streaming; finish() parses every line read (both pipes in
//           arrival order when `input` is StdoutAndStderr) as one JSON document and applies the
//           match/pick captures once.
// Lines of a pipe that `input` leaves out are ignored; without `input`, the rule of a `run` step.
class StreamCapturer {
 public:
  StreamCapturer(std::string step_id, Parser parser, std::vector<CaptureSpec> specs, CaptureStore& store,
                 std::optional<CaptureInput> input = std::nullopt);
  ~StreamCapturer();
  StreamCapturer(const StreamCapturer&) = delete;
  StreamCapturer& operator=(const StreamCapturer&) = delete;

  void line(Pipe pipe, std::string_view line);  // one complete line without '\n'
  void finish();                                // at process exit; later calls do nothing

 private:
  struct Compiled;

  void apply_json(const Compiled& c, const nlohmann::json& doc);

  std::string step_id_;
  Parser parser_;
  CaptureInput input_;
  std::vector<Compiled> captures_;
  CaptureStore& store_;
  std::mutex buf_mu_;
  std::string buffered_;  // json parser: every line read, only when a match/pick capture needs it
  bool wants_doc_ = false;
  bool finished_ = false;
};

// Resolves a dot path ("a.b.0", optional leading '.', "." = the root) in a JSON value; numeric
// segments index arrays. nullptr when a segment is missing.
const nlohmann::json* json_pick(const nlohmann::json& v, std::string_view path);

// A JSON value as a capture string: strings verbatim, everything else compact JSON.
std::string json_capture_string(const nlohmann::json& v);

}  // namespace patchbay::runner
