// The machinery AddressPlan (addr_plan.cpp) is built on: subnet families, an index of every
// subnet handed out, and pools that walk a fixed sequence of subnets. Private to src/core.
//
//   IntervalIndex<V4> index;          // every subnet in use, by first address; never overlapping
//   SeqPool<V4> pool("private pool", Tag::Private, {V4::Run{base, 24, count}});
//   Ipv4Net n = take(pool, index, "router 'home'");   // PoolExhausted naming the pool and owner
//
// A *run* is `count` back-to-back subnets of one length (a stretch of the address plan). Not
// thread-safe: AddressPlan's caller (the plan lock) serialises it.
#pragma once

#include <algorithm>
#include <bit>
#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "patchbay/error.hpp"
#include "patchbay/net.hpp"

namespace patchbay::core::plan {

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

inline const char* describe(Tag t) {
  static constexpr const char* kNames[] = {"reserved",          "IX subnet",         "downstream_cidr",
                                           "downstream subnet", "downstream subnet", "downstream subnet",
                                           "region block",      "inter-region link", "downstream subnet",
                                           "downstream subnet", "NPTv6 prefix",      "NPTv6 prefix"};
  static_assert(std::size(kNames) == static_cast<std::size_t>(Tag::NptExt) + 1, "one name per Tag, in order");
  return kNames[static_cast<std::size_t>(t)];
}

inline constexpr std::uint64_t kAllOnes = ~std::uint64_t{0};

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
  struct Run {
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
  struct Run {
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

inline std::uint64_t align_up(std::uint64_t j, std::uint64_t width) {
  return (j + width - 1) / width * width;
}

// A pool that walks a fixed sequence of subnets once (skipping anything the index already holds),
// then reuses released subnets, earliest in the sequence first.
template <class F>
class SeqPool {
 public:
  using Net = typename F::Net;
  using Run = typename F::Run;
  struct Pick {
    Net net;
    std::size_t run;
    std::uint64_t j;
    std::uint64_t width;
    bool reused;
  };

  SeqPool(std::string name, Tag tag, std::vector<Run> runs)
      : name_(std::move(name)), tag_(tag), runs_(std::move(runs)) {}

  const std::string& name() const { return name_; }
  Tag tag() const { return tag_; }

  // The next free block of `width` (a power of two) sequence entries aligned to `width`, as one
  // subnet. Finding does not commit, so a caller allocating from two pools can fail cleanly.
  std::optional<Pick> find(const IntervalIndex<F>& index, std::uint64_t width = 1) const {
    std::uint64_t j = j_;
    for (std::size_t s = run_; s < runs_.size(); ++s, j = 0) {
      const Run& g = runs_[s];
      auto len = static_cast<std::uint8_t>(g.len - std::countr_zero(width));
      for (j = align_up(j, width); j + width <= g.count;) {
        auto first = F::first(g.at(j));
        const auto* hit = index.overlap(first, F::last(g.at(j + width - 1)));
        if (!hit) return Pick{F::make(first, len), s, j, width, false};
        j = align_up(std::max(j + 1, g.after(hit->second.last)), width);
      }
    }
    auto len = static_cast<std::uint8_t>(runs_.front().len - std::countr_zero(width));
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
      run_ = p.run;
      j_ = p.j + p.width;
    }
  }
  void release(const Net& n) { freed_.emplace(position(n), n); }

 private:
  using Pos = std::pair<std::size_t, std::uint64_t>;
  // "Lowest first" is taken as the pool's own order, which differs from address order where a
  // sequence continues in E (11.0.0.0/8 sorts before 198.18.1.0/24).
  Pos position(const Net& n) const {
    for (std::size_t s = 0; s < runs_.size(); ++s) {
      if (auto j = runs_[s].index_of(n)) return {s, *j};
    }
    return {runs_.size(), 0};  // not from this pool's sequence; cannot happen for pool subnets
  }

  std::string name_;
  Tag tag_;
  std::vector<Run> runs_;
  std::size_t run_ = 0;
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

}  // namespace patchbay::core::plan
