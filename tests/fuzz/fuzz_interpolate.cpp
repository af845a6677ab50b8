// Fuzz target: runtime interpolation of step strings (SPEC 15.5). The input is split at NUL bytes
// into arguments; known binaries, lab variables and one capture exist so that every branch
// (binary, capture, NETSIM_ variable, $OTHER, ${other}, the empty-flag rule) is reachable. A bad
// reference must end in patchbay::Error; the deadline lies in the past, so capture waits only check.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "patchbay/error.hpp"
#include "runner/interpolate.hpp"

using namespace patchbay;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::map<std::string, std::string> binaries{{"transfer", "/usr/bin/transfer"}, {"x", "/x"}};
  static const std::map<std::string, std::string> vars{
      {"NETSIM_IP_relay", "10.0.0.2"}, {"NETSIM_IP6_relay", "fd00::2"}, {"NETSIM_IP_CLIENT", "10.0.1.2"}};
  static runner::CaptureStore* captures = [] {
    auto* c = new runner::CaptureStore;
    c->record("srv.endpoint_id", "abc123");
    c->record("srv.addr", "${binary.x} $NETSIM_IP_relay");  // substituted values are not rescanned
    return c;
  }();
  std::vector<std::string> args(1);
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == 0)
      args.emplace_back();
    else
      args.back() += static_cast<char>(data[i]);
  }
  runner::InterpContext ctx{&binaries, &vars, captures, {}};
  try {
    auto out = runner::interpolate_args(args, ctx);
    if (out.size() > args.size()) __builtin_trap();
    for (auto& a : args) (void)runner::interpolate(a, ctx);
  } catch (const patchbay::Error&) {
  }
  return 0;
}
