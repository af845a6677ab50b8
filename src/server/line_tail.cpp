#include "server/line_tail.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace patchbay::server {

namespace {
constexpr std::size_t kReadChunk = 64 * 1024;
}

LineTail::LineTail(std::filesystem::path file, std::size_t max_bytes_per_poll)
    : file_(std::move(file)), max_bytes_(std::max<std::size_t>(max_bytes_per_poll, 1)) {}

std::size_t LineTail::poll(const std::function<void(std::string_view)>& line) {
  struct stat by_name {};
  const bool named = ::stat(file_.c_str(), &by_name) == 0;
  struct stat opened {};
  if (fd_ && ::fstat(fd_.get(), &opened) == 0 && named &&
      (opened.st_ino != by_name.st_ino || opened.st_dev != by_name.st_dev)) {
    fd_.reset();  // replaced under the same name (new run in an exact outdir): start over
  }
  if (!fd_) {
    fd_.reset(::open(file_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd_) return 0;
    read_pos_ = 0;
    partial_.clear();
  } else if (::fstat(fd_.get(), &opened) == 0 && static_cast<std::uint64_t>(opened.st_size) < read_pos_) {
    read_pos_ = 0;  // truncated
    partial_.clear();
  }

  std::size_t lines = 0, budget = max_bytes_;
  std::vector<char> buf(std::min(kReadChunk, budget));
  while (budget > 0) {
    ssize_t n = ::pread(fd_.get(), buf.data(), std::min(buf.size(), budget), static_cast<off_t>(read_pos_));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    read_pos_ += static_cast<std::uint64_t>(n);
    budget -= static_cast<std::size_t>(n);
    std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
    std::size_t start = 0;
    for (;;) {
      auto nl = chunk.find('\n', start);
      if (nl == std::string_view::npos) {
        partial_.append(chunk.substr(start));
        break;
      }
      if (partial_.empty()) {
        line(chunk.substr(start, nl - start));
      } else {
        partial_.append(chunk.substr(start, nl - start));
        line(partial_);
        partial_.clear();
      }
      ++lines;
      start = nl + 1;
    }
  }
  return lines;
}

FileWatch::FileWatch(const std::filesystem::path& file) {
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!inotify_) return;
  watch_ = ::inotify_add_watch(inotify_.get(), file.c_str(),
                               IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF);
  if (watch_ < 0) inotify_.reset();
}

void FileWatch::wait(std::chrono::milliseconds timeout, int stop_fd) {
  pollfd fds[2];
  nfds_t n = 0;
  if (inotify_) fds[n++] = {inotify_.get(), POLLIN, 0};
  if (stop_fd >= 0) fds[n++] = {stop_fd, POLLIN, 0};
  int r = ::poll(fds, n, static_cast<int>(timeout.count()));
  if (r > 0 && inotify_ && (fds[0].revents & POLLIN)) {
    alignas(inotify_event) char drain[4096];
    while (::read(inotify_.get(), drain, sizeof drain) > 0) {
    }
  }
}

}  // namespace patchbay::server
