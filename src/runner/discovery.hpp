// Which sim files one `patchbay run` invocation runs (SPEC 15.8).
//
//   auto sims = args.empty() ? discover_sims(project_root, log) : expand_inputs(args);
//
// Explicit inputs: files are taken as given, directories are searched recursively for *.toml.
// Without inputs, `simulations` in <project root>/patchbay.toml (else .patchbay.toml) lists paths
// or globs relative to the project root. Both return absolute, lexically normal paths, sorted and
// without duplicates. Every failure is a patchbay::ConfigError naming the input or pattern.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace patchbay::runner {

// Files are used as given (any extension); a missing input is a ConfigError naming it.
// Directories are searched recursively for *.toml, not descending into hidden directories below
// the one given (run dirs, .git and cloned sources would otherwise contribute stray *.toml files).
std::vector<std::filesystem::path> expand_inputs(const std::vector<std::string>& inputs);

// Reads `simulations` (string or array of strings) from <project_root>/patchbay.toml, else
// .patchbay.toml. A pattern without glob characters names a file or directory; a glob is matched
// against paths relative to the project root, where a matched file counts only if it ends in
// .toml and a matched directory is searched as above. A pattern matching nothing is a ConfigError
// naming it; no config file (or no `simulations` key) is ConfigError "no sim files found".
// log("patchbay: using simulations from <pattern>") is called once per pattern.
std::vector<std::filesystem::path> discover_sims(const std::filesystem::path& project_root,
                                                 const std::function<void(const std::string&)>& log);

// '/'-separated matching: `*` and `?` stay within one segment, `[abc]` / `[a-z]` / `[!x]` match
// one character, and a `**` segment matches zero or more whole segments.
bool glob_match(std::string_view pattern, std::string_view relative_path);

}  // namespace patchbay::runner
