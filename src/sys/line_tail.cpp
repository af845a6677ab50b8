#include "sys/line_tail.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace patchbay::sys {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

}  // namespace

LineTail::LineTail(std::filesystem::path file, std::size_t max_bytes_per_poll, int open_flags)
    : file_(std::move(file)),
      max_bytes_(std::max<std::size_t>(max_bytes_per_poll, 1)),
      open_flags_(open_flags) {}

void LineTail::start_over(UniqueFd fd) {
  fd_ = std::move(fd);
  read_pos_ = 0;
  partial_.clear();
}

std::size_t LineTail::poll(const std::function<void(std::string_view)>& line) {
  const int flags = O_RDONLY | O_CLOEXEC | open_flags_;
  std::size_t lines = 0, budget = max_bytes_;
  bool eof = false;
  if (!fd_) {
    UniqueFd fd(::open(file_.c_str(), flags));
    if (!fd) return 0;
    start_over(std::move(fd));
  } else {
    struct stat by_name {};
    struct stat opened {};
    // With O_NOFOLLOW a symlink put in the file's place counts as a replacement (and is not opened).
    const bool named = ((open_flags_ & O_NOFOLLOW) ? ::lstat(file_.c_str(), &by_name)
                                                   : ::stat(file_.c_str(), &by_name)) == 0;
    const bool have = ::fstat(fd_.get(), &opened) == 0;
    if (named && have && !same_file(opened, by_name)) {
      // Replaced under the same name (a new run in an exact outdir, a rotated log): what was
      // appended to the old file before the switch is still ours to deliver.
      lines += read_some(budget, eof, line);
      if (!eof) return lines;  // the rest of the old file next time
      UniqueFd next(::open(file_.c_str(), flags));
      if (!next) return lines;
      start_over(std::move(next));
      ++resets_;
    } else if (have && static_cast<std::uint64_t>(opened.st_size) < read_pos_) {
      start_over(std::move(fd_));  // truncated: the same file from its start
      ++resets_;
    }
  }
  lines += read_some(budget, eof, line);
  return lines;
}

std::size_t LineTail::read_some(std::size_t& budget, bool& eof,
                                const std::function<void(std::string_view)>& line) {
  std::size_t lines = 0;
  eof = false;
  std::vector<char> buf(std::min(kReadChunk, max_bytes_));
  while (budget > 0) {
    ssize_t n = ::pread(fd_.get(), buf.data(), std::min(buf.size(), budget), static_cast<off_t>(read_pos_));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      eof = true;
      break;
    }
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

FileWatch::FileWatch(std::filesystem::path file) : file_(std::move(file)) {
  inotify_.reset(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  rewatch();
}

void FileWatch::rewatch() {
  if (!inotify_) return;
  if (watch_ >= 0) ::inotify_rm_watch(inotify_.get(), watch_);  // EINVAL once the kernel dropped it
  watch_ = ::inotify_add_watch(inotify_.get(), file_.c_str(),
                               IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF);
  struct stat st {};
  watched_ino_ = watch_ >= 0 && ::stat(file_.c_str(), &st) == 0 ? st.st_ino : 0;
}

void FileWatch::wait(std::chrono::milliseconds timeout, int stop_fd) {
  if (inotify_) {
    // A watch follows an inode: once the name leads to another file (or to one at last), the
    // watch moves there, else the waiter would only ever wake by timeout.
    struct stat st {};
    const bool exists = ::stat(file_.c_str(), &st) == 0;
    if ((watch_ < 0 && exists) || (exists && st.st_ino != watched_ino_)) rewatch();
  }
  pollfd fds[2];
  nfds_t n = 0;
  const bool watching = watch_ >= 0;
  if (watching) fds[n++] = {inotify_.get(), POLLIN, 0};
  if (stop_fd >= 0) fds[n++] = {stop_fd, POLLIN, 0};
  int r = ::poll(fds, n, static_cast<int>(timeout.count()));
  if (r > 0 && watching && (fds[0].revents & POLLIN)) {
    alignas(inotify_event) char drain[4096];
    while (::read(inotify_.get(), drain, sizeof drain) > 0) {
    }
  }
}

}  // namespace patchbay::sys
