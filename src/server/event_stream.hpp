// The body of `GET /api/runs/{run}/events` (SPEC 14.1) as server-sent events: every event line
// of events.jsonl with opid > `after` (all of them without `after`), first the history, then
// whatever complete lines are appended, each as "id: <opid>\ndata: <line>\n\n".
//
//   EventStream s(run_dir / "events.jsonl", after);
//   std::string out;
//   s.read(out);      // call again after the file grew; never repeats or skips a line
//
// When events.jsonl is truncated or replaced under its name, the stream ends (ended()): the
// byte offset no longer says what the client has, and re-reading from 0 would send old opids
// again. The server then ends the response, and EventSource reconnects with Last-Event-ID.
//
// A lab that reuses the output directory (OutDir::exact) appends its events with opids from 0
// again. An opid not above its predecessor's therefore starts a new lab, and `after` (which named
// an opid of an earlier one) no longer applies: that line and every later one are sent. A client
// resuming with the opid of the newest lab gets the tail of older labs before it, each older lab
// ending where a new one starts (lab_created), never a line of the newest lab twice.
//
// Lines that are not JSON objects with an unsigned `opid` are not events and are skipped; the
// line is sent verbatim (it is already one JSON document on one line).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "sys/line_tail.hpp"

namespace patchbay::server {

// The opid of an events.jsonl line; nullopt when the line is not an event.
std::optional<std::uint64_t> event_opid(std::string_view line);

class EventStream {
 public:
  EventStream(std::filesystem::path events_file, std::optional<std::uint64_t> after);
  // Appends the messages for the lines appended since the last call; returns how many. Nothing
  // after the file was truncated or replaced.
  std::size_t read(std::string& out);
  // The file was truncated or replaced: read() delivers nothing more.
  bool ended() const { return tail_.resets() != 0; }
  // Byte offset in events.jsonl just after the last complete line read.
  std::uint64_t offset() const { return tail_.offset(); }

 private:
  sys::LineTail tail_;
  std::optional<std::uint64_t> after_;
  std::optional<std::uint64_t> prev_opid_;  // of the last event line read
};

}  // namespace patchbay::server
