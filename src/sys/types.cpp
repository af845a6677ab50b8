#include "patchbay/types.hpp"

#include "patchbay/error.hpp"
#include "sys/spelling.hpp"

namespace patchbay {

namespace {

using sys::Spelling;

constexpr Spelling<IpSupport> kIpSupportNames[] = {
    {IpSupport::V4Only, "v4-only"},
    {IpSupport::V6Only, "v6-only"},
    {IpSupport::DualStack, "dual-stack"},
};
constexpr Spelling<LinkDirection> kDirectionNames[] = {
    {LinkDirection::Up, "up"},
    {LinkDirection::Down, "down"},
    {LinkDirection::Both, "both"},
};
constexpr Spelling<Ipv6DadMode> kDadNames[] = {
    {Ipv6DadMode::Enabled, "enabled"},
    {Ipv6DadMode::Disabled, "disabled"},
};
constexpr Spelling<Ipv6ProvisioningMode> kProvisioningNames[] = {
    {Ipv6ProvisioningMode::Static, "static"},
    {Ipv6ProvisioningMode::RaDriven, "ra_driven"},
};
constexpr Spelling<AddressPool> kPoolNames[] = {
    {AddressPool::Public, "public"},
    {AddressPool::Private, "private"},
    {AddressPool::Cgnat, "cgnat"},
};
constexpr Spelling<Proto> kProtoNames[] = {{Proto::Udp, "udp"}, {Proto::Tcp, "tcp"}};

// The table's value for `v`, or InvalidArgument "<field>: unknown value 'v' (expected a, b or c)".
template <class E, std::size_t N>
E parse(const Spelling<E> (&table)[N], std::string_view field, std::string_view v) {
  if (auto e = sys::value_named(table, v)) return *e;
  throw InvalidArgument(std::string(field) + ": unknown value '" + std::string(v) + "' (expected " +
                        sys::expected_names(table) + ")");
}

}  // namespace

std::string to_string(IpSupport s) {
  return std::string(sys::name_of(kIpSupportNames, s));
}
std::string to_string(LinkDirection d) {
  return std::string(sys::name_of(kDirectionNames, d));
}
std::string to_string(Ipv6DadMode m) {
  return std::string(sys::name_of(kDadNames, m));
}
std::string to_string(Ipv6ProvisioningMode m) {
  return std::string(sys::name_of(kProvisioningNames, m));
}
std::string to_string(AddressPool p) {
  return std::string(sys::name_of(kPoolNames, p));
}
std::string to_string(Proto p) {
  return std::string(sys::name_of(kProtoNames, p));
}

IpSupport parse_ip_support(std::string_view v) {
  return parse(kIpSupportNames, "ip_support", v);
}
LinkDirection parse_link_direction(std::string_view v) {
  return parse(kDirectionNames, "direction", v);
}
Ipv6DadMode parse_dad_mode(std::string_view v) {
  return parse(kDadNames, "ipv6_dad_mode", v);
}
Ipv6ProvisioningMode parse_provisioning_mode(std::string_view v) {
  // "ra-driven" is accepted as an alias but not advertised: the canonical spelling is ra_driven.
  return parse(kProvisioningNames, "ipv6_provisioning_mode", v == "ra-driven" ? "ra_driven" : v);
}

}  // namespace patchbay
