// The files of a run directory as the devtools see them (SPEC 14.1): which node a file belongs to
// and what kind of log it is. Shared by the runner (sim.json `logs`) and the devtools server
// (`/api/runs/{run}/logs`), so both list a run identically.
//
//   auto logs = events::list_logs(run_dir);   // [{"node":"client","kind":"tracing_jsonl","path":...}]
//   events::log_kind(run_dir / "events.jsonl") == "lab_events";
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace patchbay::events {

// SPEC 14.1 detection, first rule that matches: events.jsonl -> lab_events; *.tracing.jsonl ->
// tracing_jsonl; *.qlog, *.qlog-* or JSON-SEQ whose first record's file_schema holds "qlog:file"
// -> qlog; *.pcapng or *.pcap -> pcapng (packet captures, binary); JSON lines with timestamp+level+target ->
// tracing_jsonl; *.jsonl or several JSON lines
// -> jsonl; *.json or one JSON document -> json; ESC[ -> ansi_text; else text. Content rules look
// at the first 16 KiB only. A file that cannot be read is "text".
std::string log_kind(const std::filesystem::path& file);

// "<name>" for device.<name>.* and router.<name>.*, else "_run".
std::string log_node(const std::string& file_name);

// Every non-empty regular file (symlinks excluded) at the top level of `dir` as
// {node, kind, path}, ordered by (node, kind, path). Files that vanish while listing are skipped;
// a missing directory gives [].
nlohmann::json list_logs(const std::filesystem::path& dir);

}  // namespace patchbay::events
