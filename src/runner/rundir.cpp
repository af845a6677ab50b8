// Run root and sim directory naming (SPEC 15.9). mkdir(2) is used directly instead of
// std::filesystem::create_directory because EEXIST must be told apart from every other failure:
// it is the signal to try the next suffix.
#include "runner/rundir.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "patchbay/error.hpp"

namespace patchbay::runner {

namespace fs = std::filesystem;

namespace {

std::string format_utc(std::chrono::system_clock::time_point t, const char* format) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::size_t n = std::strftime(buf, sizeof buf, format, &tm);
  return std::string(buf, n);
}

// Claims <parent>/<base>, <parent>/<base>-1, ... and returns the name that was created.
std::string claim_dir(const fs::path& parent, const std::string& base) {
  for (int i = 0;; ++i) {
    std::string name = i == 0 ? base : base + "-" + std::to_string(i);
    fs::path p = parent / name;
    if (::mkdir(p.c_str(), 0755) == 0) return name;
    if (errno != EEXIST) throw SystemError("mkdir '" + p.string() + "'", std::strerror(errno), errno);
  }
}

// A temp symlink renamed over the old one, so readers never see `latest` missing.
void point_latest(const fs::path& work_dir, const std::string& target) {
  static std::atomic<unsigned> counter{0};
  fs::path tmp = work_dir / (".latest.tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  if (::symlink(target.c_str(), tmp.c_str()) != 0)
    throw SystemError("symlink '" + tmp.string() + "'", std::strerror(errno), errno);
  fs::path latest = work_dir / "latest";
  if (::rename(tmp.c_str(), latest.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw SystemError("replace '" + latest.string() + "'", std::strerror(err), err);
  }
}

}  // namespace

std::string utc_timestamp(std::chrono::system_clock::time_point t) {
  return format_utc(t, "%Y-%m-%dT%H:%M:%SZ");
}

fs::path make_run_root(const fs::path& work_dir, std::chrono::system_clock::time_point now) {
  fs::path dir = fs::absolute(work_dir).lexically_normal();
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw SystemError("create work dir '" + dir.string() + "'", ec.message(), ec.value());
  std::string name = claim_dir(dir, "sim-" + format_utc(now, "%y%m%d-%H%M%S"));
  point_latest(dir, name);
  return dir / name;
}

// Not util::sanitize_for_path_component on purpose: that one also maps '.' to '_' because a node
// name sits between the dots of "<kind>.<name>.<ext>" (SPEC 13.1), which it must not add to. A sim
// dir, a binary or a repo checkout is a whole path component of its own, so a dot is harmless
// there and keeps names like "v1.2" or "foo.git" readable; only "." and ".." (and "") need care.
std::string sanitize_name(std::string_view name) {
  if (name.empty()) return "sim";
  std::string out;
  bool only_dots = true;
  for (char c : name) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    out.push_back(ok ? c : '_');
    if (c != '.') only_dots = false;
  }
  if (only_dots) out.assign(out.size(), '_');
  return out;
}

fs::path make_sim_dir(const fs::path& run_root, std::string_view sim_name) {
  return run_root / claim_dir(run_root, sanitize_name(sim_name));
}

}  // namespace patchbay::runner
