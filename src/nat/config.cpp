// NAT, firewall and router-preset configuration values: the preset tables of SPEC 4.3, 5 and 6,
// validation, and the JSON/TOML spellings of SPEC 13.6. Pure values; no kernel access.
#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "patchbay/error.hpp"
#include "patchbay/firewall.hpp"
#include "patchbay/nat.hpp"
#include "patchbay/preset.hpp"
#include "sys/spelling.hpp"

namespace patchbay {
namespace {

using json = nlohmann::json;

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
constexpr sys::Spelling<Firewall::Kind> kFirewallNames[] = {
    {Firewall::Kind::None, "none"},
    {Firewall::Kind::BlockInbound, "block_inbound"},
    {Firewall::Kind::Corporate, "corporate"},
    {Firewall::Kind::CaptivePortal, "captive_portal"},
};
constexpr sys::Spelling<RouterPreset> kPresetNames[] = {
    {RouterPreset::Home, "home"},          {RouterPreset::Public, "public"},
    {RouterPreset::PublicV4, "public-v4"}, {RouterPreset::IspCgnat, "isp-cgnat"},
    {RouterPreset::IspV6, "isp-v6"},       {RouterPreset::Corporate, "corporate"},
    {RouterPreset::Hotel, "hotel"},        {RouterPreset::Cloud, "cloud"},
};

// ---- JSON reading with the key path in every error ----

// Strings quoted, anything else compact and bounded so a huge object cannot flood the message.
std::string show(const json& v) {
  std::string s = v.is_string() ? "'" + v.get<std::string>() + "'" : v.dump();
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

[[noreturn]] void fail(const std::string& path, const std::string& cause) {
  throw InvalidArgument(path, cause);
}

[[noreturn]] void unknown_value(const std::string& path, const json& v, const std::string& expected) {
  fail(path, "unknown value " + show(v) + " (expected " + expected + ")");
}

std::string key_path(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

const json& expect_object(const json& v, const std::string& path) {
  if (!v.is_object()) fail(path, "expected an object, got " + show(v));
  return v;
}

// A misspelt optional key would otherwise silently keep its default, so unknown keys are errors.
void check_keys(const json& obj, const std::string& path, std::initializer_list<std::string_view> known) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (std::find(known.begin(), known.end(), it.key()) == known.end())
      fail(path, "unknown key '" + it.key() + "' (expected " + sys::one_of(known) + ")");
  }
}

const json* member(const json& obj, std::string_view key) {
  auto it = obj.find(std::string(key));
  return it == obj.end() ? nullptr : &*it;
}

const json& required(const json& obj, const std::string& path, std::string_view key) {
  if (const json* v = member(obj, key)) return *v;
  fail(path, "missing key '" + std::string(key) + "'");
}

// {"custom": X} -> &X, anything else -> nullptr.
const json* custom_body(const json& v) {
  return v.is_object() && v.size() == 1 ? member(v, "custom") : nullptr;
}

bool read_bool(const json& v, const std::string& path) {
  if (!v.is_boolean()) fail(path, "expected true or false, got " + show(v));
  return v.get<bool>();
}

std::uint64_t read_uint(const json& v, const std::string& path, std::uint64_t lo, std::uint64_t hi) {
  // nlohmann stores parsed non-negative numbers as unsigned but values built in code (json(5)) as
  // signed, so both representations must be accepted.
  std::optional<std::uint64_t> n;
  if (v.is_number_unsigned()) {
    n = v.get<std::uint64_t>();
  } else if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
    n = static_cast<std::uint64_t>(v.get<std::int64_t>());
  }
  if (!n || *n < lo || *n > hi)
    fail(path,
         "expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " + show(v));
  return *n;
}

template <class E, class Lookup>
E read_named(const json& v, const std::string& path, Lookup lookup, const std::string& expected) {
  if (v.is_string()) {
    if (std::optional<E> e = lookup(v.get_ref<const std::string&>())) return *e;
  }
  unknown_value(path, v, expected);
}

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

Nat nat_of_kind(Nat::Kind kind) {
  for (const Nat& n : Nat::presets())
    if (n.kind() == kind) return n;
  return Nat::none();  // Custom has no preset value; callers only pass preset kinds
}

// ---- PortPolicy / FirewallConfig ----

constexpr std::string_view kPortPolicyExpected = "allow_all, block_all or {allow: [ports]}";

PortPolicy read_port_policy(const json& v, const std::string& path) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    if (s == "allow_all") return PortPolicy::allow_all();
    if (s == "block_all") return PortPolicy::block_all();
  } else if (v.is_object() && v.size() == 1 && v.contains("allow")) {
    const std::string apath = key_path(path, "allow");
    const json& list = v["allow"];
    if (!list.is_array()) fail(apath, "expected a list of ports, got " + show(list));
    std::vector<std::uint16_t> ports;
    for (std::size_t i = 0; i < list.size(); ++i)
      ports.push_back(
          static_cast<std::uint16_t>(read_uint(list[i], apath + "[" + std::to_string(i) + "]", 1, 65535)));
    return PortPolicy::allow(std::move(ports));
  }
  unknown_value(path, v, std::string(kPortPolicyExpected));
}

FirewallConfig read_firewall_config(const json& v, const std::string& path) {
  expect_object(v, path);
  check_keys(v, path, {"block_inbound", "outbound_tcp", "outbound_udp"});
  FirewallConfig c;
  c.block_inbound = read_bool(required(v, path, "block_inbound"), key_path(path, "block_inbound"));
  c.outbound_tcp = read_port_policy(required(v, path, "outbound_tcp"), key_path(path, "outbound_tcp"));
  c.outbound_udp = read_port_policy(required(v, path, "outbound_udp"), key_path(path, "outbound_udp"));
  return c;
}

// Adds ports to an allow list; an allow-all policy is replaced by exactly these ports.
PortPolicy with_allowed(const PortPolicy& p, std::initializer_list<std::uint16_t> ports) {
  std::vector<std::uint16_t> all = p.is_allow_all() ? std::vector<std::uint16_t>{} : p.ports();
  all.insert(all.end(), ports.begin(), ports.end());
  return PortPolicy::allow(std::move(all));
}

// ---- Firewall presets (SPEC 5) ----

struct FirewallPreset {
  Firewall::Kind kind;
  FirewallConfig config;
};

// Built on first use: PortPolicy holds a vector, so this cannot be a constexpr table.
const std::array<FirewallPreset, 4>& firewall_presets() {
  static const std::array<FirewallPreset, 4> kTable = {{
      // None installs no rules; FirewallConfig{} (nothing blocked) describes that.
      {Firewall::Kind::None, FirewallConfig{}},
      {Firewall::Kind::BlockInbound, FirewallConfig{.block_inbound = true}},
      {Firewall::Kind::Corporate, FirewallConfig{.block_inbound = true,
                                                 .outbound_tcp = PortPolicy::allow({80, 443}),
                                                 .outbound_udp = PortPolicy::allow({53})}},
      {Firewall::Kind::CaptivePortal, FirewallConfig{.block_inbound = true,
                                                     .outbound_tcp = PortPolicy::allow_all(),
                                                     .outbound_udp = PortPolicy::allow({53})}},
  }};
  return kTable;
}

FirewallConfig firewall_preset_config(Firewall::Kind kind) {
  for (const auto& p : firewall_presets())
    if (p.kind == kind) return p.config;
  return FirewallConfig{};
}

Firewall firewall_of_kind(Firewall::Kind kind) {
  for (const Firewall& f : Firewall::presets())
    if (f.kind() == kind) return f;
  return Firewall::none();
}

// ---- Router presets (SPEC 6) ----

struct PresetRow {
  RouterPreset preset;
  Nat::Kind nat;
  NatV6Mode nat_v6;
  Firewall::Kind firewall;
  IpSupport ip_support;
  AddressPool pool;
};

using NK = Nat::Kind;
using FK = Firewall::Kind;
constexpr auto kNoV6Nat = NatV6Mode::None;
constexpr auto kDual = IpSupport::DualStack;
constexpr auto kV4 = IpSupport::V4Only;
constexpr auto kV6 = IpSupport::V6Only;

// The SPEC 6 table, aligned by hand. IspV6: the v6-only LAN gets a public GUA /64; the router
// still has a v4 WAN for NAT64.
// clang-format off
constexpr PresetRow kPresetRows[] = {
    // preset                 nat            nat_v6            firewall           ip     pool
    {RouterPreset::Home,      NK::Home,      kNoV6Nat,         FK::BlockInbound,  kDual, AddressPool::Private},
    {RouterPreset::Public,    NK::None,      kNoV6Nat,         FK::None,          kDual, AddressPool::Public},
    {RouterPreset::PublicV4,  NK::None,      kNoV6Nat,         FK::None,          kV4,   AddressPool::Public},
    {RouterPreset::IspCgnat,  NK::Cgnat,     kNoV6Nat,         FK::None,          kDual, AddressPool::Cgnat},
    {RouterPreset::IspV6,     NK::None,      NatV6Mode::Nat64, FK::BlockInbound,  kV6,   AddressPool::Public},
    {RouterPreset::Corporate, NK::Corporate, kNoV6Nat,         FK::Corporate,     kDual, AddressPool::Private},
    {RouterPreset::Hotel,     NK::Corporate, kNoV6Nat,         FK::CaptivePortal, kV4,   AddressPool::Private},
    {RouterPreset::Cloud,     NK::CloudNat,  kNoV6Nat,         FK::None,          kDual, AddressPool::Private},
};
// clang-format on

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

// ---- PortPolicy ----

PortPolicy PortPolicy::allow_all() {
  return PortPolicy(true, {});
}
PortPolicy PortPolicy::block_all() {
  return PortPolicy(false, {});
}
PortPolicy PortPolicy::allow(std::vector<std::uint16_t> ports) {
  if (std::find(ports.begin(), ports.end(), 0) != ports.end())
    throw InvalidArgument("port policy", "allow: port 0 is not a usable destination port (1-65535)");
  // Sorted and unique so that equal sets compare equal and allows() can binary-search.
  std::sort(ports.begin(), ports.end());
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return PortPolicy(false, std::move(ports));
}

bool PortPolicy::allows(std::uint16_t port) const {
  return all_ || std::binary_search(ports_.begin(), ports_.end(), port);
}

nlohmann::json PortPolicy::to_json() const {
  if (all_) return "allow_all";
  if (ports_.empty()) return "block_all";  // the canonical spelling of allow([])
  return json::object({{"allow", ports_}});
}

PortPolicy PortPolicy::from_json(const nlohmann::json& j) {
  return read_port_policy(j, "port_policy");
}

// ---- FirewallConfig ----

FirewallConfigBuilder FirewallConfig::builder() {
  return FirewallConfigBuilder{};
}

nlohmann::json FirewallConfig::to_json() const {
  return json::object({{"block_inbound", block_inbound},
                       {"outbound_tcp", outbound_tcp.to_json()},
                       {"outbound_udp", outbound_udp.to_json()}});
}

FirewallConfig FirewallConfig::from_json(const nlohmann::json& j) {
  return read_firewall_config(j, "firewall_config");
}

FirewallConfigBuilder& FirewallConfigBuilder::block_inbound(bool on) {
  cfg_.block_inbound = on;
  return *this;
}
FirewallConfigBuilder& FirewallConfigBuilder::outbound_tcp(PortPolicy p) {
  cfg_.outbound_tcp = std::move(p);
  return *this;
}
FirewallConfigBuilder& FirewallConfigBuilder::outbound_udp(PortPolicy p) {
  cfg_.outbound_udp = std::move(p);
  return *this;
}
FirewallConfigBuilder& FirewallConfigBuilder::allow_tcp(std::initializer_list<std::uint16_t> ports) {
  cfg_.outbound_tcp = with_allowed(cfg_.outbound_tcp, ports);
  return *this;
}
FirewallConfigBuilder& FirewallConfigBuilder::allow_udp(std::initializer_list<std::uint16_t> ports) {
  cfg_.outbound_udp = with_allowed(cfg_.outbound_udp, ports);
  return *this;
}
FirewallConfigBuilder& FirewallConfigBuilder::block_tcp() {
  cfg_.outbound_tcp = PortPolicy::block_all();
  return *this;
}
FirewallConfigBuilder& FirewallConfigBuilder::block_udp() {
  cfg_.outbound_udp = PortPolicy::block_all();
  return *this;
}

// ---- Firewall ----

Firewall Firewall::none() {
  return Firewall{};
}
Firewall Firewall::block_inbound() {
  return Firewall(Kind::BlockInbound, firewall_preset_config(Kind::BlockInbound));
}
Firewall Firewall::corporate() {
  return Firewall(Kind::Corporate, firewall_preset_config(Kind::Corporate));
}
Firewall Firewall::captive_portal() {
  return Firewall(Kind::CaptivePortal, firewall_preset_config(Kind::CaptivePortal));
}
Firewall Firewall::custom(FirewallConfig cfg) {
  return Firewall(Kind::Custom, std::move(cfg));
}

std::span<const Firewall> Firewall::presets() {
  static const std::array<Firewall, 4> kAll = {none(), block_inbound(), corporate(), captive_portal()};
  return kAll;
}

nlohmann::json Firewall::to_json() const {
  if (kind_ == Kind::Custom) return json::object({{"custom", cfg_.to_json()}});
  return std::string(sys::name_of(kFirewallNames, kind_));
}

Firewall Firewall::from_json(const nlohmann::json& j) {
  if (j.is_string()) {
    if (auto kind = sys::value_named(kFirewallNames, j.get_ref<const std::string&>()))
      return firewall_of_kind(*kind);
  } else if (const json* body = custom_body(j)) {
    return custom(read_firewall_config(*body, "firewall.custom"));
  }
  unknown_value("firewall", j, sys::expected_names(kFirewallNames, "{custom: ...}"));
}

std::string Firewall::to_string() const {
  return kind_ == Kind::Custom ? "custom" : std::string(sys::name_of(kFirewallNames, kind_));
}

// ---- RouterPreset ----

PresetColumns preset_columns(RouterPreset p) {
  for (const auto& row : kPresetRows) {
    if (row.preset == p)
      return PresetColumns{nat_of_kind(row.nat), row.nat_v6, firewall_of_kind(row.firewall), row.ip_support,
                           row.pool};
  }
  throw InvalidArgument("preset", "unknown router preset " + std::to_string(static_cast<int>(p)));
}

Ipv6Profile recommended_ipv6_profile(RouterPreset) {
  // SPEC 6: advisory, and the same for every preset.
  return Ipv6Profile::Realistic;
}

std::string to_string(RouterPreset p) {
  return std::string(sys::name_of(kPresetNames, p));
}

RouterPreset parse_router_preset(std::string_view name) {
  if (auto p = sys::value_named(kPresetNames, name)) return *p;
  unknown_value("preset", json(std::string(name)), sys::expected_names(kPresetNames));
}

}  // namespace patchbay
