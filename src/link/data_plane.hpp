// The link engine's data plane: one thread ("patchbay:link") running an epoll loop over the
// packet sockets and an absolute-time timerfd over a heap of per-direction deadlines, and the
// forwarding path (port/trunk/hub sockets -> Direction pipelines -> sockets). It never talks to
// the kernel's configuration interfaces: the control plane (control_plane.hpp) does the plumbing
// and hands finished sockets and ports over through call(), which runs a closure between two
// forwarding passes.
#pragma once

#include <sys/epoll.h>

#include <deque>
#include <functional>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

#include "link/engine_types.hpp"
#include "patchbay/fd.hpp"
#include "sys/task_queue.hpp"

namespace patchbay::link {

class DataPlane {
 public:
  // on_drained(bridge, port ifindex): a port without conditions has drained; called on the
  // data thread, must not block (the engine posts it to the control plane).
  using DrainedFn = std::function<void(std::uint64_t br, int ifindex)>;
  DataPlane(Engine::Seeder seed, DrainedFn on_drained);
  ~DataPlane();  // stop()s
  DataPlane(const DataPlane&) = delete;
  DataPlane& operator=(const DataPlane&) = delete;

  // Runs fn on the data thread between forwarding passes and returns its result.
  template <class F>
  auto call(F&& fn) -> decltype(fn()) {
    return tasks_.call(std::forward<F>(fn));
  }
  // Ends the thread; later and pending calls throw Cancelled. Idempotent.
  void stop();

  // ---- on the data thread (inside call) -------------------------------------------------------
  // The bridge `id`, made on first use (later calls return it unchanged).
  Bridge& add_bridge(std::uint64_t id, NsAccess ns, int bridge, sys::Mac bridge_mac, std::string what);
  Bridge& bridge_rec(std::uint64_t id);  // NotFound if unknown
  Bridge* find_bridge(std::uint64_t id);
  Port& port_rec(Bridge& br, const PortSpec& spec);  // made on first use
  // Applies the port's configuration to its pipelines; true if the control plane must route it
  // through the engine. A port that no longer needs routing drains first (on_drained).
  bool apply_port(Bridge& br, Port& p, Nanos now);
  void erase_port(Bridge& br, int ifindex);
  void erase_bridge(std::uint64_t id);
  std::unique_ptr<DirSlot> make_slot(std::uint64_t link_id, std::uint64_t purpose, DirSlot::Out o, Bridge* s,
                                     Port* p);
  void drop_slot(std::unique_ptr<DirSlot>& s);
  // Hand-overs from the control plane.
  void install_trunk(Bridge& br, sys::PacketSocket sock);
  void install_port_socket(Bridge& br, Port& p, sys::PacketSocket sock);
  void route_port(Bridge& br, Port& p);  // the kernel side is ready: frames take the engine
  // Taking a drained port off the engine, in three hand-overs around the control plane's kernel
  // work, so that no frame of the port is lost in between (a duplicate is the price):
  //  1. restorable: the port (and its bridge) if it drained and is still unwanted, else null. It
  //     stays routed while the kernel's plain path comes back.
  //  2. stop_reading: once the kernel bridges the port itself, forwards what the socket still
  //     holds (frames tc dropped before that), parks it and sends what it forwarded.
  //  3. unroute: off the engine path. For kLeaveGrace, frames the bridge still sends to the trunk
  //     for the port's MAC reach it, while the control plane makes the bridge forget the trunk.
  // The control thread runs them in one task, so no port change comes in between.
  Port* restorable(std::uint64_t br, int ifindex, Bridge*& br_out);
  void stop_reading(Port& p);
  void unroute(Port& p);
  Hub* find_hub(int ns_fd);
  Hub* install_hub(int ns_fd, sys::PacketSocket sock);

  std::unordered_map<std::uint64_t, std::unique_ptr<P2p>> p2ps;
  std::unordered_map<int, std::unique_ptr<Hub>> hubs;  // by namespace fd
  std::uint64_t memory_cap = 256ull << 20;

 private:
  void wake();
  void add_fd(int fd, Source* s);
  void del_fd(int fd);
  void run();
  void flush();
  void send(sys::PacketSocket& s, const virtio_net_hdr& h, std::span<const std::uint8_t> f, int ifindex = 0);
  void arm_timer();
  void schedule(DirSlot& s);
  void run_timers(Nanos now);
  void poll_slot(DirSlot& s, Nanos now);
  void emit(DirSlot& s, FramePtr f, Nanos now);
  void enqueue(DirSlot& s, const virtio_net_hdr& h, std::span<const std::uint8_t> bytes, Nanos now,
               std::uint64_t& memory_drops);
  void forward(DirSlot& s, sys::PacketSocket& to, const virtio_net_hdr& h,
               std::span<const std::uint8_t> bytes, Nanos now, std::uint64_t& memory_drops,
               int to_ifindex = 0);
  std::size_t read_port(Port& p);  // frames read
  void read_hub(Hub& hub);
  void process_l3(Hub& hub, L3End& e, const virtio_net_hdr& h, std::span<const std::uint8_t> f);
  void read_trunk(Bridge& br);
  void forward_downlink(Bridge& br, const virtio_net_hdr& h, std::span<const std::uint8_t> f, Nanos now,
                        std::uint64_t& drops);
  void deliver_down(Bridge& br, const virtio_net_hdr& h, std::span<const std::uint8_t> f, Nanos now);
  bool wants_routing(const Bridge& br, const Port& p) const;
  void check_draining();

  Engine::Seeder seed_;
  DrainedFn on_drained_;
  UniqueFd ep_, evfd_, tfd_;
  Source wake_source_, timer_source_;  // epoll tags of evfd and tfd (never read as sources)
  std::thread thread_;
  sys::TaskQueue tasks_{"link engine", [this] { wake(); }};
  std::deque<std::function<void()>> work_;  // the thread's batch of posted calls

  std::unordered_map<std::uint64_t, std::unique_ptr<Bridge>> bridges_;
  std::unordered_map<std::uint64_t, DirSlot*> slots_;
  using TimerEntry = std::pair<Nanos, std::uint64_t>;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers_;
  Nanos armed_ = kNever;
  std::uint64_t next_slot_ = 1;
  std::vector<sys::PacketSocket*> dirty_;
  std::vector<Port*> draining_;
  std::vector<FramePtr> gso_buf_;
  std::uint64_t queued_bytes_ = 0;
};

}  // namespace patchbay::link
