// Regions (SPEC 8): hidden region routers, inter-region links through the link engine, and the
// routes that send each region's prefixes over the link (or a detour while it is broken).
//
// A region link is two veth pairs meeting in the lab's wire namespace, which has no addresses,
// no bridge and IPv6 off: the engine reads each wire end with a packet socket and writes the
// frame, after the link's condition, to the other end. Routes are keyed by destination, so
// switching between the direct link and a detour is one "replace" per prefix.
#include <algorithm>
#include <cctype>
#include <limits>

#include "core/ids.hpp"
#include "core/lab_core.hpp"
#include "core/macs.hpp"
#include "sys/sysctl.hpp"

namespace patchbay::detail {

namespace {

constexpr std::uint64_t kEngineIdBase = 0x52454700000000ULL;  // region links in the engine

bool valid_region_name(const std::string& n) {
  if (n.empty() || n.size() > 32) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::pair<std::uint32_t, std::uint32_t> key(std::uint32_t a, std::uint32_t b) {
  return a < b ? std::pair{a, b} : std::pair{b, a};
}

// "vr-<a>-<b>" when it fits IFNAMSIZ, else "vr-<ia>-<ib>" (SPEC 3.5).
std::string link_ifname(const std::string& a, const std::string& b, std::uint32_t ia, std::uint32_t ib) {
  std::string n = "vr-" + a + "-" + b;
  if (n.size() <= 15) return n;
  return "vr-" + std::to_string(ia) + "-" + std::to_string(ib);
}

}  // namespace

Netns& LabCore::wire_ns() {
  std::lock_guard lk(wire_mu_);
  if (!wire_) {
    auto ns = adopt(setup_->take());
    // Frames reach the wire ends only to be copied by the engine: no IPv6 chatter, no forwarding.
    setup_->in_netns(ns->fd.get(), [] {
      sys::write_sysctls(
          {{"net/ipv6/conf/all/disable_ipv6", "1"}, {"net/ipv6/conf/default/disable_ipv6", "1"}});
    });
    wire_ = std::move(ns);
  }
  return *wire_;
}

const RegionLinkRec* LabCore::find_link(std::uint32_t a, std::uint32_t b) const {
  auto it = region_links_.find(key(a, b));
  return it == region_links_.end() ? nullptr : &it->second;
}

LabCore::RegionView LabCore::add_region(const std::string& name) {
  if (!valid_region_name(name))
    throw InvalidArgument("region '" + name + "'",
                          "invalid name (expected 1-32 characters of [A-Za-z0-9_-])");
  std::lock_guard rl(region_mu_);
  core::AddressPlan::RegionAlloc alloc;
  {
    std::lock_guard lk(mu_);
    for (auto& r : regions_)
      if (r.name == name) throw AlreadyExists("region '" + name + "'", "add_region: the region exists");
    if (names_.count("region_" + name))
      throw AlreadyExists("region '" + name + "'", "add_region: router 'region_" + name + "' exists");
    alloc = plan_.alloc_region("region '" + name + "'");
  }
  RouterConfig cfg;
  cfg.name = "region_" + name;
  cfg.ip_support = IpSupport::DualStack;
  cfg.pool = AddressPool::Public;
  cfg.region = alloc.index;
  cfg.region_bridge = alloc;
  auto r = build_router(cfg);
  // The lab root sends the whole block to the region router (its later /24s need no new route).
  sys::Route block;
  block.family = AF_INET;
  block.dst = IpAddr(alloc.block.addr());
  block.dst_len = alloc.block.prefix_len();
  block.gateway = IpAddr(*r->wan_ip);
  sys::NlBatch b("region '" + name + "': route block");
  sys::add_route(b, block, true);
  ix_->ns->commit(b);
  {
    std::lock_guard lk(mu_);
    // A region whose router failed to build still used its index: keep indexes aligned.
    if (regions_.size() + 1 < alloc.index) regions_.resize(alloc.index - 1);
    RegionRec rec{name, r->id, alloc.index, {}};
    rec.prefixes.insert({IpAddr(alloc.block.addr()), alloc.block.prefix_len()});
    rec.prefixes.insert({IpAddr(r->lan6->addr()), r->lan6->prefix_len()});
    regions_.push_back(std::move(rec));
  }
  emit("region_added", {{"name", name}, {"router", r->name}});
  return {name, r->id, alloc.index};
}

std::vector<LabCore::RegionView> LabCore::regions() const {
  std::lock_guard lk(mu_);
  std::vector<RegionView> out;
  for (auto& r : regions_)
    if (!r.name.empty()) out.push_back({r.name, r.router, r.index});
  return out;
}

std::optional<std::string> LabCore::region_name(std::optional<std::uint32_t> index) const {
  if (!index) return std::nullopt;
  std::lock_guard lk(mu_);
  if (*index == 0 || *index > regions_.size()) return std::nullopt;
  if (regions_[*index - 1].name.empty()) return std::nullopt;
  return regions_[*index - 1].name;
}

// Routes in region `from` for every prefix of region `to`: over their direct link, or through the
// detour region while that link is broken. No link: nothing (traffic crosses the IX).
void LabCore::install_region_routes(std::uint32_t from, std::uint32_t to) {
  std::shared_ptr<RouterRec> r;
  std::set<std::pair<IpAddr, std::uint8_t>> prefixes;
  std::optional<IpAddr> gw4, gw6;
  int oif = 0;
  std::string to_name;
  {
    std::lock_guard lk(mu_);
    auto* l = find_link(from, to);
    if (!l) return;
    std::uint32_t hop = l->broken ? l->via : to;
    auto* via = find_link(from, hop);
    if (!via) return;
    bool from_is_a = via->a == from;
    gw4 = IpAddr(from_is_a ? via->alloc.b : via->alloc.a);
    gw6 = IpAddr(from_is_a ? via->alloc.b6 : via->alloc.a6);
    oif = from_is_a ? via->if_a : via->if_b;
    prefixes = regions_[to - 1].prefixes;
    to_name = regions_[to - 1].name;
    auto it = routers_.find(regions_[from - 1].router.value);
    if (it == routers_.end()) return;
    r = it->second;
  }
  sys::NlBatch b(r->describe() + ": routes to region " + to_name);
  for (auto& [dst, len] : prefixes) {
    sys::Route rt;
    rt.family = dst.is_v4() ? AF_INET : AF_INET6;
    rt.dst = dst;
    rt.dst_len = len;
    rt.gateway = dst.is_v4() ? gw4 : gw6;
    rt.oif = oif;
    sys::add_route(b, rt, true);
  }
  if (!b.empty()) r->ns->commit(b);
}

void LabCore::link_regions(std::uint32_t ia, std::uint32_t ib, const RegionLink& link) {
  std::lock_guard rl(region_mu_);
  std::shared_ptr<RouterRec> ra, rb;
  std::string na, nb;
  const std::string context = "link_regions";
  if (ia == ib) throw InvalidArgument(context, "a region cannot be linked to itself");
  auto limits = link.to_limits();
  limits.validate();
  RegionLinkRec rec;
  {
    std::lock_guard lk(mu_);
    if (ia == 0 || ib == 0 || ia > regions_.size() || ib > regions_.size())
      throw NotFound(context, "unknown region");
    na = regions_[ia - 1].name;
    nb = regions_[ib - 1].name;
    if (find_link(ia, ib))
      throw AlreadyExists(context, "regions '" + na + "' and '" + nb + "' are already linked");
    ra = routers_.at(regions_[ia - 1].router.value);
    rb = routers_.at(regions_[ib - 1].router.value);
    rec.alloc = plan_.alloc_region_link("region link " + na + "-" + nb);
  }
  if (ia > ib) {  // records keep a < b
    std::swap(ia, ib);
    std::swap(ra, rb);
    std::swap(na, nb);
  }
  rec.a = ia;
  rec.b = ib;
  rec.link = link;
  rec.engine_id = kEngineIdBase + rec.alloc.k;
  const std::string what = "region link " + na + "-" + nb;
  Netns& w = wire_ns();
  try {
    int wa = w.alloc_ifindex(), wb = w.alloc_ifindex();
    rec.if_a = ra->ns->alloc_ifindex();
    rec.if_b = rb->ns->alloc_ifindex();
    const std::string k = std::to_string(rec.alloc.k);
    auto mac = [&](std::uint64_t role) { return sys::make_mac(((0xE00000ULL + rec.alloc.k) << 4) | role); };
    sys::NlBatch wbatch(what);
    sys::add_veth(wbatch, sys::LinkEnd{"x" + k + "a", wa, mac(1), -1, 0, true, 0},
                  sys::LinkEnd{link_ifname(na, nb, ia, ib), rec.if_a, mac(2), ra->ns->fd.get(), 0, false, 0});
    sys::add_veth(wbatch, sys::LinkEnd{"x" + k + "b", wb, mac(3), -1, 0, true, 0},
                  sys::LinkEnd{link_ifname(nb, na, ib, ia), rec.if_b, mac(4), rb->ns->fd.get(), 0, false, 0});
    w.commit(wbatch);
    auto configure = [&](RouterRec& r, int ifi, Ipv4Addr a4, Ipv6Addr a6, std::uint64_t ll_seed) {
      sys::NlBatch b(what);
      sys::set_link(b, ifi, true);
      sys::add_addr(b, ifi, a4, rec.alloc.net.prefix_len());
      sys::add_addr(b, ifi, a6, rec.alloc.net6.prefix_len());
      // Neighbour discovery for forwarded packets needs a link-local source (SPEC 3.6 style).
      sys::add_addr(b, ifi, core::ll(core::seed2(r.id.value, ll_seed)), 64);
      r.ns->commit(b);
    };
    configure(*ra, rec.if_a, rec.alloc.a, rec.alloc.a6, 0xE000 + rec.alloc.k);
    configure(*rb, rec.if_b, rec.alloc.b, rec.alloc.b6, 0xE000 + rec.alloc.k);
    link::NsAccess acc;
    auto wp = wire_;
    acc.fd = wp->fd.get();
    acc.commit = [wp](sys::NlBatch& b) { wp->commit(b); };
    acc.alloc_ifindex = [wp] { return wp->alloc_ifindex(); };
    services_->engine().add_p2p(rec.engine_id, std::move(acc), wa, wb, what,
                                link::DirConfig{limits, nullptr});
  } catch (...) {
    std::lock_guard lk(mu_);
    plan_.release_region_link(rec.alloc.k);
    throw;
  }
  {
    std::lock_guard lk(mu_);
    region_links_.emplace(key(ia, ib), rec);
  }
  install_region_routes(ia, ib);
  install_region_routes(ib, ia);
  emit("region_link_added", {{"router_a", ra->name},
                             {"router_b", rb->name},
                             {"condition", LinkCondition::manual(limits).to_json()}});
}

void LabCore::break_region_link(std::uint32_t ia, std::uint32_t ib) {
  std::lock_guard rl(region_mu_);
  std::string na, nb;
  {
    std::lock_guard lk(mu_);
    auto it = region_links_.find(key(ia, ib));
    if (it == region_links_.end()) throw NotFound("break_region_link", "the regions are not linked");
    auto& l = it->second;
    na = regions_[ia - 1].name;
    nb = regions_[ib - 1].name;
    if (l.broken)
      throw InvalidArgument("break_region_link", "the link " + na + "-" + nb + " is already broken");
    // The detour: unbroken links to both ends, least latency(a,m) + latency(m,b), lowest index.
    std::uint32_t best = 0;
    std::uint64_t best_cost = std::numeric_limits<std::uint64_t>::max();
    for (std::uint32_t m = 1; m <= regions_.size(); ++m) {
      if (m == ia || m == ib) continue;
      auto* am = find_link(ia, m);
      auto* mb = find_link(m, ib);
      if (!am || !mb || am->broken || mb->broken) continue;
      std::uint64_t cost = std::uint64_t{am->link.latency_ms} + mb->link.latency_ms;
      if (cost < best_cost) {
        best = m;
        best_cost = cost;
      }
    }
    if (best == 0)
      throw NotFound("break_region_link",
                     "no region has working links to both '" + na + "' and '" + nb + "' to detour through");
    l.broken = true;
    l.via = best;
  }
  install_region_routes(ia, ib);
  install_region_routes(ib, ia);
  emit("region_link_broken",
       {{"router_a", "region_" + na}, {"router_b", "region_" + nb}, {"condition", nullptr}});
}

void LabCore::restore_region_link(std::uint32_t ia, std::uint32_t ib) {
  std::lock_guard rl(region_mu_);
  std::string na, nb;
  {
    std::lock_guard lk(mu_);
    auto it = region_links_.find(key(ia, ib));
    if (it == region_links_.end()) throw NotFound("restore_region_link", "the regions are not linked");
    na = regions_[ia - 1].name;
    nb = regions_[ib - 1].name;
    if (!it->second.broken)
      throw InvalidArgument("restore_region_link", "the link " + na + "-" + nb + " is not broken");
    it->second.broken = false;
    it->second.via = 0;
  }
  install_region_routes(ia, ib);
  install_region_routes(ib, ia);
  emit("region_link_restored", {{"router_a", "region_" + na}, {"router_b", "region_" + nb}});
}

void LabCore::region_router_added(const RouterRec& r) {
  std::lock_guard rl(region_mu_);
  std::uint32_t idx = *r.region;
  std::vector<std::uint32_t> linked;
  {
    std::lock_guard lk(mu_);
    if (idx == 0 || idx > regions_.size()) return;
    auto& reg = regions_[idx - 1];
    for (auto& ar : r.ancestor_routes)
      if (ar.owner == reg.router && ar.route.dst) reg.prefixes.insert({*ar.route.dst, ar.route.dst_len});
    for (auto& [k, l] : region_links_)
      if (l.a == idx || l.b == idx) linked.push_back(l.a == idx ? l.b : l.a);
  }
  for (auto other : linked) install_region_routes(other, idx);
}

void LabCore::region_router_removed(const RouterRec& r) {
  std::lock_guard rl(region_mu_);
  std::uint32_t idx = *r.region;
  std::vector<std::pair<std::shared_ptr<RouterRec>, sys::Route>> dels;
  {
    std::lock_guard lk(mu_);
    if (idx == 0 || idx > regions_.size()) return;
    auto& reg = regions_[idx - 1];
    for (auto& ar : r.ancestor_routes) {
      if (ar.owner != reg.router || !ar.route.dst) continue;
      reg.prefixes.erase({*ar.route.dst, ar.route.dst_len});
      for (auto& [k, l] : region_links_) {
        if (l.a != idx && l.b != idx) continue;
        auto other = routers_.find(regions_[(l.a == idx ? l.b : l.a) - 1].router.value);
        if (other == routers_.end()) continue;
        sys::Route rt;
        rt.family = ar.route.family;
        rt.dst = ar.route.dst;
        rt.dst_len = ar.route.dst_len;
        dels.emplace_back(other->second, rt);
      }
    }
  }
  for (auto& [rt, route] : dels) {
    try {
      sys::NlBatch b;
      sys::del_route(b, route);
      rt->ns->commit(b);
    } catch (const Error&) {
    }
  }
}

}  // namespace patchbay::detail
