// Link conditions on the records and in the link engine (link_control.hpp).
#include "core/link_control.hpp"

#include "core/macs.hpp"
#include "log/sink.hpp"

namespace patchbay::detail {

namespace {

std::optional<link::DirConfig> dir_config(const std::optional<LinkCondition>& c) {
  if (!c) return std::nullopt;
  link::DirConfig d;
  d.limits = c->to_limits();
  d.limits.validate();
  if (d.limits.rate_trace) d.trace = link::Trace::load(*d.limits.rate_trace);
  return d;
}

nlohmann::json cond_json(const std::optional<LinkCondition>& c) {
  return c ? c->to_json() : nlohmann::json(nullptr);
}

constexpr std::string_view kLinkTarget = "patchbay::link";

// "link condition changed" (info) in the node's files: a preset by name, a manual condition as
// its JSON object text, "none" when cleared.
void log_condition(log::detail::NodeSink* sink, const std::string& iface,
                   const std::optional<LinkCondition>& c, LinkDirection dir) {
  if (!log::detail::wants(sink, log::Level::Info, kLinkTarget)) return;
  auto j = cond_json(c);
  std::string text = j.is_null() ? "none" : j.is_string() ? j.get<std::string>() : j.dump();
  log::detail::write(sink, log::Level::Info, kLinkTarget, "link condition changed",
                     {{"iface", iface}, {"direction", to_string(dir)}, {"condition", std::move(text)}});
}

LinkCounters to_public(const link::DirectionCounters& c) {
  return LinkCounters{c.packets,    c.bytes,     c.drops_loss, c.drops_queue,     c.drops_memory,
                      c.duplicated, c.corrupted, c.reordered,  c.queue_high_water};
}

// Both = Up for readers; writers set both.
void assign(std::optional<LinkCondition>& up, std::optional<LinkCondition>& down,
            const std::optional<LinkCondition>& c, LinkDirection dir) {
  if (dir != LinkDirection::Down) up = c;
  if (dir != LinkDirection::Up) down = c;
}

}  // namespace

void LinkControl::ensure_bridge(std::uint64_t br) {
  auto& eng = services_.engine();
  std::shared_ptr<Netns> ns;
  int bridge = 0;
  sys::Mac mac{};
  std::string what;
  if (br == 1) {
    ns = nodes_.ix()->ns;
    bridge = nodes_.ix()->bridge_ifindex;
    mac = mac_for(NodeId{1}, kIxBridge);
    what = "IX bridge " + nodes_.ix()->bridge;
  } else {
    auto r = nodes_.router(NodeId{br});
    if (!r) throw NotFound("link engine", "router " + std::to_string(br) + " does not exist");
    ns = r->ns;
    bridge = r->lan_ifindex;
    mac = mac_for(r->id, kLanBridge);
    what = r->describe() + " LAN";
  }
  eng.add_bridge(br, engine_access(std::move(ns)), bridge, mac, std::move(what));
}

link::PortSpec LinkControl::device_port(const DeviceRec& d, const IfaceRec& i) const {
  return link::PortSpec{i.id.value, i.port_ifindex, mac_for(i.id, kDevIface),
                        d.describe() + " iface '" + i.name + "'"};
}

link::PortSpec LinkControl::uplink_port(const RouterRec& r) const {
  return link::PortSpec{r.id.value, r.parent_port_ifindex, mac_for(r.id, kWan), r.describe() + " uplink"};
}

std::uint64_t LinkControl::uplink_bridge(const RouterRec& r) {
  return r.upstream ? r.upstream->value : 1;
}

void LinkControl::push_iface(DeviceRec& d, IfaceRec& i) {
  auto up = dir_config(i.cond_up), down = dir_config(i.cond_down);
  auto rt = nodes_.router(i.router);
  bool downlink = false;
  if (rt) {
    std::lock_guard lk(rt->mu);
    downlink = rt->downlink.has_value();
  }
  auto* eng = services_.engine_if_started();
  if (!up && !down && !downlink && !eng) return;  // nothing to do, and no engine to start
  ensure_bridge(i.router.value);
  services_.engine().set_port(i.router.value, device_port(d, i), std::move(up), std::move(down));
}

void LinkControl::push_uplink(RouterRec& r) {
  auto up = dir_config(r.uplink_up), down = dir_config(r.uplink_down);
  if (!up && !down && !services_.engine_if_started()) return;
  ensure_bridge(uplink_bridge(r));
  services_.engine().set_port(uplink_bridge(r), uplink_port(r), std::move(up), std::move(down));
}

void LinkControl::set_iface_condition(DeviceRec& d, IfaceRec& i, std::optional<LinkCondition> c,
                                      LinkDirection dir) {
  auto old_up = i.cond_up, old_down = i.cond_down;
  assign(i.cond_up, i.cond_down, c, dir);
  try {
    push_iface(d, i);
  } catch (...) {
    i.cond_up = old_up;
    i.cond_down = old_down;
    throw;
  }
  emit_("link_condition_changed",
        {{"device", d.name}, {"iface", i.name}, {"condition", cond_json(c)}, {"direction", to_string(dir)}});
  log_condition(d.log.get(), i.name, c, dir);
}

void LinkControl::set_uplink_condition(RouterRec& r, std::optional<LinkCondition> c, LinkDirection dir) {
  auto old_up = r.uplink_up, old_down = r.uplink_down;
  assign(r.uplink_up, r.uplink_down, c, dir);
  try {
    push_uplink(r);
  } catch (...) {
    r.uplink_up = old_up;
    r.uplink_down = old_down;
    throw;
  }
  emit_("uplink_condition_changed",
        {{"router", r.name}, {"direction", to_string(dir)}, {"condition", cond_json(c)}});
  log_condition(r.log.get(), r.wan_name, c, dir);
}

void LinkControl::set_downlink_condition(RouterRec& r, std::optional<LinkCondition> c) {
  apply_downlink(r, c);
  emit_("downlink_condition_changed", {{"router", r.name}, {"condition", cond_json(c)}});
  log_condition(r.log.get(), r.lan_name, c, LinkDirection::Down);
}

void LinkControl::apply_downlink(RouterRec& r, const std::optional<LinkCondition>& c) {
  auto cfg = dir_config(c);
  if (c || services_.engine_if_started()) {
    // Every port of the LAN: device interfaces and sub-router uplinks that exist right now.
    // Devices still being built check the router's downlink after they are alive.
    std::vector<link::PortSpec> ports;
    std::vector<std::shared_ptr<DeviceRec>> devs;
    std::vector<std::shared_ptr<RouterRec>> kids;
    {
      std::lock_guard lk(plan_mu_);
      for (auto& [dev, names] : r.attached)
        if (auto d = nodes_.live_device(dev)) devs.push_back(std::move(d));
      for (auto kid : r.children)
        if (auto k = nodes_.live_router(kid)) kids.push_back(std::move(k));
    }
    for (auto& d : devs)
      for (auto& i : d->ifaces)
        if (i.router == r.id) ports.push_back(device_port(*d, i));
    for (auto& k : kids) ports.push_back(uplink_port(*k));
    ensure_bridge(r.id.value);
    services_.engine().set_downlink(r.id.value, cfg, ports);
  }
  r.downlink = c;
}

LinkStats LinkControl::iface_link_stats(const DeviceRec&, const IfaceRec& i) {
  LinkStats s;
  if (auto* eng = services_.engine_if_started()) {
    auto st = eng->stats(i.router.value, i.port_ifindex);
    s.up = to_public(st.up);
    s.down = to_public(st.down);
    s.up.drops_memory += st.memory_drops;
    s.engine_routed = st.engine_routed;
  }
  return s;
}

LinkStats LinkControl::uplink_stats(const RouterRec& r) {
  LinkStats s;
  if (auto* eng = services_.engine_if_started()) {
    auto st = eng->stats(uplink_bridge(r), r.parent_port_ifindex);
    s.up = to_public(st.up);
    s.down = to_public(st.down);
    s.engine_routed = st.engine_routed;
  }
  return s;
}

LinkCounters LinkControl::downlink_stats(const RouterRec& r) {
  if (auto* eng = services_.engine_if_started())
    if (auto c = eng->downlink_stats(r.id.value)) return to_public(*c);
  return {};
}

void LinkControl::attach_device_links(DeviceRec& d) {
  std::lock_guard lk(d.mu);
  for (auto& i : d.ifaces) push_iface(d, i);
}

void LinkControl::attach_router_links(RouterRec& r) {
  std::lock_guard lk(r.mu);
  if (!r.downlink && !r.uplink_up && !r.uplink_down && !services_.engine_if_started()) return;
  push_uplink(r);
  if (r.downlink) apply_downlink(r, r.downlink);
  // The parent's downlink covers this router's port too.
  if (r.upstream)
    if (auto p = nodes_.router(*r.upstream)) {
      bool dl;
      {
        std::lock_guard plk(p->mu);
        dl = p->downlink.has_value();
      }
      if (dl) {
        ensure_bridge(p->id.value);
        services_.engine().set_port(p->id.value, uplink_port(r), dir_config(r.uplink_up),
                                    dir_config(r.uplink_down));
      }
    }
}

void LinkControl::detach_device_links(const DeviceRec& d) {
  auto* eng = services_.engine_if_started();
  if (!eng) return;
  for (auto& i : d.ifaces) eng->remove_port(i.router.value, i.port_ifindex);
}

void LinkControl::detach_router_links(const RouterRec& r) {
  auto* eng = services_.engine_if_started();
  if (!eng) return;
  eng->remove_port(uplink_bridge(r), r.parent_port_ifindex);
  eng->remove_bridge(r.id.value);
}

void LinkControl::forget_iface(const IfaceRec& i) {
  if (auto* eng = services_.engine_if_started()) eng->remove_port(i.router.value, i.port_ifindex);
}

}  // namespace patchbay::detail
