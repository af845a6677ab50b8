// Fuzz target: the TOML lab file (SPEC 15.1) up to the plan: toml++ parsing, then
// config::plan_lab (every router, device, interface and region key, presets, NAT/firewall/link
// condition tables, the upstream order and cycle check). A bad file must end in toml::parse_error
// or patchbay::Error (ConfigError naming file, table and key); anything else is a bug. The plan
// must also be consistent: every router after its upstream, every gateway a planned router.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include <toml++/toml.h>

#include "config/lab_plan.hpp"
#include "patchbay/error.hpp"

using namespace patchbay;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  toml::table root;
  try {
    root = toml::parse(std::string_view(reinterpret_cast<const char*>(data), size), std::string_view("fuzz.toml"));
  } catch (const toml::parse_error&) {
    return 0;
  }
  try {
    auto plan = config::plan_lab(root, "fuzz.toml");
    std::set<std::string> placed;
    for (auto& r : plan.routers) {
      if (r.upstream && !placed.count(*r.upstream)) __builtin_trap();
      placed.insert(r.name);
    }
    for (auto& d : plan.devices) {
      if (d.ifaces.empty()) __builtin_trap();
      for (auto& i : d.ifaces)
        if (!placed.count(i.gateway)) __builtin_trap();
    }
  } catch (const patchbay::Error&) {
  }
  return 0;
}
