// The NAT controller: chooses the external port of every new IPv4 mapping.
//
// The kernel does the translating, filtering and recording (rules.hpp). What it cannot do exactly
// is pick a port: the SNAT engine only checks that the conntrack tuple is unique, so two LAN
// hosts with the same source port could end up sharing one external port towards different
// remotes (breaking "an external port belongs to one internal endpoint"), and its random ports
// are not reproducible from the lab seed. So the first packet of a new mapping is queued here:
// the controller reads the original tuple, checks ownership in the kernel's own_P map, prefers the
// internal port (port preservation) and otherwise draws from the configured range with the
// router's seeded generator, inserts map_P/own_P, and releases the packet to srcnat.
//
// One controller per lab, running on the lab's event loop; a router costs a queue socket and a
// netfilter netlink socket, no thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "exec/event_loop.hpp"
#include "log/sink.hpp"
#include "patchbay/nat.hpp"
#include "patchbay/types.hpp"
#include "sys/nfnl.hpp"
#include "sys/nfqueue.hpp"

namespace patchbay::nat {

inline constexpr std::uint16_t kQueueNum = 7;

struct ControllerStats {
  std::uint64_t mappings = 0;   // new mappings created
  std::uint64_t preserved = 0;  // of which kept the internal port
  std::uint64_t exhausted = 0;  // packets dropped because no port was free
  std::uint64_t failed = 0;     // packets dropped because handling them threw (each one reported)
};

// Told about every packet the controller failed to handle (router id, the error's text), on the
// event loop thread. The lab turns it into a service_error event and an error record.
using ErrorReporter = std::function<void(NodeId router, const std::string& message)>;

class Controller {
 public:
  Controller(detail::EventLoop& loop, std::uint64_t lab_seed, ErrorReporter report = nullptr);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Takes over a router's queue and netfilter socket (both opened inside its namespace). Mapping
  // decisions are logged (debug, target "patchbay::nat") to `log`, the router's files (may be null).
  void attach(NodeId router, sys::NfQueue queue, sys::NfnlSocket nfnl, const NatConfig& cfg, Ipv4Addr wan,
              std::shared_ptr<log::detail::NodeSink> log = nullptr);
  void reconfigure(NodeId router, const NatConfig& cfg, Ipv4Addr wan);
  void detach(NodeId router);
  ControllerStats stats(NodeId router) const;

 private:
  struct Router;
  void on_readable(Router& r);
  void handle(Router& r, const sys::NfQueue::Packet& p);

  detail::EventLoop& loop_;
  std::uint64_t seed_;
  ErrorReporter report_;
  mutable std::mutex mu_;  // guards routers_ against attach/detach from other threads
  std::map<std::uint64_t, std::unique_ptr<Router>> routers_;
};

}  // namespace patchbay::nat
