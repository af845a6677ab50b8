// Turning device configurations into namespaces, veths, addresses and routes, and back; the
// helpers every build shares. Routers: build_router.cpp.
#include <algorithm>

#include "core/ids.hpp"
#include "core/lab_core.hpp"
#include "core/macs.hpp"
#include "patchbay/consts.hpp"
#include "sys/sysctl.hpp"

namespace patchbay::detail {

namespace {

bool valid_node_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  return true;
}

}  // namespace

void validate_node_name(const std::string& kind, const std::string& n) {
  if (!valid_node_name(n))
    throw InvalidArgument(kind + " '" + n + "'", "invalid name (expected 1-64 characters of [A-Za-z0-9_-])");
  if (n.rfind("region_", 0) == 0)
    throw InvalidArgument(kind + " '" + n + "'",
                          "names starting with 'region_' are reserved for region routers");
}

void validate_ifname(const std::string& dev, const std::string& n) {
  bool ok = !n.empty() && n.size() <= 15 && n != "." && n != ".." && n != "lo";
  for (char c : n)
    if (c == '/' || c == ':' || !std::isgraph(static_cast<unsigned char>(c))) ok = false;
  if (!ok)
    throw InvalidArgument("device '" + dev + "'", "invalid interface name '" + n +
                                                      "' (1-15 characters, no '/', ':' or spaces, not 'lo')");
}

// ---- devices ----

namespace {

// Refuses a device configuration before anything is allocated; returns the default interface.
std::string validate_device(const DeviceConfig& cfg, const std::string& owner) {
  validate_node_name("device", cfg.name);
  if (cfg.ifaces.empty()) throw InvalidArgument(owner, "build: a device needs at least one interface");
  for (std::size_t i = 0; i < cfg.ifaces.size(); ++i) {
    validate_ifname(cfg.name, cfg.ifaces[i].first);
    for (std::size_t j = 0; j < i; ++j)
      if (cfg.ifaces[j].first == cfg.ifaces[i].first)
        throw AlreadyExists(owner, "build: interface '" + cfg.ifaces[i].first + "' added twice");
  }
  std::string default_if = cfg.default_via.value_or(cfg.ifaces.front().first);
  if (std::none_of(cfg.ifaces.begin(), cfg.ifaces.end(), [&](auto& p) { return p.first == default_if; }))
    throw InvalidArgument(owner, "build: default_via '" + default_if + "' is not one of its interfaces");
  return default_if;
}

}  // namespace

std::shared_ptr<DeviceRec> LabCore::build_device(const DeviceConfig& cfg) {
  const std::string owner = "device '" + cfg.name + "'";
  const std::string default_if = validate_device(cfg, owner);
  std::shared_ptr<DeviceRec> d;
  RouterMap rts;
  {
    std::lock_guard lk(plan_mu_);
    if (closing_) throw Removed(owner, "the lab is shut down");
    if (nodes_.name_taken(cfg.name))
      throw AlreadyExists(owner, "build: the name is already used by another node");
    for (auto& [ifn, rid] : cfg.ifaces) {
      auto rt = nodes_.live_router(rid);
      if (!rt)
        throw NotFound(
            owner, "build: interface '" + ifn + "': router " + std::to_string(rid.value) + " does not exist");
      rts[rid.value] = std::move(rt);
    }
    const NodeId id = nodes_.next_id();
    d = std::make_shared<DeviceRec>(NodeKind::Device, id, cfg.name);
    d->log = logs_->make(consts::kKindDevice, cfg.name);
    d->ns_label = "lab" + std::to_string(seq_) + "-d" + std::to_string(id.value);
    d->default_if = default_if;
    d->mtu = cfg.mtu;
    d->provisioning = cfg.provisioning;
    std::uint64_t next = id.value + 1;
    try {
      for (auto& [ifn, rid] : cfg.ifaces) {
        auto& rt = rts[rid.value];
        IfaceRec i;
        i.id = NodeId{next++};
        i.name = ifn;
        i.router = rid;
        if (auto c = cfg.conditions.find(ifn); c != cfg.conditions.end()) {
          i.cond_up = c->second.first;
          i.cond_down = c->second.second;
        }
        alloc_iface_addrs(i, *rt, owner);
        d->ifaces.push_back(std::move(i));
      }
    } catch (...) {
      release_device_allocs(*d);
      throw;
    }
    nodes_.add(d, next - id.value);
    for (auto& i : d->ifaces) rts[i.router.value]->attached[id].insert(i.name);
  }

  try {
    wire_device(*d, rts);
  } catch (...) {
    // Deleting the router-side ends removes the pairs even if the namespace lingers.
    for (auto& i : d->ifaces) {
      if (i.port_ifindex == 0) continue;
      try {
        sys::NlBatch b;
        sys::del_link(b, i.port_ifindex);
        rts[i.router.value]->ns->commit(b);
      } catch (const Error&) {
      }
    }
    std::lock_guard lk(plan_mu_);
    nodes_.erase(d->id);
    release_device_allocs(*d);
    d->ns.reset();
    throw;
  }
  d->alive = true;
  logs_->publish(d->id, d->log);
  try {
    attach_device_links(*d);
    if (ra_driven(*d)) {
      std::lock_guard lk(d->mu);
      for (auto& i : d->ifaces) provision_ra(*d, i, true);
    }
  } catch (...) {
    try {
      remove_device(d->id);
    } catch (const Error&) {
    }
    throw;
  }
  auto fields = device_state(*d);
  fields["name"] = d->name;
  emit("device_added", std::move(fields));
  return d;
}

void LabCore::wire_device(DeviceRec& d, RouterMap& rts) {
  const std::string owner = d.describe();
  d.ns = adopt(setup_->take());
  const std::uint32_t mtu = d.mtu.value_or(0);
  // One veth per interface, created from the router's side: its end joins the LAN bridge, the
  // peer appears in the device under the user's interface name.
  std::map<std::uint64_t, sys::NlBatch> per_router;
  for (auto& i : d.ifaces) {
    auto& rt = rts[i.router.value];
    i.ifindex = d.ns->alloc_ifindex();
    i.port_ifindex = rt->ns->alloc_ifindex();
    // The router's MTU covers its LAN ports (SPEC 11); the device end keeps the device's.
    sys::LinkEnd port{"v" + std::to_string(i.id.value),
                      i.port_ifindex,
                      mac_for(i.id, kDevPort),
                      -1,
                      rt->lan_ifindex,
                      true,
                      rt->mtu.value_or(mtu)};
    sys::LinkEnd dev{i.name, i.ifindex, mac_for(i.id, kDevIface), d.ns->fd.get(), 0, false, mtu};
    auto [it, fresh] = per_router.try_emplace(i.router.value, owner + ": build");
    sys::add_veth(it->second, port, dev);
  }
  for (auto& [rid, b] : per_router) rts[rid]->ns->commit(b);

  sys::NlBatch db(owner + ": build");
  for (auto& i : d.ifaces) {
    sys::set_link(db, i.ifindex, true, std::nullopt, std::nullopt, "bring up " + i.name);
    if (i.ip) sys::add_addr(db, i.ifindex, *i.ip, i.prefix);
    if (i.ip6) sys::add_addr(db, i.ifindex, *i.ip6, i.prefix6, !dad());
    if (i.ll6) sys::add_addr(db, i.ifindex, *i.ll6, 64);
  }
  const IfaceRec& def = *d.find(d.default_if);
  if (def.gw) sys::add_route(db, sys::default_route(*def.gw, def.ifindex));
  // RA-driven devices learn their IPv6 default route from the router's advertisements.
  if (def.gw6 && !ra_driven(d)) sys::add_route(db, sys::default_route(*def.gw6, def.ifindex));
  d.ns->commit(db);
  if (dad() && std::any_of(d.ifaces.begin(), d.ifaces.end(), [](auto& i) { return i.ip6.has_value(); }))
    wait_dad(*d.ns, owner);
}

// Plan lock held.
void LabCore::release_device_allocs(DeviceRec& d) {
  for (auto& i : d.ifaces) release_iface_addrs(i, d.id);
}

void LabCore::remove_device(NodeId id) {
  std::shared_ptr<DeviceRec> d;
  std::vector<std::pair<std::shared_ptr<RouterRec>, int>> ports;
  {
    std::lock_guard lk(plan_mu_);
    d = nodes_.live_device(id);
    if (!d) throw NotFound("remove_device", "device " + std::to_string(id.value) + " does not exist");
    d->alive = false;
    logs_->withdraw(d->id);
    nodes_.erase(id);
    for (auto& i : d->ifaces)
      if (auto r = nodes_.router(i.router)) ports.emplace_back(std::move(r), i.port_ifindex);
    release_device_allocs(*d);
  }
  std::lock_guard nlk(d->mu);
  terminate_children(d->id);
  d->stop_workers();
  detach_device_links(*d);
  for (auto& [rt, port] : ports) {
    try {
      sys::NlBatch b(d->describe() + ": remove");
      sys::del_link(b, port);
      rt->ns->commit(b);
    } catch (const Error&) {
    }
  }
  // Last, like a router's: a closed sink drops what is written to it, so nothing that still runs
  // for the device during its removal may come after this.
  if (d->log) d->log->close();
  d->ns.reset();
  dns_->forget_device(d->id);
  emit("device_removed", {{"name", d->name}});
}

}  // namespace patchbay::detail
