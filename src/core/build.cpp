// Turning builder configurations into namespaces, links, addresses and routes, and back.
#include <algorithm>

#include "core/ids.hpp"
#include "core/lab_core.hpp"
#include "core/macs.hpp"
#include "sys/sysctl.hpp"

namespace patchbay::detail {

namespace {

bool valid_node_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  return true;
}

void validate_node_name(const std::string& kind, const std::string& n) {
  if (!valid_node_name(n))
    throw InvalidArgument(kind + " '" + n + "'", "invalid name (expected 1-64 characters of [A-Za-z0-9_-])");
  if (n.rfind("region_", 0) == 0)
    throw InvalidArgument(kind + " '" + n + "'",
                          "names starting with 'region_' are reserved for region routers");
}

std::string host_pool_msg(const std::string& owner, const auto& net, std::uint64_t hosts) {
  return "downstream subnet " + net.to_string() + " of " + owner + " exhausted (" + std::to_string(hosts) +
         " hosts); use downstream_cidr with a shorter prefix";
}

}  // namespace

std::shared_ptr<Netns> adopt(sys::PreparedNs p) {
  auto ns = std::make_shared<Netns>();
  ns->fd = std::move(p.fd);
  ns->nl = std::move(p.nl);
  return ns;
}

void validate_ifname(const std::string& dev, const std::string& n) {
  bool ok = !n.empty() && n.size() <= 15 && n != "." && n != ".." && n != "lo";
  for (char c : n)
    if (c == '/' || c == ':' || !std::isgraph(static_cast<unsigned char>(c))) ok = false;
  if (!ok)
    throw InvalidArgument("device '" + dev + "'", "invalid interface name '" + n +
                                                      "' (1-15 characters, no '/', ':' or spaces, not 'lo')");
}

// ---- routers ----

std::shared_ptr<RouterRec> LabCore::build_router(const RouterConfig& cfg) {
  if (!cfg.region_bridge) validate_node_name("router", cfg.name);
  const std::string owner = "router '" + cfg.name + "'";
  const bool v4 = has_v4(cfg.ip_support), v6 = has_v6(cfg.ip_support);
  // Pool: explicit (or from a preset), else by NAT: none -> public, CGNAT -> 100.64/10, else private.
  const AddressPool pool = cfg.pool.value_or(cfg.nat.kind() == Nat::Kind::None    ? AddressPool::Public
                                             : cfg.nat.kind() == Nat::Kind::Cgnat ? AddressPool::Cgnat
                                                                                  : AddressPool::Private);
  // NAT64 needs an IPv4 uplink even for an IPv6-only LAN (RouterPreset::IspV6, SPEC 4.6).
  const bool wan4 = v4 || cfg.nat_v6 == NatV6Mode::Nat64;
  if (cfg.nat_v6 != NatV6Mode::None && !v6)
    throw InvalidArgument(owner, "nat_v6 " + to_string(cfg.nat_v6) + " needs IPv6 (ip_support is " +
                                     to_string(cfg.ip_support) + ")");
  if (cfg.nat.kind() != Nat::Kind::None && !v4)
    throw InvalidArgument(owner, "nat " + cfg.nat.to_string() + " needs IPv4 (ip_support is " +
                                     to_string(cfg.ip_support) + ")");
  if (cfg.cidr && cfg.cidr->prefix_len() > 30)
    throw InvalidArgument(owner, "downstream_cidr " + cfg.cidr->to_string() + ": prefix longer than /30");
  if (cfg.cidr6 && cfg.cidr6->prefix_len() > 126)
    throw InvalidArgument(owner,
                          "downstream_cidr_v6 " + cfg.cidr6->to_string() + ": prefix longer than /126");

  std::shared_ptr<RouterRec> r;
  std::shared_ptr<RouterRec> parent;
  std::vector<AncestorRoute> routes;
  {
    std::lock_guard lk(mu_);
    if (closing_) throw Removed(owner, "the lab is shut down");
    if (names_.count(cfg.name)) throw AlreadyExists(owner, "build: the name is already used by another node");
    if (cfg.upstream) {
      auto it = routers_.find(cfg.upstream->value);
      if (it == routers_.end() || !it->second->alive)
        throw NotFound(owner,
                       "build: upstream router " + std::to_string(cfg.upstream->value) + " does not exist");
      parent = it->second;
      if (v4 && !parent->hosts4 && !v6)
        throw InvalidArgument(owner, "build: upstream " + parent->describe() + " has no IPv4 LAN");
      if (v6 && !parent->hosts6 && !v4)
        throw InvalidArgument(owner, "build: upstream " + parent->describe() + " has no IPv6 LAN");
    }
    NodeId id{next_id_};
    r = std::make_shared<RouterRec>(NodeKind::Router, id, cfg.name);
    r->log = make_node_log(NodeKind::Router, cfg.name);
    r->lan_switch = NodeId{next_id_ + 1};
    r->ns_label = "lab" + std::to_string(seq_) + "-r" + std::to_string(id.value);
    r->upstream = cfg.upstream;
    r->region = cfg.region ? cfg.region : parent ? parent->region : std::nullopt;
    r->region_router = cfg.region_bridge.has_value();
    r->ip_support = cfg.ip_support;
    r->pool = pool;
    r->mtu = cfg.mtu;
    r->downlink = cfg.downlink;
    r->uplink_up = cfg.uplink_up;
    r->uplink_down = cfg.uplink_down;
    r->nat = cfg.nat;
    r->nat_v6 = cfg.nat_v6;
    r->firewall = cfg.firewall;
    r->preset = cfg.preset;
    r->ra_enabled = cfg.ra_enabled;
    r->ra_interval = std::max<std::uint64_t>(1, cfg.ra_interval);
    r->ra_lifetime = cfg.ra_lifetime;
    r->wan_name = parent ? "wan" : "ix";
    r->parent_port_name = (parent ? "h" : "r") + std::to_string(id.value);
    // Allocate everything first; on any failure give it all back (the plan is transactional
    // only at this level).
    try {
      if (!parent) {
        if (wan4) {
          auto lease = plan_.alloc_ix_v4(owner);
          if (lease.new_subnet) r->new_ix_subnet = lease.subnet;
          r->wan_ip = lease.addr;
          r->wan_gw = lease.gw;
          r->wan_prefix = lease.subnet.prefix_len();
        }
        if (v6) {
          r->wan_ip6 = plan_.alloc_ix_v6(owner);
          r->wan_gw6 = core::AddressPlan::ix_gw_v6();
          r->wan_prefix6 = core::AddressPlan::ix_cidr_v6().prefix_len();
        }
      } else {
        if (wan4 && parent->hosts4) {
          r->wan_ip = parent->hosts4->alloc();
          r->wan_gw = parent->hosts4->gateway();
          r->wan_prefix = parent->lan4->prefix_len();
        }
        if (v6 && parent->hosts6) {
          r->wan_ip6 = parent->hosts6->alloc();
          r->wan_gw6 = parent->hosts6->gateway();
          r->wan_prefix6 = parent->lan6->prefix_len();
        }
      }
      if (v6) r->wan_ll6 = core::ll(core::seed2(id.value, parent ? parent->lan_switch.value : 1));
      if (v4 && cfg.region_bridge) {
        // The region bridge: the first /24 of the block, hosts (sub-router WANs) from .10.
        r->lan4 = cfg.region_bridge->bridge_subnet;
        r->hosts4 = std::make_unique<core::HostPoolV4>(*r->lan4, 10, host_pool_msg(owner, *r->lan4, 244));
      } else if (v4) {
        if (cfg.cidr) {
          plan_.reserve_v4(*cfg.cidr, owner);
          r->lan4 = *cfg.cidr;
          r->lan4_override = true;
        } else {
          r->lan4 = plan_.alloc_downstream_v4(pool, r->region, owner);
        }
        std::uint64_t hosts = r->lan4->size() - 3;  // network, gateway, broadcast
        r->hosts4 = std::make_unique<core::HostPoolV4>(*r->lan4, 2, host_pool_msg(owner, *r->lan4, hosts));
      }
      if (v6 && cfg.region_bridge) {
        r->lan6 = cfg.region_bridge->bridge_v6;
        r->hosts6 = std::make_unique<core::HostPoolV6>(
            *r->lan6, 0x10, "region bridge " + r->lan6->to_string() + " of " + owner + " exhausted");
        r->lan_ll6 = core::ll(core::seed3(id.value, r->lan_switch.value, 0xA5A5));
      } else if (v6) {
        if (cfg.cidr6) {
          plan_.reserve_v6(*cfg.cidr6, owner);
          r->lan6 = *cfg.cidr6;
          r->lan6_override = true;
        } else {
          r->lan6 = plan_.alloc_downstream_v6(pool == AddressPool::Public, owner);
        }
        r->hosts6 = std::make_unique<core::HostPoolV6>(
            *r->lan6, 2,
            "downstream subnet " + r->lan6->to_string() + " of " + owner +
                " exhausted; use downstream_cidr_v6 with a shorter prefix");
        r->lan_ll6 = core::ll(core::seed3(id.value, r->lan_switch.value, 0xA5A5));
      }
      if (cfg.nat_v6 == NatV6Mode::Nptv6) r->npt_ext = alloc_npt_prefix(*r, owner);
    } catch (...) {
      release_router_allocs(*r);
      throw;
    }
    next_id_ += 2;
    names_.emplace(cfg.name, id);
    routers_.emplace(id.value, r);
    if (parent) parent->children.insert(id);
    routes = routes_for(*r);
    r->ancestor_routes = routes;
  }

  try {
    r->ns = adopt(setup_->take());
    std::vector<sys::Sysctl> sc{{"net/ipv4/conf/all/send_redirects", "0"},
                                {"net/ipv4/conf/default/send_redirects", "0"},
                                {"net/ipv4/conf/all/rp_filter", "0"},
                                {"net/ipv4/conf/default/rp_filter", "0"}};
    if (wan4) sc.push_back({"net/ipv4/ip_forward", "1"});
    if (v6) sc.push_back({"net/ipv6/conf/all/forwarding", "1"});
    for (auto& b : bridge_sysctls()) sc.push_back(b);
    setup_->in_netns(r->ns->fd.get(), [&] { sys::write_sysctls(sc); });

    // LAN bridge with the gateway addresses.
    sys::NlBatch lan(owner + ": build");
    r->lan_ifindex = r->ns->alloc_ifindex();
    sys::add_bridge(lan, r->lan_name, r->lan_ifindex, mac_for(r->id, kLanBridge), cfg.mtu.value_or(0));
    if (r->lan4) sys::add_addr(lan, r->lan_ifindex, *r->gw4(), r->lan4->prefix_len());
    if (r->lan6) {
      // No DAD on the LAN gateway: a bridge without ports has no carrier, so the address would
      // stay tentative until the first device joined (it is unique by construction).
      sys::add_addr(lan, r->lan_ifindex, *r->gw6(), r->lan6->prefix_len());
      sys::add_addr(lan, r->lan_ifindex, *r->lan_ll6, 64);
    }
    r->ns->commit(lan);

    // Uplink: a veth whose router end is "ix"/"wan" and whose other end is a port on the
    // parent's bridge (or the IX bridge in the lab root).
    if (r->new_ix_subnet) {
      // The IX grew into a new /24: the lab root answers as its gateway.
      sys::NlBatch ib(owner + ": extend IX");
      sys::add_addr(ib, ix_->bridge_ifindex, *r->wan_gw, r->new_ix_subnet->prefix_len());
      ix_->ns->commit(ib);
    }
    Netns& up_ns = parent ? *parent->ns : *ix_->ns;
    int up_bridge = parent ? parent->lan_ifindex : ix_->bridge_ifindex;
    r->wan_ifindex = r->ns->alloc_ifindex();
    r->parent_port_ifindex = up_ns.alloc_ifindex();
    sys::LinkEnd port{
        r->parent_port_name, r->parent_port_ifindex, mac_for(r->id, kParentPort), -1, up_bridge, true,
        cfg.mtu.value_or(0)};
    sys::LinkEnd wan{r->wan_name, r->wan_ifindex, mac_for(r->id, kWan), r->ns->fd.get(),
                     0,           false,          cfg.mtu.value_or(0)};
    sys::NlBatch ub(owner + ": build uplink");
    sys::add_veth(ub, port, wan);
    up_ns.commit(ub);

    sys::NlBatch wb(owner + ": build uplink");
    sys::set_link(wb, r->wan_ifindex, true, std::nullopt, std::nullopt, "bring up " + r->wan_name);
    if (r->wan_ip) sys::add_addr(wb, r->wan_ifindex, *r->wan_ip, r->wan_prefix);
    if (r->wan_ip6) sys::add_addr(wb, r->wan_ifindex, *r->wan_ip6, r->wan_prefix6, !dad());
    if (r->wan_ll6) sys::add_addr(wb, r->wan_ifindex, *r->wan_ll6, 64);
    if (r->wan_gw) sys::add_route(wb, sys::default_route(*r->wan_gw, r->wan_ifindex));
    if (r->wan_gw6) sys::add_route(wb, sys::default_route(*r->wan_gw6, r->wan_ifindex));
    r->ns->commit(wb);
    if (dad() && v6) wait_dad(*r->ns, owner);
    install_routes(routes);
    apply_netfilter_at_build(*r);
    if (cfg.block_frag_needed) set_block_frag_needed(*r, true, false);
    if (r->nat_v6 != NatV6Mode::None) apply_nat_v6(*r, r->nat_v6);
  } catch (...) {
    remove_routes(routes);
    if (r->nat_attached) nat_controller().detach(r->id);
    std::lock_guard lk(mu_);
    names_.erase(cfg.name);
    routers_.erase(r->id.value);
    if (parent) parent->children.erase(r->id);
    release_router_allocs(*r);
    r->ns.reset();
    throw;
  }
  r->alive = true;
  publish_sink(r->id, r->log);
  if (r->region && !r->region_router) region_router_added(*r);
  if (r->downlink || r->uplink_up || r->uplink_down || engine_if_started()) {
    try {
      attach_router_links(*r);
    } catch (...) {
      try {
        remove_router(r->id);
      } catch (const Error&) {
      }
      throw;
    }
  }
  auto fields = router_state(*r);
  fields["name"] = r->name;
  emit("router_added", std::move(fields));
  return r;
}

// Lab lock held.
void LabCore::release_router_allocs(RouterRec& r) {
  std::shared_ptr<RouterRec> parent;
  if (r.upstream) {
    auto it = routers_.find(r.upstream->value);
    if (it != routers_.end()) parent = it->second;
  }
  auto quiet = [](auto&& f) {
    try {
      f();
    } catch (const Error&) {
    }
  };
  if (r.wan_ip) {
    if (parent && parent->hosts4)
      quiet([&] { parent->hosts4->release(*r.wan_ip); });
    else if (!parent)
      quiet([&] { plan_.release_ix_v4(*r.wan_ip); });
  }
  if (r.wan_ip6) {
    if (parent && parent->hosts6)
      quiet([&] { parent->hosts6->release(*r.wan_ip6); });
    else if (!parent)
      quiet([&] { plan_.release_ix_v6(*r.wan_ip6); });
  }
  if (r.region_router) return;  // the region's bridge subnets belong to the region for good
  if (r.lan4) quiet([&] { plan_.release_v4(*r.lan4); });
  if (r.lan6) quiet([&] { plan_.release_v6(*r.lan6); });
  if (r.npt_ext) quiet([&] { plan_.release_v6(*r.npt_ext); });
}

void LabCore::remove_router(NodeId id) {
  std::shared_ptr<RouterRec> r;
  std::shared_ptr<RouterRec> parent;
  {
    std::lock_guard lk(mu_);
    auto it = routers_.find(id.value);
    if (it == routers_.end() || !it->second->alive)
      throw NotFound("remove_router", "router " + std::to_string(id.value) + " does not exist");
    r = it->second;
    if (r->region_router)
      throw InvalidArgument(r->describe(), "remove_router: region routers live as long as the lab");
    std::string users;
    for (auto& [dev, ifs] : r->attached) {
      auto d = devices_.find(dev.value);
      users += (users.empty() ? "" : ", ") + std::string("device '") +
               (d != devices_.end() ? d->second->name : std::to_string(dev.value)) + "'";
    }
    for (auto child : r->children) {
      auto c = routers_.find(child.value);
      users += (users.empty() ? "" : ", ") + std::string("router '") +
               (c != routers_.end() ? c->second->name : std::to_string(child.value)) + "'";
    }
    if (!users.empty()) throw InUse(r->describe(), "remove_router: still connected: " + users);
    r->alive = false;
    withdraw_sink(r->id);
    routers_.erase(it);
    names_.erase(r->name);
    if (r->upstream) {
      auto p = routers_.find(r->upstream->value);
      if (p != routers_.end()) {
        parent = p->second;
        parent->children.erase(r->id);
      }
    }
    release_router_allocs(*r);
  }
  std::lock_guard nlk(r->mu);
  terminate_children(r->id);
  r->stop_workers();
  stop_ra(*r);
  stop_nat64(*r);
  detach_router_links(*r);
  if (r->region) region_router_removed(*r);
  if (r->nat_attached) nat_controller().detach(r->id);
  // Closed only now: the RA service, NAT64 and the NAT controller log for the router until they
  // are stopped, and their last records belong in its files.
  if (r->log) r->log->close();
  remove_routes(r->ancestor_routes);
  // Delete the parent-side port explicitly: the namespace may outlive us if a user still holds a
  // socket in it, and its uplink must not stay attached with an address that will be reused.
  try {
    sys::NlBatch b(r->describe() + ": remove");
    sys::del_link(b, r->parent_port_ifindex, "delete port " + r->parent_port_name);
    (parent ? *parent->ns : *ix_->ns).commit(b);
  } catch (const Error&) {
  }
  r->ns.reset();
  emit("router_removed", {{"name", r->name}});
}

// ---- devices ----

std::shared_ptr<DeviceRec> LabCore::build_device(const DeviceConfig& cfg) {
  validate_node_name("device", cfg.name);
  const std::string owner = "device '" + cfg.name + "'";
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

  std::shared_ptr<DeviceRec> d;
  std::map<std::uint64_t, std::shared_ptr<RouterRec>> rts;
  {
    std::lock_guard lk(mu_);
    if (closing_) throw Removed(owner, "the lab is shut down");
    if (names_.count(cfg.name)) throw AlreadyExists(owner, "build: the name is already used by another node");
    for (auto& [ifn, rid] : cfg.ifaces) {
      auto it = routers_.find(rid.value);
      if (it == routers_.end() || !it->second->alive)
        throw NotFound(
            owner, "build: interface '" + ifn + "': router " + std::to_string(rid.value) + " does not exist");
      rts[rid.value] = it->second;
    }
    NodeId id{next_id_};
    d = std::make_shared<DeviceRec>(NodeKind::Device, id, cfg.name);
    d->log = make_node_log(NodeKind::Device, cfg.name);
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
    next_id_ = next;
    names_.emplace(cfg.name, id);
    devices_.emplace(id.value, d);
    for (auto& i : d->ifaces) rts[i.router.value]->attached[id].insert(i.name);
  }

  try {
    d->ns = adopt(setup_->take());
    const std::uint32_t mtu = cfg.mtu.value_or(0);
    // One veth per interface, created from the router's side: its end joins the LAN bridge, the
    // peer appears in the device under the user's interface name.
    std::map<std::uint64_t, sys::NlBatch> per_router;
    for (auto& i : d->ifaces) {
      auto& rt = rts[i.router.value];
      i.ifindex = d->ns->alloc_ifindex();
      i.port_ifindex = rt->ns->alloc_ifindex();
      // The router's MTU covers its LAN ports (SPEC 11); the device end keeps the device's.
      sys::LinkEnd port{"v" + std::to_string(i.id.value),
                        i.port_ifindex,
                        mac_for(i.id, kDevPort),
                        -1,
                        rt->lan_ifindex,
                        true,
                        rt->mtu.value_or(mtu)};
      sys::LinkEnd dev{i.name, i.ifindex, mac_for(i.id, kDevIface), d->ns->fd.get(), 0, false, mtu};
      auto [it, fresh] = per_router.try_emplace(i.router.value, owner + ": build");
      sys::add_veth(it->second, port, dev);
    }
    for (auto& [rid, b] : per_router) rts[rid]->ns->commit(b);

    sys::NlBatch db(owner + ": build");
    for (auto& i : d->ifaces) {
      sys::set_link(db, i.ifindex, true, std::nullopt, std::nullopt, "bring up " + i.name);
      if (i.ip) sys::add_addr(db, i.ifindex, *i.ip, i.prefix);
      if (i.ip6) sys::add_addr(db, i.ifindex, *i.ip6, i.prefix6, !dad());
      if (i.ll6) sys::add_addr(db, i.ifindex, *i.ll6, 64);
    }
    const IfaceRec& def = *d->find(default_if);
    if (def.gw) sys::add_route(db, sys::default_route(*def.gw, def.ifindex));
    // RA-driven devices learn their IPv6 default route from the router's advertisements.
    if (def.gw6 && !ra_driven(*d)) sys::add_route(db, sys::default_route(*def.gw6, def.ifindex));
    d->ns->commit(db);
    if (dad() && std::any_of(d->ifaces.begin(), d->ifaces.end(), [](auto& i) { return i.ip6.has_value(); }))
      wait_dad(*d->ns, owner);
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
    std::lock_guard lk(mu_);
    names_.erase(cfg.name);
    devices_.erase(d->id.value);
    release_device_allocs(*d);
    d->ns.reset();
    throw;
  }
  d->alive = true;
  publish_sink(d->id, d->log);
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

// Lab lock held.
void LabCore::release_device_allocs(DeviceRec& d) {
  for (auto& i : d.ifaces) release_iface_addrs(i, d.id);
}

void LabCore::remove_device(NodeId id) {
  std::shared_ptr<DeviceRec> d;
  std::vector<std::pair<std::shared_ptr<RouterRec>, int>> ports;
  {
    std::lock_guard lk(mu_);
    auto it = devices_.find(id.value);
    if (it == devices_.end() || !it->second->alive)
      throw NotFound("remove_device", "device " + std::to_string(id.value) + " does not exist");
    d = it->second;
    d->alive = false;
    withdraw_sink(d->id);
    devices_.erase(it);
    names_.erase(d->name);
    for (auto& i : d->ifaces) {
      auto r = routers_.find(i.router.value);
      if (r != routers_.end()) ports.emplace_back(r->second, i.port_ifindex);
    }
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
