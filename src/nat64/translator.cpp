// Header translation (RFC 7915) for TCP and UDP, fragment handling and the entry points. ICMP lives
// in icmp.cpp, bindings in bindings.cpp.
#include "nat64/translator.hpp"

#include <algorithm>

#include "nat64/wire.hpp"

namespace patchbay::nat64 {

using namespace wire;

namespace {

constexpr std::int64_t kNsPerSec = 1'000'000'000;

// The header length the transport needs before we touch ports and checksum; 0 when unusable.
std::size_t transport_len(std::span<const std::uint8_t> l4, bool udp) {
  if (udp) {
    if (l4.size() < 8) return 0;
    const std::size_t len = get16(&l4[4]);
    return len >= 8 && len <= l4.size() ? len : 0;
  }
  if (l4.size() < 20) return 0;
  const std::size_t doff = static_cast<std::size_t>(l4[12] >> 4) * 4;
  return doff >= 20 && doff <= l4.size() ? l4.size() : 0;
}

// Rewrites one port of a copied UDP/TCP header and its checksum after an address family change.
// `old_pseudo`/`new_pseudo` are the pseudo-header sums on either side. A UDP checksum of zero
// ("none", legal only on IPv4) is computed from scratch since IPv6 requires one (RFC 7915 4.5).
void rewrite_transport(std::uint8_t* l4, std::size_t len, bool udp, std::size_t port_at,
                       std::uint16_t new_port, std::uint32_t old_pseudo, std::uint32_t new_pseudo) {
  const std::size_t csum_at = udp ? 6 : 16;
  const std::uint16_t old_port = get16(l4 + port_at);
  const std::uint16_t old_csum = get16(l4 + csum_at);
  put16(l4 + port_at, new_port);
  std::uint16_t c;
  if (udp && old_csum == 0) {
    put16(l4 + csum_at, 0);
    c = finish(add(new_pseudo, sum(l4, len)));
  } else {
    c = adjust(old_csum, add(old_pseudo, old_port), add(new_pseudo, new_port));
  }
  if (udp && c == 0) c = 0xFFFF;  // 0 would mean "no checksum" (RFC 768)
  put16(l4 + csum_at, c);
}

}  // namespace

Translator::Translator(Config cfg, std::uint64_t seed)
    : cfg_(cfg),
      self6_(embed_in(cfg.prefix, cfg.pool)),
      table_(cfg_, seed),
      reasm_(
          Reassembler::Limits{cfg.frag_timeout_s * kNsPerSec, cfg.frag_max_datagrams, cfg.frag_max_bytes}) {}

Stats Translator::stats() const {
  Stats s = stats_;
  s.bindings_created = table_.created();
  s.bindings_expired = table_.expired();
  s.fragments_dropped = reasm_.dropped();
  return s;
}

void Translator::expire(std::int64_t now) {
  table_.expire(now);
  reasm_.expire(now);
}

// ---------------------------------------------------------------------------------------------
// v6 -> v4

void Translator::from_v6(std::span<const std::uint8_t> pkt, std::int64_t now, std::vector<Out>& out) {
  ++stats_.v6_in;
  process_v6(pkt, false, 0, now, out);
}

void Translator::process_v6(std::span<const std::uint8_t> pkt, bool reassembled, std::uint32_t frag_id,
                            std::int64_t now, std::vector<Out>& out) {
  if (pkt.size() < kV6Hdr || pkt[0] >> 4 != 6) {
    ++stats_.malformed;
    return;
  }
  const std::size_t plen = get16(&pkt[4]);
  if (plen == 0 || kV6Hdr + plen > pkt.size()) {  // 0 would be a jumbogram: never on our links
    ++stats_.malformed;
    return;
  }
  pkt = pkt.first(kV6Hdr + plen);
  if (!extract_in(cfg_.prefix, v6_at(&pkt[24]))) {
    ++stats_.not_ours;
    return;
  }
  V6Walk w;
  switch (walk_v6(pkt, w)) {
    case Walk::Malformed:
      ++stats_.malformed;
      return;
    case Walk::Refused:
      ++stats_.ext_header_dropped;
      return;
    case Walk::Ok:
      break;
  }
  if (w.frag && (w.frag_off != 0 || w.more)) {
    if (reassembled) {  // a Fragment header inside a reassembled datagram
      ++stats_.malformed;
      return;
    }
    ++stats_.fragments_in;
    FragKey key{.v6 = true, .src = {}, .dst = {}, .id = w.frag_id, .proto = w.frag_next};
    std::copy_n(&pkt[8], 16, key.src.begin());
    std::copy_n(&pkt[24], 16, key.dst.begin());
    auto d = reasm_.add({key, w.frag_off, w.more, pkt.first(kV6Hdr), pkt.subspan(w.frag_end)}, now);
    if (!d) return;
    ++stats_.reassembled;
    // The unfragmentable headers before the Fragment header are dropped: only the ones we skip
    // anyway can be there.
    std::vector<std::uint8_t> whole = std::move(d->header);
    whole.insert(whole.end(), d->payload.begin(), d->payload.end());
    put16(&whole[4], static_cast<std::uint16_t>(d->payload.size()));
    whole[6] = w.frag_next;
    process_v6(whole, true, w.frag_id, now, out);
    return;
  }
  if (w.proto != kTcp && w.proto != kUdp && w.proto != kIcmp6) {
    ++stats_.unsupported;
    return;
  }
  // An atomic fragment (offset 0, M clear) counts as fragmented: its sender allows fragmentation.
  translate_v6(pkt, w.l4, w.proto, reassembled || w.frag, w.frag ? w.frag_id : frag_id, now, out);
}

void Translator::translate_v6(std::span<const std::uint8_t> pkt, std::size_t l4, std::uint8_t proto,
                              bool fragmented, std::uint32_t frag_id, std::int64_t now,
                              std::vector<Out>& out) {
  if (pkt[7] <= 1) {
    ++stats_.ttl_expired;
    // Never an error about an error (RFC 4443 2.4 e).
    const bool is_error = proto == kIcmp6 && (l4 >= pkt.size() || pkt[l4] < 128);
    if (!is_error) send_error_v6(pkt, 3, 0, out);
    return;
  }
  if (proto == kIcmp6) {
    icmp_v6(pkt, l4, fragmented, frag_id, now, out);
  } else {
    transport_v6(pkt, l4, proto, fragmented, frag_id, now, out);
  }
}

void Translator::transport_v6(std::span<const std::uint8_t> pkt, std::size_t off, std::uint8_t proto,
                              bool fragmented, std::uint32_t frag_id, std::int64_t now,
                              std::vector<Out>& out) {
  const bool udp = proto == kUdp;
  const std::size_t len = transport_len(pkt.subspan(off), udp);
  if (len == 0) {
    ++stats_.malformed;
    return;
  }
  const std::uint8_t* l4 = &pkt[off];
  const Ipv4Addr dst4 = *extract_in(cfg_.prefix, v6_at(&pkt[24]));
  Binding* b = table_.outbound(udp ? Proto::Udp : Proto::Tcp, v6_at(&pkt[8]), get16(l4),
                               Remote{dst4, get16(l4 + 2)}, now);
  if (b == nullptr) {
    ++stats_.table_full;
    send_error_v6(pkt, 1, 1, out);  // administratively prohibited (RFC 6146 3.5.2.2)
    return;
  }
  if (!udp) table_.track_tcp(*b, true, l4[13]);

  std::vector<std::uint8_t> o(kV4Hdr + len);
  const auto id = static_cast<std::uint16_t>(frag_id);
  write_v4_header(o.data(), traffic_class(&pkt[0]), o.size(), fragmented ? id : 0, fragmented ? 0 : kDf,
                  static_cast<std::uint8_t>(pkt[7] - 1), proto, cfg_.pool, dst4);
  std::copy_n(l4, len, &o[kV4Hdr]);
  const auto l4len = static_cast<std::uint32_t>(len);
  rewrite_transport(&o[kV4Hdr], len, udp, 0, b->v4_port, pseudo6(&pkt[8], proto, l4len),
                    pseudo4(&o[12], proto, l4len));
  emit_v4(std::move(o), fragmented, out);
}

void Translator::emit_v4(std::vector<std::uint8_t> pkt, bool fragmentable, std::vector<Out>& out) {
  if (!fragmentable || pkt.size() <= cfg_.v4_mtu) {
    ++stats_.to_v4;
    out.push_back({Side::V4, std::move(pkt)});
    return;
  }
  const std::size_t chunk = (std::max<std::size_t>(cfg_.v4_mtu, 68) - kV4Hdr) / 8 * 8;
  const std::size_t payload = pkt.size() - kV4Hdr;
  for (std::size_t off = 0; off < payload; off += chunk) {
    const std::size_t n = std::min(chunk, payload - off);
    std::vector<std::uint8_t> f(kV4Hdr + n);
    std::copy_n(pkt.begin(), kV4Hdr, f.begin());
    std::copy_n(pkt.begin() + static_cast<std::ptrdiff_t>(kV4Hdr + off), n, f.begin() + kV4Hdr);
    put16(&f[2], static_cast<std::uint16_t>(f.size()));
    put16(&f[6], static_cast<std::uint16_t>((off + n < payload ? kMf : 0) | off / 8));
    put16(&f[10], 0);
    put16(&f[10], finish(sum(f.data(), kV4Hdr)));
    ++stats_.to_v4;
    out.push_back({Side::V4, std::move(f)});
  }
}

// ---------------------------------------------------------------------------------------------
// v4 -> v6

void Translator::from_v4(std::span<const std::uint8_t> pkt, std::int64_t now, std::vector<Out>& out) {
  ++stats_.v4_in;
  process_v4(pkt, now, out);
}

void Translator::process_v4(std::span<const std::uint8_t> pkt, std::int64_t now, std::vector<Out>& out) {
  if (pkt.size() < kV4Hdr || pkt[0] >> 4 != 4) {
    ++stats_.malformed;
    return;
  }
  const std::size_t ihl = std::size_t{pkt[0] & 0x0Fu} * 4;
  const std::size_t total = get16(&pkt[2]);
  if (ihl < kV4Hdr || total < ihl || total > pkt.size()) {
    ++stats_.malformed;
    return;
  }
  pkt = pkt.first(total);
  if (fold(sum(pkt.data(), ihl)) != 0xFFFF) {
    ++stats_.bad_checksum;
    return;
  }
  if (v4_at(&pkt[16]) != cfg_.pool) {
    ++stats_.not_ours;
    return;
  }
  const std::uint8_t proto = pkt[9];
  if (proto != kTcp && proto != kUdp && proto != kIcmp4) {
    ++stats_.unsupported;
    return;
  }
  const std::uint16_t frag = get16(&pkt[6]);
  const bool more = (frag & kMf) != 0;
  const std::uint32_t offset = (frag & 0x1FFFu) * 8;
  if (!more && offset == 0) {
    translate_v4(pkt, (frag & kDf) != 0, now, out);
    return;
  }
  ++stats_.fragments_in;
  FragKey key{.v6 = false, .src = {}, .dst = {}, .id = get16(&pkt[4]), .proto = proto};
  std::copy_n(&pkt[12], 4, key.src.begin());
  std::copy_n(&pkt[16], 4, key.dst.begin());
  auto d = reasm_.add({key, offset, more, pkt.first(ihl), pkt.subspan(ihl)}, now);
  if (!d) return;
  ++stats_.reassembled;
  std::vector<std::uint8_t> whole = std::move(d->header);
  whole.insert(whole.end(), d->payload.begin(), d->payload.end());
  if (whole.size() > 0xFFFF) {
    ++stats_.malformed;
    return;
  }
  put16(&whole[2], static_cast<std::uint16_t>(whole.size()));
  put16(&whole[6], 0);
  put16(&whole[10], 0);
  put16(&whole[10], finish(sum(whole.data(), ihl)));
  translate_v4(whole, false, now, out);
}

void Translator::translate_v4(std::span<const std::uint8_t> pkt, bool df, std::int64_t now,
                              std::vector<Out>& out) {
  const std::size_t ihl = std::size_t{pkt[0] & 0x0Fu} * 4;
  if (pkt[8] <= 1) {
    ++stats_.ttl_expired;
    const std::uint8_t type = pkt.size() > ihl ? pkt[ihl] : 0;
    const bool is_error = pkt[9] == kIcmp4 && (pkt.size() <= ihl || type == 3 || type == 4 || type == 5 ||
                                               type == 11 || type == 12);
    if (!is_error) send_error_v4(pkt, 11, 0, out);
    return;
  }
  if (pkt[9] == kIcmp4) {
    icmp_v4(pkt, df, now, out);
  } else {
    transport_v4(pkt, df, now, out);
  }
}

void Translator::transport_v4(std::span<const std::uint8_t> pkt, bool df, std::int64_t now,
                              std::vector<Out>& out) {
  const std::size_t ihl = std::size_t{pkt[0] & 0x0Fu} * 4;
  const std::uint8_t proto = pkt[9];
  const bool udp = proto == kUdp;
  const std::size_t len = transport_len(pkt.subspan(ihl), udp);
  if (len == 0) {
    ++stats_.malformed;
    return;
  }
  const std::uint8_t* l4 = &pkt[ihl];
  const Ipv4Addr src4 = v4_at(&pkt[12]);
  Binding* b = table_.find_v4(udp ? Proto::Udp : Proto::Tcp, get16(l4 + 2), now);
  if (b == nullptr) {
    ++stats_.no_binding;
    return;
  }
  if (!table_.permits(*b, Remote{src4, get16(l4)})) {
    ++stats_.filtered;
    return;
  }
  table_.touch(*b, now);
  if (!udp) table_.track_tcp(*b, false, l4[13]);

  std::vector<std::uint8_t> o(kV6Hdr + len);
  write_v6_header(o.data(), pkt[1], len, proto, static_cast<std::uint8_t>(pkt[8] - 1),
                  embed_in(cfg_.prefix, src4), b->v6);
  std::copy_n(l4, len, &o[kV6Hdr]);
  const auto l4len = static_cast<std::uint32_t>(len);
  rewrite_transport(&o[kV6Hdr], len, udp, 2, b->v6_port, pseudo4(&pkt[12], proto, l4len),
                    pseudo6(&o[8], proto, l4len));
  emit_v6(std::move(o), !df, get16(&pkt[4]), out);
}

void Translator::emit_v6(std::vector<std::uint8_t> pkt, bool fragmentable, std::uint32_t frag_id,
                         std::vector<Out>& out) {
  // RFC 7915 4.1: without DF the v4 sender accepts fragmentation, and 1280 always fits.
  if (!fragmentable || pkt.size() <= kV6MinMtu) {
    ++stats_.to_v6;
    out.push_back({Side::V6, std::move(pkt)});
    return;
  }
  constexpr std::size_t kChunk = (kV6MinMtu - kV6Hdr - kFragHdr) / 8 * 8;
  const std::size_t payload = pkt.size() - kV6Hdr;
  for (std::size_t off = 0; off < payload; off += kChunk) {
    const std::size_t n = std::min(kChunk, payload - off);
    std::vector<std::uint8_t> f(kV6Hdr + kFragHdr + n);
    std::copy_n(pkt.begin(), kV6Hdr, f.begin());
    f[6] = kFragment;
    put16(&f[4], static_cast<std::uint16_t>(kFragHdr + n));
    f[kV6Hdr] = pkt[6];
    f[kV6Hdr + 1] = 0;
    put16(&f[kV6Hdr + 2], static_cast<std::uint16_t>(off | (off + n < payload ? 1 : 0)));
    put32(&f[kV6Hdr + 4], frag_id);
    std::copy_n(pkt.begin() + static_cast<std::ptrdiff_t>(kV6Hdr + off), n, f.begin() + kV6Hdr + kFragHdr);
    ++stats_.to_v6;
    out.push_back({Side::V6, std::move(f)});
  }
}

}  // namespace patchbay::nat64
