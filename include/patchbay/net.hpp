// patchbay/net.hpp: IP address, network and socket address value types.
//
//   auto a = patchbay::Ipv4Addr::parse("198.18.0.10");
//   auto n = patchbay::Ipv4Net::parse("10.0.1.0/24");
//   n.contains(a);                   // false
//   n.host(1).to_string();           // "10.0.1.1"
//   SocketAddr{Ipv6Addr::parse("2001:db8::1"), 80}.to_string();   // "[2001:db8::1]:80"
//
// All types are small regular values (copyable, comparable, hashable). parse() throws
// InvalidArgument naming the offending text; to_string() prints RFC 5952 text for IPv6.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <variant>

namespace patchbay {

class Ipv4Addr {
 public:
  constexpr Ipv4Addr() = default;
  constexpr explicit Ipv4Addr(std::uint32_t host_order) : v_(host_order) {}
  constexpr Ipv4Addr(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d)
      : v_((std::uint32_t{a} << 24) | (std::uint32_t{b} << 16) | (std::uint32_t{c} << 8) | d) {}
  static Ipv4Addr parse(std::string_view text);
  static std::optional<Ipv4Addr> try_parse(std::string_view text);

  constexpr std::uint32_t to_u32() const { return v_; }
  std::array<std::uint8_t, 4> octets() const;
  in_addr to_in_addr() const;
  static Ipv4Addr from_in_addr(const in_addr& a);
  std::string to_string() const;
  bool is_unspecified() const { return v_ == 0; }
  bool is_private() const;  // RFC 1918
  constexpr auto operator<=>(const Ipv4Addr&) const = default;

 private:
  std::uint32_t v_ = 0;
};

class Ipv6Addr {
 public:
  using Bytes = std::array<std::uint8_t, 16>;
  constexpr Ipv6Addr() = default;
  constexpr explicit Ipv6Addr(const Bytes& b) : b_(b) {}
  // Eight 16-bit groups, most significant first.
  static Ipv6Addr from_groups(const std::array<std::uint16_t, 8>& g);
  static Ipv6Addr from_halves(std::uint64_t hi, std::uint64_t lo);
  static Ipv6Addr parse(std::string_view text);
  static std::optional<Ipv6Addr> try_parse(std::string_view text);

  const Bytes& bytes() const { return b_; }
  std::array<std::uint16_t, 8> groups() const;
  std::uint64_t hi() const;  // network half
  std::uint64_t lo() const;  // interface identifier half
  in6_addr to_in6_addr() const;
  static Ipv6Addr from_in6_addr(const in6_addr& a);
  std::string to_string() const;  // RFC 5952
  bool is_unspecified() const;
  bool is_link_local() const;  // fe80::/10
  constexpr auto operator<=>(const Ipv6Addr&) const = default;

 private:
  Bytes b_{};
};

class IpAddr {
 public:
  IpAddr() = default;
  IpAddr(Ipv4Addr a) : v_(a) {}  // NOLINT: implicit by design, like std::variant
  IpAddr(Ipv6Addr a) : v_(a) {}  // NOLINT
  static IpAddr parse(std::string_view text);
  static std::optional<IpAddr> try_parse(std::string_view text);
  bool is_v4() const { return v_.index() == 0; }
  bool is_v6() const { return v_.index() == 1; }
  int family() const { return is_v4() ? AF_INET : AF_INET6; }
  Ipv4Addr v4() const { return std::get<Ipv4Addr>(v_); }
  Ipv6Addr v6() const { return std::get<Ipv6Addr>(v_); }
  std::string to_string() const;
  auto operator<=>(const IpAddr&) const = default;

 private:
  std::variant<Ipv4Addr, Ipv6Addr> v_;
};

class Ipv4Net {
 public:
  Ipv4Net() = default;
  // Throws InvalidArgument if prefix_len > 32. Host bits are cleared.
  Ipv4Net(Ipv4Addr addr, std::uint8_t prefix_len);
  static Ipv4Net parse(std::string_view text);  // "10.0.0.0/24"
  Ipv4Addr addr() const { return addr_; }
  std::uint8_t prefix_len() const { return len_; }
  Ipv4Addr netmask() const;
  Ipv4Addr broadcast() const;
  std::uint64_t size() const { return std::uint64_t{1} << (32 - len_); }
  // The i-th address of the network (0 = network address). Throws if out of range.
  Ipv4Addr host(std::uint64_t i) const;
  bool contains(Ipv4Addr a) const;
  bool overlaps(const Ipv4Net& o) const;
  std::string to_string() const;
  auto operator<=>(const Ipv4Net&) const = default;

 private:
  Ipv4Addr addr_;
  std::uint8_t len_ = 0;
};

class Ipv6Net {
 public:
  Ipv6Net() = default;
  Ipv6Net(Ipv6Addr addr, std::uint8_t prefix_len);  // host bits are cleared
  static Ipv6Net parse(std::string_view text);
  Ipv6Addr addr() const { return addr_; }
  std::uint8_t prefix_len() const { return len_; }
  // The address with interface part `i` added to the network address (i < 2^64).
  Ipv6Addr host(std::uint64_t i) const;
  bool contains(const Ipv6Addr& a) const;
  bool overlaps(const Ipv6Net& o) const;
  std::string to_string() const;
  auto operator<=>(const Ipv6Net&) const = default;

 private:
  Ipv6Addr addr_;
  std::uint8_t len_ = 0;
};

class SocketAddr {
 public:
  SocketAddr() = default;
  SocketAddr(IpAddr ip, std::uint16_t port) : ip_(ip), port_(port) {}
  static SocketAddr parse(std::string_view text);  // "1.2.3.4:5" or "[::1]:5"
  static SocketAddr from_sockaddr(const sockaddr* sa, socklen_t len);
  // Fills `out` and returns the length to pass to bind/connect/sendto.
  socklen_t to_sockaddr(sockaddr_storage& out) const;
  const IpAddr& ip() const { return ip_; }
  std::uint16_t port() const { return port_; }
  int family() const { return ip_.family(); }
  std::string to_string() const;
  auto operator<=>(const SocketAddr&) const = default;

 private:
  IpAddr ip_;
  std::uint16_t port_ = 0;
};

std::ostream& operator<<(std::ostream& os, const Ipv4Addr& a);
std::ostream& operator<<(std::ostream& os, const Ipv6Addr& a);
std::ostream& operator<<(std::ostream& os, const IpAddr& a);
std::ostream& operator<<(std::ostream& os, const Ipv4Net& n);
std::ostream& operator<<(std::ostream& os, const Ipv6Net& n);
std::ostream& operator<<(std::ostream& os, const SocketAddr& a);

}  // namespace patchbay

template <>
struct std::hash<patchbay::Ipv4Addr> {
  std::size_t operator()(const patchbay::Ipv4Addr& a) const noexcept {
    return std::hash<std::uint32_t>{}(a.to_u32());
  }
};
template <>
struct std::hash<patchbay::Ipv6Addr> {
  std::size_t operator()(const patchbay::Ipv6Addr& a) const noexcept {
    return std::hash<std::uint64_t>{}(a.hi() * 31 + a.lo());
  }
};
