// `[[binary]]` entries (SPEC 15.6): parsing, `--binary` overrides, and assembling every binary of
// one invocation before any sim runs.
//
//   std::vector<std::pair<std::string, BinarySpec>> all;
//   for (auto& table : sim_binary_tables) all.emplace_back(sim_path, parse_binary(table, sim_path));
//   auto paths = assemble_binaries(merge_binary_specs(all), parse_binary_overrides(cli_args),
//                                  {.project_root = root, .run_root = run_root, .log = log});
//   // paths["relay"] == "/abs/.patchbay-work/sim-.../.assemble/.binary-cache/<hash>/bin/iroh-relay"
//
// Modes: `path` (an existing executable, or `target:examples/<n>` / `target:bin/<n>` in the cargo
// target dir), `fetch` (http/https/file URL via libcurl, optional .tar.gz extraction and sha256
// check, cached under <run root>/.assemble/.binary-cache/), `build` (a generic command run in `cwd`,
// then `path` is the artifact; a `path` naming a directory is the source directory instead: the
// command runs there and the artifact is <path>/<name>), `cargo` (cargo build in the source
// directory `path` with --manifest-path <path>/Cargo.toml, as the original's build mode, else in a
// cloned `repo` or the project root) and `target` (a prebuilt cargo artifact). Spec errors are
// patchbay::ConfigError naming the file and the binary; download, build and verification failures are
// patchbay::Error naming the binary. Not thread-safe: call from one thread per run root.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace patchbay::runner {

using LogFn = std::function<void(const std::string&)>;

// The deadline of each command a build runs (a generic `build`, git, cargo, a [[prepare]]
// command): generous, so only a hung build hits it.
inline constexpr std::chrono::milliseconds kBuildTimeout = std::chrono::minutes(30);

struct BinarySpec {
  std::string name;
  std::string mode;  // "path" | "fetch" | "build" | "cargo" | "target"
  std::optional<std::string> path, url, sha256, member, cwd;
  std::vector<std::string> build_argv;                    // `build` given as an array
  std::optional<std::string> build_shell;                 // `build` given as a string -> /bin/sh -c
  std::optional<std::string> repo, commit, example, bin;  // cargo keys
  std::vector<std::string> features;
  bool all_features = false;
  nlohmann::json raw;  // the table as given, to detect one name with different specs
};

// One [[binary]] table (converted to JSON); `where` (e.g. the sim file path) prefixes errors.
// Without `mode`: `build` -> build, `path` -> path, `url` -> fetch, `repo`/`example`/`bin` ->
// cargo, none -> ConfigError "binary '<n>' has no mode and no source fields (expected
// build|path|fetch|target)". `mode = "build"` without a `build` command but with cargo keys means
// cargo. Each mode's required keys are checked here: path needs `path`, fetch an http(s)/file
// `url`, a generic build its artifact `path`, target `example`, `bin` or a `target:` path.
// `sha256` is normalised to lower case. Unknown keys are ignored.
BinarySpec parse_binary(const nlohmann::json& table, std::string_view where);

// `--binary <name>:<mode>:<value>`; modes path|fetch|build; the value keeps any further ':'.
struct BinaryOverride {
  std::string name, mode, value;
};
BinaryOverride parse_binary_override(std::string_view arg);
// A repeated name -> ConfigError "duplicate --binary override: '<name>'".
std::map<std::string, BinaryOverride> parse_binary_overrides(const std::vector<std::string>& args);

// Specs gathered from all sims of one invocation (sim path, spec): one name with a different
// `raw` table -> ConfigError naming both sim files. Returns the unique specs in first-seen order.
std::vector<BinarySpec> merge_binary_specs(const std::vector<std::pair<std::string, BinarySpec>>& specs);

struct AssembleOpts {
  std::filesystem::path project_root;  // relative paths and the default build cwd resolve here
  std::filesystem::path run_root;      // work files go to <run root>/.assemble/
  bool no_build = false;               // skip build commands (and clones); artifacts must exist
  LogFn log;                           // progress and build output lines; may be empty
  std::chrono::milliseconds build_timeout = kBuildTimeout;  // per command, see run_program
};

// Resolves each binary once; returns name -> absolute path of an executable file.
// An override replaces how that binary is obtained:
//   path:<file>  <file> (relative to the project root) is copied to
//                <run root>/.assemble/bins/<name>-override, so the run uses a stable snapshot;
//   fetch:<url>  the spec's `member` still applies, its `sha256` (for a different file) does not;
//   build:<dir>  the spec is built as if <dir> were the project root: a generic build runs its
//                command in <dir> (or <dir>/<cwd>) and takes <dir>/<path>; a cargo spec runs cargo
//                in <dir> instead of cloning `repo`. Specs without a build are a ConfigError.
// An override naming no spec is logged as a warning and ignored.
std::map<std::string, std::string> assemble_binaries(const std::vector<BinarySpec>& specs,
                                                     const std::map<std::string, BinaryOverride>& overrides,
                                                     const AssembleOpts& opts);

// Runs argv (argv[0] searched in PATH) in `cwd` with stdin from /dev/null, forwarding each line of
// stdout and stderr to `log` (when set). A spawn failure or non-zero exit throws patchbay::Error
// "<context>: '<command>' exited with status N" (or "killed by signal N").
// A `build`/`cmd` given as a string is passed here as {"/bin/sh", "-c", string}.
// The command runs in a process group of its own (runner/host_command.hpp); after `timeout` the
// group is killed and TimeoutError "<name> timed out after 30m: '<command>' in '<cwd>' (process
// group killed)" thrown, `name` being e.g. "build of binary 'relay'" (default: `context`).
void run_program(const std::vector<std::string>& argv, const std::filesystem::path& cwd, const LogFn& log,
                 const std::string& context, std::chrono::milliseconds timeout = kBuildTimeout,
                 const std::string& name = {});

// The first executable `exe` in $PATH, if any.
std::optional<std::filesystem::path> find_in_path(std::string_view exe);

}  // namespace patchbay::runner
