// The cargo side of [[binary]] assembly (SPEC 15.6): building a crate's example or binary, and
// finding artifacts in its target directory.
#include "runner/cargo.hpp"

#include <unistd.h>

#include "patchbay/error.hpp"
#include "runner/binary_util.hpp"
#include "runner/host_command.hpp"
#include "runner/rundir.hpp"

namespace patchbay::runner::detail {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

fs::path require_cargo(const std::string& name) {
  auto cargo = find_in_path("cargo");
  if (!cargo)
    throw ConfigError(binary_ctx(name) + " uses cargo-specific keys but cargo was not found in PATH");
  return *cargo;
}

fs::path cargo_metadata_target_dir(const fs::path& cargo, const fs::path& dir, const AssembleOpts& opts,
                                   const std::string& ctx) {
  make_dirs(opts.run_root / ".assemble", ctx);
  fs::path out = opts.run_root / ".assemble" / ("cargo-metadata-" + std::to_string(::getpid()) + ".json");
  std::vector<std::string> argv{cargo.string(), "metadata", "--format-version", "1", "--no-deps"};
  check_status(run_host_command({.argv = argv,
                                 .cwd = dir,
                                 .log = opts.log,
                                 .stdout_file = out,
                                 .timeout = opts.build_timeout,
                                 .context = ctx,
                                 .name = ctx + ": cargo metadata"}),
               argv, ctx);
  json meta = json::parse(read_text(out), nullptr, false);
  std::error_code ec;
  fs::remove(out, ec);
  if (!meta.is_object() || !meta.contains("target_directory") || !meta["target_directory"].is_string())
    throw Error(ctx, "cargo metadata in '" + dir.string() + "' returned no target_directory");
  return meta["target_directory"].get<std::string>();
}

// kind is "examples" or "bin"; RUST_TARGET's directory is preferred over the host one.
fs::path target_artifact(const fs::path& target_dir, const std::string& kind, const std::string& name,
                         const std::string& ctx) {
  if (kind != "examples" && kind != "bin")
    throw ConfigError(ctx, "target kind '" + kind + "' must be 'examples' or 'bin'");
  std::string tried;
  for (const fs::path& base : {target_dir / env_or_empty("RUST_TARGET"), target_dir}) {
    fs::path c = (base / "release" / (kind == "examples" ? "examples" : "") / name).lexically_normal();
    if (::access(c.c_str(), X_OK) == 0) return check_executable(c, ctx, "target artifact");
    if (tried.find(c.string()) == std::string::npos) tried += (tried.empty() ? "" : ", ") + c.string();
  }
  throw ConfigError(ctx, "cargo artifact " + kind + "/" + name + " not found; checked: " + tried);
}

std::pair<std::string, std::string> cargo_artifact(const BinarySpec& s) {
  if (s.path && s.path->starts_with("target:")) {
    std::string spec = s.path->substr(7);
    auto slash = spec.find('/');
    return {spec.substr(0, slash), slash == std::string::npos ? "" : spec.substr(slash + 1)};
  }
  if (s.example) return {"examples", *s.example};
  return {"bin", s.bin.value_or(s.name)};
}

}  // namespace

// `path = "target:..."` and mode target: a prebuilt artifact, so cargo is needed only when
// NETSIM_TARGET_DIR does not say where the target dir is.
fs::path resolve_target(const BinarySpec& s, const AssembleOpts& opts, const std::string& ctx) {
  auto [kind, name] = cargo_artifact(s);
  if (name.empty())
    throw ConfigError(ctx, "'" + s.path.value_or("") + "' must be target:<examples|bin>/<name>");
  std::string env = env_or_empty("NETSIM_TARGET_DIR");
  fs::path target_dir = !env.empty()
                            ? under(opts.project_root, env)
                            : cargo_metadata_target_dir(require_cargo(s.name), opts.project_root, opts, ctx);
  return target_artifact(target_dir, kind, name, ctx);
}

namespace {

// `path` (not a `target:` one) is the crate's source directory, as in the original tool's build mode.
std::optional<fs::path> cargo_source_dir(const BinarySpec& s, const AssembleOpts& opts,
                                         const std::string& ctx) {
  if (!s.path || s.path->starts_with("target:")) return std::nullopt;
  fs::path dir = under(opts.project_root, *s.path);
  if (std::error_code ec; !fs::is_directory(dir, ec))
    throw ConfigError(ctx, "source directory '" + dir.string() + "' (key 'path') is not a directory");
  return dir;
}

}  // namespace

fs::path cargo_build(const BinarySpec& s, const std::optional<fs::path>& override_dir,
                     const AssembleOpts& opts, const std::string& ctx) {
  fs::path cargo = require_cargo(s.name);
  const auto source_dir = override_dir || s.repo ? std::nullopt : cargo_source_dir(s, opts, ctx);
  fs::path dir = override_dir.value_or(source_dir.value_or(opts.project_root));
  if (!override_dir && s.repo) {
    dir = opts.run_root / ".assemble" / "src" / sanitize_name(*s.repo);
    if (!opts.no_build && !fs::exists(dir)) {
      make_dirs(dir.parent_path(), ctx);
      run_build_step({"git", "clone", "--quiet", *s.repo, dir.string()}, opts.run_root, s, opts,
                     ctx + ": clone");
      run_build_step({"git", "checkout", "--quiet", s.commit.value_or("main")}, dir, s, opts,
                     ctx + ": checkout");
    }
  }
  auto [kind, name] = cargo_artifact(s);
  // As the original tool: given neither `example` nor `bin`, the example of that name is built
  // when the crate has one, else the binary.
  const bool guess = !s.example && !s.bin && !(s.path && s.path->starts_with("target:"));
  auto build = [&](const std::string& k) {
    std::vector<std::string> argv{cargo.string(), "build", "--release"};
    // cargo also runs in the source directory, so its .cargo/config.toml applies as in the original.
    if (source_dir) argv.insert(argv.end(), {"--manifest-path", (*source_dir / "Cargo.toml").string()});
    if (std::string triple = env_or_empty("RUST_TARGET"); !triple.empty())
      argv.insert(argv.end(), {"--target", triple});
    if (s.all_features) {
      argv.push_back("--all-features");
    } else if (!s.features.empty()) {
      std::string joined;
      for (const auto& f : s.features) joined += (joined.empty() ? "" : ",") + f;
      argv.insert(argv.end(), {"--features", joined});
    }
    argv.insert(argv.end(), {k == "examples" ? "--example" : "--bin", name});
    if (opts.log)
      opts.log("binary '" + s.name + "': running " + display_command(argv) + " in " + dir.string());
    run_build_step(argv, dir, s, opts, ctx + ": build");
  };
  if (!opts.no_build && !guess) build(kind);
  if (!opts.no_build && guess) {
    try {
      build("examples");
      kind = "examples";
    } catch (const TimeoutError&) {
      throw;  // a second build would only wait as long again
    } catch (const Error& e) {
      if (opts.log)
        opts.log("binary '" + s.name + "': no example built (" + e.what() + "); trying --bin " + name);
      build("bin");
      kind = "bin";
    }
  }
  const fs::path target_dir = cargo_metadata_target_dir(cargo, dir, opts, ctx);
  if (opts.no_build && guess) {
    try {
      return target_artifact(target_dir, "examples", name, ctx);
    } catch (const ConfigError&) {
      kind = "bin";
    }
  }
  return target_artifact(target_dir, kind, name, ctx);
}

}  // namespace patchbay::runner::detail
