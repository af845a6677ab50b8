// NAT configuration values (include/patchbay/nat.hpp): the spellings of NatMapping, NatFiltering
// and NatV6Mode, NatConfig and its JSON form, the NAT presets of SPEC 4.3 and Nat. Pure values; no
// kernel access.
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "nat/config_common.hpp"
#include "patchbay/nat.hpp"
#include "sys/spelling.hpp"

namespace patchbay {
namespace {

using json = nlohmann::json;
using namespace nat;

// ---- spellings ----

constexpr sys::Spelling<NatMapping> kMappingNames[] = {
    {NatMapping::EndpointIndependent, "endpoint_independent"},
    {NatMapping::AddressDependent, "address_dependent"},
    {NatMapping::AddressAndPortDependent, "endpoint_dependent"},
};
constexpr sys::Spelling<NatFiltering> kFilteringNames[] = {
    {NatFiltering::EndpointIndependent, "endpoint_independent"},
    {NatFiltering::AddressDependent, "address_dependent"},
    {NatFiltering::AddressAndPortDependent, "address_and_port_dependent"},
};
constexpr sys::Spelling<NatV6Mode> kNatV6Names[] = {
    {NatV6Mode::None, "none"},
    {NatV6Mode::Nptv6, "nptv6"},
    {NatV6Mode::Masquerade, "masquerade"},
    {NatV6Mode::Nat64, "nat64"},
};
// Custom is absent from the two kind tables: it is spelt as an object, not a name.
constexpr sys::Spelling<Nat::Kind> kNatNames[] = {
    {Nat::Kind::None, "none"},   {Nat::Kind::Home, "home"},          {Nat::Kind::Corporate, "corporate"},
    {Nat::Kind::Cgnat, "cgnat"}, {Nat::Kind::CloudNat, "cloud-nat"}, {Nat::Kind::FullCone, "full-cone"},
};

// ---- NatMapping / NatFiltering / NatV6Mode ----

std::optional<NatMapping> mapping_named(std::string_view s) {
  // RFC 4787's own name for APDM; SPEC 13.6 writes "endpoint_dependent" but accepts this too.
  if (s == "address_and_port_dependent") return NatMapping::AddressAndPortDependent;
  return sys::value_named(kMappingNames, s);
}
std::optional<NatFiltering> filtering_named(std::string_view s) {
  return sys::value_named(kFilteringNames, s);
}
std::optional<NatV6Mode> nat_v6_named(std::string_view s) {
  return sys::value_named(kNatV6Names, s);
}

NatMapping read_mapping(const json& v, const std::string& path) {
  return read_named<NatMapping>(v, path, mapping_named, sys::expected_names(kMappingNames));
}
NatFiltering read_filtering(const json& v, const std::string& path) {
  return read_named<NatFiltering>(v, path, filtering_named, sys::expected_names(kFilteringNames));
}
NatV6Mode read_nat_v6(const json& v, const std::string& path) {
  return read_named<NatV6Mode>(v, path, nat_v6_named, sys::expected_names(kNatV6Names));
}

// ---- NatConfig ----

// The timeout keys in JSON order; `required` per SPEC 13.6 (the last two were added later and
// default when absent).
struct TimeoutField {
  std::string_view key;
  std::uint32_t ConntrackTimeouts::*member;
  bool required;
};
constexpr TimeoutField kTimeoutFields[] = {
    {"udp", &ConntrackTimeouts::udp, true},
    {"udp_stream", &ConntrackTimeouts::udp_stream, true},
    {"tcp_established", &ConntrackTimeouts::tcp_established, true},
    {"tcp_transitory", &ConntrackTimeouts::tcp_transitory, false},
    {"icmp", &ConntrackTimeouts::icmp, false},
};

void check_nat_config(const NatConfig& c, const std::string& context) {
  for (const auto& f : kTimeoutFields) {
    if (c.timeouts.*f.member == 0)
      fail(context, "timeouts." + std::string(f.key) + " = 0 (must be at least 1 second)");
  }
  const PortRange r = c.port_range;
  if (r.lo == 0 || r.lo > r.hi)
    fail(context, "port_range = [" + std::to_string(r.lo) + ", " + std::to_string(r.hi) +
                      "] (need 1 <= lo <= hi <= 65535)");
}

ConntrackTimeouts read_timeouts(const json& v, const std::string& path) {
  expect_object(v, path);
  check_keys(v, path, {"udp", "udp_stream", "tcp_established", "tcp_transitory", "icmp"});
  ConntrackTimeouts t;
  for (const auto& f : kTimeoutFields) {
    const json* e = f.required ? &required(v, path, f.key) : member(v, f.key);
    if (e != nullptr)
      t.*f.member = static_cast<std::uint32_t>(
          read_uint(*e, key_path(path, f.key), 1, std::numeric_limits<std::uint32_t>::max()));
  }
  return t;
}

PortRange read_port_range(const json& v, const std::string& path) {
  if (!v.is_array() || v.size() != 2) fail(path, "expected [lo, hi], got " + show(v));
  return PortRange{static_cast<std::uint16_t>(read_uint(v[0], path + "[0]", 1, 65535)),
                   static_cast<std::uint16_t>(read_uint(v[1], path + "[1]", 1, 65535))};
}

NatConfig read_nat_config(const json& v, const std::string& path) {
  expect_object(v, path);
  check_keys(
      v, path,
      {"mapping", "filtering", "timeouts", "hairpin", "port_preservation", "port_range", "inbound_refresh"});
  NatConfig c;
  c.mapping = read_mapping(required(v, path, "mapping"), key_path(path, "mapping"));
  c.filtering = read_filtering(required(v, path, "filtering"), key_path(path, "filtering"));
  c.timeouts = read_timeouts(required(v, path, "timeouts"), key_path(path, "timeouts"));
  c.hairpin = read_bool(required(v, path, "hairpin"), key_path(path, "hairpin"));
  if (const json* e = member(v, "port_preservation"))
    c.port_preservation = read_bool(*e, key_path(path, "port_preservation"));
  if (const json* e = member(v, "port_range"))
    c.port_range = read_port_range(*e, key_path(path, "port_range"));
  if (const json* e = member(v, "inbound_refresh"))
    c.inbound_refresh = read_bool(*e, key_path(path, "inbound_refresh"));
  check_nat_config(c, path);  // what the per-key checks cannot see: lo <= hi
  return c;
}

// ---- Nat presets (SPEC 4.3) ----

constexpr auto kEim = NatMapping::EndpointIndependent;
constexpr auto kApdm = NatMapping::AddressAndPortDependent;
constexpr auto kEif = NatFiltering::EndpointIndependent;
constexpr auto kApdf = NatFiltering::AddressAndPortDependent;

struct NatPreset {
  Nat::Kind kind;
  NatMapping mapping;
  NatFiltering filtering;
  std::uint32_t udp, udp_stream, tcp_established;
  bool hairpin, port_preservation;
};
// tcp_transitory (120 s), icmp (30 s), port_range and inbound_refresh keep the NatConfig{} values.
// Kept aligned by hand: this is the SPEC 4.3 table and should read like it.
// clang-format off
constexpr NatPreset kNatPresets[] = {
    // kind                 mapping filtering udp stream tcp_est hairpin preservation
    {Nat::Kind::Home,       kEim,   kApdf,    30, 300,   7200,   false,  true},
    {Nat::Kind::Corporate,  kApdm,  kApdf,    30, 120,   3600,   false,  false},
    {Nat::Kind::CloudNat,   kApdm,  kApdf,    30, 350,   3600,   false,  false},
    {Nat::Kind::FullCone,   kEim,   kEif,     30, 300,   7200,   true,   true},
    {Nat::Kind::Cgnat,      kEim,   kEif,     30, 300,   7200,   true,   true},
};
// clang-format on

NatConfig nat_preset_config(Nat::Kind kind) {
  NatConfig c;
  for (const auto& p : kNatPresets) {
    if (p.kind != kind) continue;
    c.mapping = p.mapping;
    c.filtering = p.filtering;
    c.timeouts.udp = p.udp;
    c.timeouts.udp_stream = p.udp_stream;
    c.timeouts.tcp_established = p.tcp_established;
    c.hairpin = p.hairpin;
    c.port_preservation = p.port_preservation;
  }
  return c;
}

}  // namespace

// ---- enum spellings ----

std::string to_string(NatMapping m) {
  return std::string(sys::name_of(kMappingNames, m));
}
std::string to_string(NatFiltering f) {
  return std::string(sys::name_of(kFilteringNames, f));
}
std::string to_string(NatV6Mode m) {
  return std::string(sys::name_of(kNatV6Names, m));
}

NatMapping parse_nat_mapping(std::string_view s) {
  return read_mapping(json(std::string(s)), "mapping");
}
NatFiltering parse_nat_filtering(std::string_view s) {
  return read_filtering(json(std::string(s)), "filtering");
}
NatV6Mode parse_nat_v6_mode(std::string_view s) {
  return read_nat_v6(json(std::string(s)), "nat_v6");
}

void to_json(nlohmann::json& j, NatMapping m) {
  j = to_string(m);
}
void from_json(const nlohmann::json& j, NatMapping& m) {
  m = read_mapping(j, "mapping");
}
void to_json(nlohmann::json& j, NatFiltering f) {
  j = to_string(f);
}
void from_json(const nlohmann::json& j, NatFiltering& f) {
  f = read_filtering(j, "filtering");
}
void to_json(nlohmann::json& j, NatV6Mode m) {
  j = to_string(m);
}
void from_json(const nlohmann::json& j, NatV6Mode& m) {
  m = read_nat_v6(j, "nat_v6");
}

// ---- NatConfig ----

NatConfigBuilder NatConfig::builder() {
  return NatConfigBuilder{};
}

void NatConfig::validate() const {
  check_nat_config(*this, "nat_config");
}

nlohmann::json NatConfig::to_json() const {
  json t = json::object();
  for (const auto& f : kTimeoutFields) t[std::string(f.key)] = timeouts.*f.member;
  return json::object({{"mapping", patchbay::to_string(mapping)},
                       {"filtering", patchbay::to_string(filtering)},
                       {"timeouts", t},
                       {"hairpin", hairpin},
                       {"port_preservation", port_preservation},
                       {"port_range", json::array({port_range.lo, port_range.hi})},
                       {"inbound_refresh", inbound_refresh}});
}

NatConfig NatConfig::from_json(const nlohmann::json& j) {
  return read_nat_config(j, "nat_config");
}

NatConfigBuilder& NatConfigBuilder::mapping(NatMapping m) {
  cfg_.mapping = m;
  return *this;
}
NatConfigBuilder& NatConfigBuilder::filtering(NatFiltering f) {
  cfg_.filtering = f;
  return *this;
}
NatConfigBuilder& NatConfigBuilder::hairpin(bool on) {
  cfg_.hairpin = on;
  return *this;
}
NatConfigBuilder& NatConfigBuilder::udp_timeout(std::uint32_t secs) {
  cfg_.timeouts.udp = secs;
  return *this;
}
NatConfigBuilder& NatConfigBuilder::udp_stream_timeout(std::uint32_t secs) {
  cfg_.timeouts.udp_stream = secs;
  return *this;
}
NatConfigBuilder& NatConfigBuilder::tcp_established_timeout(std::uint32_t secs) {
  cfg_.timeouts.tcp_established = secs;
  return *this;
}
NatConfigBuilder& NatConfigBuilder::tcp_transitory_timeout(std::uint32_t secs) {
  cfg_.timeouts.tcp_transitory = secs;
  return *this;
}
NatConfigBuilder& NatConfigBuilder::icmp_timeout(std::uint32_t secs) {
  cfg_.timeouts.icmp = secs;
  return *this;
}
NatConfigBuilder& NatConfigBuilder::port_preservation(bool on) {
  cfg_.port_preservation = on;
  return *this;
}
NatConfigBuilder& NatConfigBuilder::port_range(PortRange r) {
  cfg_.port_range = r;
  return *this;
}
NatConfigBuilder& NatConfigBuilder::inbound_refresh(bool on) {
  cfg_.inbound_refresh = on;
  return *this;
}
NatConfig NatConfigBuilder::build() const {
  cfg_.validate();
  return cfg_;
}

// ---- Nat ----

Nat Nat::none() {
  return Nat{};
}
Nat Nat::home() {
  return Nat(Kind::Home, nat_preset_config(Kind::Home));
}
Nat Nat::corporate() {
  return Nat(Kind::Corporate, nat_preset_config(Kind::Corporate));
}
Nat Nat::cgnat() {
  return Nat(Kind::Cgnat, nat_preset_config(Kind::Cgnat));
}
Nat Nat::cloud_nat() {
  return Nat(Kind::CloudNat, nat_preset_config(Kind::CloudNat));
}
Nat Nat::full_cone() {
  return Nat(Kind::FullCone, nat_preset_config(Kind::FullCone));
}
Nat Nat::custom(NatConfig cfg) {
  check_nat_config(cfg, "nat.custom");
  return Nat(Kind::Custom, cfg);
}

std::optional<NatConfig> Nat::to_config() const {
  if (kind_ == Kind::None) return std::nullopt;
  return cfg_;
}

std::span<const Nat> Nat::presets() {
  static const std::array<Nat, 6> kAll = {none(), home(), corporate(), cgnat(), cloud_nat(), full_cone()};
  return kAll;
}

nlohmann::json Nat::to_json() const {
  if (kind_ == Kind::Custom) return json::object({{"custom", cfg_.to_json()}});
  return std::string(sys::name_of(kNatNames, kind_));
}

Nat Nat::from_json(const nlohmann::json& j) {
  if (j.is_string()) {
    if (auto kind = sys::value_named(kNatNames, j.get_ref<const std::string&>())) return nat_of_kind(*kind);
  } else if (const json* body = custom_body(j)) {
    return custom(read_nat_config(*body, "nat.custom"));
  }
  unknown_value("nat", j, sys::expected_names(kNatNames, "{custom: ...}"));
}

std::string Nat::to_string() const {
  return kind_ == Kind::Custom ? "custom" : std::string(sys::name_of(kNatNames, kind_));
}

}  // namespace patchbay
