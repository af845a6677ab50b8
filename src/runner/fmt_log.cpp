#include "runner/fmt_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <system_error>
#include <vector>

#include "patchbay/consts.hpp"
#include "patchbay/fd.hpp"
#include "patchbay/log.hpp"
#include "runner/files.hpp"
#include "sys/io.hpp"
#include "sys/line_tail.hpp"

namespace patchbay::runner {

namespace {

namespace fs = std::filesystem;

constexpr auto kFollowPoll = std::chrono::milliseconds(100);

std::string errno_text(int err) {
  return std::error_code(err, std::system_category()).message();
}

// One line as text: a tracing record rendered, anything else verbatim.
void render_into(std::string_view l, bool color, std::string& out) {
  if (auto text = log::render_line(l, color)) {
    out += *text;
  } else {
    out.append(l);
    out += '\n';
  }
}

// Splits a byte stream into lines and renders each complete one; a partial last line waits for
// the rest (a pipe's writer may be in the middle of it).
class Renderer {
 public:
  explicit Renderer(bool color) : color_(color) {}

  void feed(std::string_view data, std::string& out) {
    pending_.append(data);
    std::size_t start = 0, nl;
    while ((nl = pending_.find('\n', start)) != std::string::npos) {
      render_into(std::string_view(pending_).substr(start, nl - start), color_, out);
      start = nl + 1;
    }
    pending_.erase(0, start);
  }
  // End of input: a last line without newline is still a line.
  void finish(std::string& out) {
    if (!pending_.empty()) render_into(pending_, color_, out);
    pending_.clear();
  }

 private:
  bool color_;
  std::string pending_;
};

bool write_stdout(std::string_view s) {
  return sys::write_all(STDOUT_FILENO, s);
}

// Reads what `fd` has now; false on a read error (errno set).
bool drain(int fd, Renderer& r, std::string& out) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    r.feed(std::string_view(buf, static_cast<std::size_t>(n)), out);
  }
}

int fail(const std::string& what, int err) {
  std::cerr << "patchbay: fmt-log: " << what << ": " << errno_text(err) << "\n";
  return 1;
}

// Renders as the data arrives, so `tail -f x.tracing.jsonl | patchbay fmt-log` works too.
int render_stream(int fd, const std::string& name, bool color) {
  Renderer r(color);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("read " + name, errno);
    if (n == 0) break;
    r.feed(std::string_view(buf, static_cast<std::size_t>(n)), out);
    if (!write_stdout(out)) return 1;
    out.clear();
  }
  r.finish(out);
  return write_stdout(out) ? 0 : 1;
}

// Prints the file, then every complete line appended to it. A truncated file is read again
// from the start; a file replaced by another (rename) is read to its end, then the new one from
// its start (sys::LineTail), so nothing appended just before the switch is lost.
int follow_file(const fs::path& path, bool color) {
  // LineTail reads a missing file as empty; the user named a file, so a missing one is an error.
  if (UniqueFd probe(::open(path.c_str(), O_RDONLY | O_CLOEXEC)); !probe)
    return fail("open '" + path.string() + "'", errno);
  sys::LineTail tail(path);
  sys::FileWatch watch(path);
  std::string out;
  for (;;) {
    // A poll hands out at most 1 MiB; keep going until the backlog is printed.
    while (tail.poll([&](std::string_view l) { render_into(l, color, out); }) > 0) {
      if (!write_stdout(out)) return 0;  // the reader went away
      out.clear();
    }
    watch.wait(kFollowPoll, -1);
  }
}

bool is_tracing_jsonl(const fs::path& p) {
  return p.filename().string().ends_with("." + std::string(consts::kTracingJsonlExt));
}

// X.tracing.jsonl -> X.tracing.log, written in one step (a viewer never sees half a file).
int render_to_log(const fs::path& jsonl, bool color) {
  UniqueFd fd(::open(jsonl.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail("open '" + jsonl.string() + "'", errno);
  Renderer r(color);
  std::string out;
  if (!drain(fd.get(), r, out)) return fail("read '" + jsonl.string() + "'", errno);
  r.finish(out);
  std::string name = jsonl.filename().string();
  name.resize(name.size() - consts::kTracingJsonlExt.size());
  fs::path target = jsonl.parent_path() / (name + std::string(consts::kTracingLogExt));
  try {
    write_file_atomic(target, out);
  } catch (const std::exception& e) {
    std::cerr << "patchbay: fmt-log: " << e.what() << "\n";
    return 1;
  }
  std::cout << target.string() << "\n";
  return 0;
}

int render_tree(const fs::path& root, bool color) {
  std::vector<fs::path> files;
  std::error_code ec;
  if (fs::is_regular_file(root, ec)) {
    files.push_back(root);
  } else {
    for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file() && is_tracing_jsonl(it->path())) files.push_back(it->path());
    if (ec) return fail("read directory '" + root.string() + "'", ec.value());
  }
  std::sort(files.begin(), files.end());
  int rc = 0;
  for (const auto& f : files) rc = std::max(rc, render_to_log(f, color));
  if (files.empty()) std::cerr << "patchbay: fmt-log: no *.tracing.jsonl under '" << root.string() << "'\n";
  return rc;
}

int usage(const std::string& msg) {
  std::cerr << "patchbay: fmt-log: " << msg << "\n";
  return 2;
}

}  // namespace

int fmt_log_command(const FmtLogOptions& opts) {
  const bool color = !opts.no_color;
  const bool stdin_input = opts.input.empty() || opts.input == "-";
  if (opts.recursive) {
    if (stdin_input) return usage("-r needs a directory (or file)");
    if (opts.follow) return usage("-r and -f cannot be combined");
    // -r FILE writes the .tracing.log next to it; any other name has no such twin to write.
    std::error_code ec;
    if (fs::is_regular_file(opts.input, ec) && !is_tracing_jsonl(opts.input))
      return usage("-r '" + opts.input + "': not a *." + std::string(consts::kTracingJsonlExt) +
                   " file (use it without -r to print it)");
    return render_tree(opts.input, color);
  }
  // Following stdin is reading it to the end: a pipe has no appends to wait for.
  if (stdin_input) return render_stream(STDIN_FILENO, "stdin", color);
  std::error_code ec;
  if (fs::is_directory(opts.input, ec))
    return usage("'" + opts.input + "' is a directory; use -r to render every *.tracing.jsonl below it");
  if (opts.follow) return follow_file(opts.input, color);
  UniqueFd fd(::open(opts.input.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return fail("open '" + opts.input + "'", errno);
  return render_stream(fd.get(), "'" + opts.input + "'", color);
}

}  // namespace patchbay::runner
