// Request paths to files, safely (SPEC 14.1): every `{run}` and `{*path}` of a request must be
// relative, hold no `..` component, and resolve (symlinks followed) to a place under its root.
//
//   auto comps = split_request_path(path);          // nullopt: absolute or ".." -> 403
//   auto r = resolve_under(run_dir, "files/x/content");
//   if (r.status == PathStatus::Forbidden) ...       // escapes run_dir, e.g. through a symlink
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "patchbay/fd.hpp"

namespace patchbay::server {

// The components of a relative request path; "." components and a trailing '/' are dropped.
// nullopt when the path is absolute (leading '/'), holds a ".." component, an empty inner
// component ("a//b": what follows is absolute) or a NUL byte.
std::optional<std::vector<std::string>> split_request_path(std::string_view path);

std::string join_components(const std::vector<std::string>& comps, std::size_t begin, std::size_t end);

// True when `p` is `root` or below it; both must be canonical (or weakly canonical).
bool is_within(const std::filesystem::path& root, const std::filesystem::path& p);

// `p` made absolute with every symlink resolved, dangling ones included (a link to a missing
// file resolves to where it points); nullopt on a symlink loop or an unreadable link.
std::optional<std::filesystem::path> real_path(std::filesystem::path p);

enum class PathStatus { Ok, Forbidden, NotFound };
struct Resolved {
  PathStatus status = PathStatus::NotFound;
  std::filesystem::path path;  // canonical, when Ok
};

// `rel` under `root` (canonical): Forbidden when rel is unsafe (split_request_path) or the
// result, symlinks resolved, leaves root (a dangling symlink is judged by where it points);
// NotFound when it does not exist or is not a regular file.
Resolved resolve_under(const std::filesystem::path& root, std::string_view rel);

// Opens `file` (a resolve_under() result, so below `root`) for reading, resolved relative to a
// descriptor of `root` with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): a component swapped
// for a symlink between the check and the open cannot lead outside root. Where the kernel lacks
// openat2 (ENOSYS) the last component is opened with O_NOFOLLOW instead. Forbidden when the
// open would escape, NotFound when the file is gone or is no regular file.
struct Opened {
  PathStatus status = PathStatus::NotFound;
  UniqueFd fd;
};
Opened open_beneath(const std::filesystem::path& root, const std::filesystem::path& file);

}  // namespace patchbay::server
