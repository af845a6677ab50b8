// TOML lab files (SPEC 15.1): Lab::load / Lab::from_toml.
//
// The file is read with toml++ into a plan (lab_plan.cpp: every key checked, the build order
// decided) and built through the public builders in the SPEC's deterministic order (regions,
// routers by upstream rounds, devices by name, interfaces by name). Every error is a ConfigError
// that names the file, the table and the key; unknown keys are warnings on stderr.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "config/lab_toml.hpp"

namespace patchbay {

namespace {

// Errors of the build step (what only the library can check: names against other nodes, address
// pools) in the file's terms: "<file>: [<table>]: <what>".
template <class F>
void in_table(const std::string& file, const std::string& table, F&& fn) {
  try {
    fn();
  } catch (const ConfigError&) {
    throw;
  } catch (const Removed&) {
    throw;
  } catch (const Error& e) {
    throw ConfigError(file + ": [" + table + "]", e.what());
  }
}

void build_router(Lab& lab, const config::RouterPlan& r, const std::map<std::string, Router>& built,
                  const std::map<std::string, Region>& regions) {
  auto b = lab.add_router(r.name);
  if (r.preset) b.preset(*r.preset);
  if (r.upstream) b.upstream(built.at(*r.upstream).id());
  if (r.region) b.region(regions.at(*r.region));
  if (r.nat) b.nat(*r.nat);
  if (r.nat_v6) b.nat_v6(*r.nat_v6);
  if (r.ip_support) b.ip_support(*r.ip_support);
  if (r.firewall) b.firewall(*r.firewall);
  if (r.mtu) b.mtu(*r.mtu);
  if (r.downstream_cidr) b.downstream_cidr(*r.downstream_cidr);
  if (r.downstream_cidr_v6) b.downstream_cidr_v6(*r.downstream_cidr_v6);
  if (r.downlink_condition) b.downlink_condition(*r.downlink_condition);
  if (r.block_icmp_frag_needed) b.block_icmp_frag_needed(*r.block_icmp_frag_needed);
  if (r.ra_enabled) b.ra_enabled(*r.ra_enabled);
  if (r.ra_interval_secs) b.ra_interval_secs(*r.ra_interval_secs);
  if (r.ra_lifetime_secs) b.ra_lifetime_secs(*r.ra_lifetime_secs);
  if (r.uplink_condition) b.uplink_condition(*r.uplink_condition, r.uplink_direction);
  b.build();
}

void build_device(Lab& lab, const config::DevicePlan& d, const std::map<std::string, Router>& routers,
                  const std::string& file) {
  auto one = [&](const std::string& dev_name) {
    const std::string table =
        "device." + d.name + (d.count ? " (instance '" + dev_name + "')" : std::string());
    auto b = lab.add_device(dev_name);
    if (d.mtu) b.mtu(*d.mtu);
    for (auto& s : d.ifaces) {
      try {
        b.iface(s.name, routers.at(s.gateway).id(), s.impair, s.direction);
      } catch (const InvalidArgument& e) {
        throw ConfigError(file + ": [device." + d.name + "." + s.name + "]", e.what());
      }
    }
    if (d.default_via) b.default_via(*d.default_via);
    in_table(file, table, [&] { b.build(); });
  };
  if (!d.count) {
    one(d.name);
  } else {
    for (std::int64_t i = 0; i < *d.count; ++i) one(d.name + "-" + std::to_string(i));
  }
}

}  // namespace

namespace config {

void build_lab(Lab& lab, const LabPlan& plan) {
  for (auto& w : plan.warnings) std::cerr << "patchbay: " << w << "\n";
  std::map<std::string, Region> regions;
  for (auto& rn : plan.regions)
    in_table(plan.file, "region." + rn, [&] { regions.emplace(rn, lab.add_region(rn)); });
  for (auto& [pair, ms] : plan.latencies)
    lab.link_regions(regions.at(pair.first), regions.at(pair.second), RegionLink::good(ms));
  std::map<std::string, Router> built;
  for (auto& r : plan.routers) {
    in_table(plan.file, "router '" + r.name + "'", [&] { build_router(lab, r, built, regions); });
    built.emplace(r.name, *lab.router_by_name(r.name));
  }
  for (auto& d : plan.devices) build_device(lab, d, built, plan.file);
}

void build_lab(Lab& lab, const toml::table& root, const std::string& file) {
  build_lab(lab, plan_lab(root, file));
}

}  // namespace config

namespace {

Lab from_text(std::string_view text, const std::string& source, LabOpts opts) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << source << ":" << e.source().begin.line << ":" << e.source().begin.column;
    throw ConfigError(os.str(), std::string(e.description()));
  }
  Lab lab(std::move(opts));
  config::build_lab(lab, root, source);
  return lab;
}

}  // namespace

Lab Lab::from_toml(std::string_view text, std::optional<LabOpts> opts) {
  return from_text(text, "<toml>", opts.value_or(LabOpts{}.outdir_from_env()));
}

Lab Lab::load(const std::filesystem::path& path, std::optional<LabOpts> opts) {
  std::ifstream f(path);
  if (!f) throw ConfigError(path.string(), "cannot be read");
  std::stringstream ss;
  ss << f.rdbuf();
  return from_text(ss.str(), path.string(), opts.value_or(LabOpts{}.outdir_from_env()));
}

}  // namespace patchbay
