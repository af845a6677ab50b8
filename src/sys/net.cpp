#include "patchbay/net.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include <charconv>
#include <cstring>

#include "patchbay/error.hpp"

namespace patchbay {

namespace {

std::string quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

}  // namespace

// ---- Ipv4Addr ----

std::optional<Ipv4Addr> Ipv4Addr::try_parse(std::string_view text) {
  std::uint32_t v = 0;
  const char* p = text.data();
  const char* end = p + text.size();
  for (int i = 0; i < 4; ++i) {
    if (p == end || *p < '0' || *p > '9') return std::nullopt;
    unsigned octet = 0;
    const char* start = p;
    auto r = std::from_chars(p, end, octet);
    if (r.ec != std::errc{} || octet > 255 || r.ptr - start > 3) return std::nullopt;
    if (r.ptr - start > 1 && *start == '0') return std::nullopt;  // no octal-looking octets
    p = r.ptr;
    v = (v << 8) | octet;
    if (i < 3) {
      if (p == end || *p != '.') return std::nullopt;
      ++p;
    }
  }
  if (p != end) return std::nullopt;
  return Ipv4Addr(v);
}

Ipv4Addr Ipv4Addr::parse(std::string_view text) {
  if (auto a = try_parse(text)) return *a;
  throw InvalidArgument("invalid IPv4 address " + quoted(text));
}

std::array<std::uint8_t, 4> Ipv4Addr::octets() const {
  return {static_cast<std::uint8_t>(v_ >> 24), static_cast<std::uint8_t>(v_ >> 16),
          static_cast<std::uint8_t>(v_ >> 8), static_cast<std::uint8_t>(v_)};
}

in_addr Ipv4Addr::to_in_addr() const {
  in_addr a{};
  a.s_addr = htonl(v_);
  return a;
}

Ipv4Addr Ipv4Addr::from_in_addr(const in_addr& a) {
  return Ipv4Addr(ntohl(a.s_addr));
}

std::string Ipv4Addr::to_string() const {
  auto o = octets();
  char buf[16];
  int n = std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", o[0], o[1], o[2], o[3]);
  return std::string(buf, static_cast<std::size_t>(n));
}

bool Ipv4Addr::is_private() const {
  return (v_ >> 24) == 10 || (v_ >> 20) == ((172u << 4) | 1) || (v_ >> 16) == ((192u << 8) | 168);
}

// ---- Ipv6Addr ----

Ipv6Addr Ipv6Addr::from_groups(const std::array<std::uint16_t, 8>& g) {
  Bytes b{};
  for (int i = 0; i < 8; ++i) {
    b[2 * i] = static_cast<std::uint8_t>(g[i] >> 8);
    b[2 * i + 1] = static_cast<std::uint8_t>(g[i]);
  }
  return Ipv6Addr(b);
}

Ipv6Addr Ipv6Addr::from_halves(std::uint64_t hi, std::uint64_t lo) {
  Bytes b{};
  for (int i = 0; i < 8; ++i) {
    b[i] = static_cast<std::uint8_t>(hi >> (56 - 8 * i));
    b[8 + i] = static_cast<std::uint8_t>(lo >> (56 - 8 * i));
  }
  return Ipv6Addr(b);
}

std::optional<Ipv6Addr> Ipv6Addr::try_parse(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  in6_addr a{};
  if (inet_pton(AF_INET6, buf, &a) != 1) return std::nullopt;
  return from_in6_addr(a);
}

Ipv6Addr Ipv6Addr::parse(std::string_view text) {
  if (auto a = try_parse(text)) return *a;
  throw InvalidArgument("invalid IPv6 address " + quoted(text));
}

std::array<std::uint16_t, 8> Ipv6Addr::groups() const {
  std::array<std::uint16_t, 8> g{};
  for (int i = 0; i < 8; ++i) g[i] = static_cast<std::uint16_t>((b_[2 * i] << 8) | b_[2 * i + 1]);
  return g;
}

std::uint64_t Ipv6Addr::hi() const {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | b_[i];
  return v;
}

std::uint64_t Ipv6Addr::lo() const {
  std::uint64_t v = 0;
  for (int i = 8; i < 16; ++i) v = (v << 8) | b_[i];
  return v;
}

in6_addr Ipv6Addr::to_in6_addr() const {
  in6_addr a{};
  std::memcpy(&a, b_.data(), 16);
  return a;
}

Ipv6Addr Ipv6Addr::from_in6_addr(const in6_addr& a) {
  Bytes b{};
  std::memcpy(b.data(), &a, 16);
  return Ipv6Addr(b);
}

std::string Ipv6Addr::to_string() const {
  // RFC 5952: lowercase, leading zeros dropped, the first longest run (>= 2) of zero groups as "::".
  auto g = groups();
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len) best = i, best_len = j - i;
    i = j;
  }
  if (best_len < 2) best = -1;
  std::string out;
  out.reserve(40);
  char buf[8];
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      out += "::";
      i += best_len - 1;
      continue;
    }
    if (!out.empty() && out.back() != ':') out += ':';
    int n = std::snprintf(buf, sizeof buf, "%x", g[i]);
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

bool Ipv6Addr::is_unspecified() const {
  return hi() == 0 && lo() == 0;
}
bool Ipv6Addr::is_link_local() const {
  return b_[0] == 0xfe && (b_[1] & 0xc0) == 0x80;
}

// ---- IpAddr ----

std::optional<IpAddr> IpAddr::try_parse(std::string_view text) {
  if (auto a = Ipv4Addr::try_parse(text)) return IpAddr(*a);
  if (auto a = Ipv6Addr::try_parse(text)) return IpAddr(*a);
  return std::nullopt;
}

IpAddr IpAddr::parse(std::string_view text) {
  if (auto a = try_parse(text)) return *a;
  throw InvalidArgument("invalid IP address " + quoted(text));
}

std::string IpAddr::to_string() const {
  return is_v4() ? v4().to_string() : v6().to_string();
}

// ---- Ipv4Net ----

namespace {

std::uint32_t mask_v4(std::uint8_t len) {
  return len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
}

std::pair<std::string_view, std::uint8_t> split_prefix(std::string_view text, unsigned max_len,
                                                       const char* what) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos)
    throw InvalidArgument(std::string("invalid ") + what + " " + quoted(text) +
                          ": missing '/<prefix length>'");
  auto len_text = text.substr(slash + 1);
  unsigned len = 0;
  auto r = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (r.ec != std::errc{} || r.ptr != len_text.data() + len_text.size() || len > max_len || len_text.empty())
    throw InvalidArgument(std::string("invalid ") + what + " " + quoted(text) + ": bad prefix length");
  return {text.substr(0, slash), static_cast<std::uint8_t>(len)};
}

}  // namespace

Ipv4Net::Ipv4Net(Ipv4Addr addr, std::uint8_t prefix_len) : len_(prefix_len) {
  if (prefix_len > 32)
    throw InvalidArgument("invalid IPv4 prefix length " + std::to_string(prefix_len) + " (max 32)");
  addr_ = Ipv4Addr(addr.to_u32() & mask_v4(prefix_len));
}

Ipv4Net Ipv4Net::parse(std::string_view text) {
  auto [a, len] = split_prefix(text, 32, "IPv4 network");
  auto addr = Ipv4Addr::try_parse(a);
  if (!addr) throw InvalidArgument("invalid IPv4 network " + quoted(text));
  return Ipv4Net(*addr, len);
}

Ipv4Addr Ipv4Net::netmask() const {
  return Ipv4Addr(mask_v4(len_));
}
Ipv4Addr Ipv4Net::broadcast() const {
  return Ipv4Addr(addr_.to_u32() | ~mask_v4(len_));
}

Ipv4Addr Ipv4Net::host(std::uint64_t i) const {
  if (i >= size()) throw InvalidArgument("host index " + std::to_string(i) + " outside " + to_string());
  return Ipv4Addr(addr_.to_u32() + static_cast<std::uint32_t>(i));
}

bool Ipv4Net::contains(Ipv4Addr a) const {
  return (a.to_u32() & mask_v4(len_)) == addr_.to_u32();
}

bool Ipv4Net::overlaps(const Ipv4Net& o) const {
  auto l = std::min(len_, o.len_);
  return (addr_.to_u32() & mask_v4(l)) == (o.addr_.to_u32() & mask_v4(l));
}

std::string Ipv4Net::to_string() const {
  return addr_.to_string() + "/" + std::to_string(len_);
}

// ---- Ipv6Net ----

namespace {

Ipv6Addr mask_v6(const Ipv6Addr& a, std::uint8_t len) {
  auto b = a.bytes();
  for (int i = 0; i < 16; ++i) {
    int bits = std::clamp(static_cast<int>(len) - 8 * i, 0, 8);
    b[i] &= static_cast<std::uint8_t>(0xff00 >> bits);
  }
  return Ipv6Addr(b);
}

}  // namespace

Ipv6Net::Ipv6Net(Ipv6Addr addr, std::uint8_t prefix_len) : len_(prefix_len) {
  if (prefix_len > 128)
    throw InvalidArgument("invalid IPv6 prefix length " + std::to_string(prefix_len) + " (max 128)");
  addr_ = mask_v6(addr, prefix_len);
}

Ipv6Net Ipv6Net::parse(std::string_view text) {
  auto [a, len] = split_prefix(text, 128, "IPv6 network");
  auto addr = Ipv6Addr::try_parse(a);
  if (!addr) throw InvalidArgument("invalid IPv6 network " + quoted(text));
  return Ipv6Net(*addr, len);
}

Ipv6Addr Ipv6Net::host(std::uint64_t i) const {
  if (len_ > 64 && (128 - len_) < 64 && i >= (std::uint64_t{1} << (128 - len_)))
    throw InvalidArgument("host index " + std::to_string(i) + " outside " + to_string());
  return Ipv6Addr::from_halves(addr_.hi(), addr_.lo() + i);
}

bool Ipv6Net::contains(const Ipv6Addr& a) const {
  return mask_v6(a, len_) == addr_;
}

bool Ipv6Net::overlaps(const Ipv6Net& o) const {
  auto l = std::min(len_, o.len_);
  return mask_v6(addr_, l) == mask_v6(o.addr_, l);
}

std::string Ipv6Net::to_string() const {
  return addr_.to_string() + "/" + std::to_string(len_);
}

// ---- SocketAddr ----

SocketAddr SocketAddr::parse(std::string_view text) {
  auto bad = [&] { return InvalidArgument("invalid socket address " + quoted(text)); };
  std::string_view host, port;
  if (!text.empty() && text[0] == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') throw bad();
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) throw bad();
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) throw bad();
  }
  unsigned p = 0;
  auto r = std::from_chars(port.data(), port.data() + port.size(), p);
  if (port.empty() || r.ec != std::errc{} || r.ptr != port.data() + port.size() || p > 65535) throw bad();
  auto ip = IpAddr::try_parse(host);
  if (!ip) throw bad();
  return SocketAddr(*ip, static_cast<std::uint16_t>(p));
}

SocketAddr SocketAddr::from_sockaddr(const sockaddr* sa, socklen_t len) {
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    auto* s = reinterpret_cast<const sockaddr_in*>(sa);
    return SocketAddr(Ipv4Addr::from_in_addr(s->sin_addr), ntohs(s->sin_port));
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    auto* s = reinterpret_cast<const sockaddr_in6*>(sa);
    auto a = Ipv6Addr::from_in6_addr(s->sin6_addr);
    // Report v4-mapped peers of dual-stack sockets as IPv4, as a user would expect.
    auto& b = a.bytes();
    bool mapped = a.hi() == 0 && b[8] == 0 && b[9] == 0 && b[10] == 0xff && b[11] == 0xff;
    if (mapped) return SocketAddr(Ipv4Addr(b[12], b[13], b[14], b[15]), ntohs(s->sin6_port));
    return SocketAddr(a, ntohs(s->sin6_port));
  }
  throw InvalidArgument("unsupported socket address family " + std::to_string(sa->sa_family));
}

socklen_t SocketAddr::to_sockaddr(sockaddr_storage& out) const {
  std::memset(&out, 0, sizeof out);
  if (ip_.is_v4()) {
    auto* s = reinterpret_cast<sockaddr_in*>(&out);
    s->sin_family = AF_INET;
    s->sin_port = htons(port_);
    s->sin_addr = ip_.v4().to_in_addr();
    return sizeof(sockaddr_in);
  }
  auto* s = reinterpret_cast<sockaddr_in6*>(&out);
  s->sin6_family = AF_INET6;
  s->sin6_port = htons(port_);
  s->sin6_addr = ip_.v6().to_in6_addr();
  return sizeof(sockaddr_in6);
}

std::string SocketAddr::to_string() const {
  if (ip_.is_v4()) return ip_.to_string() + ":" + std::to_string(port_);
  return "[" + ip_.to_string() + "]:" + std::to_string(port_);
}

std::ostream& operator<<(std::ostream& os, const Ipv4Addr& a) {
  return os << a.to_string();
}
std::ostream& operator<<(std::ostream& os, const Ipv6Addr& a) {
  return os << a.to_string();
}
std::ostream& operator<<(std::ostream& os, const IpAddr& a) {
  return os << a.to_string();
}
std::ostream& operator<<(std::ostream& os, const Ipv4Net& n) {
  return os << n.to_string();
}
std::ostream& operator<<(std::ostream& os, const Ipv6Net& n) {
  return os << n.to_string();
}
std::ostream& operator<<(std::ostream& os, const SocketAddr& a) {
  return os << a.to_string();
}

}  // namespace patchbay
