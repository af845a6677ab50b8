#include "link/control_plane.hpp"

#include <pthread.h>

#include <cstdio>
#include <deque>
#include <functional>

#include "patchbay/error.hpp"
#include "sys/sched.hpp"
#include "sys/setup_thread.hpp"
#include "sys/sysctl.hpp"

namespace patchbay::link {

ControlPlane::ControlPlane(sys::SetupThread& setup, DataPlane& data) : setup_(setup), data_(data) {
  thread_ = std::thread([this] { run(); });
}

ControlPlane::~ControlPlane() {
  stop();
}

void ControlPlane::stop() {
  tasks_.close();
  if (thread_.joinable()) thread_.join();
  tasks_.discard();
}

void ControlPlane::run() {
  ::pthread_setname_np(::pthread_self(), "patchbay:plumb");
  sys::run_as_background_thread();  // never ahead of the forwarding thread (sys/sched.hpp)
  std::deque<std::function<void()>> batch;
  while (tasks_.wait_take(batch)) {
    for (auto& fn : batch) fn();  // call() closures carry their own errors to the caller
    batch.clear();
  }
}

void ControlPlane::post_restore(std::uint64_t br, int ifindex) {
  tasks_.post([this, br, ifindex] {
    try {
      restore(br, ifindex);
    } catch (const Error&) {
      // The namespace may be going away (or the engine, Cancelled); the port is no longer ours.
    } catch (const std::exception& e) {
      std::fprintf(stderr, "patchbay: link engine: restoring port %d: %s\n", ifindex, e.what());
    }
  });
}

void ControlPlane::plumb_bridge(Bridge& br) {
  if (br.wired) return;
  try {
    br.trunk_if = br.ns.alloc_ifindex();
    br.engine_if = br.ns.alloc_ifindex();
    sys::NlBatch b(br.what);
    sys::LinkEnd t0{"pbe0", br.trunk_if, std::nullopt, -1, br.bridge, true, 0};
    sys::LinkEnd t1{"pbe1", br.engine_if, std::nullopt, -1, 0, false, 0};
    sys::add_veth(b, t0, t1);
    br.ns.commit(b);
    // pbe1 lives in the router's namespace but is only a tap for the engine: its IP stack must
    // stay silent. Otherwise it answers ARP for the router's LAN address (arp_ignore 0 replies
    // for any local address) and a device may learn pbe1's MAC as its gateway, so its packets
    // enter the router through pbe1 instead of br-lan and miss the LAN's NAT and firewall rules.
    const std::string conf = "net/ipv4/conf/pbe1/", conf6 = "net/ipv6/conf/pbe1/";
    setup_.in_netns(br.ns.fd, [&] {
      sys::write_sysctls({{conf + "arp_ignore", "8"}, {conf6 + "disable_ipv6", "1"}});
    });
    sys::NlBatch up(br.what);
    sys::set_link(up, br.engine_if, true, std::nullopt, std::nullopt, "set pbe1 up");
    // Hairpin: a frame from one routed port to another enters and leaves through pbe0.
    sys::BridgePortFlags hp;
    hp.hairpin = true;
    sys::set_bridge_port(up, br.trunk_if, hp);
    br.ns.commit(up);
    auto sock =
        sys::PacketSocket::open(setup_, br.ns.fd, br.engine_if, br.what + " engine trunk", kTrunkRing);
    data_.call([&] { data_.install_trunk(br, std::move(sock)); });
    br.wired = true;
  } catch (const Error& e) {
    throw ImpairmentError(br.what, std::string("link engine attach: ") + e.what());
  }
}

void ControlPlane::plumb_port(Bridge& br, Port& p) {
  plumb_bridge(br);
  try {
    if (!p.has_sock) {
      auto sock = sys::PacketSocket::open(setup_, br.ns.fd, p.spec.ifindex, p.spec.what, kPortRing);
      data_.call([&] { data_.install_port_socket(br, p, std::move(sock)); });
      p.has_sock = true;
    }
    // The engine takes the port's frames before the kernel stops bridging them: a frame in
    // between is delivered twice rather than dropped by tc with nobody reading it.
    data_.call([&] { data_.route_port(br, p); });
    try {
      sys::NlBatch b(p.spec.what);
      // Frames from the node are dropped at tc ingress, after the engine's socket has copied
      // them (packet taps run before tc): one cls_bpf direct-action "drop" (no act_gact here).
      sys::add_drop_all(b, p.spec.ifindex, true, kRedirectPrio);
      sys::set_bridge_port(b, p.spec.ifindex, port_flags(false));
      br.ns.commit(b);
    } catch (...) {
      data_.call([&] {
        data_.unroute(p);
        data_.stop_reading(p);
      });
      throw;
    }
    forget_fdb(br, p.spec.ifindex, p.spec.peer_mac);
  } catch (const Error& e) {
    throw ImpairmentError(p.spec.what, std::string("link engine attach: ") + e.what());
  }
}

// The kernel's plain path comes back before the engine lets go of the port (data_plane.hpp), so
// a frame crossing during the hand-over is delivered twice at worst, never dropped.
void ControlPlane::restore(std::uint64_t bridge_id, int ifindex) {
  Bridge* br = nullptr;
  Port* p = data_.call([&] { return data_.restorable(bridge_id, ifindex, br); });
  if (p == nullptr) return;
  sys::NlBatch b(p->spec.what);
  sys::del_filters(b, p->spec.ifindex, true, kRedirectPrio);
  sys::set_bridge_port(b, p->spec.ifindex, port_flags(true));
  br->ns.commit(b);
  data_.call([&] {
    data_.stop_reading(*p);
    data_.unroute(*p);
  });
  // The bridge learned the peer behind the trunk; forget it so it relearns on the real port.
  forget_fdb(*br, br->trunk_if, p->spec.peer_mac);
}

void ControlPlane::forget_fdb(Bridge& br, int port, const sys::Mac& mac) {
  sys::NlBatch b(br.what);
  sys::del_fdb(b, port, mac);
  try {
    br.ns.commit(b);
  } catch (const SystemError& e) {
    if (e.errnum() != ENOENT) throw;
  }
}

Hub* ControlPlane::hub_for(int ns_fd, const std::string& what) {
  if (Hub* h = data_.call([&] { return data_.find_hub(ns_fd); })) return h;
  sys::PacketSocket sock;
  try {
    sock = sys::PacketSocket::open(setup_, ns_fd, 0, "wire namespace", kTrunkRing);
  } catch (const Error& e) {
    throw ImpairmentError(what, std::string("link engine attach: ") + e.what());
  }
  return data_.call([&] { return data_.install_hub(ns_fd, std::move(sock)); });
}

}  // namespace patchbay::link
