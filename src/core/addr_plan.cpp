#include "core/addr_plan.hpp"

#include <algorithm>
#include <bit>
#include <map>

#include "patchbay/error.hpp"

namespace patchbay::core {

namespace {

// What a subnet in the index is: decides how release treats it and how a conflict is described.
enum class Tag : std::uint8_t {
  Fixed,
  IxSubnet,
  Override,
  Private,
  Cgnat,
  Public,
  RegionBlock,
  RegionLink,
  Ula,
  Gua,
  NptIx,
  NptExt
};

const char* describe(Tag t) {
  static constexpr const char* kNames[] = {"reserved",          "IX subnet",         "downstream_cidr",
                                           "downstream subnet", "downstream subnet", "downstream subnet",
                                           "region block",      "inter-region link", "downstream subnet",
                                           "downstream subnet", "NPTv6 prefix",      "NPTv6 prefix"};
  static_assert(std::size(kNames) == static_cast<std::size_t>(Tag::NptExt) + 1, "one name per Tag, in order");
  return kNames[static_cast<std::size_t>(t)];
}

constexpr std::uint64_t kAllOnes = ~std::uint64_t{0};
constexpr std::uint64_t kIxV6Hi = 0x20010db800000000ULL;
constexpr std::uint64_t kLinkV6Hi = 0xfd11000000000000ULL;
constexpr std::uint32_t kFixedRegionBlocks = 15;
constexpr std::uint32_t kFixedLinks = 64;
const std::string kIxOwner = "the IX";

// ---- address families: keys for the interval index and arithmetic on runs of subnets ----

struct K6 {
  std::uint64_t hi = 0, lo = 0;
  auto operator<=>(const K6&) const = default;
};

struct V4 {
  using Net = Ipv4Net;
  using Key = std::uint32_t;
  static Key first(const Net& n) { return n.addr().to_u32(); }
  static Key last(const Net& n) { return n.broadcast().to_u32(); }
  static Net make(Key first, std::uint8_t len) { return Net(Ipv4Addr(first), len); }

  // `count` subnets of length `len`, back to back from `base`.
  struct Seg {
    std::uint32_t base;
    std::uint8_t len;
    std::uint64_t count;
    std::uint64_t step() const { return std::uint64_t{1} << (32 - len); }
    Net at(std::uint64_t j) const {
      return Net(Ipv4Addr(static_cast<std::uint32_t>(base + j * step())), len);
    }
    // Index of the first subnet that starts after `e`.
    std::uint64_t after(Key e) const { return e < base ? 0 : (e - base) / step() + 1; }
    std::optional<std::uint64_t> index_of(const Net& n) const {
      Key f = first(n);
      if (f < base || (f - base) / step() >= count) return std::nullopt;
      return (f - base) / step();
    }
  };
};

struct V6 {
  using Net = Ipv6Net;
  using Key = K6;
  static Key first(const Net& n) { return {n.addr().hi(), n.addr().lo()}; }
  static Key last(const Net& n) {
    K6 k = first(n);
    auto len = n.prefix_len();
    if (len < 64) {
      k.hi |= kAllOnes >> len;
      k.lo = kAllOnes;
    } else if (len < 128) {
      k.lo |= kAllOnes >> (len - 64);
    }
    return k;
  }
  static Net make(Key first, std::uint8_t len) { return Net(Ipv6Addr::from_halves(first.hi, first.lo), len); }

  // `count` prefixes of length `len` (>= 64), one for each upper-64-bit value from `base_hi`.
  struct Seg {
    std::uint64_t base_hi;
    std::uint8_t len;
    std::uint64_t count;
    Net at(std::uint64_t j) const { return Net(Ipv6Addr::from_halves(base_hi + j, 0), len); }
    std::uint64_t after(Key e) const { return e.hi < base_hi ? 0 : e.hi - base_hi + 1; }
    std::optional<std::uint64_t> index_of(const Net& n) const {
      std::uint64_t h = n.addr().hi();
      if (h < base_hi || h - base_hi >= count) return std::nullopt;
      return h - base_hi;
    }
  };
};

// Every subnet handed out or reserved, keyed by first address. Entries never overlap.
template <class F>
class IntervalIndex {
 public:
  using Key = typename F::Key;
  using Net = typename F::Net;
  struct Entry {
    Key last;
    std::uint8_t len;
    Tag tag;
    std::uint32_t aux;  // region index for region blocks, link number for links
    std::string owner;
  };
  using Item = std::pair<const Key, Entry>;

  // Since entries are disjoint and sorted, only the highest one starting at or before `last` can
  // reach into [first, last]: one lookup instead of a scan.
  const Item* overlap(Key first, Key last) const {
    auto it = map_.upper_bound(last);
    if (it == map_.begin()) return nullptr;
    --it;
    return it->second.last >= first ? &*it : nullptr;
  }
  const Item* overlap(const Net& n) const { return overlap(F::first(n), F::last(n)); }
  const Item* starting_at(const Net& n) const {
    auto it = map_.find(F::first(n));
    return it == map_.end() ? nullptr : &*it;
  }
  void insert(const Net& n, Tag tag, std::uint32_t aux, const std::string& owner) {
    map_.emplace(F::first(n), Entry{F::last(n), n.prefix_len(), tag, aux, owner});
  }
  void erase(const Net& n) { map_.erase(F::first(n)); }

  static Net net_of(const Item& i) { return F::make(i.first, i.second.len); }
  static std::string describe_item(const Item& i) {
    return net_of(i).to_string() + " owned by " + i.second.owner + " (" + describe(i.second.tag) + ")";
  }

 private:
  std::map<Key, Entry> map_;
};

std::uint64_t align_up(std::uint64_t j, std::uint64_t width) {
  return (j + width - 1) / width * width;
}

// A pool that walks a fixed sequence of subnets once (skipping anything the index already holds),
// then reuses released subnets, earliest in the sequence first.
template <class F>
class SeqPool {
 public:
  using Net = typename F::Net;
  using Seg = typename F::Seg;
  struct Pick {
    Net net;
    std::size_t seg;
    std::uint64_t j;
    std::uint64_t width;
    bool reused;
  };

  SeqPool(std::string name, Tag tag, std::vector<Seg> segs)
      : name_(std::move(name)), tag_(tag), segs_(std::move(segs)) {}

  const std::string& name() const { return name_; }
  Tag tag() const { return tag_; }

  // The next free run of `width` (a power of two) sequence entries aligned to `width`, as one
  // subnet. Finding does not commit, so a caller allocating from two pools can fail cleanly.
  std::optional<Pick> find(const IntervalIndex<F>& index, std::uint64_t width = 1) const {
    std::uint64_t j = j_;
    for (std::size_t s = seg_; s < segs_.size(); ++s, j = 0) {
      const Seg& g = segs_[s];
      auto len = static_cast<std::uint8_t>(g.len - std::countr_zero(width));
      for (j = align_up(j, width); j + width <= g.count;) {
        auto first = F::first(g.at(j));
        const auto* hit = index.overlap(first, F::last(g.at(j + width - 1)));
        if (!hit) return Pick{F::make(first, len), s, j, width, false};
        j = align_up(std::max(j + 1, g.after(hit->second.last)), width);
      }
    }
    auto len = static_cast<std::uint8_t>(segs_.front().len - std::countr_zero(width));
    for (const auto& [pos, n] : freed_) {
      // A released subnet may since have been claimed by an override; it stays listed because the
      // override may be released again.
      if (n.prefix_len() == len && !index.overlap(n)) return Pick{n, 0, 0, width, true};
    }
    return std::nullopt;
  }

  void commit(const Pick& p) {
    if (p.reused) {
      freed_.erase(position(p.net));
    } else {
      seg_ = p.seg;
      j_ = p.j + p.width;
    }
  }
  void release(const Net& n) { freed_.emplace(position(n), n); }

 private:
  using Pos = std::pair<std::size_t, std::uint64_t>;
  // "Lowest first" is taken as the pool's own order, which differs from address order where a
  // sequence continues in E (11.0.0.0/8 sorts before 198.18.1.0/24).
  Pos position(const Net& n) const {
    for (std::size_t s = 0; s < segs_.size(); ++s) {
      if (auto j = segs_[s].index_of(n)) return {s, *j};
    }
    return {segs_.size(), 0};  // not from this pool's sequence; cannot happen for pool subnets
  }

  std::string name_;
  Tag tag_;
  std::vector<Seg> segs_;
  std::size_t seg_ = 0;
  std::uint64_t j_ = 0;
  std::map<Pos, Net> freed_;
};

template <class F>
typename F::Net take(SeqPool<F>& pool, IntervalIndex<F>& index, const std::string& owner,
                     std::uint64_t width = 1) {
  auto pick = pool.find(index, width);
  if (!pick) throw PoolExhausted(pool.name() + " exhausted while allocating for " + owner);
  pool.commit(*pick);
  index.insert(pick->net, pool.tag(), 0, owner);
  return pick->net;
}

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
        link_seg0{Ipv4Addr(203, 0, 113, 0).to_u32(), 30, kFixedLinks},
        link_seg1{static_cast<std::uint32_t>(e.addr().to_u32() + size / 4 * 3), 30, (size / 4) >> 2},
        link_count(std::min<std::uint64_t>(kFixedLinks + link_seg1.count, std::uint64_t{1} << 32)) {}

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

  V4::Seg link_seg0, link_seg1;
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
    return k < kFixedLinks ? link_seg0.at(k) : link_seg1.at(k - kFixedLinks);
  }
  static Ipv6Net link_v6(std::uint64_t k) { return Ipv6Net(Ipv6Addr::from_halves(kLinkV6Hi | k, 0), 126); }
  // First link number past an index entry that ends at `e` and overlaps link k's v4 subnet; the
  // jump stays within k's segment because the two segments are not adjacent in address space.
  std::uint64_t link_after_v4(std::uint64_t k, std::uint32_t e) const {
    if (k < kFixedLinks) return std::min(link_seg0.after(e), std::uint64_t{kFixedLinks});
    return kFixedLinks + link_seg1.after(e);
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

// ---- host pools ----

namespace {

// Family-specific parts of HostPool: the highest host slot (one below the all-ones address: the
// v4 broadcast; for v6 kept symmetric, and the top identifiers are reserved anycast per RFC 2526)
// and the slot of an address.
std::uint64_t last_slot(const Ipv4Net& net) {
  if (net.prefix_len() > 30)
    throw InvalidArgument("host pool " + net.to_string() + ": prefix must be /30 or shorter");
  return net.size() - 2;
}

std::uint64_t last_slot(const Ipv6Net& net) {
  auto len = net.prefix_len();
  if (len > 126) throw InvalidArgument("host pool " + net.to_string() + ": prefix must be /126 or shorter");
  return len <= 64 ? kAllOnes - 1 : (std::uint64_t{1} << (128 - len)) - 2;
}

std::optional<std::uint64_t> offset_of(const Ipv4Net& net, Ipv4Addr a) {
  if (!net.contains(a)) return std::nullopt;
  return a.to_u32() - net.addr().to_u32();
}

// The counter only moves the low 64 bits, so other /64s of a shorter prefix are not the pool's.
std::optional<std::uint64_t> offset_of(const Ipv6Net& net, const Ipv6Addr& a) {
  if (!net.contains(a) || a.hi() != net.addr().hi()) return std::nullopt;
  return a.lo() - net.addr().lo();
}

std::uint64_t checked_first(std::uint64_t first) {
  if (first < 2) throw InvalidArgument("host pool: first host offset must be at least 2");
  return first;
}

}  // namespace

namespace detail {

HostSlots::HostSlots(std::uint64_t min_pin, std::uint64_t first, std::uint64_t last)
    : min_pin_(min_pin), first_(first), last_(last), next_(first), fresh_done_(first > last) {}

std::optional<std::uint64_t> HostSlots::alloc() {
  while (!fresh_done_) {
    std::uint64_t s = next_;
    // A flag instead of `next_ > last_`, so any `last_` up to 2^64 - 1 works without wrapping.
    if (next_ == last_) {
      fresh_done_ = true;
    } else {
      ++next_;
    }
    if (used_.insert(s).second) return s;  // else reserve() pinned it ahead of the cursor
  }
  if (freed_.empty()) return std::nullopt;
  std::uint64_t s = *freed_.begin();
  freed_.erase(freed_.begin());
  used_.insert(s);
  return s;
}

bool HostSlots::reserve(std::uint64_t slot) {
  if (!used_.insert(slot).second) return false;
  freed_.erase(slot);
  return true;
}

bool HostSlots::release(std::uint64_t slot) {
  if (used_.erase(slot) == 0) return false;
  // Slots ahead of the cursor are still never-used space; slots below `first_` are not the pool's.
  if (slot >= first_ && (fresh_done_ || slot < next_)) freed_.insert(slot);
  return true;
}

template <class Net, class Addr>
HostPool<Net, Addr>::HostPool(Net net, std::uint64_t first_host_offset, std::string exhausted_msg)
    : net_(net),
      exhausted_msg_(std::move(exhausted_msg)),
      slots_(2, checked_first(first_host_offset), last_slot(net)) {}

template <class Net, class Addr>
std::uint64_t HostPool<Net, Addr>::slot_of(Addr a) const {
  auto s = offset_of(net_, a);
  if (!s || !slots_.pinnable(*s))
    throw InvalidArgument(a.to_string() + " is not a host address of " + net_.to_string());
  return *s;
}

template <class Net, class Addr>
bool HostPool<Net, Addr>::in_use(Addr a) const {
  auto s = offset_of(net_, a);
  return s && slots_.pinnable(*s) && slots_.used(*s);
}

template <class Net, class Addr>
Addr HostPool<Net, Addr>::alloc() {
  auto s = slots_.alloc();
  if (!s) throw PoolExhausted(exhausted_msg_);
  return net_.host(*s);
}

template <class Net, class Addr>
void HostPool<Net, Addr>::reserve(Addr a) {
  if (!slots_.reserve(slot_of(a)))
    throw InvalidArgument(a.to_string() + " is already in use in " + net_.to_string());
}

template <class Net, class Addr>
void HostPool<Net, Addr>::release(Addr a) {
  if (!slots_.release(slot_of(a)))
    throw InvalidArgument(a.to_string() + " is not in use in " + net_.to_string());
}

template <class Net, class Addr>
Addr HostPool<Net, Addr>::renew(Addr old) {
  auto s = slot_of(old);
  if (!slots_.used(s)) throw InvalidArgument(old.to_string() + " is not in use in " + net_.to_string());
  Addr fresh = alloc();  // `old` is still held here, so it cannot come back
  slots_.release(s);
  return fresh;
}

template class HostPool<Ipv4Net, Ipv4Addr>;
template class HostPool<Ipv6Net, Ipv6Addr>;

}  // namespace detail

}  // namespace patchbay::core
