// The TOML lab file (SPEC 15.1) read into a plan: every key checked and converted, the router
// build order decided, nothing created. config::build_lab (lab_toml.hpp) then builds the plan
// through the public builders. Reading is pure (no kernel, no threads), so the whole of the file
// format is tested and fuzzed without building labs (tests/fuzz/fuzz_lab_toml.cpp).
//
//   auto plan = config::plan_lab(toml::parse(text), "lab.toml");   // ConfigError on bad input
//   for (auto& w : plan.warnings) std::cerr << w << "\n";          // unknown keys (also inside
//                                                                   // impair/condition/nat tables)
//   config::build_lab(lab, plan);
//
// Errors are ConfigError "<file>: [<table>] <key>: <what>" as in SPEC 15.1; what only the build
// can check (names against other nodes, address pools) is reported by build_lab in the same form.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <toml++/toml.h>

#include "patchbay/error.hpp"
#include "patchbay/link.hpp"
#include "patchbay/net.hpp"
#include "patchbay/preset.hpp"
#include "patchbay/types.hpp"

namespace patchbay::config {

struct RouterPlan {
  std::string name;
  std::optional<std::string> upstream, region;  // region only when there is no upstream
  std::optional<RouterPreset> preset;           // applied first: every other field overrides one column
  std::optional<Nat> nat;
  std::optional<NatV6Mode> nat_v6;
  std::optional<IpSupport> ip_support;
  std::optional<Firewall> firewall;
  std::optional<std::uint32_t> mtu;
  std::optional<Ipv4Net> downstream_cidr;
  std::optional<Ipv6Net> downstream_cidr_v6;
  std::optional<LinkCondition> downlink_condition, uplink_condition;
  LinkDirection uplink_direction = LinkDirection::Up;
  std::optional<bool> block_icmp_frag_needed, ra_enabled;
  std::optional<std::uint64_t> ra_interval_secs, ra_lifetime_secs;
};

struct IfacePlan {
  std::string name;
  std::string gateway;  // a router of the plan
  std::optional<LinkCondition> impair;
  LinkDirection direction = LinkDirection::Up;
};

struct DevicePlan {
  std::string name;
  std::optional<std::int64_t> count;  // instances name-0 ... name-(count-1)
  std::optional<std::string> default_via;
  std::optional<std::uint32_t> mtu;
  std::vector<IfacePlan> ifaces;  // ascending interface names
};

struct LabPlan {
  std::string file;
  std::set<std::string> regions;  // declared, named in latencies or by a router
  std::map<std::pair<std::string, std::string>, std::uint32_t> latencies;  // ordered pair -> ms
  std::vector<RouterPlan> routers;    // build order: rounds by upstream, by name within a round
  std::vector<DevicePlan> devices;    // by name
  std::vector<std::string> warnings;  // "<file>: [<table>] unknown key '<k>' ignored", region ignored
};

LabPlan plan_lab(const toml::table& root, const std::string& file);

}  // namespace patchbay::config
