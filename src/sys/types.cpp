#include "patchbay/types.hpp"

#include "patchbay/error.hpp"

namespace patchbay {

std::string to_string(IpSupport s) {
  switch (s) {
    case IpSupport::V4Only:
      return "v4-only";
    case IpSupport::V6Only:
      return "v6-only";
    case IpSupport::DualStack:
      return "dual-stack";
  }
  return "?";
}

std::string to_string(LinkDirection d) {
  switch (d) {
    case LinkDirection::Up:
      return "up";
    case LinkDirection::Down:
      return "down";
    case LinkDirection::Both:
      return "both";
  }
  return "?";
}

std::string to_string(Ipv6DadMode m) {
  return m == Ipv6DadMode::Enabled ? "enabled" : "disabled";
}
std::string to_string(Ipv6ProvisioningMode m) {
  return m == Ipv6ProvisioningMode::Static ? "static" : "ra_driven";
}

std::string to_string(AddressPool p) {
  switch (p) {
    case AddressPool::Public:
      return "public";
    case AddressPool::Private:
      return "private";
    case AddressPool::Cgnat:
      return "cgnat";
  }
  return "?";
}

std::string to_string(Proto p) {
  return p == Proto::Udp ? "udp" : "tcp";
}

namespace {
[[noreturn]] void bad(std::string_view field, std::string_view v, std::string_view expected) {
  throw InvalidArgument(std::string(field) + ": unknown value '" + std::string(v) + "' (expected " +
                        std::string(expected) + ")");
}
}  // namespace

IpSupport parse_ip_support(std::string_view v) {
  if (v == "v4-only") return IpSupport::V4Only;
  if (v == "v6-only") return IpSupport::V6Only;
  if (v == "dual-stack") return IpSupport::DualStack;
  bad("ip_support", v, "v4-only, v6-only or dual-stack");
}

LinkDirection parse_link_direction(std::string_view v) {
  if (v == "up") return LinkDirection::Up;
  if (v == "down") return LinkDirection::Down;
  if (v == "both") return LinkDirection::Both;
  bad("direction", v, "up, down or both");
}

Ipv6DadMode parse_dad_mode(std::string_view v) {
  if (v == "enabled") return Ipv6DadMode::Enabled;
  if (v == "disabled") return Ipv6DadMode::Disabled;
  bad("ipv6_dad_mode", v, "enabled or disabled");
}

Ipv6ProvisioningMode parse_provisioning_mode(std::string_view v) {
  if (v == "static") return Ipv6ProvisioningMode::Static;
  if (v == "ra_driven" || v == "ra-driven") return Ipv6ProvisioningMode::RaDriven;
  bad("ipv6_provisioning_mode", v, "static or ra_driven");
}

}  // namespace patchbay
