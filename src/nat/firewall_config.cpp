// Firewall configuration values (include/patchbay/firewall.hpp): PortPolicy, FirewallConfig and
// its JSON form, the firewall presets of SPEC 5 and Firewall. Pure values; no kernel access.
#include <algorithm>
#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "nat/config_common.hpp"
#include "patchbay/error.hpp"
#include "patchbay/firewall.hpp"
#include "sys/spelling.hpp"

namespace patchbay {
namespace {

using json = nlohmann::json;
using namespace nat;

constexpr sys::Spelling<Firewall::Kind> kFirewallNames[] = {
    {Firewall::Kind::None, "none"},
    {Firewall::Kind::BlockInbound, "block_inbound"},
    {Firewall::Kind::Corporate, "corporate"},
    {Firewall::Kind::CaptivePortal, "captive_portal"},
};

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

}  // namespace

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

}  // namespace patchbay
