// The devtools server's lifecycle, route table and event streams (SPEC 14.1).
#include "server/server.hpp"

#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "server/event_stream.hpp"
#include "server/server_impl.hpp"
#include "server/thread_pool.hpp"
#include "server/ui_asset.hpp"
#include "sys/errno.hpp"

namespace patchbay::server {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

// An idle keep-alive connection holds its thread until this passes, and stop() waits for it.
constexpr time_t kKeepAliveSeconds = 1;

namespace {

std::string status_text(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 403:
      return "forbidden";
    case 404:
      return "not found";
    case 405:
      return "method not allowed";
    case 416:
      return "range not satisfiable";
    case 503:
      return "service unavailable";
    default:
      return status >= 500 ? "internal error" : "error";
  }
}

// httplib 0.11 applies a Range header to *every* routed response on its own: it slices the body
// while keeping our status (a JSON list answered "200" with a fragment) and does not clamp the
// end to the content. Only /files honours ranges, and it answers them itself, so every handler
// takes the parsed ranges and clears them before httplib sees the response. The Request object
// is httplib's own non-const local; the handler API only hands it out as const.
ByteRanges take_ranges(const httplib::Request& req) {
  ByteRanges out(req.ranges.begin(), req.ranges.end());
  const_cast<httplib::Request&>(req).ranges.clear();
  return out;
}

// httplib compresses every compressible response per request, preferring brotli at its default
// quality 11: 210-370 ms for the 89 KiB page (2 ms without), seconds for a large log. gzip costs
// a few ms per 100 KiB, so a client offering both gets gzip; over loopback that is still the
// whole cost of serving. Same const_cast as above, same reason.
void prefer_gzip(const httplib::Request& req) {
  auto it = req.headers.find("Accept-Encoding");
  if (it == req.headers.end() || it->second.find("br") == std::string::npos) return;
  const bool gzip = it->second.find("gzip") != std::string::npos;
  auto& headers = const_cast<httplib::Request&>(req).headers;
  headers.erase("Accept-Encoding");
  if (gzip) headers.emplace("Accept-Encoding", "gzip");
}

template <class F>
httplib::Server::Handler handler(F f) {
  return [f = std::move(f)](const httplib::Request& req, httplib::Response& res) {
    auto ranges = take_ranges(req);
    prefer_gzip(req);
    f(req, res, ranges);
  };
}

// An SSE message or a keep-alive comment, written when there is something to say; false when
// the client went away.
struct KeepAlive {
  Clock::time_point last = Clock::now();
  bool flush(std::string& out, httplib::DataSink& sink, std::chrono::milliseconds interval) {
    auto now = Clock::now();
    if (out.empty() && now - last >= interval) out = sse_comment("keep-alive");
    if (out.empty()) return true;
    if (!sink.write(out.data(), out.size())) return false;
    last = now;
    return true;
  }
};

}  // namespace

void send_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void send_json(httplib::Response& res, int status, const nlohmann::ordered_json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

void send_error(httplib::Response& res, int status, const std::string& message) {
  send_json(res, status, json{{"error", message}});
}

Server::Impl::Impl(ServerOptions o) : opts(std::move(o)), index(opts.base, opts.rescan_interval) {}

Server::Server(ServerOptions opts) : impl_(std::make_unique<Impl>(std::move(opts))) {}

Server::~Server() {
  stop();
}

void Server::start() {
  auto& im = *impl_;
  const std::string ctx = "devtools server";
  std::error_code ec;
  if (!fs::is_directory(im.opts.base, ec))
    throw NotFound(ctx, "directory '" + im.opts.base.string() + "' does not exist");
  im.base = fs::canonical(im.opts.base);
  im.stop_fd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!im.stop_fd) throw SystemError(ctx, std::string("eventfd: ") + std::strerror(errno), errno);

  auto& http = im.http;
  // httplib's default socket options add SO_REUSEPORT, with which a second server binds the same
  // port without error and the kernel splits connections between them: "port in use" would go
  // unnoticed. SO_REUSEADDR alone still allows a restart while old connections sit in TIME_WAIT.
  http.set_socket_options([](int fd) {
    int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  const std::size_t max_threads = im.opts.max_threads;
  http.new_task_queue = [max_threads] { return new GrowingThreadPool(max_threads); };
  http.set_keep_alive_timeout(kKeepAliveSeconds);
  http.set_tcp_nodelay(true);  // SSE messages are small; Nagle would hold them back
  http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    take_ranges(req);
    if (res.body.empty()) send_error(res, res.status, status_text(res.status));
  });
  http.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
    take_ranges(req);
    send_error(res, 500, sys::exception_text(ep));
  });
  // DNS rebinding: a page of another site whose name now resolves to us would otherwise read
  // every run file (keys under certs/ included) with the browser's same-origin blessing.
  http.set_pre_routing_handler([&im](const httplib::Request& req, httplib::Response& res) {
    if (host_allowed(req.get_header_value("Host"), {im.opts.bind.host, im.port}))
      return httplib::Server::HandlerResponse::Unhandled;
    take_ranges(req);
    send_error(res, 403, "forbidden host");
    return httplib::Server::HandlerResponse::Handled;
  });
  im.add_routes();

  const auto& bind = im.opts.bind;
  errno = 0;
  int port = bind.port == 0 ? http.bind_to_any_port(bind.host)
                            : (http.bind_to_port(bind.host, bind.port) ? bind.port : -1);
  if (port < 0) {
    int err = errno != 0 ? errno : EADDRNOTAVAIL;
    throw BindError(ctx, "cannot listen on " + bind.to_string() + ": " + std::strerror(err), err);
  }
  im.port = port;
  im.index.start();
  im.listener = std::thread([&http] {
    pthread_setname_np(pthread_self(), "patchbay:http");
    http.listen_after_bind();
  });
  // stop() is a no-op until httplib's accept loop runs, so a stop() right after start() would
  // leave the listener running forever: start() returns only once it runs.
  for (int i = 0; i < 5000 && !http.is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void Server::stop() {
  auto& im = *impl_;
  std::lock_guard lk(im.stop_mu);
  if (im.stopped) return;
  im.stopped = true;
  im.stopping = true;
  if (im.stop_fd) {
    std::uint64_t one = 1;
    ssize_t r = ::write(im.stop_fd.get(), &one, sizeof one);
    (void)r;
  }
  im.index.stop();
  im.http.stop();
  if (im.listener.joinable()) im.listener.join();
}

int Server::port() const {
  return impl_->port;
}

BindAddress Server::address() const {
  return {impl_->opts.bind.host, impl_->port};
}

std::string Server::url() const {
  return "http://" + address().to_string() + "/";
}

std::size_t Server::open_streams() const {
  return impl_->streams.load();
}

void Server::Impl::add_routes() {
  http.Get("/", handler([](const httplib::Request&, httplib::Response& res, const ByteRanges&) {
             auto page = ui_index_html();
             res.set_content(page.data(), page.size(), "text/html; charset=utf-8");
           }));
  http.Get("/api/runs", handler([this](const httplib::Request&, httplib::Response& res, const ByteRanges&) {
             send_json(res, 200, runs_json(index.scan()));
           }));
  http.Get("/api/runs/subscribe", handler([this](const httplib::Request&, httplib::Response& res,
                                                 const ByteRanges&) { subscribe(res); }));
  http.Get(R"(/api/runs/(.*))",
           handler([this](const httplib::Request& req, httplib::Response& res, const ByteRanges& ranges) {
             run_route(req.matches[1].str(), req, res, ranges);
           }));
  http.Get(R"(/api/invocations/(.*)/combined-results)",
           handler([this](const httplib::Request& req, httplib::Response& res, const ByteRanges&) {
             combined_results(req.matches[1].str(), res);
           }));
}

std::unique_ptr<StreamSlot> Server::Impl::open_stream(httplib::Response& res) {
  if (streams.fetch_add(1) >= opts.max_streams) {
    streams.fetch_sub(1);
    send_error(res, 503, "too many open event streams (" + std::to_string(opts.max_streams) + ")");
    return nullptr;
  }
  res.set_header("Cache-Control", "no-cache");
  return std::make_unique<StreamSlot>(streams);
}

void Server::Impl::subscribe(httplib::Response& res) {
  struct State {
    std::unique_ptr<StreamSlot> slot;
    std::uint64_t seen = 0;
    bool greeted = false;
    KeepAlive keepalive;
  };
  auto st = std::make_shared<State>();
  st->slot = open_stream(res);
  if (!st->slot) return;
  st->seen = index.generation();  // changes from here on are news to this client
  res.set_chunked_content_provider("text/event-stream", [this, st](std::size_t, httplib::DataSink& sink) {
    if (stopping) return false;
    std::string out;
    if (!st->greeted) {
      // Tells the client the stream is live: a run that appears after this comment is announced.
      out = sse_comment("runs");
      st->greeted = true;
    } else {
      auto gen = index.wait_change(st->seen, opts.tail_poll);
      if (stopping) return false;
      if (gen != st->seen) out = sse_data("update");
      st->seen = gen;
    }
    return st->keepalive.flush(out, sink, opts.keepalive_interval);
  });
}

void Server::Impl::events(const fs::path& events_file, std::optional<std::uint64_t> after,
                          httplib::Response& res) {
  struct State {
    State(const fs::path& f, std::optional<std::uint64_t> a) : stream(f, a), watch(f) {}
    std::unique_ptr<StreamSlot> slot;
    EventStream stream;
    sys::FileWatch watch;
    KeepAlive keepalive;
  };
  auto slot = open_stream(res);
  if (!slot) return;
  auto st = std::make_shared<State>(events_file, after);
  st->slot = std::move(slot);
  res.set_chunked_content_provider("text/event-stream", [this, st](std::size_t, httplib::DataSink& sink) {
    if (stopping) return false;
    std::string out;
    auto before = st->stream.offset();
    st->stream.read(out);
    // Nothing new (or only lines filtered out by `after`): wait for the writer, then look again.
    if (out.empty() && st->stream.offset() == before && !st->stream.ended()) {
      st->watch.wait(opts.tail_poll, stop_fd.get());
      if (stopping) return false;
      st->stream.read(out);
    }
    if (st->stream.ended()) {
      // Truncated or replaced: end the response cleanly so EventSource reconnects with
      // Last-Event-ID and a fresh stream picks up after the last opid the client has.
      if (!out.empty() && !sink.write(out.data(), out.size())) return false;
      sink.done();
      return true;
    }
    return st->keepalive.flush(out, sink, opts.keepalive_interval);
  });
}

}  // namespace patchbay::server
