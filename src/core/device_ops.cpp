// The Device and Iface handle methods of the dynamic operations (the work is in dynamic.cpp).
#include "core/lab_core.hpp"
#include "patchbay/lab.hpp"

namespace patchbay {

using detail::DeviceRec;
using detail::IfaceRec;

namespace {

// Runs fn(core, device, iface) under the device's lock; Removed / NotFound name the interface.
template <class F>
auto with_iface(const std::weak_ptr<detail::LabCore>& lab, NodeId dev, std::string_view name, const char* op,
                F&& fn) {
  detail::LabRef c(lab, "interface '" + std::string(name) + "'");
  auto d = c->nodes().device(dev);
  if (!d || !d->alive) throw Removed("interface '" + std::string(name) + "'", "its device has been removed");
  std::lock_guard lk(d->mu);
  auto* i = d->find(name);
  if (!i) throw NotFound(d->describe(), std::string(op) + ": no interface '" + std::string(name) + "'");
  return fn(*c, *d, *i);
}

}  // namespace

void Device::set_default_route(std::string_view ifname) {
  with_iface(lab_, id_, ifname, "set_default_route",
             [&](detail::LabCore& c, DeviceRec& d, IfaceRec& i) { c.set_default_route(d, i.name); });
}
void Device::link_down(std::string_view ifname) {
  with_iface(lab_, id_, ifname, "link_down",
             [](detail::LabCore& c, DeviceRec& d, IfaceRec& i) { c.set_link_up(d, i, false); });
}
void Device::link_up(std::string_view ifname) {
  with_iface(lab_, id_, ifname, "link_up",
             [](detail::LabCore& c, DeviceRec& d, IfaceRec& i) { c.set_link_up(d, i, true); });
}
Iface Device::add_iface(std::string ifname, NodeId router, std::optional<LinkCondition> cond,
                        LinkDirection dir) {
  auto c = core();
  auto d = std::static_pointer_cast<DeviceRec>(rec());
  std::lock_guard lk(d->mu);
  std::optional<LinkCondition> up, down;
  if (dir != LinkDirection::Down) up = cond;
  if (dir != LinkDirection::Up) down = cond;
  c->add_iface(*d, ifname, router, std::move(up), std::move(down));
  return Iface(lab_, id_, std::move(ifname));
}
void Device::remove_iface(std::string_view ifname) {
  auto c = core();
  auto d = std::static_pointer_cast<DeviceRec>(rec());
  std::lock_guard lk(d->mu);
  c->remove_iface(*d, std::string(ifname));
}
void Device::replug_iface(std::string_view ifname, NodeId to_router) {
  with_iface(lab_, id_, ifname, "replug_iface",
             [&](detail::LabCore& c, DeviceRec& d, IfaceRec& i) { c.replug_iface(d, i.name, to_router); });
}
Ipv4Addr Device::renew_ip(std::string_view ifname) {
  return with_iface(lab_, id_, ifname, "renew_ip",
                    [](detail::LabCore& c, DeviceRec& d, IfaceRec& i) { return c.renew_ip(d, i); });
}
void Device::add_ip(std::string_view ifname, IpAddr ip, std::uint8_t prefix_len) {
  with_iface(lab_, id_, ifname, "add_ip",
             [&](detail::LabCore& c, DeviceRec& d, IfaceRec& i) { c.add_ip(d, i, ip, prefix_len); });
}

void Iface::link_down() {
  with_iface(lab_, device_, name_, "link_down",
             [](detail::LabCore& c, DeviceRec& d, IfaceRec& i) { c.set_link_up(d, i, false); });
}
void Iface::link_up() {
  with_iface(lab_, device_, name_, "link_up",
             [](detail::LabCore& c, DeviceRec& d, IfaceRec& i) { c.set_link_up(d, i, true); });
}
void Iface::replug(NodeId router) {
  with_iface(lab_, device_, name_, "replug",
             [&](detail::LabCore& c, DeviceRec& d, IfaceRec& i) { c.replug_iface(d, i.name, router); });
}
Ipv4Addr Iface::renew_ip() {
  return with_iface(lab_, device_, name_, "renew_ip",
                    [](detail::LabCore& c, DeviceRec& d, IfaceRec& i) { return c.renew_ip(d, i); });
}
void Iface::add_ip(IpAddr ip, std::uint8_t prefix_len) {
  with_iface(lab_, device_, name_, "add_ip",
             [&](detail::LabCore& c, DeviceRec& d, IfaceRec& i) { c.add_ip(d, i, ip, prefix_len); });
}
void Iface::make_default() {
  with_iface(lab_, device_, name_, "make_default",
             [](detail::LabCore& c, DeviceRec& d, IfaceRec& i) { c.set_default_route(d, i.name); });
}
void Iface::remove() {
  with_iface(lab_, device_, name_, "remove",
             [](detail::LabCore& c, DeviceRec& d, IfaceRec& i) { c.remove_iface(d, std::string(i.name)); });
}

}  // namespace patchbay
