#include "server/event_stream.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "server/http.hpp"

namespace patchbay::server {

std::optional<std::uint64_t> event_opid(std::string_view line) {
  // Fast path for our own writer, whose lines start with the opid: a busy run appends thousands
  // of events per second and a full parse of each would dominate the stream's cost.
  constexpr std::string_view kPrefix = R"({"opid":)";
  if (line.starts_with(kPrefix) && line.ends_with('}')) {
    std::uint64_t v = 0;
    const char* begin = line.data() + kPrefix.size();
    auto [ptr, ec] = std::from_chars(begin, line.data() + line.size(), v);
    if (ec == std::errc() && ptr != begin && (*ptr == ',' || *ptr == '}')) return v;
  }
  auto j = nlohmann::json::parse(line, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("opid");
  if (it == j.end() || !it->is_number_unsigned()) return std::nullopt;
  return it->get<std::uint64_t>();
}

EventStream::EventStream(std::filesystem::path events_file, std::optional<std::uint64_t> after)
    : tail_(std::move(events_file)), after_(after) {}

std::size_t EventStream::read(std::string& out) {
  std::size_t n = 0;
  if (ended()) return 0;
  tail_.poll([&](std::string_view line) {
    // LineTail counts the reset before it hands out the new file's lines: none of them is sent.
    if (ended()) return;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto opid = event_opid(line);
    if (!opid) return;
    // A lab reusing the output directory appends with opids from 0 again: `after` named an opid
    // of an earlier lab, so from the new lab's first line on every line is sent.
    if (prev_opid_ && *opid <= *prev_opid_) after_.reset();
    prev_opid_ = opid;
    if (after_ && *opid <= *after_) return;
    out += sse_event(*opid, line);
    ++n;
  });
  return n;
}

}  // namespace patchbay::server
