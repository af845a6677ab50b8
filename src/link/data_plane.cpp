#include "link/data_plane.hpp"

#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>

#include "patchbay/error.hpp"
#include "sys/errno.hpp"
#include "sys/sched.hpp"

namespace patchbay::link {

DataPlane::DataPlane(Engine::Seeder seed, DrainedFn on_drained)
    : seed_(std::move(seed)), on_drained_(std::move(on_drained)) {
  ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
  evfd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  tfd_.reset(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK));
  if (!ep_ || !evfd_ || !tfd_) sys::throw_errno("link engine", "epoll/eventfd/timerfd");
  add_fd(evfd_.get(), &wake_source_);
  add_fd(tfd_.get(), &timer_source_);
  thread_ = std::thread([this] { run(); });
}

DataPlane::~DataPlane() {
  stop();
}

void DataPlane::stop() {
  tasks_.close();  // wakes the loop
  if (thread_.joinable()) thread_.join();
  tasks_.discard();  // callers still waiting get Cancelled
}

void DataPlane::wake() {
  std::uint64_t one = 1;
  ssize_t r = ::write(evfd_.get(), &one, sizeof one);
  (void)r;
}

// epoll_event.data is a union: every registration stores a pointer, so the loop never reads a
// member other than the one written. The eventfd and the timerfd use the two sentinel sources.
void DataPlane::add_fd(int fd, Source* s) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = s;
  if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) sys::throw_errno("link engine", "epoll_ctl(ADD)");
}

void DataPlane::del_fd(int fd) {
  ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

// ---- the loop ---------------------------------------------------------------------------------

void DataPlane::run() {
  ::pthread_setname_np(::pthread_self(), "patchbay:link");
  // Deadlines are absolute and short; the default 50 us slack would be pure lateness.
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  // Picked first when a deadline fires while the lab's other threads build (sys/sched.hpp).
  sys::run_as_latency_sensitive_thread();
  epoll_event evs[64];
  for (;;) {
    int n = ::epoll_wait(ep_.get(), evs, 64, -1);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      auto* s = static_cast<Source*>(evs[i].data.ptr);
      if (s == &wake_source_ || s == &timer_source_) {
        std::uint64_t v;
        ssize_t r = ::read(s == &wake_source_ ? evfd_.get() : tfd_.get(), &v, sizeof v);
        (void)r;
        if (s == &timer_source_) armed_ = kNever;  // expired: must be re-armed
        continue;
      }
      if (s->hub != nullptr)
        read_hub(*s->hub);
      else if (s->port != nullptr)
        read_port(*s->port);
      else
        read_trunk(*s->br);
    }
    run_timers(now_ns());
    flush();
    if (tasks_.closed()) break;
    tasks_.take_into(work_);  // a member: a fresh deque would allocate on every wake-up
    for (auto& w : work_) w();
    work_.clear();
    flush();
    check_draining();
    arm_timer();
  }
}

void DataPlane::flush() {
  for (auto* s : dirty_) s->flush();
  dirty_.clear();
}
// Per packet: a socket joins the flush list when its batch goes from empty to non-empty (a
// mid-batch auto-flush may add it twice; flushing an empty batch is free).
void DataPlane::send(sys::PacketSocket& s, const virtio_net_hdr& h, std::span<const std::uint8_t> f,
                     int ifindex) {
  const bool first = !s.has_queued();
  s.send_to(ifindex, h, f);
  if (first) dirty_.push_back(&s);
}

void DataPlane::arm_timer() {
  while (!timers_.empty()) {
    auto [t, id] = timers_.top();
    auto it = slots_.find(id);
    if (it != slots_.end() && it->second->scheduled == t) break;
    timers_.pop();  // stale
  }
  Nanos next = timers_.empty() ? kNever : timers_.top().first;
  if (next == armed_) return;
  armed_ = next;
  itimerspec its{};
  if (next != kNever) {
    its.it_value.tv_sec = next / 1'000'000'000;
    its.it_value.tv_nsec = next % 1'000'000'000;
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0) its.it_value.tv_nsec = 1;
  }
  ::timerfd_settime(tfd_.get(), TFD_TIMER_ABSTIME, &its, nullptr);
}

void DataPlane::schedule(DirSlot& s) {
  auto d = s.dir.next_deadline();
  if (!d || *d >= s.scheduled) return;
  s.scheduled = *d;
  timers_.emplace(*d, s.id);
}

void DataPlane::run_timers(Nanos now) {
  while (!timers_.empty() && timers_.top().first <= now) {
    auto [t, id] = timers_.top();
    timers_.pop();
    auto it = slots_.find(id);
    if (it == slots_.end() || it->second->scheduled != t) continue;
    DirSlot& s = *it->second;
    s.scheduled = kNever;
    poll_slot(s, now);
  }
}

void DataPlane::poll_slot(DirSlot& s, Nanos now) {
  // Local: emitting into the downlink demux can re-enter poll_slot for another direction.
  std::vector<FramePtr> due;
  auto before = s.dir.queued_bytes();
  s.dir.poll(now, due);
  queued_bytes_ -= std::min(queued_bytes_, before - std::min(before, s.dir.queued_bytes()));
  for (auto& f : due) emit(s, std::move(f), now);
  schedule(s);
}

void DataPlane::emit(DirSlot& s, FramePtr f, Nanos now) {
  switch (s.out) {
    case DirSlot::Out::Trunk:
      if (s.br->plumbed) send(s.br->trunk, f->vnet, f->bytes);
      break;
    case DirSlot::Out::Port:
      send(s.port->sock, f->vnet, f->bytes);
      break;
    case DirSlot::Out::Demux:
      deliver_down(*s.br, f->vnet, f->bytes, now);
      break;
    case DirSlot::Out::Sock:
      send(*s.sock, f->vnet, f->bytes, s.sock_ifindex);
      break;
  }
}

// Queues a frame into a direction (split into wire packets first when a per-packet stage needs it).
void DataPlane::enqueue(DirSlot& s, const virtio_net_hdr& h, std::span<const std::uint8_t> bytes, Nanos now,
                        std::uint64_t& memory_drops) {
  if (queued_bytes_ + bytes.size() > memory_cap) {
    ++memory_drops;
    return;
  }
  auto f = std::make_unique<Frame>();
  f->vnet = h;
  f->bytes.assign(bytes.begin(), bytes.end());
  auto before = s.dir.queued_bytes();
  if (s.dir.needs_gso_split()) {
    gso_buf_.clear();
    split_gso(std::move(f), gso_buf_);
    for (auto& pkt : gso_buf_) s.dir.offer(std::move(pkt), now);
    gso_buf_.clear();
  } else {
    s.dir.offer(std::move(f), now);
  }
  auto after = s.dir.queued_bytes();
  if (after > before) queued_bytes_ += after - before;
  // Zero-delay stages (e.g. a duplicate with no latency) are due now: deliver in this wake-up.
  auto d = s.dir.next_deadline();
  if (d && *d <= now)
    poll_slot(s, now);
  else
    schedule(s);
}

void DataPlane::forward(DirSlot& s, sys::PacketSocket& to, const virtio_net_hdr& h,
                        std::span<const std::uint8_t> bytes, Nanos now, std::uint64_t& memory_drops,
                        int to_ifindex) {
  if (s.dir.passthrough()) {
    ++s.pass_packets;
    s.pass_bytes += bytes.size();
    send(to, h, bytes, to_ifindex);
  } else {
    enqueue(s, h, bytes, now, memory_drops);
  }
}

std::size_t DataPlane::read_port(Port& p) {
  Nanos now = now_ns();
  Bridge& br = *p.src.br;
  return p.sock.receive(
      [&](const virtio_net_hdr& h, std::span<const std::uint8_t> f) {
        if (!p.plumbed || !br.plumbed) return;
        forward(*p.up, br.trunk, h, f, now, p.memory_drops);
      },
      kRxBudget);
}

void DataPlane::read_hub(Hub& hub) {
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
void DataPlane::process_l3(Hub& hub, L3End& e, const virtio_net_hdr& h, std::span<const std::uint8_t> f) {
  auto frame = std::make_unique<Frame>();
  frame->vnet = h;
  frame->bytes.assign(f.begin(), f.end());
  e.gso_out.clear();
  split_gso(std::move(frame), e.gso_out);
  for (auto& s : e.gso_out) {
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

void DataPlane::read_trunk(Bridge& br) {
  Nanos now = now_ns();
  br.trunk.receive(
      [&](const virtio_net_hdr& h, std::span<const std::uint8_t> f) {
        if (f.size() < 14) return;
        if (br.downlink && mac_key(f.data() + 6) == br.bridge_key) {
          std::uint64_t drops = 0;
          forward_downlink(br, h, f, now, drops);
          return;
        }
        deliver_down(br, h, f, now);
      },
      kRxBudget);
}

void DataPlane::forward_downlink(Bridge& br, const virtio_net_hdr& h, std::span<const std::uint8_t> f,
                                 Nanos now, std::uint64_t& drops) {
  DirSlot& s = *br.downlink;
  if (s.dir.passthrough()) {
    ++s.pass_packets;
    s.pass_bytes += f.size();
    deliver_down(br, h, f, now);
  } else {
    enqueue(s, h, f, now, drops);
  }
}

void DataPlane::deliver_down(Bridge& br, const virtio_net_hdr& h, std::span<const std::uint8_t> f,
                             Nanos now) {
  if (f.size() < 14) return;
  if (f[0] & 1) {  // group address: every routed port except the sender
    auto src = mac_key(f.data() + 6);
    for (auto& [k, p] : br.by_mac)
      if (k != src && p->plumbed) forward(*p->down, p->sock, h, f, now, p->memory_drops);
    return;
  }
  auto it = br.by_mac.find(mac_key(f.data()));
  if (it == br.by_mac.end()) return;  // the bridge flooded it; not ours
  Port& p = *it->second;
  if (!p.plumbed && now >= p.leaving_until) return;
  forward(*p.down, p.sock, h, f, now, p.memory_drops);
}

std::unique_ptr<DirSlot> DataPlane::make_slot(std::uint64_t link_id, std::uint64_t purpose, DirSlot::Out o,
                                              Bridge* s, Port* p) {
  auto slot = std::make_unique<DirSlot>(next_slot_++, seed_(link_id, purpose), o, s, p);
  slots_[slot->id] = slot.get();
  return slot;
}

void DataPlane::drop_slot(std::unique_ptr<DirSlot>& s) {
  if (!s) return;
  queued_bytes_ -= std::min(queued_bytes_, s->dir.queued_bytes());
  slots_.erase(s->id);
  s.reset();
}

bool DataPlane::wants_routing(const Bridge& br, const Port& p) const {
  return is_active(p.up_cfg) || is_active(p.down_cfg) || br.downlink_cfg.has_value();
}

bool DataPlane::apply_port(Bridge& br, Port& p, Nanos now) {
  auto set = [&](std::unique_ptr<DirSlot>& s, const std::optional<DirConfig>& c) {
    if (c)
      s->dir.set_limits(c->limits, now, c->trace);
    else
      s->dir.set_limits(LinkLimits{}, now);
  };
  set(p.up, p.up_cfg);
  set(p.down, p.down_cfg);
  if (wants_routing(br, p)) {
    // A pending restore sees the port wanted again and leaves it routed.
    draining_.erase(std::remove(draining_.begin(), draining_.end(), &p), draining_.end());
    return !p.plumbed;
  }
  if (p.plumbed && !p.unplumb_pending && std::find(draining_.begin(), draining_.end(), &p) == draining_.end())
    draining_.push_back(&p);
  return false;
}

// What is queued in a port that lost its conditions still leaves through the engine; once its
// directions are idle the control plane restores the plain path (unroute_drained first).
void DataPlane::check_draining() {
  for (std::size_t i = 0; i < draining_.size();) {
    Port& p = *draining_[i];
    Bridge& br = *p.src.br;
    if (p.up->dir.idle() && p.down->dir.idle() && (!br.downlink || br.downlink->dir.idle())) {
      draining_.erase(draining_.begin() + static_cast<std::ptrdiff_t>(i));
      p.unplumb_pending = true;
      on_drained_(br.id, p.spec.ifindex);
    } else {
      ++i;
    }
  }
}

Port& DataPlane::port_rec(Bridge& br, const PortSpec& spec) {
  auto& slot = br.ports[spec.ifindex];
  if (!slot) {
    slot = std::make_unique<Port>();
    slot->spec = spec;
    slot->key = mac_key(spec.peer_mac);
    slot->src = Source{&br, slot.get()};
    slot->up = make_slot(spec.link_id, kSeedUp, DirSlot::Out::Trunk, &br, slot.get());
    slot->down = make_slot(spec.link_id, kSeedDown, DirSlot::Out::Port, &br, slot.get());
  }
  return *slot;
}

Bridge& DataPlane::bridge_rec(std::uint64_t id) {
  auto it = bridges_.find(id);
  if (it == bridges_.end()) throw NotFound("link engine", "unknown bridge " + std::to_string(id));
  return *it->second;
}

void DataPlane::erase_port(Bridge& br, int ifindex) {
  auto it = br.ports.find(ifindex);
  if (it == br.ports.end()) return;
  Port& p = *it->second;
  draining_.erase(std::remove(draining_.begin(), draining_.end(), &p), draining_.end());
  dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), &p.sock), dirty_.end());
  if (p.watched) del_fd(p.sock.fd());
  br.by_mac.erase(p.key);
  drop_slot(p.up);
  drop_slot(p.down);
  br.ports.erase(it);
}

Bridge* DataPlane::find_bridge(std::uint64_t id) {
  auto it = bridges_.find(id);
  return it == bridges_.end() ? nullptr : it->second.get();
}

Bridge& DataPlane::add_bridge(std::uint64_t id, NsAccess ns, int bridge, sys::Mac bridge_mac,
                              std::string what) {
  auto& s = bridges_[id];
  if (!s) {
    s = std::make_unique<Bridge>();
    s->id = id;
    s->ns = std::move(ns);
    s->bridge = bridge;
    s->bridge_mac = bridge_mac;
    s->bridge_key = mac_key(bridge_mac);
    s->what = std::move(what);
  }
  return *s;
}

void DataPlane::erase_bridge(std::uint64_t id) {
  auto it = bridges_.find(id);
  if (it == bridges_.end()) return;
  Bridge& s = *it->second;
  std::vector<int> ports;
  for (auto& [ifi, p] : s.ports) ports.push_back(ifi);
  for (int ifi : ports) erase_port(s, ifi);
  drop_slot(s.downlink);
  dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), &s.trunk), dirty_.end());
  if (s.plumbed) del_fd(s.trunk.fd());
  bridges_.erase(it);
}

// ---- hand-overs from the control plane ----------------------------------------------------------

void DataPlane::install_trunk(Bridge& br, sys::PacketSocket sock) {
  br.trunk = std::move(sock);
  br.trunk.unpark();
  br.src = Source{&br, nullptr};
  add_fd(br.trunk.fd(), &br.src);
  br.plumbed = true;
}

void DataPlane::install_port_socket(Bridge& br, Port& p, sys::PacketSocket sock) {
  p.sock = std::move(sock);  // parked until route_port
  p.src = Source{&br, &p};
  add_fd(p.sock.fd(), &p.src);
  p.watched = true;
}

void DataPlane::route_port(Bridge& br, Port& p) {
  p.sock.unpark();
  p.plumbed = true;
  br.by_mac[p.key] = &p;
}

Port* DataPlane::restorable(std::uint64_t bridge_id, int ifindex, Bridge*& br_out) {
  Bridge* br = find_bridge(bridge_id);
  if (br == nullptr) return nullptr;
  auto it = br->ports.find(ifindex);
  if (it == br->ports.end()) return nullptr;
  Port& p = *it->second;
  const bool pending = std::exchange(p.unplumb_pending, false);
  if (!pending || !p.plumbed || wants_routing(*br, p)) return nullptr;
  br_out = br;
  return &p;
}

void DataPlane::stop_reading(Port& p) {
  // Bounded: the ring holds at most kPortRing frames, and a flood must not keep this loop going.
  for (int pass = 0; pass < 64 && read_port(p) == kRxBudget; ++pass) {
  }
  p.sock.park();
  flush();  // sent before the control plane makes the bridge forget the trunk
}

void DataPlane::unroute(Port& p) {
  p.plumbed = false;
  p.leaving_until = now_ns() + kLeaveGrace;
}

Hub* DataPlane::find_hub(int ns_fd) {
  auto it = hubs.find(ns_fd);
  return it == hubs.end() ? nullptr : it->second.get();
}

Hub* DataPlane::install_hub(int ns_fd, sys::PacketSocket sock) {
  auto h = std::make_unique<Hub>();
  h->ns_fd = ns_fd;
  h->sock = std::move(sock);
  h->sock.unpark();
  h->src = Source{};
  h->src.hub = h.get();
  add_fd(h->sock.fd(), &h->src);
  auto* raw = h.get();
  hubs[ns_fd] = std::move(h);
  return raw;
}

}  // namespace patchbay::link
