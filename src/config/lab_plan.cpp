// Reading a TOML lab file into a LabPlan (lab_plan.hpp): key by key, with the file, table and key
// in every error.
#include "config/lab_plan.hpp"

#include <algorithm>

#include "config/lenient_keys.hpp"
#include "config/toml_json.hpp"

namespace patchbay::config {

namespace {

// One place that knows where we are in the file, for errors and warnings.
struct Where {
  std::string file;
  std::string table;
  std::vector<std::string>* warnings = nullptr;
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw ConfigError(file + ": [" + table + "]" + (key.empty() ? "" : " " + key), what);
  }
  void warn(const std::string& key) const {
    warnings->push_back(file + ": [" + table + "] unknown key '" + key + "' ignored");
  }
  UnknownKey unknown_key() const {
    return [this](const std::string& key) { warn(key); };
  }
};

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

// Runs fn, turning the library's InvalidArgument (and a JSON conversion error) into a ConfigError
// at `key`.
template <class F>
auto checked(const Where& w, const std::string& key, F&& fn) {
  try {
    return fn();
  } catch (const InvalidArgument& e) {
    w.fail(key, e.what());
  } catch (const nlohmann::json::exception& e) {
    w.fail(key, e.what());
  }
}

LinkCondition condition(const toml::node& n, const Where& w, const std::string& key) {
  return checked(w, key, [&] {
    return LinkCondition::from_json(drop_unknown_condition_keys(toml_to_json(n), key, w.unknown_key()));
  });
}

void read_regions(const toml::node& regs, LabPlan& plan) {
  auto rt = regs.as_table();
  if (!rt) throw ConfigError(plan.file, "[region] must be a table of regions");
  for (auto& [k, v] : *rt) {
    const std::string rname(k.str());
    plan.regions.insert(rname);
    Where w{plan.file, "region." + rname, &plan.warnings};
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
        plan.regions.insert(o);
        auto val = static_cast<std::uint32_t>(integer(ms, w, "latencies." + o, 0, 3600000));
        auto pair = rname < o ? std::pair{rname, o} : std::pair{o, rname};
        auto [it, fresh] = plan.latencies.emplace(pair, val);
        if (!fresh && it->second != val)
          w.fail("latencies." + o, "conflicts with the latency given for " + pair.first + "<->" +
                                       pair.second + " (" + std::to_string(it->second) + " ms vs " +
                                       std::to_string(val) + " ms)");
      }
    }
  }
}

// The keys of one [[router]] table other than name/upstream/region.
void read_router_keys(const toml::table& t, RouterPlan& r, const Where& w) {
  if (auto p = t.get("preset"))
    r.preset = checked(w, "preset", [&] { return parse_router_preset(str(*p, w, "preset")); });
  for (auto& [k, node] : t) {
    const std::string key(k.str());
    const toml::node& v = node;  // a plain reference: lambdas below capture it
    if (key == "name" || key == "upstream" || key == "region" || key == "preset") continue;
    if (key == "nat")
      r.nat = checked(w, key, [&] {
        return Nat::from_json(drop_unknown_nat_keys(toml_to_json(v), key, w.unknown_key()));
      });
    else if (key == "nat_v6")
      r.nat_v6 = checked(w, key, [&] { return toml_to_json(v).get<NatV6Mode>(); });
    else if (key == "ip_support")
      r.ip_support = checked(w, key, [&] { return parse_ip_support(str(v, w, key)); });
    else if (key == "firewall")
      r.firewall = checked(w, key, [&] { return Firewall::from_json(toml_to_json(v)); });
    else if (key == "mtu")
      r.mtu = static_cast<std::uint32_t>(integer(v, w, key, 68, 65535));
    else if (key == "downstream_cidr")
      r.downstream_cidr = checked(w, key, [&] { return Ipv4Net::parse(str(v, w, key)); });
    else if (key == "downstream_cidr_v6")
      r.downstream_cidr_v6 = checked(w, key, [&] { return Ipv6Net::parse(str(v, w, key)); });
    else if (key == "downlink_condition")
      r.downlink_condition = condition(v, w, key);
    else if (key == "uplink_condition")
      r.uplink_condition = condition(v, w, key);
    else if (key == "uplink_direction")
      r.uplink_direction = checked(w, key, [&] { return parse_link_direction(str(v, w, key)); });
    else if (key == "block_icmp_frag_needed")
      r.block_icmp_frag_needed = boolean(v, w, key);
    else if (key == "ra_enabled")
      r.ra_enabled = boolean(v, w, key);
    else if (key == "ra_interval_secs")
      r.ra_interval_secs = static_cast<std::uint64_t>(integer(v, w, key, 0, 1 << 30));
    else if (key == "ra_lifetime_secs")
      r.ra_lifetime_secs = static_cast<std::uint64_t>(integer(v, w, key, 0, 1 << 30));
    else
      w.warn(key);
  }
}

std::vector<RouterPlan> read_routers(const toml::node& arr, LabPlan& plan) {
  auto a = arr.as_array();
  if (!a) throw ConfigError(plan.file, "router must be an array of tables ([[router]])");
  std::vector<RouterPlan> routers;
  std::size_t idx = 0;
  for (auto& n : *a) {
    Where w{plan.file, "router #" + std::to_string(++idx), &plan.warnings};
    auto t = n.as_table();
    if (!t) w.fail("", "expected a table");
    RouterPlan r;
    auto nm = t->get("name");
    if (!nm) w.fail("name", "missing");
    r.name = str(*nm, w, "name");
    w.table = "router '" + r.name + "'";
    if (auto u = t->get("upstream")) r.upstream = str(*u, w, "upstream");
    if (auto rg = t->get("region")) {
      const std::string region = str(*rg, w, "region");
      // A router behind an upstream sits wherever that upstream is. The original tool builds it
      // under the upstream and drops the region (which is then not created for its sake).
      if (r.upstream) {
        plan.warnings.push_back(plan.file + ": [" + w.table + "] region '" + region +
                                "' ignored: the router has upstream '" + *r.upstream + "'");
      } else {
        r.region = region;
        plan.regions.insert(region);
      }
    }
    for (auto& o : routers)
      if (o.name == r.name) w.fail("name", "router '" + r.name + "' is defined twice");
    read_router_keys(*t, r, w);
    routers.push_back(std::move(r));
  }
  for (auto& r : routers) {
    if (!r.upstream) continue;
    if (std::none_of(routers.begin(), routers.end(), [&](auto& o) { return o.name == *r.upstream; }))
      Where{plan.file, "router '" + r.name + "'"}.fail("upstream", "unknown router '" + *r.upstream + "'");
  }
  return routers;
}

// Rounds: each round takes, in name order, the routers whose upstream an earlier round placed.
std::vector<RouterPlan> build_order(std::vector<RouterPlan> routers, const std::string& file) {
  std::sort(routers.begin(), routers.end(), [](auto& a, auto& b) { return a.name < b.name; });
  std::vector<RouterPlan> order;
  std::set<std::string> placed;
  while (!routers.empty()) {
    std::vector<RouterPlan> next;
    std::vector<RouterPlan> round;
    for (auto& r : routers) (!r.upstream || placed.count(*r.upstream) ? round : next).push_back(std::move(r));
    if (round.empty()) {  // every upstream exists (checked before): what is left is a cycle
      std::string names;
      for (auto& r : next) names += (names.empty() ? "" : ", ") + r.name + " -> " + *r.upstream;
      throw ConfigError(file, "router upstreams form a cycle: " + names);
    }
    for (auto& r : round) {
      placed.insert(r.name);
      order.push_back(std::move(r));
    }
    routers = std::move(next);
  }
  return order;
}

DevicePlan read_device(const std::string& name, const toml::table& t, const std::set<std::string>& routers,
                       LabPlan& plan) {
  Where w{plan.file, "device." + name, &plan.warnings};
  DevicePlan d;
  d.name = name;
  std::map<std::string, const toml::table*> ifaces;  // ascending interface names
  for (auto& [k, v] : t) {
    const std::string key(k.str());
    if (auto sub = v.as_table())
      ifaces[key] = sub;
    else if (key == "count")
      d.count = integer(v, w, key, 1, 100000);
    else if (key == "default_via")
      d.default_via = str(v, w, key);
    else if (key == "mtu")
      d.mtu = static_cast<std::uint32_t>(integer(v, w, key, 68, 65535));
    else
      w.warn(key);
  }
  if (ifaces.empty()) throw ConfigError(plan.file, "device '" + name + "' has no interface sub-tables");
  for (auto& [ifname, it] : ifaces) {
    Where iw{plan.file, "device." + name + "." + ifname, &plan.warnings};
    IfacePlan s{ifname, {}, std::nullopt, LinkDirection::Up};
    auto gw = it->get("gateway");
    if (!gw) iw.fail("gateway", "missing: the router whose LAN interface '" + ifname + "' joins");
    s.gateway = str(*gw, iw, "gateway");
    if (!routers.count(s.gateway))
      iw.fail("gateway",
              "device '" + name + "' interface '" + ifname + "': unknown router '" + s.gateway + "'");
    for (auto& [k, node] : *it) {
      const std::string key(k.str());
      const toml::node& v = node;
      if (key == "gateway") continue;
      if (key == "impair") {
        try {
          s.impair =
              LinkCondition::from_json(drop_unknown_condition_keys(toml_to_json(v), key, iw.unknown_key()));
        } catch (const InvalidArgument& e) {
          iw.fail(key, std::string("invalid impair: ") + e.what());
        } catch (const nlohmann::json::exception& e) {
          iw.fail(key, std::string("invalid impair: ") + e.what());
        }
      } else if (key == "impair_direction") {
        s.direction = checked(iw, key, [&] { return parse_link_direction(str(v, iw, key)); });
      } else {
        iw.warn(key);
      }
    }
    d.ifaces.push_back(std::move(s));
  }
  if (d.default_via && !ifaces.count(*d.default_via))
    w.fail("default_via", "'" + *d.default_via + "' is not one of the device's interfaces");
  return d;
}

}  // namespace

LabPlan plan_lab(const toml::table& root, const std::string& file) {
  LabPlan plan;
  plan.file = file;
  if (auto regs = root.get("region")) read_regions(*regs, plan);
  std::vector<RouterPlan> routers;
  if (auto arr = root.get("router")) routers = read_routers(*arr, plan);
  std::set<std::string> names;
  for (auto& r : routers) names.insert(r.name);
  plan.routers = build_order(std::move(routers), file);
  if (auto devs = root.get("device")) {
    auto dt = devs->as_table();
    if (!dt) throw ConfigError(file, "[device] must be a table of devices");
    std::map<std::string, const toml::table*> sorted;
    for (auto& [k, v] : *dt) {
      auto t = v.as_table();
      if (!t) throw ConfigError(file, "[device." + std::string(k.str()) + "] must be a table");
      sorted[std::string(k.str())] = t;
    }
    for (auto& [name, t] : sorted) plan.devices.push_back(read_device(name, *t, names, plan));
  }
  for (auto& [k, v] : root) {
    std::string key(k.str());
    if (key != "region" && key != "router" && key != "device")
      plan.warnings.push_back(file + ": unknown top-level key '" + key + "' ignored");
  }
  return plan;
}

}  // namespace patchbay::config
