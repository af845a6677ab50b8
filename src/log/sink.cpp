// NodeSink: one node's .tracing.jsonl, .tracing.log and .events.jsonl.
#include "log/sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

#include "patchbay/consts.hpp"
#include "sys/io.hpp"

namespace patchbay::log::detail {

namespace fs = std::filesystem;

NodeSink::NodeSink(fs::path dir, std::string_view kind, std::string_view name,
                   std::shared_ptr<const Filter> filter)
    : dir_(std::move(dir)),
      stem_(std::string(kind) + "." + util::sanitize_for_path_component(name)),
      filter_(std::move(filter)) {
  raise_ceiling(std::max(filter_->max_level(), static_cast<int>(Level::Info)));
}

fs::path NodeSink::path(std::string_view ext) const {
  return dir_ / (stem_ + "." + std::string(ext));
}

void NodeSink::write(std::string_view json_line, std::string_view text, std::string_view event_line) {
  // One buffer per file, so each line is one write(2): with O_APPEND a line never interleaves
  // with another writer's, and no user-space buffer delays it (every line is "flushed").
  std::string json(json_line);
  json += '\n';
  std::string event;
  if (!event_line.empty()) {
    event.assign(event_line);
    event += '\n';
  }
  std::lock_guard lk(mu_);
  if (closed_) return;
  if (!append(json_, consts::kTracingJsonlExt, json)) return;
  if (!append(text_, consts::kTracingLogExt, text)) return;
  if (!event.empty()) append(events_, consts::kEventsJsonlExt, event);
}

bool NodeSink::append(UniqueFd& fd, std::string_view ext, std::string_view data) {
  if (!fd) {
    const fs::path p = path(ext);
    fd.reset(::open(p.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));
    if (!fd) {
      report(p, errno);
      return false;
    }
  }
  if (sys::write_all(fd.get(), data)) return true;
  report(path(ext), errno);
  return false;
}

void NodeSink::report(const fs::path& file, int err) {
  // Once per node: a full disk would otherwise print a line per record, and the lab carries on.
  if (std::exchange(reported_, true)) return;
  std::string msg = "patchbay: log file '" + file.string() +
                    "': " + std::error_code(err, std::system_category()).message() +
                    " (further errors for this node are not reported)\n";
  (void)sys::write_all(STDERR_FILENO, msg);
}

void NodeSink::close() {
  std::lock_guard lk(mu_);
  closed_ = true;
  json_.reset();
  text_.reset();
  events_.reset();
}

}  // namespace patchbay::log::detail

namespace patchbay::util {

std::string sanitize_for_path_component(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

}  // namespace patchbay::util
