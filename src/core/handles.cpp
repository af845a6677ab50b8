// Accessors of the Router, Device, Iface and Ix handles.
#include <functional>
#include <mutex>

#include "core/lab_core.hpp"
#include "patchbay/lab.hpp"

namespace patchbay {

using detail::DeviceRec;
using detail::IfaceRec;
using detail::RouterRec;

namespace {

std::shared_ptr<RouterRec> as_router(const std::shared_ptr<detail::NodeRec>& n) {
  return std::static_pointer_cast<RouterRec>(n);
}
std::shared_ptr<DeviceRec> as_device(const std::shared_ptr<detail::NodeRec>& n) {
  return std::static_pointer_cast<DeviceRec>(n);
}

// Calls fn on the record with the record's mutex held. The result is returned by value, so a field
// named by a member pointer (&RouterRec::nat) is copied before the lock is released.
template <class Rec, class Fn>
auto locked(const std::shared_ptr<Rec>& rec, Fn&& fn) {
  std::lock_guard lk(rec->mu);
  return std::invoke(std::forward<Fn>(fn), *rec);
}

}  // namespace

// ---- Router ----

std::optional<NodeId> Router::upstream() const {
  return locked(as_router(rec()), &RouterRec::upstream);
}
std::optional<std::string> Router::region() const {
  auto c = core();
  return c->regions().name_of(locked(as_router(rec()), &RouterRec::region));
}
IpSupport Router::ip_support() const {
  return locked(as_router(rec()), &RouterRec::ip_support);
}
AddressPool Router::downstream_pool() const {
  return locked(as_router(rec()), &RouterRec::pool);
}
std::optional<std::uint32_t> Router::mtu() const {
  return locked(as_router(rec()), &RouterRec::mtu);
}
std::optional<Ipv4Addr> Router::uplink_ip() const {
  return locked(as_router(rec()), &RouterRec::wan_ip);
}
std::optional<Ipv6Addr> Router::uplink_ip_v6() const {
  return locked(as_router(rec()), &RouterRec::wan_ip6);
}
std::optional<Ipv4Net> Router::downstream_cidr() const {
  return locked(as_router(rec()), &RouterRec::lan4);
}
std::optional<Ipv4Addr> Router::downstream_gw() const {
  return locked(as_router(rec()), &RouterRec::gw4);
}
std::optional<Ipv6Net> Router::downstream_cidr_v6() const {
  return locked(as_router(rec()), &RouterRec::lan6);
}
std::optional<Ipv6Addr> Router::downstream_gw_v6() const {
  return locked(as_router(rec()), &RouterRec::gw6);
}
std::string Router::downstream_bridge() const {
  return locked(as_router(rec()), &RouterRec::lan_name);
}

Nat Router::nat_mode() const {
  return locked(as_router(rec()), &RouterRec::nat);
}
NatV6Mode Router::nat_v6_mode() const {
  return locked(as_router(rec()), &RouterRec::nat_v6);
}
Firewall Router::firewall() const {
  return locked(as_router(rec()), &RouterRec::firewall);
}
std::optional<RouterPreset> Router::preset() const {
  return locked(as_router(rec()), &RouterRec::preset);
}

std::vector<RouterIface> Router::interfaces() const {
  return locked(as_router(rec()), [](const RouterRec& r) {
    return std::vector<RouterIface>{RouterIface{r.wan_name, r.wan_ip, r.wan_ip6, r.wan_ll6},
                                    RouterIface{r.lan_name, r.gw4(), r.gw6(), r.lan_ll6}};
  });
}

std::optional<RouterIface> Router::iface(std::string_view name) const {
  for (auto& i : interfaces())
    if (i.name == name) return i;
  return std::nullopt;
}

void Router::set_nat_mode(Nat nat) {
  auto c = core();
  locked(as_router(rec()), [&](RouterRec& r) { c->set_nat(r, nat); });
}

void Router::flush_nat_state() {
  auto c = core();
  locked(as_router(rec()), [&](RouterRec& r) { c->nat().flush_state(r); });
}

std::vector<NatBinding> Router::nat_mappings() const {
  auto c = core();
  return locked(as_router(rec()), [&](RouterRec& r) { return c->nat().mappings(r); });
}

void Router::set_firewall(Firewall fw) {
  auto c = core();
  locked(as_router(rec()), [&](RouterRec& r) { c->nat().set_firewall(r, fw); });
}

void Router::set_nat_v6_mode(NatV6Mode m) {
  auto c = core();
  locked(as_router(rec()), [&](RouterRec& r) { c->set_nat_v6(r, m); });
}
std::optional<Ipv6Net> Router::nptv6_prefix() const {
  return locked(as_router(rec()),
                [](const RouterRec& r) { return r.nat_v6 == NatV6Mode::Nptv6 ? r.npt_ext : std::nullopt; });
}

bool Router::ra_enabled() const {
  return locked(as_router(rec()), &RouterRec::ra_enabled);
}
std::uint64_t Router::ra_interval_secs() const {
  return locked(as_router(rec()), &RouterRec::ra_interval);
}
std::uint64_t Router::ra_lifetime_secs() const {
  return locked(as_router(rec()), &RouterRec::ra_lifetime);
}
void Router::set_ra_enabled(bool on) {
  auto c = core();
  locked(as_router(rec()), [&](RouterRec& r) { c->ra().set_ra(r, on, std::nullopt, std::nullopt); });
}
void Router::set_ra_interval_secs(std::uint64_t s) {
  auto c = core();
  locked(as_router(rec()), [&](RouterRec& r) { c->ra().set_ra(r, std::nullopt, s, std::nullopt); });
}
void Router::set_ra_lifetime_secs(std::uint64_t s) {
  auto c = core();
  locked(as_router(rec()), [&](RouterRec& r) { c->ra().set_ra(r, std::nullopt, std::nullopt, s); });
}

bool Router::block_icmp_frag_needed() const {
  return locked(as_router(rec()), &RouterRec::block_frag_needed);
}
void Router::set_block_icmp_frag_needed(bool on) {
  auto c = core();
  locked(as_router(rec()), [&](RouterRec& r) { c->nat().set_block_frag_needed(r, on); });
}

std::optional<LinkCondition> Router::downlink_condition() const {
  return locked(as_router(rec()), &RouterRec::downlink);
}
void Router::set_downlink_condition(std::optional<LinkCondition> cond) {
  auto c = core();
  locked(as_router(rec()), [&](RouterRec& r) { c->links().set_downlink_condition(r, std::move(cond)); });
}
LinkCounters Router::downlink_stats() const {
  auto c = core();
  auto r = as_router(rec());
  return c->links().downlink_stats(*r);
}
std::optional<LinkCondition> Router::uplink_condition(LinkDirection dir) const {
  return locked(as_router(rec()),
                [&](const RouterRec& r) { return dir == LinkDirection::Down ? r.uplink_down : r.uplink_up; });
}
void Router::set_uplink_condition(std::optional<LinkCondition> cond, LinkDirection dir) {
  auto c = core();
  locked(as_router(rec()), [&](RouterRec& r) { c->links().set_uplink_condition(r, std::move(cond), dir); });
}
LinkStats Router::uplink_stats() const {
  auto c = core();
  auto r = as_router(rec());
  return c->links().uplink_stats(*r);
}

// ---- Device ----

namespace {

IfaceSnapshot snapshot_of(const detail::LabCore& core, const DeviceRec& d, const IfaceRec& i) {
  IfaceSnapshot s;
  s.name = i.name;
  s.router = core.nodes().name_of(i.router);
  s.router_id = i.router;
  s.ip = i.ip;
  s.ip6 = i.ip6;
  s.ll6 = i.ll6;
  s.mtu = d.mtu;
  s.is_default = d.default_if == i.name;
  s.is_up = i.up;
  s.condition_up = i.cond_up;
  s.condition_down = i.cond_down;
  return s;
}

}  // namespace

void Device::set_link_condition(std::string_view ifname, std::optional<LinkCondition> cond,
                                LinkDirection dir) {
  auto c = core();
  locked(as_device(rec()), [&](DeviceRec& d) {
    auto* i = d.find(ifname);
    if (!i) throw NotFound(d.describe(), "set_link_condition: no interface '" + std::string(ifname) + "'");
    c->links().set_iface_condition(d, *i, std::move(cond), dir);
  });
}

std::optional<Ipv4Addr> Device::ip() const {
  return locked(as_device(rec()), [](DeviceRec& d) { return d.find(d.default_if)->ip; });
}

std::optional<Ipv6Addr> Device::ip6() const {
  return locked(as_device(rec()), [](DeviceRec& d) { return d.find(d.default_if)->ip6; });
}

std::optional<std::uint32_t> Device::mtu() const {
  return locked(as_device(rec()), &DeviceRec::mtu);
}

std::optional<Iface> Device::iface(std::string_view name) const {
  if (!locked(as_device(rec()), [&](DeviceRec& d) { return d.find(name) != nullptr; })) return std::nullopt;
  return Iface(lab_, id_, std::string(name));
}

Iface Device::default_iface() const {
  return Iface(lab_, id_, locked(as_device(rec()), &DeviceRec::default_if));
}

std::vector<Iface> Device::interfaces() const {
  return locked(as_device(rec()), [&](const DeviceRec& d) {
    std::vector<Iface> out;
    for (auto& i : d.ifaces) out.push_back(Iface(lab_, id_, i.name));
    return out;
  });
}

// ---- Iface ----

namespace {

// Calls fn(core, device, iface) with the device's mutex held; Removed once the device or the
// interface is gone.
template <class Fn>
auto with_iface(const std::weak_ptr<detail::LabCore>& lab, NodeId dev, const std::string& name, Fn&& fn) {
  const std::string what = "interface '" + name + "'";
  detail::LabRef c(lab, what);
  auto d = c->nodes().device(dev);
  if (!d || !d->alive) throw Removed(what, "its device has been removed");
  return locked(d, [&](DeviceRec& rec) {
    auto* i = rec.find(name);
    if (!i) throw Removed(what, "the interface has been removed from device '" + rec.name + "'");
    return fn(*c, rec, *i);
  });
}

}  // namespace

IfaceSnapshot Iface::snapshot() const {
  return with_iface(
      lab_, device_, name_,
      [](const detail::LabCore& c, const DeviceRec& d, const IfaceRec& i) { return snapshot_of(c, d, i); });
}

std::optional<Ipv4Addr> Iface::ip() const {
  return snapshot().ip;
}
std::optional<Ipv6Addr> Iface::ip6() const {
  return snapshot().ip6;
}
std::optional<Ipv6Addr> Iface::ll6() const {
  return snapshot().ll6;
}
NodeId Iface::router() const {
  return snapshot().router_id;
}
bool Iface::is_default() const {
  return snapshot().is_default;
}
bool Iface::is_up() const {
  return snapshot().is_up;
}
std::optional<LinkCondition> Iface::condition(LinkDirection dir) const {
  auto s = snapshot();
  return dir == LinkDirection::Down ? s.condition_down : s.condition_up;
}
void Iface::set_condition(LinkCondition cond, LinkDirection dir) {
  with_iface(lab_, device_, name_, [&](detail::LabCore& c, DeviceRec& d, IfaceRec& i) {
    c.links().set_iface_condition(d, i, std::move(cond), dir);
  });
}
void Iface::clear_condition(LinkDirection dir) {
  with_iface(lab_, device_, name_, [&](detail::LabCore& c, DeviceRec& d, IfaceRec& i) {
    c.links().set_iface_condition(d, i, std::nullopt, dir);
  });
}
LinkStats Iface::link_stats() const {
  return with_iface(lab_, device_, name_, [](detail::LabCore& c, DeviceRec& d, IfaceRec& i) {
    return c.links().iface_link_stats(d, i);
  });
}

// ---- Ix ----

Ipv4Addr Ix::gw() const {
  return core::AddressPlan::ix_gw();
}
Ipv6Addr Ix::gw_v6() const {
  return core::AddressPlan::ix_gw_v6();
}
Ipv4Net Ix::cidr() const {
  return core::AddressPlan::ix_cidr();
}
Ipv6Net Ix::cidr_v6() const {
  return core::AddressPlan::ix_cidr_v6();
}
std::string Ix::bridge() const {
  auto c = core();
  return c->ix()->bridge;
}

}  // namespace patchbay
