// Run roots and sim directories under the work dir (SPEC 15.9).
//
//   auto root = make_run_root(".patchbay-work", std::chrono::system_clock::now());
//   // root == /abs/.patchbay-work/sim-250101-120000 (or ...-1 when that second is taken),
//   // .patchbay-work/latest -> sim-250101-120000
//   auto dir = make_sim_dir(root, "iperf sim");  // <root>/iperf_sim, then iperf_sim-1, ...
//
// Directory creation is the claim: two invocations in the same second (or two sims with the same
// name) never share a directory. Failures throw patchbay::SystemError naming the path.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>

namespace patchbay::runner {

// "%Y-%m-%dT%H:%M:%SZ" in UTC, the one timestamp format of every runner output file.
std::string utc_timestamp(std::chrono::system_clock::time_point t);

// Creates <work_dir>/sim-YYMMDD-HHMMSS (UTC), or with -1, -2 ... when taken; creates work_dir if
// needed and points <work_dir>/latest at the new directory with a relative symlink that is
// replaced atomically. Returns the absolute run root.
std::filesystem::path make_run_root(const std::filesystem::path& work_dir,
                                    std::chrono::system_clock::time_point now);

// Characters outside [A-Za-z0-9._-] become '_'; an empty name becomes "sim", and a name made only
// of dots has them replaced so it can never mean "." or "..".
std::string sanitize_name(std::string_view name);

// Creates <run_root>/<sanitize_name(sim_name)>, or with -1, -2 ... when taken; returns it.
std::filesystem::path make_sim_dir(const std::filesystem::path& run_root, std::string_view sim_name);

}  // namespace patchbay::runner
