// Fetching a [[binary]] `url` (SPEC 15.6): the transfer through libcurl and the pick from a
// .tar.gz through libarchive. Errors are patchbay::Error (SystemError for local files) prefixed
// with `ctx`, e.g. "binary 'relay': fetch 'https://...': HTTP response code said error".
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace patchbay::runner {

// http, https or file URL to `dest`; redirects only to http(s); a stalled transfer (no byte for
// 60 s) or a failed connect (30 s) is an error rather than a hang.
void download(const std::string& url, const std::filesystem::path& dest, const std::string& ctx);

// Writes one regular file of the archive as <dest_dir>/<its basename> and returns that path: the
// archive's directory layout (and any "../" in it) never reaches the file system. The file is
// `member` (a path in the archive or a basename) or else the first one without an extension or
// ending in .bin, dotfiles skipped.
std::filesystem::path extract_member(const std::filesystem::path& archive_path,
                                     const std::optional<std::string>& member,
                                     const std::filesystem::path& dest_dir, const std::string& ctx);

}  // namespace patchbay::runner
