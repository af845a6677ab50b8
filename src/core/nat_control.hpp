// The kernel side of a router's address translation and filtering: the IPv4 NAT (its rule set and
// the NAT controller's queue), the firewall, the PMTU black hole, the IPv6 NAT table (NPTv6,
// masquerade) and NAT64 (a veth into the wire namespace served by the link engine's translator).
// Each change that users make directly emits its event here; changes that also move routes
// between routers (set_nat, set_nat_v6) are orchestrated by LabCore, which calls apply_* and owns
// the address plan. Nothing here touches the plan or another router.
//
// Locking: every method runs under the router's `mu` (the caller holds it). NatControl has no
// lock of its own and keeps no state: what exists in the kernel is recorded on the RouterRec.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/emit_event.hpp"
#include "core/netns.hpp"
#include "core/records.hpp"
#include "core/services.hpp"
#include "sys/nft_batch.hpp"
#include "sys/setup_thread.hpp"

namespace patchbay::detail {

class NatControl {
 public:
  NatControl(sys::SetupThread& setup, LabServices& services, WireNamespace& wire, std::uint64_t seed,
             EmitEvent emit)
      : setup_(setup), services_(services), wire_(wire), seed_(seed), emit_(std::move(emit)) {}

  // At build: NAT and firewall in one transaction, then the PMTU table and the IPv6 NAT mode
  // the record asks for. No events (the build emits its own).
  void apply_at_build(RouterRec& r, bool block_frag_needed);
  // The rule set and controller for `n` (none: removed). Throws InvalidArgument when the router
  // lacks what the mode needs; the record's `nat` is the caller's to update.
  void apply_nat(RouterRec& r, const Nat& n, sys::NftBatch* firewall = nullptr);
  // The IPv6 NAT table and NAT64 for `m`; the caller has allocated r.npt_ext for NPTv6.
  void apply_nat_v6(RouterRec& r, NatV6Mode m);
  void stop_nat64(RouterRec& r);  // removal; no-op without NAT64

  // User changes (SPEC 4/11), each with its event.
  void set_firewall(RouterRec& r, const Firewall& f);
  void flush_state(RouterRec& r);
  void set_block_frag_needed(RouterRec& r, bool on);
  std::vector<NatBinding> mappings(RouterRec& r);

 private:
  void open_netfilter(RouterRec& r);  // nft context + netfilter socket, inside the namespace
  void open_nfnl(RouterRec& r);       // the netfilter socket only (NAT and firewall need no more)
  void apply_firewall(RouterRec& r, const Firewall& f);
  void apply_block_frag_needed(RouterRec& r, bool on);
  void start_nat64(RouterRec& r);  // nat64_router.cpp

  sys::SetupThread& setup_;
  LabServices& services_;
  WireNamespace& wire_;
  std::uint64_t seed_;
  EmitEvent emit_;
};

}  // namespace patchbay::detail
