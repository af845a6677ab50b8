#include "runner/binary_util.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "patchbay/error.hpp"
#include "runner/host_command.hpp"

namespace patchbay::runner::detail {

namespace fs = std::filesystem;

std::string binary_ctx(const std::string& name) {
  return "binary '" + name + "'";
}

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

fs::path under(const fs::path& root, const fs::path& p) {
  return (p.is_absolute() ? p : root / p).lexically_normal();
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void check_ec(const std::error_code& ec, const std::string& ctx, const std::string& what) {
  if (ec) throw SystemError(ctx, what + ": " + ec.message(), ec.value());
}

void make_dirs(const fs::path& dir, const std::string& ctx) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  check_ec(ec, ctx, "create '" + dir.string() + "'");
}

// Copies (when `from` is given) and marks the result executable.
void install(const fs::path* from, const fs::path& to, const std::string& ctx) {
  std::error_code ec;
  if (from) fs::copy_file(*from, to, fs::copy_options::overwrite_existing, ec);
  check_ec(ec, ctx, "copy to '" + to.string() + "'");
  fs::permissions(to, static_cast<fs::perms>(0755), ec);
  check_ec(ec, ctx, "chmod '" + to.string() + "'");
}

fs::path check_executable(const fs::path& p, const std::string& ctx, const std::string& what) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) throw ConfigError(ctx, what + " '" + p.string() + "' does not exist");
  if (!S_ISREG(st.st_mode)) throw ConfigError(ctx, what + " '" + p.string() + "' is not a regular file");
  if (::access(p.c_str(), X_OK) != 0)
    throw ConfigError(ctx, what + " '" + p.string() + "' is not executable");
  return fs::absolute(p).lexically_normal();
}

// Every command a binary's build runs (build, clone, checkout, cargo) is bounded by one deadline.
void run_build_step(const std::vector<std::string>& argv, const fs::path& cwd, const BinarySpec& s,
                    const AssembleOpts& opts, const std::string& context) {
  run_program(argv, cwd, opts.log, context, opts.build_timeout, "build of binary '" + s.name + "'");
}

void check_status(int status, const std::vector<std::string>& argv, const std::string& ctx) {
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return;
  std::string how = WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                                      : "killed by signal " + std::to_string(WTERMSIG(status));
  throw Error(ctx, "'" + display_command(argv) + "' " + how);
}

}  // namespace patchbay::runner::detail
