#include "nat64/reassembly.hpp"

#include <algorithm>

namespace patchbay::nat64 {

namespace {
constexpr std::uint32_t kMaxDatagram = 65535;
}

void Reassembler::drop(Map::iterator it) {
  bytes_ -= it->second.bytes;
  entries_.erase(it);
  ++dropped_;
}

void Reassembler::expire(std::int64_t now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    auto next = std::next(it);
    if (now - it->second.first_seen >= limits_.timeout_ns) drop(it);
    it = next;
  }
}

std::optional<Datagram> Reassembler::add(const Fragment& f, std::int64_t now) {
  expire(now);
  const auto len = static_cast<std::uint32_t>(f.payload.size());
  const std::uint32_t end = f.offset + len;
  // Every fragment but the last carries a multiple of 8 bytes (both RFC 791 and RFC 8200).
  if (end > kMaxDatagram || (f.more && len % 8 != 0) || len == 0 || bytes_ + len > limits_.max_bytes) {
    ++dropped_;
    return std::nullopt;
  }
  auto it = entries_.find(f.key);
  if (it == entries_.end()) {
    if (entries_.size() >= limits_.max_datagrams) {
      // Evict the oldest rather than refuse the newest: a stuck datagram must not block all others.
      auto oldest = std::min_element(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
        return a.second.first_seen < b.second.first_seen;
      });
      if (oldest != entries_.end()) drop(oldest);
    }
    it = entries_.emplace(f.key, Entry{}).first;
    it->second.first_seen = now;
  }
  Entry& e = it->second;
  if (!f.more) {
    if ((e.total && *e.total != end) ||
        (!e.parts.empty() && e.parts.rbegin()->first + e.parts.rbegin()->second.size() > end)) {
      drop(it);
      return std::nullopt;
    }
    e.total = end;
  } else if (e.total && end > *e.total) {
    drop(it);
    return std::nullopt;
  }
  // Overlap with the neighbours on either side (parts never overlap each other).
  auto after = e.parts.lower_bound(f.offset);
  if (after != e.parts.end() && after->first < end) {
    drop(it);
    return std::nullopt;
  }
  if (after != e.parts.begin()) {
    auto before = std::prev(after);
    if (before->first + before->second.size() > f.offset) {
      drop(it);
      return std::nullopt;
    }
  }
  e.parts.emplace(f.offset, std::vector<std::uint8_t>(f.payload.begin(), f.payload.end()));
  e.bytes += len;
  bytes_ += len;
  if (f.offset == 0) e.header.assign(f.header.begin(), f.header.end());

  // Without overlaps, "bytes == total" means the parts tile [0, total) exactly.
  if (!e.total || e.bytes != *e.total || e.header.empty()) return std::nullopt;
  Datagram d;
  d.header = std::move(e.header);
  d.payload.reserve(e.bytes);
  for (auto& [off, part] : e.parts) d.payload.insert(d.payload.end(), part.begin(), part.end());
  bytes_ -= e.bytes;
  entries_.erase(it);
  return d;
}

}  // namespace patchbay::nat64
