// patchbay/patchbay.hpp: everything at once.
//
//   #include <patchbay/patchbay.hpp>
//   using namespace patchbay;
//   int main() {
//     init_userns();
//     Lab lab;
//     auto dc = lab.add_router("dc").build();
//     auto srv = lab.add_device("server").iface("eth0", dc.id()).build();
//   }
#pragma once

#include "patchbay/consts.hpp"
#include "patchbay/device.hpp"
#include "patchbay/error.hpp"
#include "patchbay/events.hpp"
#include "patchbay/exec.hpp"
#include "patchbay/fd.hpp"
#include "patchbay/firewall.hpp"
#include "patchbay/lab.hpp"
#include "patchbay/link.hpp"
#include "patchbay/log.hpp"
#include "patchbay/nat.hpp"
#include "patchbay/nat64.hpp"
#include "patchbay/net.hpp"
#include "patchbay/node.hpp"
#include "patchbay/preset.hpp"
#include "patchbay/reflector.hpp"
#include "patchbay/region.hpp"
#include "patchbay/router.hpp"
#include "patchbay/testing.hpp"
#include "patchbay/types.hpp"
#include "patchbay/userns.hpp"
