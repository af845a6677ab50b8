// The LabCore side of a router's NAT changes: the kernel work is NatControl's (nat_control.hpp);
// here the routes the ancestors hold for the router follow the mode, and the NPTv6 external
// prefix comes from the address plan.
#include "core/lab_core.hpp"

namespace patchbay::detail {

void LabCore::set_nat(RouterRec& r, const Nat& n) {
  if (!r.alive) throw Removed(r.describe(), "the router has been removed");
  const bool was_none = r.nat.kind() == Nat::Kind::None, is_none = n.kind() == Nat::Kind::None;
  nat_->apply_nat(r, n);
  r.nat = n;
  // A NAT hides the LAN: its prefix is no longer routed from the ancestors (and is again when
  // the NAT goes away).
  if (was_none != is_none) {
    std::vector<AncestorRoute> fresh;
    {
      std::lock_guard lk(plan_mu_);
      fresh = routes_for(r);
    }
    remove_routes(r.ancestor_routes);
    install_routes(fresh);
    std::lock_guard lk(plan_mu_);
    r.ancestor_routes = std::move(fresh);
  }
  emit("nat_changed", {{"router", r.name}, {"nat", n.to_json()}});
}

Ipv6Net LabCore::alloc_npt_prefix(const RouterRec& r, const std::string& owner) {
  if (!r.wan_ip6 || !r.lan6) throw InvalidArgument(owner, "nat_v6 nptv6 needs an IPv6 uplink and LAN");
  const std::uint8_t len = r.lan6->prefix_len();
  return r.upstream ? plan_.alloc_nptv6_external(owner, len) : plan_.alloc_nptv6_ix(*r.wan_ip6, len, owner);
}

void LabCore::set_nat_v6(RouterRec& r, NatV6Mode m) {
  const std::string ctx = r.describe() + ": set_nat_v6_mode(" + to_string(m) + ")";
  if (!r.alive) throw Removed(r.describe(), "the router has been removed");
  if (m != NatV6Mode::None && !r.lan6) throw InvalidArgument(ctx, "the router has no IPv6 LAN");
  if (m == r.nat_v6) return;
  std::optional<Ipv6Net> old_ext;
  {
    std::lock_guard lk(plan_mu_);
    if (m == NatV6Mode::Nptv6 && !r.npt_ext) r.npt_ext = alloc_npt_prefix(r, ctx);
  }
  try {
    nat_->apply_nat_v6(r, m);
  } catch (...) {
    if (r.nat_v6 != NatV6Mode::Nptv6 && r.npt_ext) {
      std::lock_guard lk(plan_mu_);
      plan_.release_v6(*r.npt_ext);
      r.npt_ext.reset();
    }
    throw;
  }
  r.nat_v6 = m;
  // What the ancestors route changes with the mode (LAN, external prefix, or nothing).
  std::vector<AncestorRoute> fresh;
  {
    std::lock_guard lk(plan_mu_);
    fresh = routes_for(r);
    if (m != NatV6Mode::Nptv6 && r.npt_ext) {
      plan_.release_v6(*r.npt_ext);
      r.npt_ext.reset();
    }
  }
  remove_routes(r.ancestor_routes);
  install_routes(fresh);
  {
    std::lock_guard lk(plan_mu_);
    r.ancestor_routes = std::move(fresh);
  }
  emit("nat_v6_changed", {{"router", r.name}, {"nat_v6", to_string(m)}});
}

}  // namespace patchbay::detail
