// OutputWriter: events.jsonl and state.json of one lab.
#include "events/writer.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <iostream>
#include <system_error>
#include <utility>

#include <nlohmann/json.hpp>

#include "patchbay/consts.hpp"
#include "patchbay/error.hpp"
#include "sys/io.hpp"

namespace patchbay::events {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kStateInterval = std::chrono::seconds(1);

std::string quoted(const fs::path& p) {
  return "'" + p.string() + "'";
}

std::string local_stamp(std::chrono::system_clock::time_point now) {
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d_%H%M%S", &tm);
  return buf;
}

std::string errno_text(int err) {
  return std::error_code(err, std::system_category()).message();  // strerror is not thread-safe
}

[[noreturn]] void throw_errno(const std::string& context, const fs::path& path, std::string_view step,
                              int err) {
  throw SystemError(context, std::string(step) + " " + quoted(path) + ": " + errno_text(err), err);
}

void make_dirs(const fs::path& dir, const std::string& context) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw_errno(context, dir, "create directory", ec.value());
  // create_directories succeeds quietly when `dir` already names something that is no directory.
  if (!fs::is_directory(dir, ec)) throw_errno(context, dir, "create directory", ENOTDIR);
}

}  // namespace

fs::path claim_run_dir(const OutDir& out, std::string_view name, std::chrono::system_clock::time_point now,
                       const std::string& context) {
  make_dirs(out.path(), context);
  if (!out.is_nested()) return out.path();
  // A label may hold '/', ".." or spaces; the run directory must stay one component under base.
  const std::string stem = local_stamp(now) + "-" + util::sanitize_for_path_component(name);
  // mkdir is the claim: two labs started in the same second, even in different processes, never
  // share a directory, which an exists() check followed by create could not promise.
  for (unsigned n = 0;; ++n) {
    fs::path candidate = out.path() / (n == 0 ? stem : stem + "-" + std::to_string(n));
    if (::mkdir(candidate.c_str(), 0755) == 0) return candidate;
    if (errno != EEXIST) throw_errno(context, candidate, "create directory", errno);
  }
}

OutputWriter::OutputWriter(const OutDir& out, std::string_view name, std::string context)
    : context_(std::move(context)),
      dir_(claim_run_dir(out, name, std::chrono::system_clock::now(), context_ + ": outdir")) {
  // Every node that logs keeps its files open (docs/logging.md): a 1,000-node lab needs more
  // descriptors than the usual soft limit of 1,024, and the hard limit is ours to take.
  sys::raise_nofile_limit_once();
  fs::path events = dir_ / consts::kEventsJsonl;
  events_fd_.reset(::open(events.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
  if (!events_fd_) throw_errno(context_ + ": outdir", events, "open", errno);
  thread_ = std::thread([this] { run(); });
  // Named from here rather than by the thread itself, so the name is in place once the lab exists.
  ::pthread_setname_np(thread_.native_handle(), "patchbay:out");
}

OutputWriter::~OutputWriter() {
  stop();
}

void OutputWriter::enqueue(const LabEvent& ev) {
  bool was_empty;
  {
    std::lock_guard lk(mu_);
    if (stopping_) return;
    was_empty = queue_.empty();
    queue_.push_back(ev);
  }
  // The thread takes the whole queue each time it wakes, so only the first event of a batch
  // needs to wake it; later ones would only cost the publisher a futex call under the bus lock.
  if (was_empty) cv_.notify_one();
}

void OutputWriter::stop() {
  std::lock_guard stop_lk(stop_mu_);
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  events_fd_.reset();
}

void OutputWriter::run() {
  // The first state.json is due at once, so a viewer sees the lab as soon as it exists.
  Clock::time_point next_state = Clock::time_point::min();
  bool dirty = false;
  std::unique_lock lk(mu_);
  for (;;) {
    auto ready = [&] { return !queue_.empty() || stopping_; };
    if (dirty)
      cv_.wait_until(lk, next_state, ready);
    else
      cv_.wait(lk, ready);
    std::deque<LabEvent> batch;
    batch.swap(queue_);
    const bool stop = stopping_;
    lk.unlock();

    if (!batch.empty()) {
      write_events(batch);
      for (const auto& ev : batch) state_.apply(ev);
      dirty = true;
    }
    if (stop) {
      // enqueue() refuses events once stopping_ is set, so this batch was the last one.
      state_.status = "stopped";
      write_state();
      return;
    }
    if (dirty && Clock::now() >= next_state) {
      write_state();
      dirty = false;
      next_state = Clock::now() + kStateInterval;
    }
    lk.lock();
  }
}

void OutputWriter::write_events(const std::deque<LabEvent>& batch) {
  std::string text;
  for (const auto& ev : batch) {
    text += ev.to_jsonl();
    text += '\n';
  }
  // One write per batch: with O_APPEND a line is never interleaved with another writer's, and
  // write(2) puts it in the page cache where every reader sees it. No fsync: readers need
  // visibility, not crash durability, and an fsync per event would stall on slow disks.
  if (!sys::write_all(events_fd_.get(), text)) report(dir_ / consts::kEventsJsonl, "write", errno);
}

void OutputWriter::write_state() {
  const fs::path tmp = dir_ / consts::kStateJsonTmp;
  const std::string text =
      state_.to_json().dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) return report(tmp, "open", errno);
  if (!sys::write_all(fd.get(), text)) return report(tmp, "write", errno);
  if (::close(fd.release()) != 0) return report(tmp, "close", errno);
  // rename is atomic: a reader sees the previous state.json or this one, never half of one.
  if (::rename(tmp.c_str(), (dir_ / consts::kStateJson).c_str()) != 0)
    report(dir_ / consts::kStateJson, "rename", errno);
}

void OutputWriter::report(const fs::path& file, std::string_view step, int err) {
  // Once: a full disk would otherwise print a line per event, and the lab must keep running.
  if (std::exchange(reported_, true)) return;
  std::cerr << "patchbay: " << context_ << ": output " << step << " " << quoted(file) << ": "
            << errno_text(err) << " (further output errors are not reported)\n";
}

}  // namespace patchbay::events
