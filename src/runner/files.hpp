// Report and marker files replaced in one step.
#pragma once

#include <filesystem>
#include <string>

namespace patchbay::runner {

// Writes `content` to a unique temporary name next to `path`, then renames it over `path`, so a
// reader sees the old file or the new one, never a part. SystemError names the path.
void write_file_atomic(const std::filesystem::path& path, const std::string& content);

}  // namespace patchbay::runner
