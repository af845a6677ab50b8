// Link-condition values: the preset table of SPEC 7.2, LinkLimits validation, the JSON/TOML
// spellings of SPEC 7.1 / 13.6 and region links (SPEC 8.2). Pure values; no kernel access.
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "patchbay/error.hpp"
#include "patchbay/link.hpp"

namespace patchbay {
namespace {

using json = nlohmann::json;
using Kind = LinkCondition::Kind;

constexpr std::string_view kContext = "link condition";
// One hour: beyond any real path, so a larger value is a unit mistake (microseconds written as
// milliseconds) rather than an intent, and delay arithmetic stays far from overflow.
constexpr std::uint32_t kMaxDelayMs = 3'600'000;

[[noreturn]] void fail(const std::string& cause) {
  throw InvalidArgument(std::string(kContext), cause);
}

// Shortest decimal that reads back as the same value, so 0.1f prints "0.1", not "0.100000001".
template <class F>
std::string num(F v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

// A float widened by static_cast turns 1.1f into 1.100000023841858; going through the float's
// shortest decimal keeps what the user wrote, and reading it back as float is still exact.
double widen(float f) {
  const std::string s = num(f);
  double d = 0;
  std::from_chars(s.data(), s.data() + s.size(), d);
  return d;
}

// JSON values in messages: strings keep their quotes so "5" and 5 are distinguishable.
std::string show(const json& v) {
  std::string s = v.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

template <class F>
void check_pct(const std::string& field, F v) {
  // Written as !(in range) so NaN fails too.
  if (!(v >= 0 && v <= 100)) fail(field + " = " + num(v) + " is outside 0..100");
}

void check_delay(std::string_view field, std::uint32_t ms) {
  if (ms > kMaxDelayMs)
    fail(std::string(field) + " = " + std::to_string(ms) + " exceeds " + std::to_string(kMaxDelayMs) +
         " (one hour)");
}

// ---- spellings ----

struct Preset {
  Kind kind;
  std::string_view name;
  std::uint32_t latency_ms, jitter_ms;
  float loss_pct;
  std::uint32_t rate_kbit;
};

// SPEC 7.2, exact.
constexpr Preset kPresets[] = {
    {Kind::Lan, "lan", 0, 0, 0.0f, 0},
    {Kind::Wifi, "wifi", 5, 2, 0.1f, 0},
    {Kind::WifiBad, "wifi-bad", 40, 15, 2.0f, 20'000},
    {Kind::Mobile4G, "mobile-4g", 25, 8, 0.5f, 0},
    {Kind::Mobile3G, "mobile-3g", 100, 30, 2.0f, 2'000},
    {Kind::Satellite, "satellite", 40, 7, 1.0f, 0},
    {Kind::SatelliteGeo, "satellite-geo", 300, 20, 0.5f, 25'000},
};

// Accepted by readers, never written (SPEC 13.6); the underscore forms come from older state files.
constexpr std::pair<std::string_view, Kind> kAliases[] = {
    {"mobile", Kind::Mobile4G},    {"wifi_bad", Kind::WifiBad},           {"mobile4_g", Kind::Mobile4G},
    {"mobile3_g", Kind::Mobile3G}, {"satellite_geo", Kind::SatelliteGeo},
};

constexpr std::pair<DelayDistribution, std::string_view> kDistributions[] = {
    {DelayDistribution::Uniform, "uniform"},
    {DelayDistribution::Normal, "normal"},
    {DelayDistribution::Pareto, "pareto"},
    {DelayDistribution::ParetoNormal, "paretonormal"},
};

LinkLimits preset_limits(Kind k) {
  LinkLimits l;
  for (const Preset& p : kPresets) {
    if (p.kind != k) continue;
    l.latency_ms = p.latency_ms;
    l.jitter_ms = p.jitter_ms;
    l.loss_pct = p.loss_pct;
    l.rate_kbit = p.rate_kbit;
  }
  return l;
}

// ---- fields ----

template <class T, class M>
struct Field {
  std::string_view key;
  M T::*member;
};

// Grouped by JSON type so reading, writing and validation share one list; the other keys need their
// own conversions.
constexpr Field<LinkLimits, std::uint32_t> kIntFields[] = {
    {"rate_kbit", &LinkLimits::rate_kbit},
    {"latency_ms", &LinkLimits::latency_ms},
    {"jitter_ms", &LinkLimits::jitter_ms},
    {"queue_limit_pkts", &LinkLimits::queue_limit_pkts},
};
constexpr Field<LinkLimits, float> kPctFields[] = {
    {"loss_pct", &LinkLimits::loss_pct},
    {"reorder_pct", &LinkLimits::reorder_pct},
    {"duplicate_pct", &LinkLimits::duplicate_pct},
    {"corrupt_pct", &LinkLimits::corrupt_pct},
};
constexpr Field<GilbertElliott, double> kBurstFields[] = {
    {"p_pct", &GilbertElliott::p_pct},
    {"r_pct", &GilbertElliott::r_pct},
    {"loss_bad_pct", &GilbertElliott::loss_bad_pct},
    {"loss_good_pct", &GilbertElliott::loss_good_pct},
};

template <class T, class M, std::size_t N>
const Field<T, M>* field_named(const Field<T, M> (&table)[N], std::string_view key) {
  for (const auto& f : table)
    if (f.key == key) return &f;
  return nullptr;
}

// ---- JSON reading ----

std::uint32_t read_u32(const json& v, const std::string& key) {
  // Values built in code (json(5)) are signed, parsed ones unsigned; both are fine.
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
    const auto n = v.get<std::uint64_t>();
    if (n > std::numeric_limits<std::uint32_t>::max())
      fail(key + " = " + show(v) + " is too large (at most 4294967295)");
    return static_cast<std::uint32_t>(n);
  }
  fail(key + " must be a non-negative integer, got " + show(v));
}

// Range-checked here, before narrowing to float, so the message shows the value as written.
double read_pct(const json& v, const std::string& key) {
  if (!v.is_number()) fail(key + " must be a number, got " + show(v));
  const auto d = v.get<double>();
  check_pct(key, d);
  return d;
}

bool read_bool(const json& v, const std::string& key) {
  if (!v.is_boolean()) fail(key + " must be true or false, got " + show(v));
  return v.get<bool>();
}

std::optional<DelayDistribution> distribution_named(std::string_view s) {
  for (const auto& [value, name] : kDistributions)
    if (name == s) return value;
  return std::nullopt;
}

constexpr std::string_view kDistributionNames = "(expected uniform, normal, pareto or paretonormal)";

DelayDistribution read_distribution(const json& v) {
  if (!v.is_string()) fail("distribution must be a string, got " + show(v));
  const auto& s = v.get_ref<const std::string&>();
  if (auto d = distribution_named(s)) return *d;
  fail("distribution: unknown delay distribution '" + s + "' " + std::string(kDistributionNames));
}

std::filesystem::path read_path(const json& v, const std::string& key) {
  if (!v.is_string()) fail(key + " must be a path string, got " + show(v));
  return std::filesystem::path(v.get<std::string>());
}

GilbertElliott read_burst_loss(const json& v) {
  if (!v.is_object())
    fail("burst_loss must be an object {p_pct, r_pct[, loss_bad_pct, loss_good_pct]}, got " + show(v));
  GilbertElliott g;
  for (const auto& [key, value] : v.items()) {
    const auto* f = field_named(kBurstFields, key);
    if (f == nullptr)
      fail("unknown key 'burst_loss." + key + "' (expected p_pct, r_pct, loss_bad_pct or loss_good_pct)");
    g.*f->member = read_pct(value, "burst_loss." + key);
  }
  // Without the transition probabilities the model means nothing, so they have no default.
  for (const char* key : {"p_pct", "r_pct"})
    if (!v.contains(key)) fail("burst_loss is missing key '" + std::string(key) + "'");
  return g;
}

LinkLimits read_limits(const json& j) {
  if (!j.is_object()) fail("expected a preset name or an object of link limits, got " + show(j));
  LinkLimits l;
  for (const auto& [key, v] : j.items()) {
    if (const auto* f = field_named(kIntFields, key)) {
      l.*f->member = read_u32(v, key);
    } else if (const auto* p = field_named(kPctFields, key)) {
      l.*p->member = static_cast<float>(read_pct(v, key));
    } else if (key == "distribution") {
      l.distribution = read_distribution(v);
    } else if (key == "burst_loss") {
      l.burst_loss = read_burst_loss(v);
    } else if (key == "rate_trace") {
      l.rate_trace = read_path(v, key);
    } else if (key == "jitter_reorders") {
      l.jitter_reorders = read_bool(v, key);
    } else {
      fail("unknown key '" + key +
           "' (expected rate_kbit, loss_pct, latency_ms, jitter_ms, reorder_pct, duplicate_pct, "
           "corrupt_pct, distribution, burst_loss, queue_limit_pkts, rate_trace or jitter_reorders)");
    }
  }
  l.validate();
  return l;
}

}  // namespace

// ---- LinkLimits ----

void LinkLimits::validate() const {
  for (const auto& f : kPctFields) check_pct(std::string(f.key), this->*f.member);
  check_delay("latency_ms", latency_ms);
  check_delay("jitter_ms", jitter_ms);
  if (burst_loss) {
    for (const auto& f : kBurstFields) check_pct("burst_loss." + std::string(f.key), (*burst_loss).*f.member);
    // Two independent loss stages would make the effective rate neither of the configured ones.
    if (loss_pct > 0)
      fail("burst_loss and loss_pct = " + num(loss_pct) +
           " are mutually exclusive (use burst_loss.loss_good_pct for background loss)");
  }
  // The trace's contents are checked when the engine loads it (ConfigError with the line number);
  // an empty path can only be a mistake.
  if (rate_trace && rate_trace->empty()) fail("rate_trace is an empty path");
}

// ---- LinkCondition ----

LinkCondition LinkCondition::lan() {
  return LinkCondition(Kind::Lan, LinkLimits{});
}
LinkCondition LinkCondition::wifi() {
  return LinkCondition(Kind::Wifi, preset_limits(Kind::Wifi));
}
LinkCondition LinkCondition::wifi_bad() {
  return LinkCondition(Kind::WifiBad, preset_limits(Kind::WifiBad));
}
LinkCondition LinkCondition::mobile_4g() {
  return LinkCondition(Kind::Mobile4G, preset_limits(Kind::Mobile4G));
}
LinkCondition LinkCondition::mobile_3g() {
  return LinkCondition(Kind::Mobile3G, preset_limits(Kind::Mobile3G));
}
LinkCondition LinkCondition::satellite() {
  return LinkCondition(Kind::Satellite, preset_limits(Kind::Satellite));
}
LinkCondition LinkCondition::satellite_geo() {
  return LinkCondition(Kind::SatelliteGeo, preset_limits(Kind::SatelliteGeo));
}

LinkCondition LinkCondition::manual(LinkLimits limits) {
  limits.validate();
  return LinkCondition(Kind::Manual, std::move(limits));
}

LinkCondition LinkCondition::parse(std::string_view preset) {
  for (const Preset& p : kPresets)
    if (p.name == preset) return LinkCondition(p.kind, preset_limits(p.kind));
  for (const auto& [alias, kind] : kAliases)
    if (alias == preset) return LinkCondition(kind, preset_limits(kind));
  throw InvalidArgument("unknown link condition preset '" + std::string(preset) +
                        "' (expected lan, wifi, wifi-bad, mobile-4g, mobile-3g, satellite or satellite-geo)");
}

LinkCondition LinkCondition::from_json(const nlohmann::json& j) {
  if (j.is_string()) return parse(j.get_ref<const std::string&>());
  // Legacy {"manual": {...}}; a flat object is never matched against the presets, so a manual
  // condition that happens to equal one keeps reporting itself as manual.
  if (j.is_object() && j.size() == 1) {
    auto it = j.find("manual");
    if (it != j.end() && it->is_object()) return LinkCondition(Kind::Manual, read_limits(*it));
  }
  return LinkCondition(Kind::Manual, read_limits(j));
}

LinkLimits LinkCondition::to_limits() const {
  return limits_;
}

nlohmann::json LinkCondition::to_json() const {
  if (kind_ == Kind::Manual) return limits_to_json(limits_);
  return to_string();
}

std::string LinkCondition::to_string() const {
  for (const Preset& p : kPresets)
    if (p.kind == kind_) return std::string(p.name);
  return "manual";
}

// ---- JSON of LinkLimits / DelayDistribution ----

nlohmann::json limits_to_json(const LinkLimits& l) {
  json j = json::object();
  for (const auto& f : kIntFields)
    if (l.*f.member != 0) j[std::string(f.key)] = l.*f.member;
  for (const auto& f : kPctFields)
    if (l.*f.member != 0) j[std::string(f.key)] = widen(l.*f.member);
  if (l.distribution != DelayDistribution::Uniform) j["distribution"] = to_string(l.distribution);
  if (l.burst_loss) {
    // All four written: the defaults of the last two are not obvious to someone reading the file.
    json& b = j["burst_loss"] = json::object();
    for (const auto& f : kBurstFields) b[std::string(f.key)] = (*l.burst_loss).*f.member;
  }
  if (l.rate_trace) j["rate_trace"] = l.rate_trace->string();
  if (!l.jitter_reorders) j["jitter_reorders"] = false;
  return j;
}

LinkLimits limits_from_json(const nlohmann::json& j) {
  return read_limits(j);
}

std::string to_string(DelayDistribution d) {
  for (const auto& [value, name] : kDistributions)
    if (value == d) return std::string(name);
  return "?";
}

DelayDistribution parse_delay_distribution(std::string_view s) {
  if (auto d = distribution_named(s)) return *d;
  throw InvalidArgument("unknown delay distribution '" + std::string(s) + "' " +
                        std::string(kDistributionNames));
}

// ---- RegionLink ----

RegionLink RegionLink::good(std::uint32_t ms) {
  return RegionLink{.latency_ms = ms, .jitter_ms = 0, .loss_pct = 0, .rate_mbit = 0};
}

RegionLink RegionLink::degraded(std::uint32_t ms) {
  return RegionLink{.latency_ms = ms, .jitter_ms = ms / 10, .loss_pct = 0.5, .rate_mbit = 0};
}

LinkLimits RegionLink::to_limits() const {
  // Wrapping would turn a huge rate into a tiny one, the opposite of what was asked.
  constexpr std::uint32_t kMaxMbit = std::numeric_limits<std::uint32_t>::max() / 1000;
  if (rate_mbit > kMaxMbit)
    throw InvalidArgument(
        "region link", "rate_mbit = " + std::to_string(rate_mbit) + " exceeds " + std::to_string(kMaxMbit));
  LinkLimits l;
  l.latency_ms = latency_ms;
  l.jitter_ms = jitter_ms;
  l.loss_pct = static_cast<float>(loss_pct);
  l.rate_kbit = rate_mbit * 1000;
  return l;
}

}  // namespace patchbay
