// Small helpers [[binary]] assembly shares between its general part (binaries.cpp) and its cargo
// part (cargo.cpp): error contexts, paths, files and the bounded build step.
#pragma once

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "runner/binaries.hpp"

namespace patchbay::runner::detail {

std::string binary_ctx(const std::string& name);  // "binary 'relay'"
std::string env_or_empty(const char* name);
// `p` under `root` unless absolute, normalised.
std::filesystem::path under(const std::filesystem::path& root, const std::filesystem::path& p);
std::string read_text(const std::filesystem::path& p);
// SystemError naming ctx and what when ec is set.
void check_ec(const std::error_code& ec, const std::string& ctx, const std::string& what);
void make_dirs(const std::filesystem::path& dir, const std::string& ctx);
// Copies (when `from` is given) and marks the result executable.
void install(const std::filesystem::path* from, const std::filesystem::path& to, const std::string& ctx);
// The absolute path of an existing executable regular file, else ConfigError naming `what`.
std::filesystem::path check_executable(const std::filesystem::path& p, const std::string& ctx,
                                       const std::string& what);
// Every command a binary's build runs (build, clone, checkout, cargo) is bounded by one deadline.
void run_build_step(const std::vector<std::string>& argv, const std::filesystem::path& cwd,
                    const BinarySpec& s, const AssembleOpts& opts, const std::string& context);

// Error "'<command>' exited with status N" (or "killed by signal N") unless it exited 0.
void check_status(int status, const std::vector<std::string>& argv, const std::string& ctx);

}  // namespace patchbay::runner::detail
