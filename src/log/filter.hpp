// Filter: the `level` / `target=level` directives of PATCHBAY_LOG / RUST_LOG (SPEC 13.4).
//
//   auto f = log::detail::Filter::parse("warn,patchbay::nat=debug,foo");
//   f.enabled(log::Level::Debug, "patchbay::nat::ctl");   // true: longest prefix "patchbay::nat"
//   f.enabled(log::Level::Info, "bar");                   // false: the bare level is warn
//
// Parsed once; enabled() allocates nothing and rejects a level no directive allows with one
// comparison, so a disabled debug record on a hot path costs a few nanoseconds.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "patchbay/log.hpp"

namespace patchbay::log::detail {

class Filter {
 public:
  // Unparsable directives are skipped and described in `errors` (if given). An empty spec
  // enables nothing.
  static Filter parse(std::string_view spec, std::vector<std::string>* errors = nullptr);

  // The most verbose level any directive allows (-1: none).
  int max_level() const { return max_; }

  bool enabled(Level level, std::string_view target) const {
    const int l = static_cast<int>(level);
    if (l > max_) return false;
    int allowed = default_;
    std::size_t best = 0;
    bool matched = false;
    for (const auto& d : directives_) {
      if (target.starts_with(d.target) && (!matched || d.target.size() >= best)) {
        matched = true;
        best = d.target.size();
        allowed = d.level;
      }
    }
    return l <= allowed;
  }

 private:
  struct Directive {
    std::string target;
    int level;  // -1 = off, else the most verbose Level allowed
  };
  std::vector<Directive> directives_;
  int default_ = -1;
  int max_ = -1;  // the most verbose level any directive allows
};

// The filter text of the environment: $PATCHBAY_LOG, else $RUST_LOG, else "info" (an empty
// variable counts as unset).
std::string filter_from_env();

}  // namespace patchbay::log::detail
