// [[binary]] parsing and assembly (SPEC 15.6). Downloads and archives go through download.hpp
// (libcurl, libarchive), hashes through OpenSSL; only real build tools (the generic `build`
// command, cargo and git for `repo`) run as child processes (host_command.hpp).
#include "runner/binaries.hpp"

#include "runner/binary_util.hpp"
#include "runner/cargo.hpp"

#include "runner/download.hpp"
#include "runner/files.hpp"
#include "runner/host_command.hpp"

#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>

#include "patchbay/error.hpp"
#include "runner/rundir.hpp"

namespace patchbay::runner {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace detail;

namespace {

// ---- parsing ----

std::optional<std::string> opt_string(const json& t, const char* key, const std::string& ctx) {
  auto it = t.find(key);
  if (it == t.end()) return std::nullopt;
  if (!it->is_string()) throw ConfigError(ctx, std::string("key '") + key + "' must be a string");
  return it->get<std::string>();
}

std::vector<std::string> string_list(const json& v, const char* key, const std::string& ctx) {
  std::vector<std::string> out;
  for (const auto& e : v.is_array() ? v : json::array({nullptr})) {
    if (!e.is_string()) throw ConfigError(ctx, std::string("key '") + key + "' must be an array of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

bool fetchable(std::string_view url) {
  return url.starts_with("http://") || url.starts_with("https://") || url.starts_with("file://");
}

const std::pair<const char*, std::optional<std::string> BinarySpec::*> kStringKeys[] = {
    {"path", &BinarySpec::path},     {"url", &BinarySpec::url},         {"sha256", &BinarySpec::sha256},
    {"member", &BinarySpec::member}, {"cwd", &BinarySpec::cwd},         {"repo", &BinarySpec::repo},
    {"commit", &BinarySpec::commit}, {"example", &BinarySpec::example}, {"bin", &BinarySpec::bin}};

std::string infer_mode(const BinarySpec& s, const json& t, std::string_view where) {
  if (t.contains("build")) return "build";
  if (s.path) return "path";
  if (s.url) return "fetch";
  if (s.repo || s.example || s.bin) return "cargo";
  throw ConfigError(
      std::string(where),
      binary_ctx(s.name) + " has no mode and no source fields (expected build|path|fetch|target)");
}

void check_mode_keys(BinarySpec& s, const std::string& ctx) {
  if (s.mode != "path" && s.mode != "fetch" && s.mode != "build" && s.mode != "cargo" && s.mode != "target")
    throw ConfigError(ctx, "unknown mode '" + s.mode + "' (expected build|path|fetch|target)");
  bool cargo_keys = s.repo || s.example || s.bin;
  if (s.mode == "build" && s.build_argv.empty() && !s.build_shell) {
    if (!cargo_keys)
      throw ConfigError(ctx, "mode 'build' needs a 'build' command or cargo keys 'example'/'bin'");
    s.mode = "cargo";
  }
  if (s.mode == "path" && !s.path) throw ConfigError(ctx, "mode 'path' needs key 'path'");
  if (s.mode == "fetch" && (!s.url || !fetchable(*s.url)))
    throw ConfigError(ctx, "mode 'fetch' needs key 'url' with an http://, https:// or file:// URL");
  if (s.mode == "build" && !s.path)
    throw ConfigError(
        ctx,
        "mode 'build' needs key 'path' (the artifact the build command produces, or its source directory)");
  if (s.mode == "target" && !s.example && !s.bin && !(s.path && s.path->starts_with("target:")))
    throw ConfigError(ctx, "mode 'target' needs key 'example', 'bin' or a 'target:' path");
}

// ---- hashing ----

std::string to_hex(const unsigned char* p, unsigned n) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < n; ++i) (out += kDigits[p[i] >> 4]) += kDigits[p[i] & 15];
  return out;
}

std::string sha256_of(std::istream&& in, const std::string& what) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || !in || !EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr))
    throw Error("sha256 " + what, "cannot read");
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf, in.gcount());
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned n = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &n);
  return to_hex(md, n);
}

// ---- fetch ----

std::string url_basename(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  return path.substr(path.find_last_of('/') + 1);
}

bool is_tar_gz(const std::string& name) {
  return name.ends_with(".tar.gz") || name.ends_with(".tgz");
}

// Cache layout: <cache>/download/<url basename> (what was fetched), <cache>/bin/<name> (the
// executable), download.sha256, and resolved.path written last as the completion marker.
fs::path fetch(const BinarySpec& s, const std::string& url, const std::optional<std::string>& sha256,
               const AssembleOpts& opts, const std::string& ctx) {
  if (!fetchable(url)) throw ConfigError(ctx, "'" + url + "' is not an http://, https:// or file:// URL");
  fs::path cache =
      opts.run_root / ".assemble" / ".binary-cache" / sha256_of(std::istringstream(url), "url").substr(0, 16);
  fs::path marker = cache / "resolved.path";
  std::error_code ec;
  if (fs::exists(marker, ec)) {
    fs::path cached = read_text(marker);
    std::string actual = read_text(cache / "download.sha256");
    if (sha256 && actual != *sha256)
      throw Error(ctx, "sha256 mismatch: expected " + *sha256 + ", got " + actual);
    if (fs::is_regular_file(cached, ec)) return cached;
  }
  std::string file_name = url_basename(url);
  if (file_name.empty()) file_name = sanitize_name(s.name);
  for (const char* sub : {"download", "bin"}) make_dirs(cache / sub, ctx);
  fs::path downloaded = cache / "download" / file_name;
  if (opts.log) opts.log("binary '" + s.name + "': fetching " + url);
  download(url, downloaded, ctx);
  std::string actual =
      sha256_of(std::ifstream(downloaded, std::ios::binary), "'" + downloaded.string() + "'");
  if (sha256 && actual != *sha256)
    throw Error(ctx, "sha256 mismatch: expected " + *sha256 + ", got " + actual);
  bool archive = is_tar_gz(file_name);
  fs::path exe =
      archive ? extract_member(downloaded, s.member, cache / "bin", ctx) : cache / "bin" / file_name;
  install(archive ? nullptr : &downloaded, exe, ctx);
  exe = fs::absolute(exe).lexically_normal();
  write_file_atomic(cache / "download.sha256", actual);
  write_file_atomic(marker, exe.string());
  return exe;
}

// ---- builds ----

// `path` is the artifact, relative to `root`; the command runs in `cwd` (default `root`). A `path`
// that names a directory is, as in the original tool's build mode, the source directory: the command
// runs there (unless `cwd` says otherwise) and must leave the executable <path>/<name>.
fs::path generic_build(const BinarySpec& s, const fs::path& root, const AssembleOpts& opts,
                       const std::string& ctx) {
  fs::path artifact = under(root, *s.path);
  std::optional<fs::path> source_dir;
  if (std::error_code ec; fs::is_directory(artifact, ec)) source_dir = artifact;
  fs::path cwd = s.cwd ? under(root, *s.cwd) : source_dir.value_or(root);
  if (source_dir) artifact = *source_dir / s.name;
  std::vector<std::string> argv =
      s.build_shell ? std::vector<std::string>{"/bin/sh", "-c", *s.build_shell} : s.build_argv;
  if (opts.no_build) return check_executable(artifact, ctx, "artifact (build skipped by --no-build)");
  if (opts.log) opts.log("binary '" + s.name + "': running " + display_command(argv) + " in " + cwd.string());
  run_build_step(argv, cwd, s, opts, ctx + ": build");
  return check_executable(
      artifact, ctx,
      source_dir ? "build artifact (<path>/<name>, path being the source directory)" : "build artifact");
}

fs::path stage_override_path(const BinarySpec& s, const std::string& value, const AssembleOpts& opts,
                             const std::string& ctx) {
  fs::path src = under(opts.project_root, value);
  std::error_code ec;
  if (!fs::is_regular_file(src, ec))
    throw ConfigError(ctx, "--binary path '" + src.string() + "' is not a file");
  fs::path dest = opts.run_root / ".assemble" / "bins" / (sanitize_name(s.name) + "-override");
  make_dirs(dest.parent_path(), ctx);
  install(&src, dest, ctx);
  return fs::absolute(dest).lexically_normal();
}

fs::path resolve(const BinarySpec& s, const BinaryOverride* ov, const AssembleOpts& opts) {
  std::string ctx = binary_ctx(s.name);
  if (ov && ov->mode == "path") return stage_override_path(s, ov->value, opts, ctx);
  if (ov && ov->mode == "fetch") return fetch(s, ov->value, std::nullopt, opts, ctx);
  if (ov && ov->mode == "build") {
    fs::path dir = under(opts.project_root, ov->value);
    if (!fs::is_directory(dir))
      throw ConfigError(ctx, "--binary build dir '" + dir.string() + "' is not a directory");
    if (s.mode == "build") return generic_build(s, dir, opts, ctx);
    if (s.mode == "cargo" || s.mode == "target") return cargo_build(s, dir, opts, ctx);
    throw ConfigError(ctx, "--binary " + s.name + ":build:" + ov->value +
                               " needs a spec with a 'build' command or cargo keys");
  }
  if (s.mode == "path" && s.path->starts_with("target:")) return resolve_target(s, opts, ctx);
  if (s.mode == "path") return check_executable(under(opts.project_root, *s.path), ctx, "path");
  if (s.mode == "fetch") return fetch(s, *s.url, s.sha256, opts, ctx);
  if (s.mode == "build") return generic_build(s, opts.project_root, opts, ctx);
  if (s.mode == "target") return resolve_target(s, opts, ctx);
  return cargo_build(s, std::nullopt, opts, ctx);
}

}  // namespace

BinarySpec parse_binary(const json& t, std::string_view where) {
  std::string w(where);
  if (!t.is_object()) throw ConfigError(w + ": [[binary]]", "expected a table");
  auto name = t.find("name");
  if (name == t.end() || !name->is_string() || name->get<std::string>().empty())
    throw ConfigError(w + ": [[binary]]", "missing string key 'name'");
  BinarySpec s;
  s.name = name->get<std::string>();
  s.raw = t;
  std::string ctx = w + ": " + binary_ctx(s.name);
  for (auto [key, field] : kStringKeys) s.*field = opt_string(t, key, ctx);
  if (auto b = t.find("build"); b != t.end()) {
    if (b->is_string())
      s.build_shell = b->get<std::string>();
    else if (b->is_array() && !b->empty())
      s.build_argv = string_list(*b, "build", ctx);
    else
      throw ConfigError(ctx, "key 'build' must be a string or a non-empty array of strings");
  }
  if (auto f = t.find("features"); f != t.end()) s.features = string_list(*f, "features", ctx);
  for (const char* key : {"all-features", "all_features"})
    if (auto f = t.find(key); f != t.end()) {
      if (!f->is_boolean()) throw ConfigError(ctx, std::string("key '") + key + "' must be a boolean");
      s.all_features = f->get<bool>();
    }
  if (s.sha256) {
    if (s.sha256->size() != 64 || s.sha256->find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
      throw ConfigError(ctx, "key 'sha256' must be 64 hex digits");
    for (char& c : *s.sha256) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  auto mode = opt_string(t, "mode", ctx);
  s.mode = mode ? *mode : infer_mode(s, t, where);
  check_mode_keys(s, ctx);
  return s;
}

BinaryOverride parse_binary_override(std::string_view arg) {
  std::string ctx = "--binary '" + std::string(arg) + "'";
  auto c1 = arg.find(':');
  auto c2 = c1 == std::string_view::npos ? c1 : arg.find(':', c1 + 1);
  if (c2 == std::string_view::npos || c1 == 0 || c2 == c1 + 1 || c2 + 1 == arg.size())
    throw ConfigError(ctx, "expected <name>:<mode>:<value> with mode path|fetch|build");
  BinaryOverride o{std::string(arg.substr(0, c1)), std::string(arg.substr(c1 + 1, c2 - c1 - 1)),
                   std::string(arg.substr(c2 + 1))};
  if (o.mode != "path" && o.mode != "fetch" && o.mode != "build")
    throw ConfigError(ctx, "unknown mode '" + o.mode + "' (expected path|fetch|build)");
  return o;
}

std::map<std::string, BinaryOverride> parse_binary_overrides(const std::vector<std::string>& args) {
  std::map<std::string, BinaryOverride> out;
  for (const auto& arg : args) {
    auto o = parse_binary_override(arg);
    if (out.contains(o.name)) throw ConfigError("duplicate --binary override: '" + o.name + "'");
    out.emplace(o.name, std::move(o));
  }
  return out;
}

std::vector<BinarySpec> merge_binary_specs(const std::vector<std::pair<std::string, BinarySpec>>& specs) {
  std::vector<BinarySpec> out;
  std::map<std::string, std::pair<std::size_t, std::string>> seen;  // name -> (index in out, sim path)
  for (const auto& [sim, spec] : specs) {
    auto it = seen.find(spec.name);
    if (it == seen.end()) {
      seen.emplace(spec.name, std::make_pair(out.size(), sim));
      out.push_back(spec);
    } else if (out[it->second.first].raw != spec.raw) {
      throw ConfigError(binary_ctx(spec.name), "defined differently in " + it->second.second + " and " + sim);
    }
  }
  return out;
}

std::map<std::string, std::string> assemble_binaries(const std::vector<BinarySpec>& specs,
                                                     const std::map<std::string, BinaryOverride>& overrides,
                                                     const AssembleOpts& opts) {
  AssembleOpts abs = opts;
  abs.project_root = fs::absolute(opts.project_root).lexically_normal();
  abs.run_root = fs::absolute(opts.run_root).lexically_normal();
  std::map<std::string, std::string> out;
  for (const auto& [name, ov] : overrides) {
    bool known = false;
    for (const auto& s : specs) known = known || s.name == name;
    if (!known && abs.log)
      abs.log("patchbay: warning: --binary override for unknown binary '" + name + "' ignored");
  }
  for (const auto& s : specs) {
    if (out.contains(s.name)) continue;
    auto ov = overrides.find(s.name);
    fs::path p = resolve(s, ov == overrides.end() ? nullptr : &ov->second, abs);
    out[s.name] = p.string();
    if (abs.log) abs.log("binary assembled: " + s.name + " -> " + p.string());
  }
  return out;
}

void run_program(const std::vector<std::string>& argv, const fs::path& cwd, const LogFn& log,
                 const std::string& context, std::chrono::milliseconds timeout, const std::string& name) {
  if (argv.empty()) throw Error(context, "empty command");
  check_status(run_host_command({.argv = argv,
                                 .cwd = cwd,
                                 .log = log,
                                 .timeout = timeout,
                                 .context = context,
                                 .name = name.empty() ? context : name}),
               argv, context);
}

std::optional<fs::path> find_in_path(std::string_view exe) {
  std::istringstream dirs(env_or_empty("PATH"));
  for (std::string dir; std::getline(dirs, dir, ':');) {
    fs::path candidate = (dir.empty() ? fs::path(".") : fs::path(dir)) / exe;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
  }
  return std::nullopt;
}

}  // namespace patchbay::runner
