#include "server/paths.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace patchbay::server {

namespace fs = std::filesystem;

std::optional<std::vector<std::string>> split_request_path(std::string_view path) {
  if (path.starts_with('/') || path.find('\0') != std::string_view::npos) return std::nullopt;
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    auto comp = path.substr(start, slash - start);
    // "files//etc/passwd" names the absolute path /etc/passwd as its {*path}: refused like one.
    // Only a trailing '/' may leave an empty component.
    if (comp == ".." || (comp.empty() && slash < path.size())) return std::nullopt;
    if (!comp.empty() && comp != ".") out.emplace_back(comp);
    start = slash + 1;
  }
  return out;
}

std::string join_components(const std::vector<std::string>& comps, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t i = begin; i < end && i < comps.size(); ++i) {
    if (!out.empty()) out += '/';
    out += comps[i];
  }
  return out;
}

bool is_within(const fs::path& root, const fs::path& p) {
  auto [r, q] = std::mismatch(root.begin(), root.end(), p.begin(), p.end());
  // A trailing separator of root shows up as one empty last component.
  return r == root.end() || (std::next(r) == root.end() && r->empty());
}

// weakly_canonical alone resolves the links that exist but keeps a dangling link's name, which
// hides where it points.
std::optional<fs::path> real_path(fs::path p) {
  for (int hops = 0; hops < 40; ++hops) {
    std::error_code ec;
    auto canon = fs::weakly_canonical(p, ec);
    if (ec) return std::nullopt;
    fs::path prefix;
    bool relinked = false;
    for (auto it = canon.begin(); it != canon.end() && !relinked; ++it) {
      prefix /= *it;
      if (!fs::is_symlink(fs::symlink_status(prefix, ec))) continue;
      auto target = fs::read_symlink(prefix, ec);
      if (ec) return std::nullopt;
      p = target.is_absolute() ? target : prefix.parent_path() / target;
      for (auto rest = std::next(it); rest != canon.end(); ++rest) p /= *rest;
      relinked = true;
    }
    if (!relinked) return canon;
  }
  return std::nullopt;  // a symlink loop
}

Resolved resolve_under(const fs::path& root, std::string_view rel) {
  auto comps = split_request_path(rel);
  if (!comps) return {PathStatus::Forbidden, {}};
  if (comps->empty()) return {PathStatus::NotFound, {}};
  fs::path p = root;
  for (auto& c : *comps) p /= c;
  // Judged by where the path really leads: a link pointing outside root is caught even when its
  // target does not exist.
  auto canon = real_path(p);
  if (!canon) return {PathStatus::NotFound, {}};
  if (!is_within(root, *canon)) return {PathStatus::Forbidden, {}};
  std::error_code ec;
  if (!fs::is_regular_file(*canon, ec)) return {PathStatus::NotFound, {}};
  return {PathStatus::Ok, *canon};
}

Opened open_beneath(const fs::path& root, const fs::path& file) {
  Opened out;
  const fs::path rel = file.lexically_relative(root);
  if (rel.empty() || rel.is_absolute() || *rel.begin() == "..") {
    out.status = PathStatus::Forbidden;
    return out;
  }
  UniqueFd root_fd(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) return out;
  open_how how{};
  how.flags = O_RDONLY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root_fd.get(), rel.c_str(), &how, sizeof how);
  if (fd < 0 && errno == ENOSYS) fd = ::openat(root_fd.get(), rel.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    // EXDEV: the path left root; ELOOP: a symlink where none was (O_NOFOLLOW) or a magic link.
    if (errno == EXDEV || errno == ELOOP) out.status = PathStatus::Forbidden;
    return out;
  }
  out.fd.reset(static_cast<int>(fd));
  struct stat st {};
  if (::fstat(out.fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    out.fd.reset();
    return out;
  }
  out.status = PathStatus::Ok;
  return out;
}

}  // namespace patchbay::server
