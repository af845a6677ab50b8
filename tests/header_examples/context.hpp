// The names the public headers' usage examples take for granted (a lab, its nodes, addresses). The
// examples are compiled inside a block below PB_EXAMPLE_CONTEXT, so they may redeclare any of them.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <iostream>
#include <optional>

#include "patchbay/patchbay.hpp"
#include "patchbay/runner.hpp"

namespace pb_examples {

using namespace patchbay;

struct Context {
  Lab& lab;
  Router dc, home, isp, router;
  Device dev, client, server, device;
};

// Unused context names are fine: not every example needs every name.
#define PB_EXAMPLE_CONTEXT                                                   \
  [[maybe_unused]] Lab& lab = cx.lab;                                        \
  [[maybe_unused]] Router dc = cx.dc, home = cx.home;                        \
  [[maybe_unused]] Router isp = cx.isp, router = cx.router;                  \
  [[maybe_unused]] Device dev = cx.dev, client = cx.client;                  \
  [[maybe_unused]] Device server = cx.server, device = cx.device;            \
  [[maybe_unused]] SocketAddr reflector_addr{Ipv4Addr(198, 18, 0, 2), 3478}; \
  [[maybe_unused]] SocketAddr echo_addr{Ipv4Addr(198, 18, 0, 2), 7};         \
  [[maybe_unused]] std::optional<Ipv4Addr> dc_ip = Ipv4Addr(198, 18, 0, 2);  \
  [[maybe_unused]] Ipv4Addr server_v4(198, 18, 0, 2);                        \
  [[maybe_unused]] LabState state;

}  // namespace pb_examples
