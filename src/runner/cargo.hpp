// The cargo modes of [[binary]] (SPEC 15.6): `cargo build --release ... (--example X | --bin Y)` in
// the project, a `path` source directory or a `repo` clone, and prebuilt `target:` artifacts.
// Without `example` or `bin` the example of the binary's name is tried first, then the binary,
// as the original tool does.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "runner/binaries.hpp"

namespace patchbay::runner::detail {

// Builds (unless opts.no_build) and returns the artifact; `override_dir` is a --binary build dir.
std::filesystem::path cargo_build(const BinarySpec& s,
                                  const std::optional<std::filesystem::path>& override_dir,
                                  const AssembleOpts& opts, const std::string& ctx);
// `path = "target:<examples|bin>/<name>"` and mode target: a prebuilt artifact in the target dir
// (NETSIM_TARGET_DIR, else `cargo metadata`).
std::filesystem::path resolve_target(const BinarySpec& s, const AssembleOpts& opts, const std::string& ctx);

}  // namespace patchbay::runner::detail
