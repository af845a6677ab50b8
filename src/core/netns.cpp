#include "core/netns.hpp"

#include "sys/sysctl.hpp"

namespace patchbay::detail {

std::shared_ptr<Netns> adopt(sys::PreparedNs p) {
  auto ns = std::make_shared<Netns>();
  ns->fd = std::move(p.fd);
  ns->nl = std::move(p.nl);
  return ns;
}

link::NsAccess engine_access(std::shared_ptr<Netns> ns) {
  link::NsAccess acc;
  acc.fd = ns->fd.get();
  acc.commit = [ns](sys::NlBatch& b) { ns->commit(b); };
  acc.alloc_ifindex = [ns] { return ns->alloc_ifindex(); };
  return acc;
}

std::shared_ptr<Netns> WireNamespace::get() {
  std::lock_guard lk(mu_);
  if (!ns_) {
    auto ns = adopt(setup_.take());
    setup_.in_netns(ns->fd.get(), [] {
      sys::write_sysctls(
          {{"net/ipv6/conf/all/disable_ipv6", "1"}, {"net/ipv6/conf/default/disable_ipv6", "1"}});
    });
    ns_ = std::move(ns);
  }
  return ns_;
}

}  // namespace patchbay::detail
