// The routes under /api/runs/{run}/ and /api/invocations/ (SPEC 14.1): which run a request
// names, path checks, and the files themselves.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "events/run_files.hpp"
#include "patchbay/consts.hpp"
#include "server/paths.hpp"
#include "server/server_impl.hpp"

namespace patchbay::server {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::size_t kFileChunk = 64 * 1024;

// One way to read "<run>/<route...>". A run name has 1 to 3 components and may itself contain a
// component called "logs" or "files", so a path can be read several ways; all are tried, longest
// run name first.
struct RunRequest {
  std::string run;
  std::string what;  // state | events | logs | log | file
  std::string path;  // for log and file
};

std::vector<RunRequest> readings(const std::vector<std::string>& comps) {
  std::vector<RunRequest> out;
  const std::size_t n = comps.size();
  for (std::size_t k = std::min<std::size_t>(kMaxRunDepth, n > 0 ? n - 1 : 0); k >= 1; --k) {
    const std::string& head = comps[k];
    const bool tail = k + 1 < n;
    std::string run = join_components(comps, 0, k);
    if (!tail && (head == "state" || head == "events" || head == "logs"))
      out.push_back({run, head, ""});
    else if (tail && (head == "logs" || head == "files"))
      out.push_back({run, head == "logs" ? "log" : "file", join_components(comps, k + 1, n)});
  }
  return out;
}

// The optional unsigned query parameter `name`; false (and a 400 sent) when it is not a number.
bool u64_param(const httplib::Request& req, const char* name, std::optional<std::uint64_t>& out,
               httplib::Response& res) {
  if (!req.has_param(name)) return true;
  out = parse_u64(req.get_param_value(name));
  if (!out) send_error(res, 400, std::string(name) + ": expected a non-negative integer");
  return out.has_value();
}

// Streams `length` bytes of `file` from `offset`. The length is fixed when the response starts:
// bytes appended meanwhile wait for the next request; a file that shrinks ends the response early
// (the client sees a short body).
void send_file(httplib::Response& res, int status, UniqueFd file, std::uint64_t offset, std::uint64_t length,
               const std::string& type) {
  auto fd = std::make_shared<UniqueFd>(std::move(file));
  res.status = status;
  if (length == 0) return res.set_content("", type);
  res.set_content_provider(
      length, type, [fd, offset](std::size_t off, std::size_t len, httplib::DataSink& sink) {
        char buf[kFileChunk];
        ssize_t n = ::pread(fd->get(), buf, std::min(len, sizeof buf), static_cast<off_t>(offset + off));
        if (n <= 0) return false;
        return sink.write(buf, static_cast<std::size_t>(n));
      });
}

std::uint64_t size_of(const UniqueFd& fd) {
  struct stat st {};
  return ::fstat(fd.get(), &st) == 0 ? static_cast<std::uint64_t>(st.st_size) : 0;
}

void send_whole(httplib::Response& res, UniqueFd fd, const std::string& type) {
  const auto size = size_of(fd);
  send_file(res, 200, std::move(fd), 0, size, type);
}

void send_log(const httplib::Request& req, httplib::Response& res, UniqueFd fd, const fs::path& file) {
  std::optional<std::uint64_t> after;
  if (!u64_param(req, "after", after, res)) return;
  const auto size = size_of(fd);
  const auto from = std::min(after.value_or(0), size);
  send_file(res, 200, std::move(fd), from, size - from, content_type_for(file.filename().string()));
}

void send_range(const ByteRanges& ranges, httplib::Response& res, UniqueFd fd, const fs::path& file) {
  const auto size = size_of(fd);
  auto a = answer_range(ranges, size);
  res.set_header("Accept-Ranges", "bytes");
  if (!a.content_range.empty()) res.set_header("Content-Range", a.content_range);
  if (a.status == 416)
    return send_error(res, 416, "range not satisfiable (file has " + std::to_string(size) + " bytes)");
  send_file(res, a.status, std::move(fd), a.offset, a.length, content_type_for(file.filename().string()));
}

// SSE resumption: Last-Event-ID (set by a reconnecting EventSource) wins over ?after=.
bool events_after(const httplib::Request& req, httplib::Response& res, std::optional<std::uint64_t>& after) {
  auto last = req.get_header_value("Last-Event-ID");
  last.erase(0, last.find_first_not_of(" \t"));
  last.erase(last.find_last_not_of(" \t") + 1);
  if (last.empty()) return u64_param(req, "after", after, res);
  after = parse_u64(last);
  if (!after) send_error(res, 400, "Last-Event-ID: expected an event id (opid)");
  return after.has_value();
}

}  // namespace

void Server::Impl::run_route(const std::string& rest, const httplib::Request& req, httplib::Response& res,
                             const ByteRanges& ranges) {
  auto comps = split_request_path(rest);
  if (!comps) return send_forbidden(res);
  auto reads = readings(*comps);
  if (reads.empty()) return send_error(res, 404, "not found");
  std::optional<RunInfo> run;
  const RunRequest* rr = nullptr;
  for (int attempt = 0; attempt < 2 && !run; ++attempt) {
    if (attempt == 1) index.scan();  // a run created since the last scan
    for (auto& r : reads) {
      if ((run = index.find(r.run))) {
        rr = &r;
        break;
      }
    }
  }
  if (!run) {
    // Not a run. A name that leads outside base (a symlink to elsewhere) is refused as such.
    for (auto& r : reads) {
      auto real = real_path(base / r.run);
      if (real && !is_within(base, *real)) return send_forbidden(res);
    }
    return send_error(res, 404, "run '" + reads.front().run + "' not found");
  }

  std::error_code ec;
  auto dir = fs::canonical(run->dir, ec);
  if (ec) return send_error(res, 404, "run '" + run->name + "' not found");
  if (!is_within(base, dir)) return send_forbidden(res);
  if (rr->what == "logs") return send_json(res, 200, events::list_logs(dir));

  const std::string rel = rr->what == "state"    ? std::string(consts::kStateJson)
                          : rr->what == "events" ? std::string(consts::kEventsJsonl)
                                                 : rr->path;
  auto file = resolve_under(dir, rel);
  if (file.status == PathStatus::Forbidden) return send_forbidden(res);
  if (file.status == PathStatus::NotFound)
    return send_error(res, 404,
                      (rr->what == "log" || rr->what == "file" ? "file '" + rel + "'" : rel) + " not found");

  if (rr->what != "events") {
    // Opened beneath the run dir: a component swapped for a symlink since resolve_under() looked
    // cannot lead elsewhere.
    auto opened = open_beneath(dir, file.path);
    if (opened.status == PathStatus::Forbidden) return send_forbidden(res);
    if (opened.status == PathStatus::NotFound) return send_error(res, 404, "file '" + rel + "' not found");
    if (rr->what == "state") return send_whole(res, std::move(opened.fd), "application/json");
    if (rr->what == "log") return send_log(req, res, std::move(opened.fd), file.path);
    return send_range(ranges, res, std::move(opened.fd), file.path);
  }
  std::optional<std::uint64_t> after;
  if (!events_after(req, res, after)) return;
  events(file.path, after, res);
}

void Server::Impl::combined_results(const std::string& name, httplib::Response& res) {
  auto comps = split_request_path(name);
  if (!comps) return send_forbidden(res);
  const json none = {{"runs", json::array()}};
  if (comps->empty()) return send_json(res, 404, none);
  auto file = resolve_under(base, join_components(*comps, 0, comps->size()) + "/combined-results.json");
  if (file.status == PathStatus::Forbidden) return send_forbidden(res);
  if (file.status == PathStatus::NotFound) return send_json(res, 404, none);
  auto opened = open_beneath(base, file.path);
  if (opened.status == PathStatus::Forbidden) return send_forbidden(res);
  if (opened.status == PathStatus::NotFound) return send_json(res, 404, none);
  send_whole(res, std::move(opened.fd), "application/json");
}

}  // namespace patchbay::server
