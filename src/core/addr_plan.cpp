#include "core/addr_plan.hpp"

#include <algorithm>
#include <bit>
#include <map>

#include "core/addr_pools.hpp"
#include "patchbay/error.hpp"

namespace patchbay::core {

using namespace plan;

namespace {

constexpr std::uint64_t kIxV6Hi = 0x20010db800000000ULL;
constexpr std::uint64_t kLinkV6Hi = 0xfd11000000000000ULL;
constexpr std::uint32_t kFixedRegionBlocks = 15;
constexpr std::uint32_t kFixedLinks = 64;
const std::string kIxOwner = "the IX";

Ipv4Net checked_extended_range(Ipv4Net e) {
  if (e.prefix_len() > 18)
    throw InvalidArgument("extended public range " + e.to_string() +
                          " is too small: it must be /18 or shorter so each quarter holds a /20");
  // E is handed out as public space, so it must stay clear of the fixed plan and of special ranges.
  static const char* const kForbidden[] = {
      "0.0.0.0/8",    "10.0.0.0/8",     "100.64.0.0/10", "127.0.0.0/8",    "169.254.0.0/16", "172.16.0.0/12",
      "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "203.0.113.0/24", "224.0.0.0/3",
  };
  for (const char* f : kForbidden) {
    if (e.overlaps(Ipv4Net::parse(f)))
      throw InvalidArgument("extended public range " + e.to_string() + " overlaps " + f);
  }
  return e;
}

}  // namespace

std::string lan_exhausted_message(const std::string& owner, std::uint64_t hosts) {
  return "downstream subnet of " + owner + " exhausted (" + std::to_string(hosts) +
         " hosts); use downstream_cidr with a shorter prefix";
}

// ---- AddressPlan ----

struct AddressPlan::Impl {
  using Index4 = IntervalIndex<V4>;
  using Index6 = IntervalIndex<V6>;

  struct Block {
    Ipv4Net net;
    std::uint32_t next;  // first never-used /24 slot
    std::uint16_t used;  // bit per /24 slot
  };
  struct Region {
    std::string owner;
    std::vector<Block> blocks;
    std::set<std::pair<std::size_t, std::uint32_t>> freed;  // (block, slot): pool order
  };

  Impl(Ipv4Net e, std::uint64_t size)
      : priv("private IPv4 pool", Tag::Private, {{Ipv4Addr(10, 0, 1, 0).to_u32(), 24, 65535}}),
        cgnat("CGNAT IPv4 pool", Tag::Cgnat, {{Ipv4Addr(100, 64, 1, 0).to_u32(), 24, 16383}}),
        pub("public IPv4 pool", Tag::Public,
            {{Ipv4Addr(198, 18, 1, 0).to_u32(), 24, 15}, {e.addr().to_u32(), 24, (size / 2) >> 8}}),
        region_e("region block pool", Tag::RegionBlock,
                 {{static_cast<std::uint32_t>(e.addr().to_u32() + size / 2), 20, (size / 4) >> 12}}),
        ula("private IPv6 (ULA) pool", Tag::Ula, {{0xfd10000000000001ULL, 64, 0xffffffffULL}}),
        // 2001:db8:ff::/48 belongs to the NPTv6 pool, so the GUA sequence jumps over it.
        gua("public IPv6 (GUA) pool", Tag::Gua,
            {{0x20010db800010001ULL, 64, 0xfdffffULL}, {0x20010db801000000ULL, 64, 0xff000000ULL}}),
        npt_ext("NPTv6 external prefix pool", Tag::NptExt, {{0x20010db800ff0000ULL, 64, 65536}}),
        link_run0{Ipv4Addr(203, 0, 113, 0).to_u32(), 30, kFixedLinks},
        link_run1{static_cast<std::uint32_t>(e.addr().to_u32() + size / 4 * 3), 30, (size / 4) >> 2},
        link_count(std::min<std::uint64_t>(kFixedLinks + link_run1.count, std::uint64_t{1} << 32)) {}

  Index4 idx4;
  Index6 idx6;
  SeqPool<V4> priv, cgnat, pub, region_e;
  SeqPool<V6> ula, gua, npt_ext;

  std::vector<Ipv4Net> ix_subnets{AddressPlan::ix_cidr()};
  std::uint32_t ix_next_k = 0;  // next 198.19.k.0/24 to open
  std::uint32_t ix_host = 10;   // next host in ix_subnets.back()
  std::set<Ipv4Addr> ix_freed;

  std::uint64_t ix6_next = 0x10;  // next interface identifier
  bool ix6_done = false;
  std::set<std::uint64_t> ix6_freed;

  std::vector<Region> regions;  // regions[i] has index i + 1

  V4::Run link_run0, link_run1;
  std::uint64_t link_count;
  std::uint64_t link_next = 0;
  std::set<std::uint32_t> link_freed;

  SeqPool<V4>* pool_v4(Tag t) {
    return t == Tag::Private ? &priv : t == Tag::Cgnat ? &cgnat : t == Tag::Public ? &pub : nullptr;
  }
  SeqPool<V6>* pool_v6(Tag t) {
    return t == Tag::Ula ? &ula : t == Tag::Gua ? &gua : t == Tag::NptExt ? &npt_ext : nullptr;
  }

  Ipv4Net link_v4(std::uint64_t k) const {
    return k < kFixedLinks ? link_run0.at(k) : link_run1.at(k - kFixedLinks);
  }
  static Ipv6Net link_v6(std::uint64_t k) { return Ipv6Net(Ipv6Addr::from_halves(kLinkV6Hi | k, 0), 126); }
  // First link number past an index entry that ends at `e` and overlaps link k's v4 subnet; the
  // jump stays within k's run because the two runs are not adjacent in address space.
  std::uint64_t link_after_v4(std::uint64_t k, std::uint32_t e) const {
    if (k < kFixedLinks) return std::min(link_run0.after(e), std::uint64_t{kFixedLinks});
    return kFixedLinks + link_run1.after(e);
  }

  Ipv4Net region_subnet(std::uint32_t index, const std::string& owner);
  bool release_region_subnet(Ipv4Net net);
  void release_link(std::uint32_t k);
};

Ipv4Net AddressPlan::Impl::region_subnet(std::uint32_t index, const std::string& owner) {
  if (index == 0 || index > regions.size())
    throw InvalidArgument("unknown region index " + std::to_string(index) + " for " + owner);
  Region& r = regions[index - 1];
  auto slot_net = [](const Block& b, std::uint32_t slot) {
    return Ipv4Net(Ipv4Addr(b.net.addr().to_u32() + (slot << 8)), 24);
  };
  for (Block& b : r.blocks) {
    if (b.next < 16) {
      b.used |= static_cast<std::uint16_t>(1u << b.next);
      return slot_net(b, b.next++);
    }
  }
  // Reuse before opening another /20: the region's pool is its blocks, and E's third quarter is
  // shared by all regions.
  if (!r.freed.empty()) {
    auto [bi, slot] = *r.freed.begin();
    r.freed.erase(r.freed.begin());
    r.blocks[bi].used |= static_cast<std::uint16_t>(1u << slot);
    return slot_net(r.blocks[bi], slot);
  }
  auto pick = region_e.find(idx4);
  if (!pick)
    throw PoolExhausted("public IPv4 pool of region " + std::to_string(index) +
                        " exhausted while allocating for " + owner + " (no /20 block left for the region)");
  region_e.commit(*pick);
  idx4.insert(pick->net, Tag::RegionBlock, index, r.owner);
  r.blocks.push_back(Block{pick->net, 1, 1});
  return slot_net(r.blocks.back(), 0);
}

bool AddressPlan::Impl::release_region_subnet(Ipv4Net net) {
  const auto* hit = idx4.overlap(net);
  if (!hit || hit->second.tag != Tag::RegionBlock || net.prefix_len() != 24) return false;
  Ipv4Net block_net = Index4::net_of(*hit);
  if (!block_net.contains(net.addr())) return false;
  Region& r = regions[hit->second.aux - 1];
  auto b = std::find_if(r.blocks.begin(), r.blocks.end(), [&](const Block& x) { return x.net == block_net; });
  auto slot = (net.addr().to_u32() - block_net.addr().to_u32()) >> 8;
  auto bit = static_cast<std::uint16_t>(1u << slot);
  if (b == r.blocks.end() || !(b->used & bit)) return false;
  if (b == r.blocks.begin() && slot == 0)
    throw InvalidArgument(net.to_string() + " is the bridge subnet of region " +
                          std::to_string(hit->second.aux) + " and cannot be released");
  b->used = static_cast<std::uint16_t>(b->used & ~bit);
  r.freed.emplace(static_cast<std::size_t>(b - r.blocks.begin()), slot);
  return true;
}

void AddressPlan::Impl::release_link(std::uint32_t k) {
  Ipv4Net n4 = link_v4(k);
  const auto* e = k < link_count ? idx4.starting_at(n4) : nullptr;
  if (!e || e->second.tag != Tag::RegionLink || e->second.aux != k)
    throw InvalidArgument("inter-region link " + std::to_string(k) + " is not allocated");
  idx4.erase(n4);
  idx6.erase(link_v6(k));
  link_freed.insert(k);
}

AddressPlan::AddressPlan() : AddressPlan(Options{}) {}

AddressPlan::AddressPlan(Options opts) {
  Ipv4Net e = checked_extended_range(opts.extended_public_v4);
  impl_ = std::make_unique<Impl>(e, e.size());
  impl_->idx4.insert(ix_cidr(), Tag::IxSubnet, 0, kIxOwner);
  impl_->idx6.insert(ix_cidr_v6(), Tag::IxSubnet, 0, kIxOwner);
  // NAT64 routers use these internally (SPEC 3.1); a LAN containing them would shadow them.
  impl_->idx4.insert(Ipv4Net::parse("192.0.2.64/32"), Tag::Fixed, 0, "NAT64 (router-internal source)");
  impl_->idx6.insert(Ipv6Net::parse("64:ff9b::/96"), Tag::Fixed, 0, "NAT64 (well-known prefix)");
}

AddressPlan::~AddressPlan() = default;
AddressPlan::AddressPlan(AddressPlan&&) noexcept = default;
AddressPlan& AddressPlan::operator=(AddressPlan&&) noexcept = default;

// ---- IX ----

AddressPlan::IxLease AddressPlan::alloc_ix_v4(const std::string& owner) {
  Impl& m = *impl_;
  if (m.ix_host <= 254) {
    const Ipv4Net& s = m.ix_subnets.back();
    return {s.host(m.ix_host++), s, s.host(1), false};
  }
  while (m.ix_next_k < 256) {
    Ipv4Net s(Ipv4Addr(198, 19, static_cast<std::uint8_t>(m.ix_next_k++), 0), 24);
    if (m.idx4.overlap(s)) continue;  // an override got there first
    m.idx4.insert(s, Tag::IxSubnet, 0, kIxOwner);
    m.ix_subnets.push_back(s);
    m.ix_host = 10;
    return {s.host(m.ix_host++), s, s.host(1), true};
  }
  if (!m.ix_freed.empty()) {
    Ipv4Addr a = *m.ix_freed.begin();
    m.ix_freed.erase(m.ix_freed.begin());
    Ipv4Net s(a, 24);
    return {a, s, s.host(1), false};
  }
  throw PoolExhausted("IX IPv4 pool exhausted while allocating for " + owner);
}

void AddressPlan::release_ix_v4(Ipv4Addr addr) {
  Impl& m = *impl_;
  Ipv4Net s(addr, 24);
  auto host = addr.to_u32() & 0xff;
  auto it = std::find(m.ix_subnets.begin(), m.ix_subnets.end(), s);
  bool leased = it != m.ix_subnets.end() && host >= 10 && host <= 254 &&
                (it + 1 != m.ix_subnets.end() || host < m.ix_host) && !m.ix_freed.contains(addr);
  if (!leased) throw InvalidArgument("IX address " + addr.to_string() + " is not leased");
  m.ix_freed.insert(addr);
}

std::vector<Ipv4Net> AddressPlan::ix_subnets() const {
  return impl_->ix_subnets;
}

Ipv6Addr AddressPlan::alloc_ix_v6(const std::string& owner) {
  Impl& m = *impl_;
  if (!m.ix6_done) {
    std::uint64_t iid = m.ix6_next;
    // SPEC 3.1 lists ::fffe followed by ::1:0, so ::ffff is never handed out.
    if (iid == 0xfffe) {
      m.ix6_next = 0x10000;
    } else if (iid == kAllOnes) {
      m.ix6_done = true;
    } else {
      ++m.ix6_next;
    }
    return Ipv6Addr::from_halves(kIxV6Hi, iid);
  }
  if (!m.ix6_freed.empty()) {
    std::uint64_t iid = *m.ix6_freed.begin();
    m.ix6_freed.erase(m.ix6_freed.begin());
    return Ipv6Addr::from_halves(kIxV6Hi, iid);
  }
  throw PoolExhausted("IX IPv6 pool exhausted while allocating for " + owner);
}

void AddressPlan::release_ix_v6(Ipv6Addr addr) {
  Impl& m = *impl_;
  std::uint64_t iid = addr.lo();
  bool leased = addr.hi() == kIxV6Hi && iid >= 0x10 && iid != 0xffff && (m.ix6_done || iid < m.ix6_next) &&
                !m.ix6_freed.contains(iid);
  if (!leased) throw InvalidArgument("IX address " + addr.to_string() + " is not leased");
  m.ix6_freed.insert(iid);
}

// ---- downstream subnets, overrides, release ----

Ipv4Net AddressPlan::alloc_downstream_v4(AddressPool pool, std::optional<std::uint32_t> region_index,
                                         const std::string& owner) {
  Impl& m = *impl_;
  switch (pool) {
    case AddressPool::Public:
      if (region_index) return m.region_subnet(*region_index, owner);
      return take(m.pub, m.idx4, owner);
    case AddressPool::Private:
      return take(m.priv, m.idx4, owner);
    case AddressPool::Cgnat:
      return take(m.cgnat, m.idx4, owner);
  }
  throw InvalidArgument("unknown address pool for " + owner);
}

Ipv6Net AddressPlan::alloc_downstream_v6(bool public_gua, const std::string& owner) {
  return take(public_gua ? impl_->gua : impl_->ula, impl_->idx6, owner);
}

void AddressPlan::reserve_v4(Ipv4Net net, const std::string& owner) {
  if (net.prefix_len() > 30)
    throw InvalidArgument(net.to_string() + " requested by " + owner + ": the prefix must be /30 or shorter");
  if (const auto* hit = impl_->idx4.overlap(net))
    throw InvalidArgument(net.to_string() + " requested by " + owner + " overlaps " +
                          Impl::Index4::describe_item(*hit));
  impl_->idx4.insert(net, Tag::Override, 0, owner);
}

void AddressPlan::reserve_v6(Ipv6Net net, const std::string& owner) {
  if (net.prefix_len() > 126)
    throw InvalidArgument(net.to_string() + " requested by " + owner +
                          ": the prefix must be /126 or shorter");
  if (const auto* hit = impl_->idx6.overlap(net))
    throw InvalidArgument(net.to_string() + " requested by " + owner + " overlaps " +
                          Impl::Index6::describe_item(*hit));
  impl_->idx6.insert(net, Tag::Override, 0, owner);
}

void AddressPlan::release_v4(Ipv4Net net) {
  Impl& m = *impl_;
  const auto* e = m.idx4.starting_at(net);
  if (e && e->second.len == net.prefix_len()) {
    Tag tag = e->second.tag;
    if (tag == Tag::RegionLink) return m.release_link(e->second.aux);
    if (tag != Tag::Override && !m.pool_v4(tag))
      throw InvalidArgument(net.to_string() + " (" + describe(tag) + ") is permanent and cannot be released");
    m.idx4.erase(net);
    if (auto* pool = m.pool_v4(tag)) pool->release(net);
    return;
  }
  if (m.release_region_subnet(net)) return;
  throw InvalidArgument("IPv4 subnet " + net.to_string() + " is not allocated");
}

void AddressPlan::release_v6(Ipv6Net net) {
  Impl& m = *impl_;
  const auto* e = m.idx6.starting_at(net);
  if (e) {
    Tag tag = e->second.tag;
    bool npt = tag == Tag::NptIx || tag == Tag::NptExt;
    // NPTv6 prefixes longer than /64 are handed out inside a reserved /64.
    bool same = e->second.len == net.prefix_len() || (npt && e->second.len == 64 && net.prefix_len() > 64);
    if (same) {
      if (tag == Tag::RegionLink) return m.release_link(e->second.aux);
      if (tag != Tag::Override && tag != Tag::NptIx && !m.pool_v6(tag))
        throw InvalidArgument(net.to_string() + " (" + describe(tag) +
                              ") is permanent and cannot be released");
      Ipv6Net held = Impl::Index6::net_of(*e);
      m.idx6.erase(held);
      if (auto* pool = m.pool_v6(tag)) pool->release(held);
      return;
    }
  }
  throw InvalidArgument("IPv6 prefix " + net.to_string() + " is not allocated");
}

std::optional<std::string> AddressPlan::find_conflict_v4(Ipv4Net net) const {
  if (const auto* hit = impl_->idx4.overlap(net)) return Impl::Index4::describe_item(*hit);
  return std::nullopt;
}

std::optional<std::string> AddressPlan::find_conflict_v6(Ipv6Net net) const {
  if (const auto* hit = impl_->idx6.overlap(net)) return Impl::Index6::describe_item(*hit);
  return std::nullopt;
}

// ---- regions and inter-region links ----

AddressPlan::RegionAlloc AddressPlan::alloc_region(const std::string& owner) {
  Impl& m = *impl_;
  auto index = static_cast<std::uint32_t>(m.regions.size() + 1);
  // Everything is found before anything is committed, so a failure leaves the plan unchanged.
  std::optional<SeqPool<V4>::Pick> from_e;
  Ipv4Net block;
  if (index <= kFixedRegionBlocks)
    block = Ipv4Net(Ipv4Addr(198, 18, static_cast<std::uint8_t>(16 * index), 0), 20);
  if (index > kFixedRegionBlocks || m.idx4.overlap(block)) {
    from_e = m.region_e.find(m.idx4);
    if (!from_e) throw PoolExhausted(m.region_e.name() + " exhausted while allocating for " + owner);
    block = from_e->net;
  }
  auto v6 = m.gua.find(m.idx6);
  if (!v6) throw PoolExhausted(m.gua.name() + " exhausted while allocating for " + owner);

  if (from_e) m.region_e.commit(*from_e);
  m.idx4.insert(block, Tag::RegionBlock, index, owner);
  m.gua.commit(*v6);
  m.idx6.insert(v6->net, Tag::Gua, 0, owner);
  m.regions.push_back(Impl::Region{owner, {Impl::Block{block, 1, 1}}, {}});
  return {index, block, Ipv4Net(block.addr(), 24), v6->net};
}

std::vector<Ipv4Net> AddressPlan::region_blocks(std::uint32_t index) const {
  if (index == 0 || index > impl_->regions.size())
    throw InvalidArgument("unknown region index " + std::to_string(index));
  std::vector<Ipv4Net> out;
  for (const auto& b : impl_->regions[index - 1].blocks) out.push_back(b.net);
  return out;
}

AddressPlan::RegionLinkAlloc AddressPlan::alloc_region_link(const std::string& owner) {
  Impl& m = *impl_;
  std::uint64_t k = m.link_next;
  while (k < m.link_count) {
    const auto* h4 = m.idx4.overlap(m.link_v4(k));
    const auto* h6 = m.idx6.overlap(Impl::link_v6(k));
    if (!h4 && !h6) break;
    std::uint64_t next = k + 1;
    if (h4) next = std::max(next, m.link_after_v4(k, h4->second.last));
    if (h6) next = std::max(next, h6->second.last.hi - kLinkV6Hi + 1);
    k = next;
  }
  if (k < m.link_count) {
    m.link_next = k + 1;
  } else {
    auto it = std::find_if(m.link_freed.begin(), m.link_freed.end(), [&](std::uint32_t f) {
      return !m.idx4.overlap(m.link_v4(f)) && !m.idx6.overlap(Impl::link_v6(f));
    });
    if (it == m.link_freed.end())
      throw PoolExhausted("inter-region link pool exhausted while allocating for " + owner);
    k = *it;
    m.link_freed.erase(it);
  }
  auto k32 = static_cast<std::uint32_t>(k);
  Ipv4Net n4 = m.link_v4(k);
  Ipv6Net n6 = Impl::link_v6(k);
  m.idx4.insert(n4, Tag::RegionLink, k32, owner);
  m.idx6.insert(n6, Tag::RegionLink, k32, owner);
  return {k32, n4, n4.host(1), n4.host(2), n6, n6.host(1), n6.host(2)};
}

void AddressPlan::release_region_link(std::uint32_t k) {
  impl_->release_link(k);
}

// ---- NPTv6 ----

Ipv6Net AddressPlan::nptv6_prefix_for_ix(Ipv6Addr wan_v6, std::uint8_t prefix_len) {
  auto g = wan_v6.groups();
  return Ipv6Net(Ipv6Addr::from_groups({g[0], g[1], g[2], g[7], 0, 0, 0, 0}), prefix_len);
}

Ipv6Net AddressPlan::alloc_nptv6_ix(Ipv6Addr wan_v6, std::uint8_t prefix_len, const std::string& owner) {
  // The formula only yields distinct prefixes while the identifier fits in the last group and the
  // prefix is at least a /64; beyond that (IX overflow) the external pool takes over.
  bool formula = prefix_len >= 64 && prefix_len <= 128 && ix_cidr_v6().contains(wan_v6) &&
                 wan_v6.lo() >= 0x10 && wan_v6.lo() <= 0xffff;
  if (formula) {
    Ipv6Net p64 = nptv6_prefix_for_ix(wan_v6, 64);
    if (!impl_->idx6.overlap(p64)) {
      impl_->idx6.insert(p64, Tag::NptIx, 0, owner);
      return Ipv6Net(p64.addr(), prefix_len);
    }
  }
  return alloc_nptv6_external(owner, prefix_len);
}

Ipv6Net AddressPlan::alloc_nptv6_external(const std::string& owner, std::uint8_t prefix_len) {
  if (prefix_len < 48 || prefix_len > 128)
    throw InvalidArgument("NPTv6 prefix length /" + std::to_string(prefix_len) + " for " + owner +
                          " must be between /48 and /128");
  std::uint64_t width = prefix_len < 64 ? std::uint64_t{1} << (64 - prefix_len) : 1;
  Ipv6Net held = take(impl_->npt_ext, impl_->idx6, owner, width);
  return Ipv6Net(held.addr(), prefix_len);
}

}  // namespace patchbay::core
