#include "config/lenient_keys.hpp"

#include <algorithm>
#include <span>
#include <string_view>

namespace patchbay::config {

namespace {

using json = nlohmann::json;
using Keys = std::span<const std::string_view>;

// The keys read by LinkCondition::from_json (src/link/condition.cpp) and NatConfig::from_json
// (src/nat/nat_config.cpp). A key added there and missing here would be dropped with a warning;
// the LenientKeys tests feed the library's own to_json() output through these lists to catch that.
constexpr std::string_view kLimitKeys[] = {
    "rate_kbit",   "loss_pct",     "latency_ms", "jitter_ms",        "reorder_pct", "duplicate_pct",
    "corrupt_pct", "distribution", "burst_loss", "queue_limit_pkts", "rate_trace",  "jitter_reorders"};
constexpr std::string_view kBurstKeys[] = {"p_pct", "r_pct", "loss_bad_pct", "loss_good_pct"};
constexpr std::string_view kManual[] = {"manual"};
constexpr std::string_view kCustom[] = {"custom"};
constexpr std::string_view kNatConfigKeys[] = {"mapping",           "filtering",  "timeouts",       "hairpin",
                                               "port_preservation", "port_range", "inbound_refresh"};
constexpr std::string_view kTimeoutKeys[] = {"udp", "udp_stream", "tcp_established", "tcp_transitory",
                                             "icmp"};

void keep_known(json& obj, Keys known, const std::string& path, const UnknownKey& warn) {
  for (auto it = obj.begin(); it != obj.end();) {
    if (std::find(known.begin(), known.end(), it.key()) != known.end()) {
      ++it;
      continue;
    }
    warn(path + "." + it.key());
    it = obj.erase(it);
  }
}

// Prunes the table at `key` of obj, if it is one.
void keep_known_in(json& obj, const char* key, Keys known, const std::string& path, const UnknownKey& warn) {
  auto it = obj.find(key);
  if (it != obj.end() && it->is_object()) keep_known(*it, known, path + "." + key, warn);
}

}  // namespace

json drop_unknown_condition_keys(json j, const std::string& path, const UnknownKey& warn) {
  if (!j.is_object()) return j;
  json* limits = &j;
  std::string at = path;
  if (auto m = j.find("manual"); m != j.end() && m->is_object()) {
    keep_known(j, kManual, path, warn);
    limits = &j["manual"];
    at = path + ".manual";
  }
  keep_known(*limits, kLimitKeys, at, warn);
  keep_known_in(*limits, "burst_loss", kBurstKeys, at, warn);
  return j;
}

json drop_unknown_nat_keys(json j, const std::string& path, const UnknownKey& warn) {
  if (!j.is_object()) return j;
  auto c = j.find("custom");
  if (c == j.end() || !c->is_object()) return j;  // not a custom NAT: the library says what it expected
  keep_known(j, kCustom, path, warn);
  json& body = j["custom"];
  keep_known(body, kNatConfigKeys, path + ".custom", warn);
  keep_known_in(body, "timeouts", kTimeoutKeys, path + ".custom", warn);
  return j;
}

}  // namespace patchbay::config
