// A network namespace as the lab holds it, and the ways other parts reach into one.
//
// Locking: `nl_mu` serialises the namespace's netlink socket (a batch is one request and its
// acknowledgements); interface indexes are handed out lock-free.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>

#include "link/engine.hpp"
#include "sys/netlink.hpp"
#include "sys/setup_thread.hpp"

namespace patchbay::detail {

// A network namespace and its netlink socket (opened inside once, usable from any thread).
struct Netns {
  UniqueFd fd;
  sys::NetlinkSocket nl;
  std::mutex nl_mu;
  std::atomic<int> next_ifindex{2};  // 1 is lo

  void commit(sys::NlBatch& b) {
    std::lock_guard lk(nl_mu);
    nl.commit(b);
  }
  int alloc_ifindex() { return next_ifindex.fetch_add(1); }
};

// A namespace prepared by the setup thread, owned from here on.
std::shared_ptr<Netns> adopt(sys::PreparedNs p);

// What the link engine may do in `ns`: commit batches and allocate interface indexes. The access
// keeps the namespace alive; the engine outlives no namespace anyway, since the lab removes a
// node's bridges and links from the engine before the node goes away.
link::NsAccess engine_access(std::shared_ptr<Netns> ns);

// The lab's wire namespace: it holds the engine's ends of region links and NAT64 veths, and has
// no addresses, no bridge and IPv6 off (frames reach it only to be copied by the engine). Made on
// first use. Thread-safe; its mutex is a leaf.
class WireNamespace {
 public:
  explicit WireNamespace(sys::SetupThread& setup) : setup_(setup) {}
  std::shared_ptr<Netns> get();

 private:
  sys::SetupThread& setup_;
  std::mutex mu_;
  std::shared_ptr<Netns> ns_;
};

}  // namespace patchbay::detail
