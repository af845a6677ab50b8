// Turning router configurations into namespaces, bridges, uplinks, addresses and routes, and back.
#include <algorithm>

#include "core/ids.hpp"
#include "core/lab_core.hpp"
#include "core/macs.hpp"
#include "patchbay/consts.hpp"
#include "sys/sysctl.hpp"

namespace patchbay::detail {

namespace {

std::string host_pool_msg(const std::string& owner, const auto& net, std::uint64_t hosts) {
  return "downstream subnet " + net.to_string() + " of " + owner + " exhausted (" + std::to_string(hosts) +
         " hosts); use downstream_cidr with a shorter prefix";
}

// The LAN pool of a router that names none (SPEC 3): NAT kinds not listed get a private pool.
constexpr std::pair<Nat::Kind, AddressPool> kPoolByNat[] = {
    {Nat::Kind::None, AddressPool::Public},  // routed: its LAN is reachable from everywhere
    {Nat::Kind::Cgnat, AddressPool::Cgnat},  // 100.64.0.0/10 behind carrier-grade NAT
};

AddressPool default_pool(Nat::Kind k) {
  for (auto [kind, pool] : kPoolByNat)
    if (kind == k) return pool;
  return AddressPool::Private;
}

// Everything about a router configuration that can be refused before anything is allocated.
void validate_router(const RouterConfig& cfg, const std::string& owner) {
  if (!cfg.region_bridge) validate_node_name("router", cfg.name);
  const bool v4 = has_v4(cfg.ip_support), v6 = has_v6(cfg.ip_support);
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
}

// NAT64 needs an IPv4 uplink even for an IPv6-only LAN (RouterPreset::IspV6, SPEC 4.6).
bool needs_wan4(const RouterConfig& cfg) {
  return has_v4(cfg.ip_support) || cfg.nat_v6 == NatV6Mode::Nat64;
}

// The record of a new router: its configuration and names, no addresses yet.
std::shared_ptr<RouterRec> router_record(const RouterConfig& cfg, NodeId id, std::uint64_t lab_seq,
                                         const RouterRec* parent) {
  auto r = std::make_shared<RouterRec>(NodeKind::Router, id, cfg.name);
  r->lan_switch = NodeId{id.value + 1};
  r->ns_label = "lab" + std::to_string(lab_seq) + "-r" + std::to_string(id.value);
  r->upstream = cfg.upstream;
  r->region = cfg.region ? cfg.region : parent ? parent->region : std::nullopt;
  r->region_router = cfg.region_bridge.has_value();
  r->ip_support = cfg.ip_support;
  r->pool = cfg.pool.value_or(default_pool(cfg.nat.kind()));  // explicit or from a preset
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
  return r;
}

}  // namespace

std::shared_ptr<RouterRec> LabCore::build_router(const RouterConfig& cfg) {
  const std::string owner = "router '" + cfg.name + "'";
  validate_router(cfg, owner);
  const bool v4 = has_v4(cfg.ip_support), v6 = has_v6(cfg.ip_support);
  std::shared_ptr<RouterRec> r;
  std::shared_ptr<RouterRec> parent;
  std::vector<AncestorRoute> routes;
  {
    std::lock_guard lk(plan_mu_);
    if (closing_) throw Removed(owner, "the lab is shut down");
    if (nodes_.name_taken(cfg.name))
      throw AlreadyExists(owner, "build: the name is already used by another node");
    if (cfg.upstream) {
      parent = nodes_.live_router(*cfg.upstream);
      if (!parent)
        throw NotFound(owner,
                       "build: upstream router " + std::to_string(cfg.upstream->value) + " does not exist");
      if (v4 && !parent->hosts4 && !v6)
        throw InvalidArgument(owner, "build: upstream " + parent->describe() + " has no IPv4 LAN");
      if (v6 && !parent->hosts6 && !v4)
        throw InvalidArgument(owner, "build: upstream " + parent->describe() + " has no IPv6 LAN");
    }
    const NodeId id = nodes_.next_id();
    r = router_record(cfg, id, seq_, parent.get());
    r->log = logs_->make(consts::kKindRouter, cfg.name);
    // Allocate everything first; on any failure give it all back (the plan is transactional
    // only at this level).
    try {
      alloc_router_addrs(*r, cfg, parent.get(), owner);
    } catch (...) {
      release_router_allocs(*r);
      throw;
    }
    nodes_.add(r, 2);  // the router and its LAN switch
    if (parent) parent->children.insert(id);
    routes = routes_for(*r);
    r->ancestor_routes = routes;
  }

  try {
    r->ns = wiring_->new_namespace();
    wiring_->wire_router(plan_router(*r, parent.get(), wiring_context()), *r->ns, r->describe());
    install_routes(routes);
    nat_->apply_at_build(*r, cfg.block_frag_needed);
  } catch (...) {
    remove_routes(routes);
    if (r->nat_attached) services_->nat_controller().detach(r->id);
    std::lock_guard lk(plan_mu_);
    nodes_.erase(r->id);
    if (parent) parent->children.erase(r->id);
    release_router_allocs(*r);
    r->ns.reset();
    throw;
  }
  r->alive = true;
  logs_->publish(r->id, r->log);
  if (r->region && !r->region_router) regions_->router_added(*r, routes);
  try {
    links_->attach_router_links(*r);
  } catch (...) {
    try {
      remove_router(r->id);
    } catch (const Error&) {
    }
    throw;
  }
  auto fields = router_state(*r);
  fields["name"] = r->name;
  emit("router_added", std::move(fields));
  return r;
}

void LabCore::alloc_router_addrs(RouterRec& r, const RouterConfig& cfg, const RouterRec* parent,
                                 const std::string& owner) {
  const bool v4 = has_v4(cfg.ip_support), v6 = has_v6(cfg.ip_support), wan4 = needs_wan4(cfg);
  const NodeId id = r.id;
  if (!parent) {
    if (wan4) {
      auto lease = plan_.alloc_ix_v4(owner);
      if (lease.new_subnet) r.new_ix_subnet = lease.subnet;
      r.wan_ip = lease.addr;
      r.wan_gw = lease.gw;
      r.wan_prefix = lease.subnet.prefix_len();
    }
    if (v6) {
      r.wan_ip6 = plan_.alloc_ix_v6(owner);
      r.wan_gw6 = core::AddressPlan::ix_gw_v6();
      r.wan_prefix6 = core::AddressPlan::ix_cidr_v6().prefix_len();
    }
  } else {
    if (wan4 && parent->hosts4) {
      r.wan_ip = parent->hosts4->alloc();
      r.wan_gw = parent->hosts4->gateway();
      r.wan_prefix = parent->lan4->prefix_len();
    }
    if (v6 && parent->hosts6) {
      r.wan_ip6 = parent->hosts6->alloc();
      r.wan_gw6 = parent->hosts6->gateway();
      r.wan_prefix6 = parent->lan6->prefix_len();
    }
  }
  if (v6) r.wan_ll6 = core::ll(core::seed2(id.value, parent ? parent->lan_switch.value : 1));
  if (v4 && cfg.region_bridge) {
    // The region bridge: the first /24 of the block, hosts (sub-router WANs) from .10.
    r.lan4 = cfg.region_bridge->bridge_subnet;
    r.hosts4 = std::make_unique<core::HostPoolV4>(*r.lan4, 10, host_pool_msg(owner, *r.lan4, 244));
  } else if (v4) {
    if (cfg.cidr) {
      plan_.reserve_v4(*cfg.cidr, owner);
      r.lan4 = *cfg.cidr;
      r.lan4_override = true;
    } else {
      r.lan4 = plan_.alloc_downstream_v4(r.pool, r.region, owner);
    }
    std::uint64_t hosts = r.lan4->size() - 3;  // network, gateway, broadcast
    r.hosts4 = std::make_unique<core::HostPoolV4>(*r.lan4, 2, host_pool_msg(owner, *r.lan4, hosts));
  }
  if (v6 && cfg.region_bridge) {
    r.lan6 = cfg.region_bridge->bridge_v6;
    r.hosts6 = std::make_unique<core::HostPoolV6>(
        *r.lan6, 0x10, "region bridge " + r.lan6->to_string() + " of " + owner + " exhausted");
    r.lan_ll6 = core::ll(core::seed3(id.value, r.lan_switch.value, 0xA5A5));
  } else if (v6) {
    if (cfg.cidr6) {
      plan_.reserve_v6(*cfg.cidr6, owner);
      r.lan6 = *cfg.cidr6;
      r.lan6_override = true;
    } else {
      r.lan6 = plan_.alloc_downstream_v6(r.pool == AddressPool::Public, owner);
    }
    r.hosts6 =
        std::make_unique<core::HostPoolV6>(*r.lan6, 2,
                                           "downstream subnet " + r.lan6->to_string() + " of " + owner +
                                               " exhausted; use downstream_cidr_v6 with a shorter prefix");
    r.lan_ll6 = core::ll(core::seed3(id.value, r.lan_switch.value, 0xA5A5));
  }
  if (cfg.nat_v6 == NatV6Mode::Nptv6) r.npt_ext = alloc_npt_prefix(r, owner);
}

// Plan lock held.
void LabCore::release_router_allocs(RouterRec& r) {
  std::shared_ptr<RouterRec> parent = r.upstream ? nodes_.router(*r.upstream) : nullptr;
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
    std::lock_guard lk(plan_mu_);
    r = nodes_.live_router(id);
    if (!r) throw NotFound("remove_router", "router " + std::to_string(id.value) + " does not exist");
    if (r->region_router)
      throw InvalidArgument(r->describe(), "remove_router: region routers live as long as the lab");
    std::string users;
    auto user = [&](const char* kind, NodeId n) {
      auto name = nodes_.name_of(n);
      users += (users.empty() ? "" : ", ") + std::string(kind) + " '" +
               (name.empty() ? std::to_string(n.value) : name) + "'";
    };
    for (auto& [dev, ifs] : r->attached) user("device", dev);
    for (auto child : r->children) user("router", child);
    if (!users.empty()) throw InUse(r->describe(), "remove_router: still connected: " + users);
    r->alive = false;
    logs_->withdraw(r->id);
    nodes_.erase(id);
    if (r->upstream) {
      parent = nodes_.router(*r->upstream);
      if (parent) parent->children.erase(r->id);
    }
    release_router_allocs(*r);
  }
  std::lock_guard nlk(r->mu);
  terminate_children(r->id);
  r->stop_workers();
  ra_->stop(*r);
  nat_->stop_nat64(*r);
  links_->detach_router_links(*r);
  if (r->region) regions_->router_removed(*r, r->ancestor_routes);
  if (r->nat_attached) services_->nat_controller().detach(r->id);
  // Closed only now: the RA service, NAT64 and the NAT controller log for the router until they
  // are stopped, and their last records belong in its files.
  if (r->log) r->log->close();
  remove_routes(r->ancestor_routes);
  // Delete the parent-side port explicitly: the namespace may outlive us if a user still holds a
  // socket in it, and its uplink must not stay attached with an address that will be reused.
  try {
    sys::NlBatch b(r->describe() + ": remove");
    sys::del_link(b, r->parent_port_ifindex, "delete port " + r->parent_port_name);
    (parent ? *parent->ns : *ix()->ns).commit(b);
  } catch (const Error&) {
  }
  r->ns.reset();
  emit("router_removed", {{"name", r->name}});
}

}  // namespace patchbay::detail
