// TOML lab files (SPEC 15.1): Lab::load / Lab::from_toml.
//
// The file is read with toml++ and built through the public builders in the SPEC's deterministic
// order (regions, routers by upstream rounds, devices by name, interfaces by name). Every error is
// a ConfigError that names the file, the table and the key; unknown keys are warnings on stderr.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "config/lab_toml.hpp"

namespace patchbay {

namespace {

// One place that knows where we are in the file, for error messages.
struct Where {
  std::string file;
  std::string table;
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ConfigError(file + ": [" + table + "]" + (key.empty() ? "" : " " + key), what);
  }
  void warn(const std::string& key) const {
    std::cerr << "patchbay: " << file << ": [" << table << "] unknown key '" << key << "' ignored\n";
  }
};

nlohmann::json to_json(const toml::node& n) {
  if (auto s = n.as_string()) return s->get();
  if (auto i = n.as_integer()) return i->get();
  if (auto f = n.as_floating_point()) return f->get();
  if (auto b = n.as_boolean()) return b->get();
  if (auto a = n.as_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (auto& e : *a) out.push_back(to_json(e));
    return out;
  }
  if (auto t = n.as_table()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto& [k, v] : *t) out[std::string(k.str())] = to_json(v);
    return out;
  }
  return nullptr;
}

std::string str(const toml::node& n, const Where& w, const std::string& key) {
  if (auto s = n.as_string()) return s->get();
  w.fail(key, "expected a string");
}
std::int64_t integer(const toml::node& n, const Where& w, const std::string& key, std::int64_t lo,
                     std::int64_t hi) {
  auto i = n.as_integer();
  if (!i) w.fail(key, "expected an integer");
  if (i->get() < lo || i->get() > hi)
    w.fail(key, std::to_string(i->get()) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
  return i->get();
}
bool boolean(const toml::node& n, const Where& w, const std::string& key) {
  if (auto b = n.as_boolean()) return b->get();
  w.fail(key, "expected true or false");
}

// Runs fn, turning the library's InvalidArgument into a ConfigError at `key`.
template <class F>
auto checked(const Where& w, const std::string& key, F&& fn) {
  try {
    return fn();
  } catch (const InvalidArgument& e) {
    w.fail(key, e.what());
  }
}

LinkCondition condition(const toml::node& n, const Where& w, const std::string& key) {
  return checked(w, key, [&] { return LinkCondition::from_json(to_json(n)); });
}

struct RouterSpec {
  std::string name;
  const toml::table* t = nullptr;
  std::optional<std::string> upstream, region;
};

void build_router(Lab& lab, const RouterSpec& rs, const std::map<std::string, Router>& built,
                  const std::map<std::string, Region>& regions, const Where& w) {
  auto b = lab.add_router(rs.name);
  const toml::table& t = *rs.t;
  // The preset first: every other key overrides one of its columns.
  if (auto p = t.get("preset"))
    b.preset(checked(w, "preset", [&] { return parse_router_preset(str(*p, w, "preset")); }));
  if (rs.upstream) b.upstream(built.at(*rs.upstream).id());
  if (rs.region) b.region(regions.at(*rs.region));
  std::optional<LinkCondition> uplink;
  LinkDirection uplink_dir = LinkDirection::Up;
  for (auto& [k, v] : t) {
    const std::string key(k.str());
    if (key == "name" || key == "upstream" || key == "region" || key == "preset") continue;
    if (key == "nat")
      b.nat(checked(w, key, [&] { return Nat::from_json(to_json(v)); }));
    else if (key == "nat_v6")
      b.nat_v6(checked(w, key, [&] { return to_json(v).get<NatV6Mode>(); }));
    else if (key == "ip_support")
      b.ip_support(checked(w, key, [&] { return parse_ip_support(str(v, w, key)); }));
    else if (key == "firewall")
      b.firewall(checked(w, key, [&] { return Firewall::from_json(to_json(v)); }));
    else if (key == "mtu")
      b.mtu(static_cast<std::uint32_t>(integer(v, w, key, 68, 65535)));
    else if (key == "downstream_cidr")
      b.downstream_cidr(checked(w, key, [&] { return Ipv4Net::parse(str(v, w, key)); }));
    else if (key == "downstream_cidr_v6")
      b.downstream_cidr_v6(checked(w, key, [&] { return Ipv6Net::parse(str(v, w, key)); }));
    else if (key == "downlink_condition")
      b.downlink_condition(condition(v, w, key));
    else if (key == "uplink_condition")
      uplink = condition(v, w, key);
    else if (key == "uplink_direction")
      uplink_dir = checked(w, key, [&] { return parse_link_direction(str(v, w, key)); });
    else if (key == "block_icmp_frag_needed")
      b.block_icmp_frag_needed(boolean(v, w, key));
    else if (key == "ra_enabled")
      b.ra_enabled(boolean(v, w, key));
    else if (key == "ra_interval_secs")
      b.ra_interval_secs(static_cast<std::uint64_t>(integer(v, w, key, 0, 1 << 30)));
    else if (key == "ra_lifetime_secs")
      b.ra_lifetime_secs(static_cast<std::uint64_t>(integer(v, w, key, 0, 1 << 30)));
    else
      w.warn(key);
  }
  if (uplink) b.uplink_condition(*uplink, uplink_dir);
  b.build();
}

void build_device(Lab& lab, const std::string& name, const toml::table& t,
                  const std::map<std::string, Router>& routers, const std::string& file) {
  Where w{file, "device." + name};
  std::int64_t count = -1;
  std::optional<std::string> default_via;
  std::optional<std::uint32_t> mtu;
  std::map<std::string, const toml::table*> ifaces;  // ascending interface names
  for (auto& [k, v] : t) {
    const std::string key(k.str());
    if (auto sub = v.as_table())
      ifaces[key] = sub;
    else if (key == "count")
      count = integer(v, w, key, 1, 100000);
    else if (key == "default_via")
      default_via = str(v, w, key);
    else if (key == "mtu")
      mtu = static_cast<std::uint32_t>(integer(v, w, key, 68, 65535));
    else
      w.warn(key);
  }
  if (ifaces.empty()) throw ConfigError(file, "device '" + name + "' has no interface sub-tables");
  struct IfaceSpec {
    std::string name;
    NodeId router;
    std::optional<LinkCondition> impair;
    LinkDirection dir = LinkDirection::Up;
  };
  std::vector<IfaceSpec> specs;
  for (auto& [ifname, it] : ifaces) {
    Where iw{file, "device." + name + "." + ifname};
    IfaceSpec s{ifname, NodeId{}, std::nullopt, LinkDirection::Up};
    auto gw = it->get("gateway");
    if (!gw) iw.fail("gateway", "missing: the router whose LAN interface '" + ifname + "' joins");
    std::string router = str(*gw, iw, "gateway");
    auto r = routers.find(router);
    if (r == routers.end())
      iw.fail("gateway", "device '" + name + "' interface '" + ifname + "': unknown router '" + router + "'");
    s.router = r->second.id();
    for (auto& [k, v] : *it) {
      const std::string key(k.str());
      if (key == "gateway") continue;
      if (key == "impair") {
        try {
          s.impair = LinkCondition::from_json(to_json(v));
        } catch (const InvalidArgument& e) {
          iw.fail(key, std::string("invalid impair: ") + e.what());
        }
      } else if (key == "impair_direction") {
        s.dir = checked(iw, key, [&] { return parse_link_direction(str(v, iw, key)); });
      } else {
        iw.warn(key);
      }
    }
    specs.push_back(std::move(s));
  }
  if (default_via && !ifaces.count(*default_via))
    w.fail("default_via", "'" + *default_via + "' is not one of the device's interfaces");
  auto one = [&](const std::string& dev_name) {
    Where dw{file, count < 0 ? w.table : w.table + " (instance '" + dev_name + "')"};
    auto b = lab.add_device(dev_name);
    if (mtu) b.mtu(*mtu);
    for (auto& s : specs)
      checked(Where{file, "device." + name + "." + s.name}, "", [&] {
        b.iface(s.name, s.router, s.impair, s.dir);
        return 0;
      });
    if (default_via) b.default_via(*default_via);
    // What only the build can check (the name against other nodes, pools) is still a ConfigError
    // naming this device's table.
    try {
      b.build();
    } catch (const ConfigError&) {
      throw;
    } catch (const Removed&) {
      throw;
    } catch (const Error& e) {
      dw.fail("", e.what());
    }
  };
  if (count < 0) {
    one(name);
  } else {
    for (std::int64_t i = 0; i < count; ++i) one(name + "-" + std::to_string(i));
  }
}

}  // namespace

namespace config {
void build_lab(Lab& lab, const toml::table& root, const std::string& file) {
  // 1. Regions: declared, named in latencies, or named by a router; links per unordered pair.
  std::set<std::string> region_names;
  std::map<std::pair<std::string, std::string>, std::int64_t> latencies;
  std::vector<RouterSpec> routers;
  if (auto regs = root.get("region")) {
    auto rt = regs->as_table();
    if (!rt) throw ConfigError(file, "[region] must be a table of regions");
    for (auto& [k, v] : *rt) {
      const std::string rname(k.str());
      region_names.insert(rname);
      Where w{file, "region." + rname};
      auto t = v.as_table();
      if (!t) w.fail("", "expected a table");
      for (auto& [kk, vv] : *t) {
        const std::string key(kk.str());
        if (key != "latencies") {
          w.warn(key);
          continue;
        }
        auto lt = vv.as_table();
        if (!lt) w.fail(key, "expected an inline table { other = ms }");
        for (auto& [other, ms] : *lt) {
          std::string o(other.str());
          region_names.insert(o);
          auto val = integer(ms, w, "latencies." + o, 0, 3600000);
          auto pair = rname < o ? std::pair{rname, o} : std::pair{o, rname};
          auto [it, fresh] = latencies.emplace(pair, val);
          if (!fresh && it->second != val)
            w.fail("latencies." + o, "conflicts with the latency given for " + pair.first + "<->" +
                                         pair.second + " (" + std::to_string(it->second) + " ms vs " +
                                         std::to_string(val) + " ms)");
        }
      }
    }
  }
  if (auto arr = root.get("router")) {
    auto a = arr->as_array();
    if (!a) throw ConfigError(file, "router must be an array of tables ([[router]])");
    std::size_t idx = 0;
    for (auto& n : *a) {
      Where w{file, "router #" + std::to_string(++idx)};
      auto t = n.as_table();
      if (!t) w.fail("", "expected a table");
      RouterSpec rs;
      rs.t = t;
      auto nm = t->get("name");
      if (!nm) w.fail("name", "missing");
      rs.name = str(*nm, w, "name");
      w.table = "router '" + rs.name + "'";
      if (auto u = t->get("upstream")) rs.upstream = str(*u, w, "upstream");
      if (auto r = t->get("region")) {
        rs.region = str(*r, w, "region");
        region_names.insert(*rs.region);
      }
      if (rs.upstream && rs.region) w.fail("region", "region and upstream are exclusive");
      for (auto& o : routers)
        if (o.name == rs.name) w.fail("name", "router '" + rs.name + "' is defined twice");
      routers.push_back(rs);
    }
    for (auto& rs : routers) {
      if (!rs.upstream) continue;
      auto known =
          std::find_if(routers.begin(), routers.end(), [&](auto& o) { return o.name == *rs.upstream; });
      if (known == routers.end())
        Where{file, "router '" + rs.name + "'"}.fail("upstream", "unknown router '" + *rs.upstream + "'");
    }
  }
  std::map<std::string, Region> regions;
  for (auto& rn : region_names)
    regions.emplace(rn, checked(Where{file, "region." + rn}, "", [&] { return lab.add_region(rn); }));
  for (auto& [pair, ms] : latencies)
    lab.link_regions(regions.at(pair.first), regions.at(pair.second),
                     RegionLink::good(static_cast<std::uint32_t>(ms)));

  // 2. Routers in rounds: each round builds, in name order, those whose upstream exists.
  std::sort(routers.begin(), routers.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::map<std::string, Router> built;
  std::vector<RouterSpec> pending = routers;
  while (!pending.empty()) {
    std::vector<RouterSpec> next;
    std::vector<const RouterSpec*> ready;
    for (auto& rs : pending)
      if (!rs.upstream || built.count(*rs.upstream))
        ready.push_back(&rs);
      else
        next.push_back(rs);
    if (ready.empty()) {  // every upstream exists (checked above): what is left is a cycle
      std::string names;
      for (auto& rs : next) names += (names.empty() ? "" : ", ") + rs.name + " -> " + *rs.upstream;
      throw ConfigError(file, "router upstreams form a cycle: " + names);
    }
    for (auto* rs : ready) {
      Where w{file, "router '" + rs->name + "'"};
      try {
        build_router(lab, *rs, built, regions, w);
      } catch (const ConfigError&) {
        throw;
      } catch (const Removed&) {
        throw;
      } catch (const Error& e) {
        w.fail("", e.what());
      }
      built.emplace(rs->name, *lab.router_by_name(rs->name));
    }
    pending = std::move(next);
  }

  // 3. Devices in name order.
  if (auto devs = root.get("device")) {
    auto dt = devs->as_table();
    if (!dt) throw ConfigError(file, "[device] must be a table of devices");
    std::map<std::string, const toml::table*> sorted;
    for (auto& [k, v] : *dt) {
      auto t = v.as_table();
      if (!t) throw ConfigError(file, "[device." + std::string(k.str()) + "] must be a table");
      sorted[std::string(k.str())] = t;
    }
    for (auto& [name, t] : sorted) build_device(lab, name, *t, built, file);
  }
  for (auto& [k, v] : root) {
    std::string key(k.str());
    if (key != "region" && key != "router" && key != "device")
      std::cerr << "patchbay: " << file << ": unknown top-level key '" << key << "' ignored\n";
  }
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
