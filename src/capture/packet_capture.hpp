// One running packet capture: an AF_PACKET socket bound to one interface (made inside the node's
// namespace by the caller) whose frames go to pcapng files, rotating by size.
//
// Threading: on_readable() runs on the lab's event loop; stats() and finish() on any thread. The
// owner unwatches the socket before finish() (LabServices::drop_watch or the lab's stop), so
// finish() never races a read; a mutex still guards the files against stats() readers.
// Failure: a failed write is reported once (on_readable throws to the loop's error reporter, which
// makes it a lab event), the capture then discards frames, and finish() rethrows it.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "patchbay/capture.hpp"
#include "patchbay/fd.hpp"
#include "sys/pcapng.hpp"

namespace patchbay::detail {

// The file names of a capture: path, then <stem>.1<ext>, <stem>.2<ext>...; the oldest removed
// beyond max_files. Pure naming and bookkeeping, unit-tested without sockets.
class CaptureFiles {
 public:
  CaptureFiles(std::filesystem::path first, unsigned max_files) : first_(std::move(first)), max_(max_files) {}
  std::filesystem::path next();                     // the name of the file to open now
  std::vector<std::filesystem::path> retire_old();  // names to delete so max_files hold
  std::vector<std::filesystem::path> current() const { return {open_.begin(), open_.end()}; }

 private:
  std::filesystem::path first_;
  unsigned max_;
  unsigned seq_ = 0;
  std::deque<std::filesystem::path> open_;
};

class PacketCapture {
 public:
  // `sock`: bound, filtered, SO_TIMESTAMPNS on. `what` ("capture of device 'client' eth0") names it
  // in errors. Creates the first file; throws Error naming it when it cannot.
  PacketCapture(UniqueFd sock, std::string what, std::filesystem::path path, std::string ifname,
                const CaptureOptions& opts);

  int fd() const { return sock_.get(); }
  const std::filesystem::path& path() const { return path_; }
  const std::string& what() const { return what_; }

  void on_readable();  // event loop: drains the socket (bounded batch) and flushes
  CaptureStats stats() const;
  // Once (later calls return the same figures): flush, close the file and the socket. Rethrows a
  // write failure. The socket must be off the loop already (the lab's stop path).
  CaptureStats finish();
  // `detach` (set by the owner: LabServices::drop_watch), then finish(); the guard's path.
  CaptureStats stop();
  std::function<void()> detach;

 private:
  void drain(std::size_t max);  // with mu_ held: up to `max` frames until the socket is empty
  void write(std::uint64_t ts_ns, const std::uint8_t* data, std::size_t caplen, std::uint32_t len,
             sys::PcapDirection dir);
  void rotate();
  std::uint64_t read_drops() const;  // with mu_ held

  UniqueFd sock_;
  const std::string what_;
  const std::filesystem::path path_;
  const sys::PcapngInterface iface_;
  const CaptureOptions opts_;
  std::vector<std::uint8_t> buf_;  // loop thread only

  mutable std::mutex mu_;
  CaptureFiles files_;
  std::optional<sys::PcapngWriter> out_;
  mutable std::uint64_t drops_ = 0;
  std::string error_;  // the first write failure
  std::atomic<std::uint64_t> packets_{0}, bytes_{0};
  std::once_flag finished_;
  std::optional<CaptureStats> final_;
};

}  // namespace patchbay::detail
