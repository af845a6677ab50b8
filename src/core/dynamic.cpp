// Dynamic device operations (SPEC 2.6, issue "dynamic topology"): link up/down, default-route
// switching, adding, removing and replugging interfaces, renewing and adding addresses.
//
// Every operation runs under the device's lock, allocates under the plan lock and talks to the
// kernel with neither held beyond the device's. Interfaces keep their link conditions and the
// device's MTU through all of them: the condition belongs to the interface record, and the engine
// is told about the interface's (new) port after every change.
#include <algorithm>
#include <chrono>
#include <thread>

#include "core/ids.hpp"
#include "core/lab_core.hpp"
#include "core/macs.hpp"

namespace patchbay::detail {

namespace {

nlohmann::json opt_ip(const auto& v) {
  return v ? nlohmann::json(v->to_string()) : nlohmann::json(nullptr);
}

}  // namespace

void LabCore::alloc_iface_addrs(IfaceRec& i, RouterRec& rt, const std::string& owner) {
  try {
    if (rt.hosts4) {
      i.ip = rt.hosts4->alloc();
      i.gw = rt.hosts4->gateway();
      i.prefix = rt.lan4->prefix_len();
    }
    if (rt.hosts6) {
      i.ip6 = rt.hosts6->alloc();
      i.gw6 = rt.hosts6->gateway();
      i.prefix6 = rt.lan6->prefix_len();
      i.ll6 = core::ll(i.id.value);
    }
  } catch (const PoolExhausted& e) {
    if (i.ip && rt.hosts4) rt.hosts4->release(*i.ip);
    throw PoolExhausted(owner, e.what());
  }
}

void LabCore::release_iface_addrs(const IfaceRec& i, NodeId dev) {
  auto rt = nodes_.router(i.router);
  if (!rt) return;
  try {
    if (i.ip && rt->hosts4) rt->hosts4->release(*i.ip);
    if (i.ip6 && rt->hosts6) rt->hosts6->release(*i.ip6);
  } catch (const Error&) {
  }
  auto a = rt->attached.find(dev);
  if (a != rt->attached.end()) {
    a->second.erase(i.name);
    if (a->second.empty()) rt->attached.erase(a);
  }
}

void LabCore::install_default_routes(DeviceRec& d, const IfaceRec& i) {
  const bool ra = ra_->driven(d);
  sys::NlBatch b(d.describe() + ": default route via " + i.name);
  if (i.gw) sys::add_route(b, sys::default_route(*i.gw, i.ifindex));
  if (i.gw6 && !ra) sys::add_route(b, sys::default_route(*i.gw6, i.ifindex));
  if (!b.empty()) d.ns->commit(b);
  if (ra) {
    // The RA-learned default routes of the other interfaces go; this one solicits its own.
    for (auto& other : d.ifaces) {
      if (other.name == i.name) continue;
      setup_->in_netns(d.ns->fd.get(), [&] {
        sys::write_sysctls({{"net/ipv6/conf/" + other.name + "/accept_ra_defrtr", "0"}});
      });
      try {
        sys::Route rt;
        rt.family = AF_INET6;
        rt.oif = other.ifindex;
        sys::NlBatch del;
        sys::del_route(del, rt);
        d.ns->commit(del);
      } catch (const Error&) {
      }
    }
  }
  // A family the new interface lacks must not keep a default route through another one.
  for (int fam : {AF_INET, AF_INET6}) {
    if ((fam == AF_INET && i.gw) || (fam == AF_INET6 && (i.gw6 || ra))) continue;
    for (auto& other : d.ifaces) {
      auto gw = fam == AF_INET ? (other.gw ? std::optional<IpAddr>(*other.gw) : std::nullopt)
                               : (other.gw6 ? std::optional<IpAddr>(*other.gw6) : std::nullopt);
      if (!gw || other.name == i.name) continue;
      try {
        sys::NlBatch del;
        sys::del_route(del, sys::default_route(*gw, other.ifindex));
        d.ns->commit(del);
      } catch (const Error&) {
      }
    }
  }
}

void LabCore::wire_iface(DeviceRec& d, IfaceRec& i, RouterRec& rt) {
  const WiringContext ctx = wiring_context();
  const VethSpec veth = plan_iface_veth(d, i, rt);
  wiring_->wire_iface(veth, plan_iface_setup(i, ctx), *d.ns, ctx.dad && i.ip6, d.describe());
  if (d.default_if == i.name && i.up) install_default_routes(d, i);
}

void LabCore::set_link_up(DeviceRec& d, IfaceRec& i, bool up) {
  sys::NlBatch b(d.describe() + (up ? ": link_up " : ": link_down ") + i.name);
  sys::set_link(b, i.ifindex, up);
  d.ns->commit(b);
  i.up = up;
  if (up) {
    // Bringing a link down flushes its routes (and its IPv6 addresses): put them back.
    sys::NlBatch ab(d.describe() + ": link_up " + i.name);
    if (i.ip6) sys::add_addr(ab, i.ifindex, *i.ip6, i.prefix6, !dad());
    if (i.ll6) sys::add_addr(ab, i.ifindex, *i.ll6, 64);
    for (auto& [a, len] : i.extra_addrs)
      if (a.is_v6()) sys::add_addr(ab, i.ifindex, a, len);
    if (!ab.empty()) d.ns->commit(ab);
    if (d.default_if == i.name) install_default_routes(d, i);
    if (ra_->driven(d)) ra_->provision(d, i, false);
  }
  emit(up ? "link_up" : "link_down", {{"device", d.name}, {"iface", i.name}});
}

void LabCore::set_default_route(DeviceRec& d, const std::string& ifname) {
  auto* i = d.find(ifname);
  if (!i) throw NotFound(d.describe(), "set_default_route: no interface '" + ifname + "'");
  d.default_if = ifname;
  if (i->up) install_default_routes(d, *i);
  if (ra_->driven(d)) ra_->provision(d, *i, false);
  emit("default_route_changed", {{"device", d.name}, {"iface", ifname}});
}

void LabCore::add_iface(DeviceRec& d, const std::string& ifname, NodeId router,
                        std::optional<LinkCondition> up, std::optional<LinkCondition> down) {
  validate_ifname(d.name, ifname);
  const std::string ctx = d.describe() + ": add_iface " + ifname;
  if (d.find(ifname)) throw AlreadyExists(ctx, "the device already has an interface '" + ifname + "'");
  if (up) up->to_limits().validate();
  if (down) down->to_limits().validate();
  IfaceRec i;
  std::shared_ptr<RouterRec> rt;
  {
    std::lock_guard lk(plan_mu_);
    rt = nodes_.live_router(router);
    if (!rt) throw NotFound(ctx, "router " + std::to_string(router.value) + " does not exist");
    i.id = nodes_.take_id();
    i.name = ifname;
    i.router = router;
    i.cond_up = std::move(up);
    i.cond_down = std::move(down);
    alloc_iface_addrs(i, *rt, ctx);
    rt->attached[d.id].insert(ifname);
  }
  try {
    wire_iface(d, i, *rt);
  } catch (...) {
    unplug_iface(d, i, ctx);  // the veth may exist already: a half-wired port must not stay
    throw;
  }
  d.ifaces.push_back(i);
  links_->push_iface(d, d.ifaces.back());
  if (ra_->driven(d)) ra_->provision(d, d.ifaces.back(), false);
  emit("interface_added", {{"device", d.name}, {"iface", iface_snapshot(d, d.ifaces.back())}});
}

// The router-side port goes away with its veth (and the device end with it); the engine forgets
// the port; the addresses go back to the router's pools.
void LabCore::unplug_iface(DeviceRec& d, const IfaceRec& i, const std::string& ctx) {
  links_->forget_iface(i);
  if (auto rt = nodes_.router(i.router)) {
    try {
      sys::NlBatch b(ctx);
      sys::del_link(b, i.port_ifindex, "delete port v" + std::to_string(i.id.value));
      rt->ns->commit(b);
    } catch (const Error&) {
    }
  }
  std::lock_guard lk(plan_mu_);
  release_iface_addrs(i, d.id);
}

void LabCore::remove_iface(DeviceRec& d, const std::string& ifname) {
  const std::string ctx = d.describe() + ": remove_iface " + ifname;
  auto it = std::find_if(d.ifaces.begin(), d.ifaces.end(), [&](auto& x) { return x.name == ifname; });
  if (it == d.ifaces.end()) throw NotFound(ctx, "no interface '" + ifname + "'");
  if (d.ifaces.size() == 1) throw InvalidArgument(ctx, "a device keeps at least one interface");
  unplug_iface(d, *it, ctx);
  d.ifaces.erase(it);
  emit("interface_removed", {{"device", d.name}, {"iface_name", ifname}});
  if (d.default_if == ifname) set_default_route(d, d.ifaces.front().name);
}

void LabCore::replug_iface(DeviceRec& d, const std::string& ifname, NodeId to) {
  const std::string ctx = d.describe() + ": replug_iface " + ifname;
  auto* cur = d.find(ifname);
  if (!cur) throw NotFound(ctx, "no interface '" + ifname + "'");
  IfaceRec old = *cur;
  IfaceRec i = old;
  std::shared_ptr<RouterRec> rt;
  {
    std::lock_guard lk(plan_mu_);
    rt = nodes_.live_router(to);
    if (!rt) throw NotFound(ctx, "router " + std::to_string(to.value) + " does not exist");
    i.router = to;
    i.ip.reset();
    i.ip6.reset();
    i.gw.reset();
    i.gw6.reset();
    i.ll6.reset();
    i.extra_addrs.clear();  // secondary addresses belonged to the old subnet
    alloc_iface_addrs(i, *rt, ctx);
    rt->attached[d.id].insert(ifname);
  }
  unplug_iface(d, old, ctx);
  {
    // Replugging into the same router: unplugging just took the name out of its attached set.
    std::lock_guard lk(plan_mu_);
    rt->attached[d.id].insert(ifname);
  }
  try {
    wire_iface(d, i, *rt);
  } catch (...) {
    // The old port is gone already: the interface is removed, like remove_iface would.
    unplug_iface(d, i, ctx);
    d.ifaces.erase(std::find_if(d.ifaces.begin(), d.ifaces.end(), [&](auto& x) { return x.name == ifname; }));
    emit("interface_removed", {{"device", d.name}, {"iface_name", ifname}});
    if (d.default_if == ifname && !d.ifaces.empty()) set_default_route(d, d.ifaces.front().name);
    throw;
  }
  *d.find(ifname) = i;
  links_->push_iface(d, *d.find(ifname));
  if (ra_->driven(d)) ra_->provision(d, *d.find(ifname), false);
  emit("interface_replugged", {{"device", d.name},
                               {"iface_name", ifname},
                               {"from_router", nodes_.name_of(old.router)},
                               {"to_router", nodes_.name_of(to)},
                               {"new_ip", opt_ip(i.ip)},
                               {"new_ip_v6", opt_ip(i.ip6)}});
}

Ipv4Addr LabCore::renew_ip(DeviceRec& d, IfaceRec& i) {
  const std::string ctx = d.describe() + ": renew_ip " + i.name;
  if (!i.ip) throw InvalidArgument(ctx, "the interface has no IPv4 address");
  auto rt = nodes_.router(i.router);
  if (!rt) throw NotFound(ctx, "its router is gone");
  Ipv4Addr fresh;
  {
    std::lock_guard lk(plan_mu_);
    fresh = rt->hosts4->alloc();
  }
  try {
    // Old address first: deleting a primary address also deletes the secondaries of its subnet
    // (promote_secondaries is off), which the new one would be. The default route goes with the
    // old address and is put back below.
    sys::NlBatch b(ctx);
    sys::del_addr(b, i.ifindex, *i.ip, i.prefix);
    sys::add_addr(b, i.ifindex, fresh, i.prefix);
    // Secondaries of the old primary's subnet went with it (added by add_ip): put them back.
    const Ipv4Net old_net(*i.ip, i.prefix);
    for (auto& [a, len] : i.extra_addrs)
      if (a.is_v4() && old_net.contains(a.v4())) sys::add_addr(b, i.ifindex, a, len);
    d.ns->commit(b);
  } catch (...) {
    std::lock_guard lk(plan_mu_);
    rt->hosts4->release(fresh);
    throw;
  }
  {
    std::lock_guard lk(plan_mu_);
    rt->hosts4->release(*i.ip);
  }
  i.ip = fresh;
  if (d.default_if == i.name && i.up) install_default_routes(d, i);
  emit("device_ip_changed", {{"device", d.name},
                             {"iface_name", i.name},
                             {"new_ip", fresh.to_string()},
                             {"new_ip_v6", opt_ip(i.ip6)}});
  return fresh;
}

void LabCore::add_ip(DeviceRec& d, IfaceRec& i, const IpAddr& ip, std::uint8_t prefix_len) {
  const std::string ctx = d.describe() + ": add_ip " + i.name;
  if (prefix_len > (ip.is_v4() ? 32 : 128))
    throw InvalidArgument(ctx,
                          "prefix length " + std::to_string(prefix_len) + " too long for " + ip.to_string());
  sys::NlBatch b(ctx);
  sys::add_addr(b, i.ifindex, ip, prefix_len);
  d.ns->commit(b);
  i.extra_addrs.emplace_back(ip, prefix_len);
  emit("ip_added",
       {{"device", d.name}, {"iface_name", i.name}, {"ip", ip.to_string()}, {"prefix_len", prefix_len}});
}

}  // namespace patchbay::detail
