// Router presets (include/patchbay/preset.hpp): the SPEC 6 table of what each preset sets, and the
// preset names. Pure values; no kernel access.
#include <string>
#include <string_view>

#include "nat/config_common.hpp"
#include "patchbay/error.hpp"
#include "patchbay/preset.hpp"
#include "sys/spelling.hpp"

namespace patchbay {
namespace {

using json = nlohmann::json;
using namespace nat;

// ---- Router presets (SPEC 6) ----

constexpr sys::Spelling<RouterPreset> kPresetNames[] = {
    {RouterPreset::Home, "home"},          {RouterPreset::Public, "public"},
    {RouterPreset::PublicV4, "public-v4"}, {RouterPreset::IspCgnat, "isp-cgnat"},
    {RouterPreset::IspV6, "isp-v6"},       {RouterPreset::Corporate, "corporate"},
    {RouterPreset::Hotel, "hotel"},        {RouterPreset::Cloud, "cloud"},
};

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
