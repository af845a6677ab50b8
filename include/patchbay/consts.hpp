// patchbay/consts.hpp: the names of the files in a lab's run directory (SPEC 13.1).
//
//   auto f = consts::node_file(consts::kKindDevice, "client", consts::kTracingJsonlExt);
//   // "device.client.tracing.jsonl"
//   auto safe = util::sanitize_for_path_component("a/b c");   // "a_b_c"
//
// Guarantees: the spellings are those of the reference tool's output, so old and new runs can be
// served side by side. node_file() does not sanitise; callers pass sanitised names.
#pragma once

#include <string>
#include <string_view>

namespace patchbay {

namespace consts {
inline constexpr std::string_view kEventsJsonl = "events.jsonl";       // lab events (SPEC 13.2)
inline constexpr std::string_view kStateJson = "state.json";           // reduced state (SPEC 13.3)
inline constexpr std::string_view kStateJsonTmp = "state.json.tmp";    // renamed over state.json
inline constexpr std::string_view kTracingJsonlExt = "tracing.jsonl";  // per node: log records, JSON
inline constexpr std::string_view kTracingLogExt = "tracing.log";      // per node: the same, ANSI text
inline constexpr std::string_view kEventsJsonlExt = "events.jsonl";    // per node: `_events::` records
inline constexpr std::string_view kStdoutLogExt = "stdout.log";        // runner step output
inline constexpr std::string_view kStderrLogExt = "stderr.log";
inline constexpr std::string_view kKindDevice = "device";
inline constexpr std::string_view kKindRouter = "router";

// "<kind>.<name>.<ext>", e.g. "router.home.events.jsonl".
inline std::string node_file(std::string_view kind, std::string_view name, std::string_view ext) {
  std::string out;
  out.reserve(kind.size() + name.size() + ext.size() + 2);
  out.append(kind).append(".").append(name).append(".").append(ext);
  return out;
}
}  // namespace consts

namespace util {
// Every character outside [A-Za-z0-9_-] becomes '_', so the result is one path component that
// cannot climb out of its directory ("../x" -> "___x"). Empty stays empty.
std::string sanitize_for_path_component(std::string_view s);
}  // namespace util

}  // namespace patchbay
