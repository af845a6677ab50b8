// patchbay/device.hpp: devices (hosts), their interfaces, and the builder.
//
//   auto phone = lab.add_device("phone")
//                    .iface("wlan0", home.id())
//                    .iface("eth0", dc.id())
//                    .default_via("wlan0")
//                    .build();
//   phone.ip();                              // the default interface's IPv4
//   phone.iface("eth0")->ip();               // per interface
//   phone.default_iface().ll6();             // deterministic fe80:: address (v6-capable links)
//
// A device is a namespace with forwarding off and one or more interfaces, each joining some
// router's LAN. Exactly one interface carries the default route. Interface handles (Iface) read
// live snapshots; they never cache state that can change.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "patchbay/link.hpp"
#include "patchbay/net.hpp"
#include "patchbay/node.hpp"
#include "patchbay/types.hpp"

namespace patchbay {

namespace detail {
struct DeviceConfig;
}

struct IfaceSnapshot {
  std::string name, router;  // router = the router's name
  NodeId router_id;
  std::optional<Ipv4Addr> ip;
  std::optional<Ipv6Addr> ip6, ll6;
  std::optional<LinkCondition> condition_up, condition_down;
  std::optional<std::uint32_t> mtu;
  bool is_default = false, is_up = true;
};

class Iface {
 public:
  const std::string& name() const { return name_; }
  NodeId device() const { return device_; }
  IfaceSnapshot snapshot() const;
  std::optional<Ipv4Addr> ip() const;
  std::optional<Ipv6Addr> ip6() const;
  std::optional<Ipv6Addr> ll6() const;
  NodeId router() const;
  bool is_default() const;
  bool is_up() const;

  // Link conditions of this interface's link (Up = leaving the device). They belong to the
  // interface: default-route changes and replugging keep them. ImpairmentError if the engine
  // cannot apply one; ConfigError for an unreadable rate trace.
  std::optional<LinkCondition> condition(LinkDirection dir) const;  // Both = Up
  void set_condition(LinkCondition cond, LinkDirection dir);
  void clear_condition(LinkDirection dir = LinkDirection::Both);
  LinkStats link_stats() const;  // engine counters (zero while the link is unconditioned)

  // Dynamic operations (each emits its event). NotFound / InvalidArgument name the interface.
  void link_down();
  void link_up();              // addresses and (if default) default routes come back
  void replug(NodeId router);  // new addresses from `router`; name, condition and MTU kept
  Ipv4Addr renew_ip();         // a new IPv4 address from the same router
  void add_ip(IpAddr ip, std::uint8_t prefix_len);  // a secondary address
  void make_default();                              // == Device::set_default_route(name())
  void remove();                                    // == Device::remove_iface(name())

 private:
  friend class Device;
  Iface(std::weak_ptr<detail::LabCore> lab, NodeId device, std::string name)
      : lab_(std::move(lab)), device_(device), name_(std::move(name)) {}
  std::weak_ptr<detail::LabCore> lab_;
  NodeId device_;
  std::string name_;
};

class Device : public Node {
 public:
  std::optional<Ipv4Addr> ip() const;   // default interface
  std::optional<Ipv6Addr> ip6() const;  // default interface
  std::optional<std::uint32_t> mtu() const;
  std::optional<Iface> iface(std::string_view name) const;
  Iface default_iface() const;
  std::vector<Iface> interfaces() const;
  // Binds 0.0.0.0 / [::] port 40000 + (id mod 20000), sends "PROBE" up to 3 times (500 ms
  // timeouts) and returns the address the reflector observed. TimeoutError if none answered.
  SocketAddr probe_udp_mapping(SocketAddr reflector);
  // Name-based forms of the Iface operations (used by the runner).
  // Moves the default routes (v4 and v6) to `ifname`; the interface keeps its condition.
  void set_default_route(std::string_view ifname);
  void link_down(std::string_view ifname);
  void link_up(std::string_view ifname);
  Iface add_iface(std::string ifname, NodeId router, std::optional<LinkCondition> cond = std::nullopt,
                  LinkDirection dir = LinkDirection::Up);
  // InvalidArgument on the last interface; removing the default one moves the default route to
  // the first remaining interface.
  void remove_iface(std::string_view ifname);
  void replug_iface(std::string_view ifname, NodeId to_router);
  Ipv4Addr renew_ip(std::string_view ifname);
  void add_ip(std::string_view ifname, IpAddr ip, std::uint8_t prefix_len);
  // Name-based form of Iface::set_condition / clear_condition (nullopt clears `dir`).
  void set_link_condition(std::string_view ifname, std::optional<LinkCondition> cond,
                          LinkDirection dir = LinkDirection::Up);

  // DNS overlay of this device (SPEC 10; Lab::dns_entry for lab-wide names). A device entry
  // shadows a lab-wide one of the same name on this device only. resolve() answers from the
  // tables (device first, then lab-wide) on any thread; getaddrinfo/getent inside the device read
  // the same through /etc/hosts.
  void dns_entry(std::string name, IpAddr ip);
  std::optional<IpAddr> resolve(std::string_view name) const;
  void set_nameserver(std::optional<IpAddr> ip);  // nullopt = back to the lab's nameserver

  template <class F>
  auto spawn(F&& f) {
    return spawn_impl(*this, std::forward<F>(f));
  }

 private:
  friend class detail::LabCore;
  friend class DeviceBuilder;
  friend class Lab;
  using Node::Node;
};

class DeviceBuilder {
 public:
  DeviceBuilder(DeviceBuilder&&) noexcept;
  DeviceBuilder& operator=(DeviceBuilder&&) noexcept;
  ~DeviceBuilder();

  DeviceBuilder& iface(std::string ifname, NodeId router, std::optional<LinkCondition> cond = std::nullopt,
                       LinkDirection dir = LinkDirection::Up);
  DeviceBuilder& uplink(NodeId router);  // iface "eth<N>", N = current count
  DeviceBuilder& default_via(std::string ifname);
  DeviceBuilder& mtu(std::uint32_t mtu);  // every interface
  // Static (default route installed) or RaDriven (learned from the routers' RAs); default: the lab's.
  DeviceBuilder& ipv6_provisioning_mode(Ipv6ProvisioningMode m);
  Device build();  // >= 1 iface; addresses allocated in iface order

 private:
  friend class Lab;
  DeviceBuilder(std::weak_ptr<detail::LabCore> lab, std::string name);
  std::weak_ptr<detail::LabCore> lab_;
  std::unique_ptr<detail::DeviceConfig> cfg_;
};

}  // namespace patchbay
