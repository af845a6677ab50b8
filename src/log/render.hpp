// Rendering a record the caller already holds as a JSON tree (the lab's own records), without
// the dump-and-parse round trip of log::render_line.
//
//   std::string line = j.dump(...);                  // what .tracing.jsonl gets
//   auto text = detail::render_record(j, true);      // == render_line(line, true), byte for byte
//
// Guarantee: for a tree whose dump holds no U+FFFD (so no invalid UTF-8 was replaced while
// dumping), render_record(j, c) equals render_line(j.dump(-1, ' ', false, replace), c).
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace patchbay::log::detail {

std::optional<std::string> render_record(const nlohmann::ordered_json& j, bool color);

}  // namespace patchbay::log::detail
