// patchbay/firewall.hpp: a router's stateful firewall for forwarded traffic (SPEC 2.3, 5).
//
//   Firewall fw = Firewall::corporate();          // inbound blocked; TCP 80/443 and UDP 53 out
//   fw.to_config().outbound_tcp.allows(443);      // true
//   Firewall mine = Firewall::custom(FirewallConfig::builder()
//                                        .block_inbound()
//                                        .allow_tcp({22, 443})
//                                        .block_udp()
//                                        .build());
//   mine.to_json();   // {"custom": {"block_inbound": true, "outbound_tcp": {"allow": [22, 443]}, ...}}
//
// Guarantees:
// - All types are plain values (copyable, comparable); nothing here touches the kernel.
// - PortPolicy is normalised: allow lists are sorted and deduplicated, and an empty allow list *is*
//   block_all (PortPolicy::allow({}) == PortPolicy::block_all()), so equal policies compare equal.
// - Port 0 is rejected (InvalidArgument): no flow can be addressed to it.
// - JSON/TOML spellings are those of SPEC 5; from_json throws InvalidArgument naming the key path
//   and the offending value.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace patchbay {

// Which destination ports new outbound flows of one protocol may use.
class PortPolicy {
 public:
  static PortPolicy allow_all();
  static PortPolicy block_all();
  static PortPolicy allow(std::vector<std::uint16_t> ports);  // empty = block_all

  bool allows(std::uint16_t port) const;
  bool is_allow_all() const { return all_; }
  bool is_block_all() const { return !all_ && ports_.empty(); }
  // The sorted allow list; empty for allow_all and block_all.
  const std::vector<std::uint16_t>& ports() const { return ports_; }

  // "allow_all" | "block_all" | {"allow": [80, 443]}
  nlohmann::json to_json() const;
  static PortPolicy from_json(const nlohmann::json& j);

  bool operator==(const PortPolicy&) const = default;

 private:
  PortPolicy(bool all, std::vector<std::uint16_t> ports) : all_(all), ports_(std::move(ports)) {}
  // Block-all is simply an empty allow list; that makes allow({}) and block_all() the same value.
  bool all_ = true;
  std::vector<std::uint16_t> ports_;
};

class FirewallConfigBuilder;

struct FirewallConfig {
  bool block_inbound = false;  // drop new flows entering through the WAN
  PortPolicy outbound_tcp = PortPolicy::allow_all();
  PortPolicy outbound_udp = PortPolicy::allow_all();

  static FirewallConfigBuilder builder();  // starts from FirewallConfig{}

  // {"block_inbound": b, "outbound_tcp": P, "outbound_udp": P}; all three keys required.
  nlohmann::json to_json() const;
  static FirewallConfig from_json(const nlohmann::json& j);

  bool operator==(const FirewallConfig&) const = default;
};

class FirewallConfigBuilder {
 public:
  FirewallConfigBuilder& block_inbound(bool on = true);
  FirewallConfigBuilder& outbound_tcp(PortPolicy p);
  FirewallConfigBuilder& outbound_udp(PortPolicy p);
  // Add ports to the protocol's allow list. A policy that allowed everything becomes just this
  // list; a blocked one gains these ports. allow_tcp({}) therefore leaves TCP blocked entirely.
  FirewallConfigBuilder& allow_tcp(std::initializer_list<std::uint16_t> ports);
  FirewallConfigBuilder& allow_udp(std::initializer_list<std::uint16_t> ports);
  FirewallConfigBuilder& block_tcp();
  FirewallConfigBuilder& block_udp();
  FirewallConfig build() const { return cfg_; }

 private:
  FirewallConfig cfg_{};
};

// The firewall mode of a router (SPEC 5 table).
class Firewall {
 public:
  enum class Kind { None, BlockInbound, Corporate, CaptivePortal, Custom };

  Firewall() = default;  // Firewall::none(), the router default: no rules installed
  static Firewall none();
  static Firewall block_inbound();
  static Firewall corporate();
  static Firewall captive_portal();
  static Firewall custom(FirewallConfig cfg);

  Kind kind() const { return kind_; }
  FirewallConfig to_config() const { return cfg_; }  // None: FirewallConfig{} (nothing filtered)
  // none, block_inbound, corporate, captive_portal (in that order).
  static std::span<const Firewall> presets();

  // "none" | "block_inbound" | "corporate" | "captive_portal" | {"custom": FirewallConfig}
  nlohmann::json to_json() const;
  static Firewall from_json(const nlohmann::json& j);
  std::string to_string() const;  // the JSON name, or "custom"

  // Kind and configuration both count (a Custom never equals a preset), as for Nat.
  bool operator==(const Firewall&) const = default;

 private:
  Firewall(Kind k, FirewallConfig cfg) : kind_(k), cfg_(std::move(cfg)) {}
  Kind kind_ = Kind::None;
  FirewallConfig cfg_{};
};

}  // namespace patchbay
