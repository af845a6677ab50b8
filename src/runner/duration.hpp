// Sim-file durations (SPEC 15.4): an integer followed by `ms`, `s` or `m`.
//
//   auto d = parse_duration("200ms", "step 'fetch': timeout");   // 200 ms
//   parse_duration("3h", "--timeout");  // throws ConfigError "--timeout: invalid duration '3h' ..."
//
// The grammar is deliberately narrow: no fractions, no signs, no spaces, no hours, so a value in a
// sim file means the same thing to every reader.
#pragma once

#include <chrono>
#include <string_view>

namespace patchbay::runner {

// `what` names the field for the error message ("step 'x': timeout", "--timeout").
// Throws patchbay::ConfigError naming `what` and the value on anything but <digits>(ms|s|m).
std::chrono::milliseconds parse_duration(std::string_view s, std::string_view what);

}  // namespace patchbay::runner
