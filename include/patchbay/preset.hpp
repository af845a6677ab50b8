// patchbay/preset.hpp: router presets, the common router shapes of SPEC 6.
//
//   auto home = lab.add_router("home").preset(RouterPreset::Home).build();
//   PresetColumns c = preset_columns(RouterPreset::Home);
//   c.nat == Nat::home();                    // and NatV6Mode::None, Firewall::block_inbound(),
//                                            // IpSupport::DualStack, AddressPool::Private
//   parse_router_preset("isp-cgnat");        // RouterPreset::IspCgnat
//
// A preset only fills the columns below; a builder setter called after it overrides that column.
// parse_router_preset throws InvalidArgument naming the value and the accepted names.
#pragma once

#include <string>
#include <string_view>

#include "patchbay/firewall.hpp"
#include "patchbay/nat.hpp"
#include "patchbay/types.hpp"

namespace patchbay {

enum class RouterPreset { Home, Public, PublicV4, IspCgnat, IspV6, Corporate, Hotel, Cloud };

// The router settings a preset decides.
struct PresetColumns {
  Nat nat;  // IPv4 NAT
  NatV6Mode nat_v6 = NatV6Mode::None;
  Firewall firewall;
  IpSupport ip_support = IpSupport::V4Only;
  AddressPool pool = AddressPool::Public;  // downstream pool, v4 and v6
  bool operator==(const PresetColumns&) const = default;
};

PresetColumns preset_columns(RouterPreset p);

// Realistic (DAD on, RA-driven provisioning) for every preset; advisory only, nothing applies it.
Ipv6Profile recommended_ipv6_profile(RouterPreset p);

// TOML names: home, public, public-v4, isp-cgnat, isp-v6, corporate, hotel, cloud.
std::string to_string(RouterPreset p);
RouterPreset parse_router_preset(std::string_view name);

}  // namespace patchbay
