// The public engine: every operation that changes what is routed runs as a control-plane task
// (kernel work off the forwarding thread, hand-overs through DataPlane::call); read-only queries
// go straight to the data plane.
#include "link/engine.hpp"

#include "link/control_plane.hpp"
#include "link/data_plane.hpp"

namespace patchbay::link {

struct Engine::Impl {
  DataPlane data;
  ControlPlane ctl;

  // The data plane starts first but asks for restores only after a control task routed a port.
  Impl(sys::SetupThread& setup, Seeder seed)
      : data(std::move(seed), [this](std::uint64_t br, int ifindex) { ctl.post_restore(br, ifindex); }),
        ctl(setup, data) {}
  ~Impl() {
    ctl.close();  // no new tasks; the running one is cancelled by the data plane's stop
    data.stop();
    ctl.stop();
  }
};

Engine::Engine(sys::SetupThread& setup, Seeder seed)
    : impl_(std::make_unique<Impl>(setup, std::move(seed))) {}
Engine::~Engine() = default;

void Engine::add_bridge(std::uint64_t br, NsAccess ns, int bridge_ifindex, sys::Mac bridge_mac,
                        std::string what) {
  impl_->ctl.call([&] {
    impl_->data.call(
        [&] { impl_->data.add_bridge(br, std::move(ns), bridge_ifindex, bridge_mac, std::move(what)); });
  });
}

void Engine::remove_bridge(std::uint64_t br) {
  impl_->ctl.call([&] { impl_->data.call([&] { impl_->data.erase_bridge(br); }); });
}

void Engine::set_port(std::uint64_t br, const PortSpec& spec, std::optional<DirConfig> up,
                      std::optional<DirConfig> down) {
  auto& d = impl_->data;
  impl_->ctl.call([&] {
    Bridge* s = nullptr;
    Port* p = d.call([&]() -> Port* {
      s = &d.bridge_rec(br);
      bool existed = s->ports.count(spec.ifindex) != 0;
      if (!existed && !is_active(up) && !is_active(down) && !s->downlink_cfg) return nullptr;
      Port& port = d.port_rec(*s, spec);
      port.up_cfg = std::move(up);
      port.down_cfg = std::move(down);
      return d.apply_port(*s, port, now_ns()) ? &port : nullptr;
    });
    if (p != nullptr) impl_->ctl.plumb_port(*s, *p);
  });
}

void Engine::remove_port(std::uint64_t br, int ifindex) {
  auto& d = impl_->data;
  impl_->ctl.call([&] {
    d.call([&] {
      if (Bridge* s = d.find_bridge(br)) d.erase_port(*s, ifindex);
    });
  });
}

void Engine::set_downlink(std::uint64_t br, std::optional<DirConfig> cfg,
                          const std::vector<PortSpec>& ports) {
  auto& d = impl_->data;
  impl_->ctl.call([&] {
    Bridge* s = nullptr;
    std::vector<Port*> to_plumb = d.call([&] {
      s = &d.bridge_rec(br);
      Nanos now = now_ns();
      s->downlink_cfg = cfg;
      if (cfg) {
        if (!s->downlink) s->downlink = d.make_slot(br, kSeedDownlink, DirSlot::Out::Demux, s, nullptr);
        s->downlink->dir.set_limits(cfg->limits, now, cfg->trace);
      } else if (s->downlink) {
        s->downlink->dir.set_limits(LinkLimits{}, now);
      }
      std::vector<Port*> out;
      for (const auto& spec : ports) {
        Port& p = d.port_rec(*s, spec);
        if (d.apply_port(*s, p, now)) out.push_back(&p);
      }
      return out;
    });
    for (Port* p : to_plumb) impl_->ctl.plumb_port(*s, *p);
  });
}

bool Engine::has_downlink(std::uint64_t br) const {
  auto& d = impl_->data;
  return d.call([&] {
    const Bridge* s = d.find_bridge(br);
    return s != nullptr && s->downlink_cfg.has_value();
  });
}

void Engine::add_l3(std::uint64_t id, NsAccess ns, int ifindex, sys::Mac peer_mac, sys::Mac own_mac,
                    L3Fn fn) {
  auto& d = impl_->data;
  impl_->ctl.call([&] {
    Hub* hub = impl_->ctl.hub_for(ns.fd, "packet processor " + std::to_string(id));
    d.call([&] {
      auto e = std::make_unique<L3End>();
      e->id = id;
      e->ifindex = ifindex;
      e->peer_mac = peer_mac;
      e->own_mac = own_mac;
      e->fn = std::move(fn);
      hub->l3[ifindex] = std::move(e);
    });
  });
}

void Engine::remove_l3(std::uint64_t id) {
  auto& d = impl_->data;
  impl_->ctl.call([&] {
    d.call([&] {
      for (auto& [fd, hub] : d.hubs) std::erase_if(hub->l3, [&](auto& kv) { return kv.second->id == id; });
    });
  });
}

void Engine::add_p2p(std::uint64_t id, NsAccess ns, int if_a, int if_b, std::string what, DirConfig cfg) {
  auto& d = impl_->data;
  impl_->ctl.call([&] {
    if (d.call([&] { return d.p2ps.count(id) != 0; }))
      throw AlreadyExists(what, "link engine: point-to-point link already attached");
    Hub* hub = impl_->ctl.hub_for(ns.fd, what);
    d.call([&] {
      auto l = std::make_unique<P2p>();
      l->id = id;
      l->what = std::move(what);
      l->hub = hub;
      l->if_a = if_a;
      l->if_b = if_b;
      l->ab = d.make_slot(id, kSeedUp, DirSlot::Out::Sock, nullptr, nullptr);
      l->ab->sock = &hub->sock;
      l->ab->sock_ifindex = if_b;
      l->ba = d.make_slot(id, kSeedDown, DirSlot::Out::Sock, nullptr, nullptr);
      l->ba->sock = &hub->sock;
      l->ba->sock_ifindex = if_a;
      Nanos now = now_ns();
      l->ab->dir.set_limits(cfg.limits, now, cfg.trace);
      l->ba->dir.set_limits(cfg.limits, now, cfg.trace);
      hub->ends[if_a] = {l.get(), false};
      hub->ends[if_b] = {l.get(), true};
      d.p2ps[id] = std::move(l);
    });
  });
}

void Engine::set_p2p(std::uint64_t id, DirConfig cfg) {
  auto& d = impl_->data;
  impl_->ctl.call([&] {
    d.call([&] {
      auto it = d.p2ps.find(id);
      if (it == d.p2ps.end())
        throw NotFound("link engine", "unknown point-to-point link " + std::to_string(id));
      Nanos now = now_ns();
      it->second->ab->dir.set_limits(cfg.limits, now, cfg.trace);
      it->second->ba->dir.set_limits(cfg.limits, now, cfg.trace);
    });
  });
}

void Engine::remove_p2p(std::uint64_t id) {
  auto& d = impl_->data;
  impl_->ctl.call([&] {
    d.call([&] {
      auto it = d.p2ps.find(id);
      if (it == d.p2ps.end()) return;
      P2p& l = *it->second;
      l.hub->ends.erase(l.if_a);
      l.hub->ends.erase(l.if_b);
      d.drop_slot(l.ab);
      d.drop_slot(l.ba);
      d.p2ps.erase(it);
    });
  });
}

PortStats Engine::p2p_stats(std::uint64_t id) const {
  auto& d = impl_->data;
  return d.call([&] {
    PortStats st;
    auto it = d.p2ps.find(id);
    if (it == d.p2ps.end()) return st;
    const P2p& l = *it->second;
    st.up = l.ab->total();
    st.down = l.ba->total();
    st.memory_drops = l.memory_drops;
    st.engine_routed = true;
    return st;
  });
}

PortStats Engine::stats(std::uint64_t br, int ifindex) const {
  auto& d = impl_->data;
  return d.call([&] {
    PortStats st;
    const Bridge* s = d.find_bridge(br);
    if (s == nullptr) return st;
    auto pit = s->ports.find(ifindex);
    if (pit == s->ports.end()) return st;
    const Port& p = *pit->second;
    st.up = p.up->total();
    st.down = p.down->total();
    st.memory_drops = p.memory_drops;
    st.engine_routed = p.plumbed;
    return st;
  });
}

std::optional<DirectionCounters> Engine::downlink_stats(std::uint64_t br) const {
  auto& d = impl_->data;
  return d.call([&]() -> std::optional<DirectionCounters> {
    const Bridge* s = d.find_bridge(br);
    if (s == nullptr || !s->downlink) return std::nullopt;
    return s->downlink->total();
  });
}

void Engine::set_memory_cap(std::uint64_t bytes) {
  auto& d = impl_->data;
  d.call([&] { d.memory_cap = bytes; });
}

}  // namespace patchbay::link
