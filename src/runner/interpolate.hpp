// Runtime interpolation of step strings (SPEC 15.5): cmd elements, env values, gen-file content and
// gen-certs SANs.
//
//   InterpContext ctx{&binaries, &lab_vars, &store, deadline};
//   interpolate_args({"${binary.transfer}", "fetch", "${srv.endpoint_id}", "$NETSIM_IP_NODE"}, ctx);
//   // -> {"/abs/bin/transfer", "fetch", "abc123", "10.0.0.2"}, waiting for srv.endpoint_id if needed
//
//   ${binary.<name>}         absolute binary path; unknown -> ConfigError "unknown binary '<name>'"
//   ${<key with a dot>}      capture value, waiting until ctx.deadline; then TimeoutError
//                            "timed out waiting for capture '<key>'"
//   $NETSIM_X / ${NETSIM_X}  lab variable, exact name first, then upper-cased, then the environment;
//                            unknown: $NETSIM_X stays as written and ctx.warn is told (as in the
//                            original runner); ${NETSIM_X} -> ConfigError "unknown lab variable '<name>'"
//   $OTHER                   left untouched (it is for the shell or the program)
//   ${other}                 ConfigError "unknown variable '${other}'"
//
// Interpolation is a single pass: substituted values are never scanned again.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runner/captures.hpp"

namespace patchbay::runner {

struct InterpContext {
  const std::map<std::string, std::string>* binaries = nullptr;  // name -> absolute path
  const std::map<std::string, std::string>* lab_vars = nullptr;  // NETSIM_IP_relay=..., NETSIM_IP6_..., etc.
  const CaptureStore* captures = nullptr;
  std::chrono::steady_clock::time_point deadline;  // bound for capture waits (the default: do not wait)
  std::function<void(const std::string&)> warn = nullptr;  // told what was left as is; may be empty
};

std::string interpolate(std::string_view s, const InterpContext& ctx);

// Interpolates each argument, then drops a "--flag" token (starts with "--", no '=') that is followed
// by an empty string, together with that empty string: an optional flag whose value came out empty.
std::vector<std::string> interpolate_args(const std::vector<std::string>& args, const InterpContext& ctx);

}  // namespace patchbay::runner
