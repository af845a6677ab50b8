// Regions (SPEC 8), see regions.hpp.
//
// A region link is two veth pairs meeting in the lab's wire namespace, which has no addresses,
// no bridge and IPv6 off: the engine reads each wire end with a packet socket and writes the
// frame, after the link's condition, to the other end. Routes are keyed by destination, so
// switching between the direct link and a detour is one "replace" per prefix.
#include "core/regions.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

#include "core/ids.hpp"
#include "core/lab_core.hpp"
#include "core/macs.hpp"

namespace patchbay::detail {

namespace {

constexpr std::uint64_t kEngineIdBase = 0x52454700000000ULL;  // region links in the engine

bool valid_region_name(const std::string& n) {
  if (n.empty() || n.size() > 32) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// "vr-<a>-<b>" when it fits IFNAMSIZ, else "vr-<ia>-<ib>" (SPEC 3.5).
std::string link_ifname(const std::string& a, const std::string& b, std::uint32_t ia, std::uint32_t ib) {
  std::string n = "vr-" + a + "-" + b;
  if (n.size() <= 15) return n;
  return "vr-" + std::to_string(ia) + "-" + std::to_string(ib);
}

}  // namespace

const Regions::Link* Regions::find_link(std::uint32_t a, std::uint32_t b) const {
  auto it = links_.find(key(a, b));
  return it == links_.end() ? nullptr : &it->second;
}

const Regions::Region& Regions::region(std::uint32_t index, const std::string& context) const {
  if (index == 0 || index > regions_.size()) throw NotFound(context, "unknown region");
  return regions_[index - 1];
}

Regions::View Regions::add(const std::string& name) {
  if (!valid_region_name(name))
    throw InvalidArgument("region '" + name + "'",
                          "invalid name (expected 1-32 characters of [A-Za-z0-9_-])");
  std::lock_guard op(op_mu_);
  {
    std::lock_guard lk(mu_);
    for (auto& r : regions_)
      if (r.name == name) throw AlreadyExists("region '" + name + "'", "add_region: the region exists");
  }
  if (lab_.nodes().by_name("region_" + name))
    throw AlreadyExists("region '" + name + "'", "add_region: router 'region_" + name + "' exists");
  const auto alloc =
      lab_.with_plan([&](core::AddressPlan& plan) { return plan.alloc_region("region '" + name + "'"); });
  RouterConfig cfg;
  cfg.name = "region_" + name;
  cfg.ip_support = IpSupport::DualStack;
  cfg.pool = AddressPool::Public;
  cfg.region = alloc.index;
  cfg.region_bridge = alloc;
  auto r = lab_.build_router(cfg);
  // The lab root sends the whole block to the region router (its later /24s need no new route).
  sys::Route block;
  block.family = AF_INET;
  block.dst = IpAddr(alloc.block.addr());
  block.dst_len = alloc.block.prefix_len();
  block.gateway = IpAddr(*r->wan_ip);
  sys::NlBatch b("region '" + name + "': route block");
  sys::add_route(b, block, true);
  lab_.ix()->ns->commit(b);
  {
    std::lock_guard lk(mu_);
    // A region whose router failed to build still used its index: keep indexes aligned.
    if (regions_.size() + 1 < alloc.index) regions_.resize(alloc.index - 1);
    Region rec{name, r->id, {}};
    rec.prefixes.insert({IpAddr(alloc.block.addr()), alloc.block.prefix_len()});
    rec.prefixes.insert({IpAddr(r->lan6->addr()), r->lan6->prefix_len()});
    regions_.push_back(std::move(rec));
  }
  lab_.emit("region_added", {{"name", name}, {"router", r->name}});
  return {name, r->id, alloc.index};
}

std::vector<Regions::View> Regions::list() const {
  std::lock_guard lk(mu_);
  std::vector<View> out;
  for (std::uint32_t i = 0; i < regions_.size(); ++i)
    if (!regions_[i].name.empty()) out.push_back({regions_[i].name, regions_[i].router, i + 1});
  return out;
}

std::optional<std::string> Regions::name_of(std::optional<std::uint32_t> index) const {
  if (!index) return std::nullopt;
  std::lock_guard lk(mu_);
  if (*index == 0 || *index > regions_.size()) return std::nullopt;
  if (regions_[*index - 1].name.empty()) return std::nullopt;
  return regions_[*index - 1].name;
}

// Routes in region `from` for every prefix of region `to`: over their direct link, or through the
// detour region while that link is broken. No link: nothing (traffic crosses the IX).
void Regions::install_routes(std::uint32_t from, std::uint32_t to) {
  NodeId router;
  std::set<Prefix> prefixes;
  std::optional<IpAddr> gw4, gw6;
  int oif = 0;
  std::string to_name;
  {
    std::lock_guard lk(mu_);
    auto* l = find_link(from, to);
    if (!l) return;
    auto* via = find_link(from, l->broken ? l->via : to);
    if (!via) return;
    const bool from_is_a = via->a == from;
    gw4 = IpAddr(from_is_a ? via->alloc.b : via->alloc.a);
    gw6 = IpAddr(from_is_a ? via->alloc.b6 : via->alloc.a6);
    oif = from_is_a ? via->if_a : via->if_b;
    prefixes = regions_[to - 1].prefixes;
    to_name = regions_[to - 1].name;
    router = regions_[from - 1].router;
  }
  auto r = lab_.nodes().router(router);
  if (!r) return;
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

void Regions::link(std::uint32_t ia, std::uint32_t ib, const RegionLink& link) {
  const std::string context = "link_regions";
  if (ia == ib) throw InvalidArgument(context, "a region cannot be linked to itself");
  auto limits = link.to_limits();
  limits.validate();
  std::lock_guard op(op_mu_);
  std::string na, nb;
  NodeId ida, idb;
  {
    std::lock_guard lk(mu_);
    const Region &a = region(ia, context), &b = region(ib, context);
    na = a.name;
    nb = b.name;
    ida = a.router;
    idb = b.router;
    if (find_link(ia, ib))
      throw AlreadyExists(context, "regions '" + na + "' and '" + nb + "' are already linked");
  }
  auto ra = lab_.nodes().router(ida), rb = lab_.nodes().router(idb);
  if (!ra || !rb) throw NotFound(context, "the router of region '" + (ra ? nb : na) + "' is gone");
  Link rec;
  rec.alloc = lab_.with_plan(
      [&](core::AddressPlan& plan) { return plan.alloc_region_link("region link " + na + "-" + nb); });
  if (ia > ib) {  // records keep a < b
    std::swap(ia, ib);
    std::swap(ra, rb);
    std::swap(na, nb);
  }
  rec.a = ia;
  rec.b = ib;
  rec.link = link;
  rec.engine_id = kEngineIdBase + rec.alloc.k;
  try {
    wire_link(rec, *ra, *rb, na, nb, limits);
  } catch (...) {
    lab_.with_plan([&](core::AddressPlan& plan) { plan.release_region_link(rec.alloc.k); });
    throw;
  }
  {
    std::lock_guard lk(mu_);
    links_.emplace(key(ia, ib), rec);
  }
  install_routes(ia, ib);
  install_routes(ib, ia);
  lab_.emit("region_link_added", {{"router_a", ra->name},
                                  {"router_b", rb->name},
                                  {"condition", LinkCondition::manual(limits).to_json()}});
}

void Regions::wire_link(Link& rec, const RouterRec& ra, const RouterRec& rb, const std::string& na,
                        const std::string& nb, const LinkLimits& limits) {
  const std::string what = "region link " + na + "-" + nb;
  auto w = lab_.wire().get();
  const int wa = w->alloc_ifindex(), wb = w->alloc_ifindex();
  rec.if_a = ra.ns->alloc_ifindex();
  rec.if_b = rb.ns->alloc_ifindex();
  const std::string k = std::to_string(rec.alloc.k);
  auto mac = [&](std::uint64_t role) { return sys::make_mac(((0xE00000ULL + rec.alloc.k) << 4) | role); };
  sys::NlBatch wbatch(what);
  sys::add_veth(
      wbatch, sys::LinkEnd{"x" + k + "a", wa, mac(1), -1, 0, true, 0},
      sys::LinkEnd{link_ifname(na, nb, rec.a, rec.b), rec.if_a, mac(2), ra.ns->fd.get(), 0, false, 0});
  sys::add_veth(
      wbatch, sys::LinkEnd{"x" + k + "b", wb, mac(3), -1, 0, true, 0},
      sys::LinkEnd{link_ifname(nb, na, rec.b, rec.a), rec.if_b, mac(4), rb.ns->fd.get(), 0, false, 0});
  w->commit(wbatch);
  auto configure = [&](const RouterRec& r, int ifi, Ipv4Addr a4, Ipv6Addr a6) {
    sys::NlBatch b(what);
    sys::set_link(b, ifi, true);
    sys::add_addr(b, ifi, a4, rec.alloc.net.prefix_len());
    sys::add_addr(b, ifi, a6, rec.alloc.net6.prefix_len());
    // Neighbour discovery for forwarded packets needs a link-local source (SPEC 3.6 style).
    sys::add_addr(b, ifi, core::ll(core::seed2(r.id.value, 0xE000 + rec.alloc.k)), 64);
    r.ns->commit(b);
  };
  configure(ra, rec.if_a, rec.alloc.a, rec.alloc.a6);
  configure(rb, rec.if_b, rec.alloc.b, rec.alloc.b6);
  lab_.services().engine().add_p2p(rec.engine_id, engine_access(w), wa, wb, what,
                                   link::DirConfig{limits, nullptr});
}

std::uint32_t Regions::detour(std::uint32_t a, std::uint32_t b) const {
  // Unbroken links to both ends, least latency(a,m) + latency(m,b), lowest index.
  std::uint32_t best = 0;
  std::uint64_t best_cost = std::numeric_limits<std::uint64_t>::max();
  for (std::uint32_t m = 1; m <= regions_.size(); ++m) {
    if (m == a || m == b) continue;
    auto* am = find_link(a, m);
    auto* mb = find_link(m, b);
    if (!am || !mb || am->broken || mb->broken) continue;
    const std::uint64_t cost = std::uint64_t{am->link.latency_ms} + mb->link.latency_ms;
    if (cost < best_cost) {
      best = m;
      best_cost = cost;
    }
  }
  return best;
}

void Regions::break_link(std::uint32_t a, std::uint32_t b) {
  set_broken(a, b, true, "break_region_link");
}

void Regions::restore_link(std::uint32_t a, std::uint32_t b) {
  set_broken(a, b, false, "restore_region_link");
}

void Regions::set_broken(std::uint32_t a, std::uint32_t b, bool broken, const std::string& context) {
  std::lock_guard op(op_mu_);
  std::string na, nb;
  {
    std::lock_guard lk(mu_);
    auto it = links_.find(key(a, b));
    if (it == links_.end()) throw NotFound(context, "the regions are not linked");
    Link& l = it->second;
    na = regions_[a - 1].name;
    nb = regions_[b - 1].name;
    if (l.broken == broken)
      throw InvalidArgument(context,
                            "the link " + na + "-" + nb + (broken ? " is already broken" : " is not broken"));
    std::uint32_t via = 0;
    if (broken && (via = detour(a, b)) == 0)
      throw NotFound(context,
                     "no region has working links to both '" + na + "' and '" + nb + "' to detour through");
    l.broken = broken;
    l.via = via;
  }
  install_routes(a, b);
  install_routes(b, a);
  if (broken)
    lab_.emit("region_link_broken",
              {{"router_a", "region_" + na}, {"router_b", "region_" + nb}, {"condition", nullptr}});
  else
    lab_.emit("region_link_restored", {{"router_a", "region_" + na}, {"router_b", "region_" + nb}});
}

void Regions::router_added(const RouterRec& r, const std::vector<AncestorRoute>& routes) {
  std::lock_guard op(op_mu_);
  const std::uint32_t idx = *r.region;
  std::vector<std::uint32_t> linked;
  {
    std::lock_guard lk(mu_);
    if (idx == 0 || idx > regions_.size()) return;
    auto& reg = regions_[idx - 1];
    for (auto& ar : routes)
      if (ar.owner == reg.router && ar.route.dst) reg.prefixes.insert({*ar.route.dst, ar.route.dst_len});
    for (auto& [k, l] : links_)
      if (l.a == idx || l.b == idx) linked.push_back(l.a == idx ? l.b : l.a);
  }
  for (auto other : linked) install_routes(other, idx);
}

void Regions::router_removed(const RouterRec& r, const std::vector<AncestorRoute>& routes) {
  std::lock_guard op(op_mu_);
  const std::uint32_t idx = *r.region;
  std::vector<std::pair<NodeId, sys::Route>> dels;  // (router of a linked region, route)
  {
    std::lock_guard lk(mu_);
    if (idx == 0 || idx > regions_.size()) return;
    auto& reg = regions_[idx - 1];
    for (auto& ar : routes) {
      if (ar.owner != reg.router || !ar.route.dst) continue;
      reg.prefixes.erase({*ar.route.dst, ar.route.dst_len});
      for (auto& [k, l] : links_) {
        if (l.a != idx && l.b != idx) continue;
        sys::Route rt;
        rt.family = ar.route.family;
        rt.dst = ar.route.dst;
        rt.dst_len = ar.route.dst_len;
        dels.emplace_back(regions_[(l.a == idx ? l.b : l.a) - 1].router, rt);
      }
    }
  }
  for (auto& [id, route] : dels) {
    auto other = lab_.nodes().router(id);
    if (!other) continue;
    try {
      sys::NlBatch b;
      sys::del_route(b, route);
      other->ns->commit(b);
    } catch (const Error&) {
      // Best effort: the other region's router may be going away too.
    }
  }
}

}  // namespace patchbay::detail
