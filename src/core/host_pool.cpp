// HostPool and HostSlots (addr_plan.hpp): the per-LAN host address pools.
#include "core/addr_plan.hpp"

#include "core/addr_pools.hpp"
#include "patchbay/error.hpp"

namespace patchbay::core {

using plan::kAllOnes;

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
