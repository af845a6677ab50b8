#include "runner/files.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>

#include "patchbay/error.hpp"

namespace patchbay::runner {

// Readers (the devtools server, a second runner writing combined results) may look at these files
// at any moment; a rename within one directory replaces them in one step.
void write_file_atomic(const std::filesystem::path& path, const std::string& content) {
  static std::atomic<std::uint64_t> counter{0};
  auto tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    f << content;
    f.flush();
    if (!f) {
      const int err = errno;
      std::error_code ec;
      std::filesystem::remove(tmp, ec);
      throw SystemError("write " + path.string(), std::strerror(err), err);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw SystemError("write " + path.string(), "rename: " + ec.message(), ec.value());
  }
}

}  // namespace patchbay::runner
