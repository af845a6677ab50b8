#include "link/engine_impl.hpp"

namespace patchbay::link {

Engine::Engine(sys::SetupThread& setup, Seeder seed)
    : impl_(std::make_unique<Impl>(setup, std::move(seed))) {}
Engine::~Engine() = default;

void Engine::add_segment(std::uint64_t seg, NsAccess ns, int bridge_ifindex, sys::Mac bridge_mac,
                         std::string what) {
  impl_->call([&] {
    auto& s = impl_->segs[seg];
    if (s) return;
    s = std::make_unique<Segment>();
    s->id = seg;
    s->ns = std::move(ns);
    s->bridge = bridge_ifindex;
    s->bridge_mac = bridge_mac;
    s->bridge_key = mac_key(bridge_mac);
    s->what = std::move(what);
  });
}

void Engine::remove_segment(std::uint64_t seg) {
  impl_->call([&] {
    auto it = impl_->segs.find(seg);
    if (it == impl_->segs.end()) return;
    Segment& s = *it->second;
    std::vector<int> ports;
    for (auto& [ifi, p] : s.ports) ports.push_back(ifi);
    for (int ifi : ports) impl_->erase_port(s, ifi);
    impl_->drop_slot(s.downlink);
    impl_->dirty.erase(std::remove(impl_->dirty.begin(), impl_->dirty.end(), &s.trunk), impl_->dirty.end());
    if (s.plumbed) impl_->del_fd(s.trunk.fd());
    impl_->segs.erase(it);
  });
}

void Engine::set_port(std::uint64_t seg, const PortSpec& spec, std::optional<DirConfig> up,
                      std::optional<DirConfig> down) {
  impl_->call([&] {
    Segment& s = impl_->seg_rec(seg);
    bool existed = s.ports.count(spec.ifindex) != 0;
    if (!existed && !is_active(up) && !is_active(down) && !s.downlink_cfg) return;
    Port& p = impl_->port_rec(s, spec);
    p.up_cfg = std::move(up);
    p.down_cfg = std::move(down);
    impl_->apply_port(s, p, now_ns());
  });
}

void Engine::remove_port(std::uint64_t seg, int ifindex) {
  impl_->call([&] {
    auto it = impl_->segs.find(seg);
    if (it != impl_->segs.end()) impl_->erase_port(*it->second, ifindex);
  });
}

void Engine::set_downlink(std::uint64_t seg, std::optional<DirConfig> cfg,
                          const std::vector<PortSpec>& ports) {
  impl_->call([&] {
    Segment& s = impl_->seg_rec(seg);
    Nanos now = now_ns();
    s.downlink_cfg = cfg;
    if (cfg) {
      if (!s.downlink) s.downlink = impl_->make_slot(seg, kSeedDownlink, DirSlot::Out::Demux, &s, nullptr);
      s.downlink->dir.set_limits(cfg->limits, now, cfg->trace);
    } else if (s.downlink) {
      s.downlink->dir.set_limits(LinkLimits{}, now);
    }
    for (const auto& spec : ports) {
      Port& p = impl_->port_rec(s, spec);
      impl_->apply_port(s, p, now);
    }
  });
}

bool Engine::has_downlink(std::uint64_t seg) const {
  return impl_->call([&] {
    auto it = impl_->segs.find(seg);
    return it != impl_->segs.end() && it->second->downlink_cfg.has_value();
  });
}

namespace {

// The wire namespace's shared socket, opened on first use.
Hub* hub_for(Engine::Impl& impl, int ns_fd, const std::string& what) {
  auto& hub = impl.hubs[ns_fd];
  if (!hub) {
    auto h = std::make_unique<Hub>();
    h->ns_fd = ns_fd;
    try {
      h->sock = sys::PacketSocket::open(impl.setup, ns_fd, 0, "wire namespace", kTrunkRing);
      h->sock.unpark();
    } catch (const Error& e) {
      impl.hubs.erase(ns_fd);
      throw ImpairmentError(what, std::string("link engine attach: ") + e.what());
    }
    h->src = Source{};
    h->src.hub = h.get();
    impl.add_fd(h->sock.fd(), &h->src);
    hub = std::move(h);
  }
  return hub.get();
}

}  // namespace

void Engine::add_l3(std::uint64_t id, NsAccess ns, int ifindex, sys::Mac peer_mac, sys::Mac own_mac,
                    L3Fn fn) {
  impl_->call([&] {
    Hub* hub = hub_for(*impl_, ns.fd, "packet processor " + std::to_string(id));
    auto e = std::make_unique<L3End>();
    e->id = id;
    e->ifindex = ifindex;
    e->peer_mac = peer_mac;
    e->own_mac = own_mac;
    e->fn = std::move(fn);
    hub->l3[ifindex] = std::move(e);
  });
}

void Engine::remove_l3(std::uint64_t id) {
  impl_->call([&] {
    for (auto& [fd, hub] : impl_->hubs) std::erase_if(hub->l3, [&](auto& kv) { return kv.second->id == id; });
  });
}

void Engine::add_p2p(std::uint64_t id, NsAccess ns, int if_a, int if_b, std::string what, DirConfig cfg) {
  impl_->call([&] {
    if (impl_->p2ps.count(id)) throw AlreadyExists(what, "link engine: point-to-point link already attached");
    Hub* hub = hub_for(*impl_, ns.fd, what);
    auto l = std::make_unique<P2p>();
    l->id = id;
    l->what = std::move(what);
    l->hub = hub;
    l->if_a = if_a;
    l->if_b = if_b;
    l->ab = impl_->make_slot(id, kSeedUp, DirSlot::Out::Sock, nullptr, nullptr);
    l->ab->sock = &hub->sock;
    l->ab->sock_ifindex = if_b;
    l->ba = impl_->make_slot(id, kSeedDown, DirSlot::Out::Sock, nullptr, nullptr);
    l->ba->sock = &hub->sock;
    l->ba->sock_ifindex = if_a;
    Nanos now = now_ns();
    l->ab->dir.set_limits(cfg.limits, now, cfg.trace);
    l->ba->dir.set_limits(cfg.limits, now, cfg.trace);
    hub->ends[if_a] = {l.get(), false};
    hub->ends[if_b] = {l.get(), true};
    impl_->p2ps[id] = std::move(l);
  });
}

void Engine::set_p2p(std::uint64_t id, DirConfig cfg) {
  impl_->call([&] {
    auto it = impl_->p2ps.find(id);
    if (it == impl_->p2ps.end())
      throw NotFound("link engine", "unknown point-to-point link " + std::to_string(id));
    Nanos now = now_ns();
    it->second->ab->dir.set_limits(cfg.limits, now, cfg.trace);
    it->second->ba->dir.set_limits(cfg.limits, now, cfg.trace);
  });
}

void Engine::remove_p2p(std::uint64_t id) {
  impl_->call([&] {
    auto it = impl_->p2ps.find(id);
    if (it == impl_->p2ps.end()) return;
    P2p& l = *it->second;
    l.hub->ends.erase(l.if_a);
    l.hub->ends.erase(l.if_b);
    impl_->drop_slot(l.ab);
    impl_->drop_slot(l.ba);
    impl_->p2ps.erase(it);
  });
}

PortStats Engine::p2p_stats(std::uint64_t id) const {
  return impl_->call([&] {
    PortStats st;
    auto it = impl_->p2ps.find(id);
    if (it == impl_->p2ps.end()) return st;
    const P2p& l = *it->second;
    st.up = l.ab->total();
    st.down = l.ba->total();
    st.memory_drops = l.memory_drops;
    st.engine_routed = true;
    return st;
  });
}

PortStats Engine::stats(std::uint64_t seg, int ifindex) const {
  return impl_->call([&] {
    PortStats st;
    auto it = impl_->segs.find(seg);
    if (it == impl_->segs.end()) return st;
    auto pit = it->second->ports.find(ifindex);
    if (pit == it->second->ports.end()) return st;
    const Port& p = *pit->second;
    st.up = p.up->total();
    st.down = p.down->total();
    st.memory_drops = p.memory_drops;
    st.engine_routed = p.plumbed;
    return st;
  });
}

std::optional<DirectionCounters> Engine::downlink_stats(std::uint64_t seg) const {
  return impl_->call([&]() -> std::optional<DirectionCounters> {
    auto it = impl_->segs.find(seg);
    if (it == impl_->segs.end() || !it->second->downlink) return std::nullopt;
    return it->second->downlink->total();
  });
}

void Engine::set_memory_cap(std::uint64_t bytes) {
  impl_->call([&] { impl_->memory_cap = bytes; });
}

}  // namespace patchbay::link
