#include "log/filter.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>

namespace patchbay::log::detail {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// -1 for "off"; nullopt when `s` names no level.
std::optional<int> parse_level(std::string_view s) {
  std::string l(s);
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char c) { return std::tolower(c); });
  if (l == "off") return -1;
  if (l == "error") return static_cast<int>(Level::Error);
  if (l == "warn" || l == "warning") return static_cast<int>(Level::Warn);
  if (l == "info") return static_cast<int>(Level::Info);
  if (l == "debug") return static_cast<int>(Level::Debug);
  if (l == "trace") return static_cast<int>(Level::Trace);
  return std::nullopt;
}

bool valid_target(std::string_view t) {
  // tracing's span and field selectors (`target[span{field}]=level`) are not supported.
  return !t.empty() && t.find_first_of("[]{}= \t") == std::string_view::npos;
}

}  // namespace

Filter Filter::parse(std::string_view spec, std::vector<std::string>* errors) {
  Filter f;
  auto reject = [&](std::string_view d, const char* why) {
    if (errors) errors->push_back("'" + std::string(d) + "': " + why);
  };
  while (!spec.empty()) {
    auto comma = spec.find(',');
    std::string_view d = trim(spec.substr(0, comma));
    spec = comma == std::string_view::npos ? std::string_view() : spec.substr(comma + 1);
    if (d.empty()) continue;
    auto eq = d.find('=');
    if (eq == std::string_view::npos) {
      if (auto l = parse_level(d)) {
        f.default_ = *l;
      } else if (valid_target(d)) {
        f.directives_.push_back({std::string(d), static_cast<int>(Level::Trace)});  // a bare target
      } else {
        reject(d, "not a level or a target");
      }
      continue;
    }
    std::string_view target = trim(d.substr(0, eq)), level = trim(d.substr(eq + 1));
    auto l = parse_level(level);
    if (!l) {
      reject(d, "unknown level (error, warn, info, debug, trace, off)");
    } else if (!valid_target(target)) {
      reject(d, "unsupported target");
    } else {
      f.directives_.push_back({std::string(target), *l});
    }
  }
  f.max_ = f.default_;
  for (const auto& d : f.directives_) f.max_ = std::max(f.max_, d.level);
  return f;
}

std::string filter_from_env() {
  for (const char* name : {"PATCHBAY_LOG", "RUST_LOG"})
    if (const char* v = std::getenv(name); v != nullptr && !trim(v).empty()) return v;
  return "info";
}

}  // namespace patchbay::log::detail
