// patchbay/nat.hpp: IPv4 NAT behaviour (SPEC 2.3, 4) and the IPv6 translation mode of a router.
//
//   Nat home = Nat::home();                        // EIM mapping, APDF filtering, 30/300/7200 s
//   home.to_config()->filtering;                   // NatFiltering::AddressAndPortDependent
//   Nat mine = Nat::custom(NatConfig::builder()
//                              .filtering(NatFiltering::AddressDependent)
//                              .udp_timeout(60)
//                              .build());          // validated here; InvalidArgument otherwise
//   mine.to_json();                                // {"custom": {"mapping": ..., ...}}
//   Nat::from_json("cloud-nat") == Nat::cloud_nat();
//
// Guarantees:
// - Nat, NatConfig and NatBinding are plain values: copyable, comparable, no kernel state.
// - Every preset carries the fixed configuration of the SPEC 4.3 table; to_config() is nullopt only
//   for Nat::none() (no translation at all).
// - A Nat never holds an invalid NatConfig: Nat::custom() and NatConfigBuilder::build() validate
//   (port range 1 <= lo <= hi, every timeout at least one second).
// - JSON/TOML spellings are those of SPEC 13.6; from_json throws InvalidArgument naming the key
//   path and the offending value ("nat.custom.timeouts.udp: ...").
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "patchbay/net.hpp"
#include "patchbay/types.hpp"

namespace patchbay {

// When a new flow from the same internal endpoint reuses its external port (RFC 4787 section 4.1).
enum class NatMapping { EndpointIndependent, AddressDependent, AddressAndPortDependent };
// Which inbound packets a live mapping forwards (RFC 4787 section 5).
enum class NatFiltering { EndpointIndependent, AddressDependent, AddressAndPortDependent };

// Idle lifetimes in seconds, also written to the router's conntrack sysctls (SPEC 4.2 rule 4).
struct ConntrackTimeouts {
  std::uint32_t udp = 30;                // UDP mapping that has only seen outbound traffic
  std::uint32_t udp_stream = 300;        // UDP mapping once inbound traffic was seen
  std::uint32_t tcp_established = 7200;  // while a TCP connection using the mapping is established
  std::uint32_t tcp_transitory = 120;    // after the last TCP connection closed
  std::uint32_t icmp = 30;               // ICMP echo identifier mappings
  bool operator==(const ConntrackTimeouts&) const = default;
};

// External ports drawn for mappings that cannot (or may not) preserve the internal port.
struct PortRange {
  std::uint16_t lo = 1024, hi = 65535;  // inclusive
  bool operator==(const PortRange&) const = default;
};

class NatConfigBuilder;

struct NatConfig {
  NatMapping mapping = NatMapping::EndpointIndependent;
  NatFiltering filtering = NatFiltering::AddressAndPortDependent;
  ConntrackTimeouts timeouts{};
  bool hairpin = false;
  bool port_preservation = true;
  PortRange port_range{};
  bool inbound_refresh = true;  // inbound packets refresh the mapping's idle timer

  static NatConfigBuilder builder();  // starts from NatConfig{}
  // Throws InvalidArgument naming the field and value when the range or a timeout is unusable.
  void validate() const;

  // SPEC 13.6 object; from_json requires mapping, filtering, timeouts.{udp,udp_stream,
  // tcp_established} and hairpin, and defaults the other keys per NatConfig{}. Unknown keys are
  // rejected so that a typo does not silently fall back to a default.
  nlohmann::json to_json() const;
  static NatConfig from_json(const nlohmann::json& j);

  bool operator==(const NatConfig&) const = default;
};

// Starts from NatConfig{}; setters only record, build() validates.
class NatConfigBuilder {
 public:
  NatConfigBuilder& mapping(NatMapping m);
  NatConfigBuilder& filtering(NatFiltering f);
  NatConfigBuilder& hairpin(bool on);
  NatConfigBuilder& udp_timeout(std::uint32_t secs);
  NatConfigBuilder& udp_stream_timeout(std::uint32_t secs);
  NatConfigBuilder& tcp_established_timeout(std::uint32_t secs);
  NatConfigBuilder& tcp_transitory_timeout(std::uint32_t secs);
  NatConfigBuilder& icmp_timeout(std::uint32_t secs);
  NatConfigBuilder& port_preservation(bool on);
  NatConfigBuilder& port_range(PortRange r);
  NatConfigBuilder& inbound_refresh(bool on);
  NatConfig build() const;  // InvalidArgument naming the field and value

 private:
  NatConfig cfg_{};
};

// The IPv4 NAT mode of a router (SPEC 4.3 table).
class Nat {
 public:
  enum class Kind { None, Home, Corporate, Cgnat, CloudNat, FullCone, Custom };

  Nat() = default;  // Nat::none(), the router default
  static Nat none();
  static Nat home();
  static Nat corporate();
  static Nat cgnat();
  static Nat cloud_nat();
  static Nat full_cone();
  static Nat custom(NatConfig cfg);  // validates cfg

  Kind kind() const { return kind_; }
  std::optional<NatConfig> to_config() const;  // nullopt only for None
  // none, home, corporate, cgnat, cloud_nat, full_cone (in that order).
  static std::span<const Nat> presets();

  // "none" | "home" | "corporate" | "cgnat" | "cloud-nat" | "full-cone" | {"custom": NatConfig}
  nlohmann::json to_json() const;
  static Nat from_json(const nlohmann::json& j);
  std::string to_string() const;  // the JSON name, or "custom"

  // Kind and configuration both count: Nat::custom(Nat::home().to_config()) != Nat::home(),
  // because the two serialise differently.
  bool operator==(const Nat&) const = default;

 private:
  Nat(Kind k, NatConfig cfg) : kind_(k), cfg_(cfg) {}
  Kind kind_ = Kind::None;
  NatConfig cfg_{};  // NatConfig{} for None, never read
};

// How a router translates IPv6 (SPEC 4.5-4.7).
enum class NatV6Mode { None, Nptv6, Masquerade, Nat64 };

// One live NAT mapping as observed on a router. `remote` is set for address(-and-port)-dependent
// mappings, which are keyed by the remote endpoint.
struct NatBinding {
  Proto proto = Proto::Udp;
  SocketAddr internal, external;
  std::optional<SocketAddr> remote;
  std::chrono::seconds expires_in{0};
  bool operator==(const NatBinding&) const = default;
};

// Spellings of SPEC 13.6; parse_* throw InvalidArgument naming the field and the value.
std::string to_string(NatMapping m);  // "endpoint_independent" | "address_dependent" | "endpoint_dependent"
std::string to_string(
    NatFiltering f);  // "endpoint_independent" | "address_dependent" | "address_and_port_dependent"
std::string to_string(NatV6Mode m);                // "none" | "nptv6" | "masquerade" | "nat64"
NatMapping parse_nat_mapping(std::string_view s);  // also accepts "address_and_port_dependent"
NatFiltering parse_nat_filtering(std::string_view s);
NatV6Mode parse_nat_v6_mode(std::string_view s);

// nlohmann::json hooks, so `json j = NatMapping::...` and `j.get<NatV6Mode>()` use the names above
// instead of nlohmann's default integer encoding of enums.
void to_json(nlohmann::json& j, NatMapping m);
void from_json(const nlohmann::json& j, NatMapping& m);
void to_json(nlohmann::json& j, NatFiltering f);
void from_json(const nlohmann::json& j, NatFiltering& f);
void to_json(nlohmann::json& j, NatV6Mode m);
void from_json(const nlohmann::json& j, NatV6Mode& m);

}  // namespace patchbay
