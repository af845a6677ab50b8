#include "runner/duration.hpp"

#include <charconv>
#include <cstdint>
#include <limits>
#include <string>

#include "patchbay/error.hpp"

namespace patchbay::runner {

std::chrono::milliseconds parse_duration(std::string_view s, std::string_view what) {
  auto fail = [&](const std::string& why) -> std::chrono::milliseconds {
    throw ConfigError(std::string(what), "invalid duration '" + std::string(s) + "' (" + why + ")");
  };
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0) return fail("expected an integer followed by ms, s or m, e.g. 200ms, 2s, 3m");

  const std::string_view unit = s.substr(digits);
  std::int64_t scale = 0;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "s") {
    scale = 1000;
  } else if (unit == "m") {
    scale = 60'000;
  } else {
    return fail("unit must be ms, s or m");
  }

  std::int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + digits, n);
  if (ec != std::errc() || end != s.data() + digits || n > std::numeric_limits<std::int64_t>::max() / scale) {
    return fail("value out of range");
  }
  return std::chrono::milliseconds(n * scale);
}

}  // namespace patchbay::runner
