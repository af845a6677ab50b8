// NAT64 in a router (SPEC 4.8): the translator of src/nat64 behind a veth "nat64" whose other end
// sits in the lab's wire namespace and is serviced by the link engine (no TUN: /dev/net/tun is
// not usable by an unprivileged lab here).
//
// Routes in the router send 64:ff9b::/96 and the pool address 192.0.2.64 to the veth through
// fixed link-local next hops with permanent neighbour entries (no ARP/ND towards the engine);
// translated IPv4 leaves through the WAN masqueraded to the router's address (table
// ip pb_nat64), and everything the translator emits comes back into the router on the same veth.
#include "core/ids.hpp"
#include "core/macs.hpp"
#include "core/nat_control.hpp"
#include "nat64/translator.hpp"

namespace patchbay::detail {

namespace {

constexpr std::uint64_t kNat64Purpose = 0x4e363420;  // seed3 purpose "N64 "
constexpr std::uint64_t kEngineIdBase = 0x4e36340000000000ULL;
const Ipv6Addr kNextHop6 = Ipv6Addr::parse("fe80::64");
const Ipv4Addr kNextHop4 = Ipv4Addr::parse("169.254.64.1");

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

void NatControl::start_nat64(RouterRec& r) {
  const std::string ctx = r.describe() + ": set_nat_v6_mode(nat64)";
  if (r.nat64_ifindex) return;
  if (!r.wan_ip)
    throw InvalidArgument(ctx, "NAT64 needs an IPv4 uplink (ip_support is " + to_string(r.ip_support) + ")");
  if (!r.lan6) throw InvalidArgument(ctx, "NAT64 needs an IPv6 LAN");
  auto w = wire_.get();
  const int wi = w->alloc_ifindex(), ri = r.ns->alloc_ifindex();
  const sys::Mac wmac = sys::make_mac(((0xE20000ULL + r.id.value) << 4) | 1);
  const sys::Mac rmac = mac_for(r.id, kNat64);
  sys::NlBatch wb(ctx);
  sys::add_veth(wb, sys::LinkEnd{"t" + std::to_string(r.id.value), wi, wmac, -1, 0, true, 0},
                sys::LinkEnd{"nat64", ri, rmac, r.ns->fd.get(), 0, false, 0});
  w->commit(wb);
  sys::NlBatch rb(ctx);
  sys::set_link(rb, ri, true);
  sys::add_neigh(rb, ri, IpAddr(kNextHop6), wmac);
  sys::add_neigh(rb, ri, IpAddr(kNextHop4), wmac);
  sys::Route r6;
  r6.family = AF_INET6;
  r6.dst = IpAddr(nat64::kWellKnownPrefix);
  r6.dst_len = 96;
  r6.gateway = IpAddr(kNextHop6);
  r6.oif = ri;
  sys::add_route(rb, r6);
  sys::Route r4;
  r4.family = AF_INET;
  r4.dst = IpAddr(nat64::Config{}.pool);
  r4.dst_len = 32;
  r4.gateway = IpAddr(kNextHop4);
  r4.oif = ri;
  r4.onlink = true;
  sys::add_route(rb, r4);
  r.ns->commit(rb);
  open_netfilter(r);
  r.nft->run(
      "table ip pb_nat64 {\n  chain post {\n    type nat hook postrouting priority srcnat;\n    ip saddr " +
          nat64::Config{}.pool.to_string() + " oifname \"" + r.wan_name + "\" masquerade\n  }\n}\n",
      ctx);
  auto tr =
      std::make_shared<nat64::Translator>(nat64::Config{}, core::seed3(seed_, r.id.value, kNat64Purpose));
  services_.engine().add_l3(kEngineIdBase + r.id.value, engine_access(w), wi, rmac, wmac,
                            [tr, out = std::vector<nat64::Out>()](
                                std::uint16_t type, std::span<const std::uint8_t> pkt, auto& emit) mutable {
                              out.clear();
                              if (type == 0x86dd)
                                tr->from_v6(pkt, now_ns(), out);
                              else
                                tr->from_v4(pkt, now_ns(), out);
                              for (auto& o : out)
                                emit.emplace_back(o.to == nat64::Side::V4 ? 0x0800 : 0x86dd,
                                                  std::move(o.bytes));
                            });
  r.nat64_ifindex = ri;
  r.nat64_wire_ifindex = wi;
}

void NatControl::stop_nat64(RouterRec& r) {
  if (!r.nat64_ifindex) return;
  if (auto* eng = services_.engine_if_started()) eng->remove_l3(kEngineIdBase + r.id.value);
  try {
    sys::NlBatch b(r.describe() + ": remove NAT64");
    sys::del_link(b, r.nat64_ifindex, "delete nat64");
    r.ns->commit(b);
    r.nft->run("delete table ip pb_nat64\n", r.describe() + ": remove NAT64");
  } catch (const Error&) {
  }
  r.nat64_ifindex = 0;
  r.nat64_wire_ifindex = 0;
}

}  // namespace patchbay::detail
