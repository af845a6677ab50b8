// The link engine's private state and its thread (used by engine.cpp only).
//
// Everything here runs on the engine thread: the epoll loop, the timer heap, the forwarding
// path (port/trunk/hub sockets -> Direction pipelines -> sockets) and the plumbing that moves a
// bridge port behind the engine and back. engine.cpp holds the thread-safe public API, which
// posts work here through Impl::call.
#pragma once

#include "link/engine.hpp"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cstring>
#include <deque>
#include <future>
#include <limits>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>

#include "link/frame.hpp"
#include "patchbay/error.hpp"
#include "sys/errno.hpp"
#include "sys/packet_socket.hpp"
#include "sys/setup_thread.hpp"
#include "sys/task_queue.hpp"
#include "sys/tc.hpp"

namespace patchbay::link {

namespace engine_detail {

constexpr Nanos kNever = std::numeric_limits<Nanos>::max();
constexpr std::uint16_t kRedirectPrio = 1;
// Purposes for seed3(lab seed, link id, purpose): one stream family per direction.
constexpr std::uint64_t kSeedUp = 0x7570;        // "up"
constexpr std::uint64_t kSeedDown = 0x646f;      // "do"
constexpr std::uint64_t kSeedDownlink = 0x646c;  // "dl"
constexpr std::size_t kRxBudget = 256;           // frames per socket per wake-up (fairness)
// Engine sockets have no mmap ring: a TPACKET_V2 slot must hold a whole 64 KB GSO frame, so a
// ring costs ~4.4 MB per 64 slots and 8-28 ms to allocate, for every conditioned port. Frames
// wait in the socket's queue instead and are read with recvmmsg into the engine thread's shared
// buffers; measured with bench/run.sh link this was also faster (11-16 Gbit/s, 140-190k pps
// against 10.8 Gbit/s and 83-133k pps with 64/256-slot rings).
constexpr unsigned kPortRing = 0;
constexpr unsigned kTrunkRing = 0;

inline Nanos now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Nanos>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline std::uint64_t mac_key(const std::uint8_t* m) {
  std::uint64_t k = 0;
  for (int i = 0; i < 6; ++i) k = (k << 8) | m[i];
  return k;
}
inline std::uint64_t mac_key(const sys::Mac& m) {
  return mac_key(m.data());
}

// A routed port must neither learn nor receive floods: the bridge would bypass the engine.
inline sys::BridgePortFlags port_flags(bool on) {
  sys::BridgePortFlags f;
  f.learning = f.flood = f.mcast_flood = f.bcast_flood = on;
  return f;
}

inline bool is_active(const std::optional<DirConfig>& c) {
  return c && !c->limits.is_zero();
}

}  // namespace engine_detail
using namespace engine_detail;

struct Segment;
struct Port;
struct P2p;
struct Hub;

// A Direction plus where its output goes and when the engine last armed a timer for it.
struct DirSlot {
  enum class Out { Trunk, Port, Demux, Sock };
  std::uint64_t id;
  Direction dir;
  Out out;
  Segment* seg;
  Port* port;                         // for Out::Port
  sys::PacketSocket* sock = nullptr;  // for Out::Sock
  int sock_ifindex = 0;               // for Out::Sock on a socket bound to every interface
  Nanos scheduled = kNever;
  std::uint64_t pass_packets = 0, pass_bytes = 0;  // forwarded without queueing
  // What the pipeline counted plus what bypassed it.
  DirectionCounters total() const {
    auto c = dir.counters();
    c.packets += pass_packets;
    c.bytes += pass_bytes;
    return c;
  }
  DirSlot(std::uint64_t i, std::uint64_t seed, Out o, Segment* s, Port* p)
      : id(i), dir(seed), out(o), seg(s), port(p) {}
};

// What an epoll event points at.
struct Source {
  Segment* seg = nullptr;
  Port* port = nullptr;  // nullptr = the segment's trunk
  Hub* hub = nullptr;    // the shared socket of a namespace of point-to-point ends
};

struct P2p {
  std::uint64_t id = 0;
  std::string what;
  Hub* hub = nullptr;
  int if_a = 0, if_b = 0;
  std::unique_ptr<DirSlot> ab, ba;
  std::uint64_t memory_drops = 0;
};

// A packet processor behind a wire-namespace veth end (the NAT64 translator of a router).
struct L3End {
  std::uint64_t id = 0;
  int ifindex = 0;
  sys::Mac peer_mac{}, own_mac{};
  Engine::L3Fn fn;
  std::vector<FramePtr> segs;
  std::vector<std::pair<std::uint16_t, std::vector<std::uint8_t>>> out;
};

// One socket bound to every interface of a namespace that holds only point-to-point link ends
// (the wire namespace): one ring for hundreds of links instead of two sockets per link.
struct Hub {
  int ns_fd = -1;
  sys::PacketSocket sock;
  Source src;
  std::unordered_map<int, std::pair<P2p*, bool>> ends;  // ifindex -> link, is side B
  std::unordered_map<int, std::unique_ptr<L3End>> l3;   // ifindex -> processor
};

struct Port {
  PortSpec spec;
  std::uint64_t key = 0;  // peer MAC
  std::optional<DirConfig> up_cfg, down_cfg;
  std::unique_ptr<DirSlot> up, down;
  sys::PacketSocket sock;
  Source src;
  bool watched = false, clsact = false, plumbed = false;
  std::uint64_t memory_drops = 0;
};

struct Segment {
  std::uint64_t id = 0;
  NsAccess ns;
  int bridge = 0;
  sys::Mac bridge_mac{};
  std::uint64_t bridge_key = 0;
  std::string what;
  bool plumbed = false;
  int trunk_if = 0, engine_if = 0;  // pbe0 (bridge port, hairpin), pbe1 (read by the engine)
  sys::PacketSocket trunk;
  Source src;
  std::unordered_map<int, std::unique_ptr<Port>> ports;  // by bridge-port ifindex
  std::unordered_map<std::uint64_t, Port*> by_mac;       // routed ports only
  std::optional<DirConfig> downlink_cfg;
  std::unique_ptr<DirSlot> downlink;
};

struct Engine::Impl {
  sys::SetupThread& setup;
  Engine::Seeder seed;
  UniqueFd ep, evfd, tfd;
  Source wake_source, timer_source;  // epoll tags of evfd and tfd (never read as sources)
  std::thread thread;
  sys::TaskQueue tasks{"link engine", [this] { wake(); }};
  std::deque<std::function<void()>> work;  // the engine thread's batch of posted calls

  // Engine-thread state.
  std::unordered_map<std::uint64_t, std::unique_ptr<Segment>> segs;
  std::unordered_map<std::uint64_t, std::unique_ptr<P2p>> p2ps;
  std::unordered_map<int, std::unique_ptr<Hub>> hubs;  // by namespace fd
  std::unordered_map<std::uint64_t, DirSlot*> slots;
  using TimerEntry = std::pair<Nanos, std::uint64_t>;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers;
  Nanos armed = kNever;
  std::uint64_t next_slot = 1;
  std::vector<sys::PacketSocket*> dirty;
  std::vector<Port*> draining;
  std::vector<FramePtr> segs_buf;
  std::uint64_t queued_bytes = 0, memory_cap = 256ull << 20;

  Impl(sys::SetupThread& s, Engine::Seeder sd) : setup(s), seed(std::move(sd)) {
    ep.reset(::epoll_create1(EPOLL_CLOEXEC));
    evfd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    tfd.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
    if (!ep || !evfd || !tfd) sys::throw_errno("link engine", "epoll/eventfd/timerfd");
    add_fd(evfd.get(), &wake_source);
    add_fd(tfd.get(), &timer_source);
    thread = std::thread([this] { run(); });
  }

  ~Impl() {
    tasks.close();  // wakes the loop
    if (thread.joinable()) thread.join();
    tasks.discard();  // callers still waiting get Cancelled
  }

  void wake() {
    std::uint64_t one = 1;
    ssize_t r = ::write(evfd.get(), &one, sizeof one);
    (void)r;
  }

  // epoll_event.data is a union: every registration stores a pointer, so the loop never reads a
  // member other than the one written. The eventfd and the timerfd use the two sentinel sources.
  void add_fd(int fd, Source* s) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = s;
    if (::epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0) sys::throw_errno("link engine", "epoll_ctl(ADD)");
  }
  void del_fd(int fd) { ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, fd, nullptr); }

  template <class F>
  auto call(F&& fn) -> decltype(fn()) {
    return tasks.call(std::forward<F>(fn));
  }

  // ---- the loop -------------------------------------------------------------------------------

  void run() {
    ::pthread_setname_np(::pthread_self(), "patchbay:link");
    // Deadlines are absolute and short; the default 50 us slack would be pure lateness.
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    epoll_event evs[64];
    for (;;) {
      int n = ::epoll_wait(ep.get(), evs, 64, -1);
      if (n < 0 && errno != EINTR) break;
      for (int i = 0; i < n; ++i) {
        auto* s = static_cast<Source*>(evs[i].data.ptr);
        if (s == &wake_source || s == &timer_source) {
          std::uint64_t v;
          ssize_t r = ::read(s == &wake_source ? evfd.get() : tfd.get(), &v, sizeof v);
          (void)r;
          if (s == &timer_source) armed = kNever;  // expired: must be re-armed
          continue;
        }
        if (s->hub != nullptr)
          read_hub(*s->hub);
        else if (s->port != nullptr)
          read_port(*s->port);
        else
          read_trunk(*s->seg);
      }
      run_timers(now_ns());
      flush();
      if (tasks.closed()) break;
      tasks.take_into(work);  // a member: a fresh deque would allocate on every wake-up
      for (auto& w : work) w();
      work.clear();
      flush();
      check_draining();
      arm_timer();
    }
  }

  void flush() {
    for (auto* s : dirty) s->flush();
    dirty.clear();
  }
  // Per packet: a socket joins the flush list when its batch goes from empty to non-empty (a
  // mid-batch auto-flush may add it twice; flushing an empty batch is free).
  void send(sys::PacketSocket& s, const virtio_net_hdr& h, std::span<const std::uint8_t> f, int ifindex = 0) {
    const bool first = !s.has_queued();
    s.send_to(ifindex, h, f);
    if (first) dirty.push_back(&s);
  }

  void arm_timer() {
    while (!timers.empty()) {
      auto [t, id] = timers.top();
      auto it = slots.find(id);
      if (it != slots.end() && it->second->scheduled == t) break;
      timers.pop();  // stale
    }
    Nanos next = timers.empty() ? kNever : timers.top().first;
    if (next == armed) return;
    armed = next;
    itimerspec its{};
    if (next != kNever) {
      its.it_value.tv_sec = next / 1'000'000'000;
      its.it_value.tv_nsec = next % 1'000'000'000;
      if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
    }
    ::timerfd_settime(tfd.get(), TFD_TIMER_ABSTIME, &its, nullptr);
  }

  void schedule(DirSlot& s) {
    auto d = s.dir.next_deadline();
    if (!d || *d >= s.scheduled) return;
    s.scheduled = *d;
    timers.emplace(*d, s.id);
  }

  void run_timers(Nanos now) {
    while (!timers.empty() && timers.top().first <= now) {
      auto [t, id] = timers.top();
      timers.pop();
      auto it = slots.find(id);
      if (it == slots.end() || it->second->scheduled != t) continue;
      DirSlot& s = *it->second;
      s.scheduled = kNever;
      poll_slot(s, now);
    }
  }

  void poll_slot(DirSlot& s, Nanos now) {
    // Local: emitting into the downlink demux can re-enter poll_slot for another direction.
    std::vector<FramePtr> due;
    auto before = s.dir.queued_bytes();
    s.dir.poll(now, due);
    queued_bytes -= std::min(queued_bytes, before - std::min(before, s.dir.queued_bytes()));
    for (auto& f : due) emit(s, std::move(f), now);
    schedule(s);
  }

  void emit(DirSlot& s, FramePtr f, Nanos now) {
    switch (s.out) {
      case DirSlot::Out::Trunk:
        if (s.seg->plumbed) send(s.seg->trunk, f->vnet, f->bytes);
        break;
      case DirSlot::Out::Port:
        send(s.port->sock, f->vnet, f->bytes);
        break;
      case DirSlot::Out::Demux:
        deliver_down(*s.seg, f->vnet, f->bytes, now);
        break;
      case DirSlot::Out::Sock:
        send(*s.sock, f->vnet, f->bytes, s.sock_ifindex);
        break;
    }
  }

  // Queues a frame into a direction (segmenting first when a per-packet stage needs it).
  void enqueue(DirSlot& s, const virtio_net_hdr& h, std::span<const std::uint8_t> bytes, Nanos now,
               std::uint64_t& memory_drops) {
    if (queued_bytes + bytes.size() > memory_cap) {
      ++memory_drops;
      return;
    }
    auto f = std::make_unique<Frame>();
    f->vnet = h;
    f->bytes.assign(bytes.begin(), bytes.end());
    auto before = s.dir.queued_bytes();
    if (s.dir.needs_segmentation()) {
      segs_buf.clear();
      segment(std::move(f), segs_buf);
      for (auto& seg : segs_buf) s.dir.offer(std::move(seg), now);
      segs_buf.clear();
    } else {
      s.dir.offer(std::move(f), now);
    }
    auto after = s.dir.queued_bytes();
    if (after > before) queued_bytes += after - before;
    // Zero-delay stages (e.g. a duplicate with no latency) are due now: deliver in this wake-up.
    auto d = s.dir.next_deadline();
    if (d && *d <= now)
      poll_slot(s, now);
    else
      schedule(s);
  }

  void forward(DirSlot& s, sys::PacketSocket& to, const virtio_net_hdr& h,
               std::span<const std::uint8_t> bytes, Nanos now, std::uint64_t& memory_drops,
               int to_ifindex = 0) {
    if (s.dir.passthrough()) {
      ++s.pass_packets;
      s.pass_bytes += bytes.size();
      send(to, h, bytes, to_ifindex);
    } else {
      enqueue(s, h, bytes, now, memory_drops);
    }
  }

  void read_port(Port& p) {
    Nanos now = now_ns();
    Segment& seg = *p.src.seg;
    p.sock.receive(
        [&](const virtio_net_hdr& h, std::span<const std::uint8_t> f) {
          if (!p.plumbed || !seg.plumbed) return;
          forward(*p.up, seg.trunk, h, f, now, p.memory_drops);
        },
        kRxBudget);
  }

  void read_hub(Hub& hub) {
    Nanos now = now_ns();
    hub.sock.receive_any(
        [&](int ifindex, const virtio_net_hdr& h, std::span<const std::uint8_t> f) {
          auto it = hub.ends.find(ifindex);
          if (it == hub.ends.end()) {
            if (auto l = hub.l3.find(ifindex); l != hub.l3.end()) process_l3(hub, *l->second, h, f);
            return;
          }
          auto [l, from_b] = it->second;
          forward(from_b ? *l->ba : *l->ab, hub.sock, h, f, now, l->memory_drops, from_b ? l->if_a : l->if_b);
        },
        kRxBudget);
  }

  // Frames from the router to an L3 processor: cut into wire packets (GSO frames and partial
  // checksums are what the router hands a veth), strip Ethernet, process, wrap the results.
  void process_l3(Hub& hub, L3End& e, const virtio_net_hdr& h, std::span<const std::uint8_t> f) {
    auto frame = std::make_unique<Frame>();
    frame->vnet = h;
    frame->bytes.assign(f.begin(), f.end());
    e.segs.clear();
    segment(std::move(frame), e.segs);
    for (auto& s : e.segs) {
      if (s->bytes.size() < 14) continue;
      std::uint16_t type = static_cast<std::uint16_t>(s->bytes[12] << 8 | s->bytes[13]);
      if (type != 0x0800 && type != 0x86dd) continue;
      e.out.clear();
      e.fn(type, std::span<const std::uint8_t>(s->bytes).subspan(14), e.out);
      for (auto& [otype, pkt] : e.out) {
        std::vector<std::uint8_t> eth(14 + pkt.size());
        std::copy(e.peer_mac.begin(), e.peer_mac.end(), eth.begin());
        std::copy(e.own_mac.begin(), e.own_mac.end(), eth.begin() + 6);
        eth[12] = static_cast<std::uint8_t>(otype >> 8);
        eth[13] = static_cast<std::uint8_t>(otype);
        std::copy(pkt.begin(), pkt.end(), eth.begin() + 14);
        send(hub.sock, virtio_net_hdr{}, eth, e.ifindex);
      }
    }
  }

  void read_trunk(Segment& seg) {
    Nanos now = now_ns();
    seg.trunk.receive(
        [&](const virtio_net_hdr& h, std::span<const std::uint8_t> f) {
          if (f.size() < 14) return;
          if (seg.downlink && mac_key(f.data() + 6) == seg.bridge_key) {
            std::uint64_t drops = 0;
            forward_downlink(seg, h, f, now, drops);
            return;
          }
          deliver_down(seg, h, f, now);
        },
        kRxBudget);
  }

  void forward_downlink(Segment& seg, const virtio_net_hdr& h, std::span<const std::uint8_t> f, Nanos now,
                        std::uint64_t& drops) {
    DirSlot& s = *seg.downlink;
    if (s.dir.passthrough()) {
      ++s.pass_packets;
      s.pass_bytes += f.size();
      deliver_down(seg, h, f, now);
    } else {
      enqueue(s, h, f, now, drops);
    }
  }

  void deliver_down(Segment& seg, const virtio_net_hdr& h, std::span<const std::uint8_t> f, Nanos now) {
    if (f.size() < 14) return;
    if (f[0] & 1) {  // group address: every routed port except the sender
      auto src = mac_key(f.data() + 6);
      for (auto& [k, p] : seg.by_mac)
        if (k != src && p->plumbed) forward(*p->down, p->sock, h, f, now, p->memory_drops);
      return;
    }
    auto it = seg.by_mac.find(mac_key(f.data()));
    if (it == seg.by_mac.end() || !it->second->plumbed) return;  // the bridge flooded it; not ours
    Port& p = *it->second;
    forward(*p.down, p.sock, h, f, now, p.memory_drops);
  }

  // ---- plumbing (engine thread) -----------------------------------------------------------------

  std::unique_ptr<DirSlot> make_slot(std::uint64_t link_id, std::uint64_t purpose, DirSlot::Out o, Segment* s,
                                     Port* p) {
    auto slot = std::make_unique<DirSlot>(next_slot++, seed(link_id, purpose), o, s, p);
    slots[slot->id] = slot.get();
    return slot;
  }
  void drop_slot(std::unique_ptr<DirSlot>& s) {
    if (!s) return;
    queued_bytes -= std::min(queued_bytes, s->dir.queued_bytes());
    slots.erase(s->id);
    s.reset();
  }

  void plumb_segment(Segment& seg) {
    if (seg.plumbed) return;
    try {
      seg.trunk_if = seg.ns.alloc_ifindex();
      seg.engine_if = seg.ns.alloc_ifindex();
      sys::NlBatch b(seg.what);
      sys::LinkEnd t0{"pbe0", seg.trunk_if, std::nullopt, -1, seg.bridge, true, 0};
      sys::LinkEnd t1{"pbe1", seg.engine_if, std::nullopt, -1, 0, false, 0};
      sys::add_veth(b, t0, t1);
      seg.ns.commit(b);
      // pbe1 lives in the router's namespace but is only a tap for the engine: its IP stack must
      // stay silent. Otherwise it answers ARP for the router's LAN address (arp_ignore 0 replies
      // for any local address) and a device may learn pbe1's MAC as its gateway, so its packets
      // enter the router through pbe1 instead of br-lan and miss the LAN's NAT and firewall rules.
      const std::string conf = "net/ipv4/conf/pbe1/", conf6 = "net/ipv6/conf/pbe1/";
      setup.in_netns(seg.ns.fd, [&] {
        sys::write_sysctls({{conf + "arp_ignore", "8"}, {conf6 + "disable_ipv6", "1"}});
      });
      sys::NlBatch up(seg.what);
      sys::set_link(up, seg.engine_if, true, std::nullopt, std::nullopt, "set pbe1 up");
      // Hairpin: a frame from one routed port to another enters and leaves through pbe0.
      sys::BridgePortFlags hp;
      hp.hairpin = true;
      sys::set_bridge_port(up, seg.trunk_if, hp);
      seg.ns.commit(up);
      seg.trunk =
          sys::PacketSocket::open(setup, seg.ns.fd, seg.engine_if, seg.what + " engine trunk", kTrunkRing);
      seg.trunk.unpark();
      seg.src = Source{&seg, nullptr};
      add_fd(seg.trunk.fd(), &seg.src);
      seg.plumbed = true;
    } catch (const Error& e) {
      throw ImpairmentError(seg.what, std::string("link engine attach: ") + e.what());
    }
  }

  void plumb_port(Segment& seg, Port& p) {
    if (p.plumbed) return;
    plumb_segment(seg);
    try {
      if (!p.watched) {
        p.sock = sys::PacketSocket::open(setup, seg.ns.fd, p.spec.ifindex, p.spec.what, kPortRing);
        p.src = Source{&seg, &p};
        add_fd(p.sock.fd(), &p.src);
        p.watched = true;
      }
      sys::NlBatch b(p.spec.what);
      if (!p.clsact) sys::add_clsact(b, p.spec.ifindex);
      // Frames from the node are dropped at tc ingress, after the engine's socket has copied
      // them (packet taps run before tc): one cls_bpf direct-action "drop" (no act_gact here).
      sys::add_drop_all(b, p.spec.ifindex, true, kRedirectPrio);
      sys::set_bridge_port(b, p.spec.ifindex, port_flags(false));
      seg.ns.commit(b);
      p.clsact = true;
      forget_fdb(seg, p.spec.ifindex, p.spec.peer_mac);
      p.sock.unpark();
      p.plumbed = true;
      seg.by_mac[p.key] = &p;
    } catch (const Error& e) {
      throw ImpairmentError(p.spec.what, std::string("link engine attach: ") + e.what());
    }
  }

  void unplumb_port(Segment& seg, Port& p) {
    if (!p.plumbed) return;
    p.sock.park();
    sys::NlBatch b(p.spec.what);
    sys::del_filters(b, p.spec.ifindex, true, kRedirectPrio);
    sys::set_bridge_port(b, p.spec.ifindex, port_flags(true));
    seg.ns.commit(b);
    // The bridge learned the peer behind the trunk; forget it so it relearns on the real port.
    forget_fdb(seg, seg.trunk_if, p.spec.peer_mac);
    p.plumbed = false;
    seg.by_mac.erase(p.key);
  }

  void forget_fdb(Segment& seg, int port, const sys::Mac& mac) {
    sys::NlBatch b(seg.what);
    sys::del_fdb(b, port, mac);
    try {
      seg.ns.commit(b);
    } catch (const SystemError& e) {
      if (e.errnum() != ENOENT) throw;
    }
  }

  bool wants_routing(const Segment& seg, const Port& p) const {
    return is_active(p.up_cfg) || is_active(p.down_cfg) || seg.downlink_cfg.has_value();
  }

  void apply_port(Segment& seg, Port& p, Nanos now) {
    auto set = [&](std::unique_ptr<DirSlot>& s, const std::optional<DirConfig>& c) {
      if (c)
        s->dir.set_limits(c->limits, now, c->trace);
      else
        s->dir.set_limits(LinkLimits{}, now);
    };
    set(p.up, p.up_cfg);
    set(p.down, p.down_cfg);
    if (wants_routing(seg, p)) {
      draining.erase(std::remove(draining.begin(), draining.end(), &p), draining.end());
      plumb_port(seg, p);
    } else if (p.plumbed && std::find(draining.begin(), draining.end(), &p) == draining.end()) {
      draining.push_back(&p);
    }
  }

  void check_draining() {
    for (std::size_t i = 0; i < draining.size();) {
      Port& p = *draining[i];
      Segment& seg = *p.src.seg;
      if (p.up->dir.idle() && p.down->dir.idle() && (!seg.downlink || seg.downlink->dir.idle())) {
        try {
          unplumb_port(seg, p);
        } catch (const Error&) {
          // The namespace may be going away; the port is no longer ours either way.
        }
        draining.erase(draining.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }

  Port& port_rec(Segment& seg, const PortSpec& spec) {
    auto& slot = seg.ports[spec.ifindex];
    if (!slot) {
      slot = std::make_unique<Port>();
      slot->spec = spec;
      slot->key = mac_key(spec.peer_mac);
      slot->src = Source{&seg, slot.get()};
      slot->up = make_slot(spec.link_id, kSeedUp, DirSlot::Out::Trunk, &seg, slot.get());
      slot->down = make_slot(spec.link_id, kSeedDown, DirSlot::Out::Port, &seg, slot.get());
    }
    return *slot;
  }

  Segment& seg_rec(std::uint64_t id) {
    auto it = segs.find(id);
    if (it == segs.end()) throw NotFound("link engine", "unknown segment " + std::to_string(id));
    return *it->second;
  }

  void erase_port(Segment& seg, int ifindex) {
    auto it = seg.ports.find(ifindex);
    if (it == seg.ports.end()) return;
    Port& p = *it->second;
    draining.erase(std::remove(draining.begin(), draining.end(), &p), draining.end());
    dirty.erase(std::remove(dirty.begin(), dirty.end(), &p.sock), dirty.end());
    if (p.watched) del_fd(p.sock.fd());
    seg.by_mac.erase(p.key);
    drop_slot(p.up);
    drop_slot(p.down);
    seg.ports.erase(it);
  }
};

}  // namespace patchbay::link
