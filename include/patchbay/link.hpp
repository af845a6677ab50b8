// patchbay/link.hpp: link conditions (latency, jitter, loss, rate, ...), per direction.
//
//   dev.iface("wlan0")->set_condition(LinkCondition::wifi(), LinkDirection::Both);
//   LinkLimits l;  l.rate_kbit = 2000;  l.latency_ms = 50;  l.loss_pct = 1.5f;
//   dev.iface("eth0")->set_condition(LinkCondition::manual(l), LinkDirection::Up);
//   auto c = LinkCondition::parse("mobile-4g");          // TOML/JSON preset names
//
// Conditions are applied by the lab's userspace link engine (no sch_netem needed), per direction
// (Up = leaving the device / child router, Down = towards it), with every random decision drawn
// from a per-link generator seeded from LabOpts::seed. Changing a condition never recreates an
// interface or disturbs live connections; packets already in flight keep their schedule. An
// impairment that cannot be applied throws ImpairmentError; nothing is silently ignored.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace patchbay {

enum class DelayDistribution { Uniform, Normal, Pareto, ParetoNormal };

// Two-state (good/bad) loss: p = P(good -> bad), r = P(bad -> good), per packet, in percent.
struct GilbertElliott {
  double p_pct = 0, r_pct = 0;
  double loss_bad_pct = 100.0, loss_good_pct = 0.0;
  bool operator==(const GilbertElliott&) const = default;
};

struct LinkLimits {              // all zero = no impairment; one direction
  std::uint32_t rate_kbit = 0;   // 0 = unlimited; counts IP packet + 14-byte Ethernet header
  float loss_pct = 0;            // Bernoulli drop probability
  std::uint32_t latency_ms = 0;  // one-way added delay
  std::uint32_t jitter_ms = 0;   // see distribution
  float reorder_pct = 0;         // share of packets that skip the delay line
  float duplicate_pct = 0;       // delivered twice
  float corrupt_pct = 0;         // one random bit flipped (receivers see a bad checksum)
  DelayDistribution distribution = DelayDistribution::Uniform;
  std::optional<GilbertElliott> burst_loss;         // exclusive with loss_pct > 0
  std::uint32_t queue_limit_pkts = 0;               // 0 = automatic (bandwidth-delay product, >= 64)
  std::optional<std::filesystem::path> rate_trace;  // Mahimahi trace; overrides rate_kbit
  bool jitter_reorders = true;                      // false: a direction never reorders
  bool operator==(const LinkLimits&) const = default;

  bool is_zero() const { return *this == LinkLimits{}; }
  // Throws InvalidArgument naming the field and value (negative/NaN/over-100 percentages,
  // burst_loss together with loss_pct, ...).
  void validate() const;
};

class LinkCondition {
 public:
  enum class Kind { Lan, Wifi, WifiBad, Mobile4G, Mobile3G, Satellite, SatelliteGeo, Manual };

  static LinkCondition lan();
  static LinkCondition wifi();
  static LinkCondition wifi_bad();
  static LinkCondition mobile_4g();
  static LinkCondition mobile_3g();
  static LinkCondition satellite();
  static LinkCondition satellite_geo();
  static LinkCondition manual(LinkLimits limits);  // validates
  // "lan", "wifi", "wifi-bad", "mobile-4g" (alias "mobile"), "mobile-3g", "satellite",
  // "satellite-geo", plus the legacy spellings "wifi_bad", "mobile4_g", "mobile3_g",
  // "satellite_geo"; InvalidArgument "unknown link condition preset '<s>'" otherwise.
  static LinkCondition parse(std::string_view preset);
  // Canonical form (preset string or flat LinkLimits object) plus legacy spellings (SPEC 13.6).
  static LinkCondition from_json(const nlohmann::json& j);

  Kind kind() const { return kind_; }
  LinkLimits to_limits() const;
  nlohmann::json to_json() const;  // writers emit only the canonical form
  std::string to_string() const;   // the preset name, or "manual"
  bool operator==(const LinkCondition&) const = default;

 private:
  LinkCondition(Kind k, LinkLimits l) : kind_(k), limits_(std::move(l)) {}
  Kind kind_ = Kind::Lan;
  LinkLimits limits_;
};

nlohmann::json limits_to_json(const LinkLimits& l);  // flat object of the non-default keys
LinkLimits limits_from_json(const nlohmann::json& j);
std::string to_string(DelayDistribution d);  // "uniform" | "normal" | "pareto" | "paretonormal"
DelayDistribution parse_delay_distribution(std::string_view s);

// Engine counters for one direction of a link (wire packets; GSO frames count per segment).
struct LinkCounters {
  std::uint64_t packets = 0, bytes = 0;                             // delivered
  std::uint64_t drops_loss = 0, drops_queue = 0, drops_memory = 0;  // by cause
  std::uint64_t duplicated = 0, corrupted = 0, reordered = 0;
  std::uint64_t queue_high_water = 0;  // bottleneck queue depth, packets
  bool operator==(const LinkCounters&) const = default;
};
struct LinkStats {
  LinkCounters up, down;
  bool engine_routed = false;  // frames currently pass through the userspace engine
};

// A link between two regions (SPEC 8): both directions get to_limits().
struct RegionLink {
  std::uint32_t latency_ms = 0, jitter_ms = 0;
  double loss_pct = 0;
  std::uint32_t rate_mbit = 0;
  static RegionLink good(std::uint32_t ms);      // jitter 0, loss 0, rate 0
  static RegionLink degraded(std::uint32_t ms);  // jitter ms/10, loss 0.5 %, rate 0
  LinkLimits to_limits() const;                  // rate_kbit = rate_mbit * 1000
  bool operator==(const RegionLink&) const = default;
};

}  // namespace patchbay
