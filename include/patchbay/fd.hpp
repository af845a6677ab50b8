// patchbay/fd.hpp: UniqueFd, the single owner of a file descriptor.
//
//   patchbay::UniqueFd sock = dev.socket(AF_INET, SOCK_DGRAM);   // created inside the node
//   ::send(sock.get(), "hi", 2, MSG_DONTWAIT);                    // usable from any thread
//   int raw = sock.release();                                     // give up ownership
//
// Move-only; the destructor closes the descriptor. An empty UniqueFd holds -1.
#pragma once

#include <unistd.h>

#include <utility>

namespace patchbay {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace patchbay
