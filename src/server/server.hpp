// The devtools HTTP server (SPEC 14.1): serves a base directory of runs (a work dir, an outdir,
// or one run directory) to the devtools UI.
//
//   server::ServerOptions o;
//   o.base = ".patchbay-work";
//   o.bind = server::parse_bind("127.0.0.1:0");     // port 0: any free port
//   server::Server srv(o);
//   srv.start();                                    // listening when it returns
//   std::cout << srv.url() << "\n";                 // http://127.0.0.1:41234/
//   srv.stop();                                     // or the destructor
//
// Routes: GET /, /api/runs, /api/runs/subscribe (SSE), /api/runs/{run}/state,
// /api/runs/{run}/events (SSE, ?after=N, Last-Event-ID), /api/runs/{run}/logs,
// /api/runs/{run}/logs/{*path}?after=BYTES, /api/runs/{run}/files/{*path} (Range),
// /api/invocations/{name}/combined-results. Errors are JSON: {"error": "..."}; a path that is
// absolute, holds "..", or resolves outside base / its run (symlinks followed) is 403
// {"error":"forbidden"}.
//
// Guarantees:
// - Requests run on their own threads (up to max_threads); at most max_streams event streams
//   are open at once (more get 503), so open browser tabs never starve plain requests.
// - stop() returns promptly (well under 2 s): streams end at once, an idle keep-alive
//   connection within a second; no thread of the server is left running.
// - Nothing is written under base; files are read with the server's permissions.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "patchbay/error.hpp"
#include "server/http.hpp"

namespace patchbay::server {

struct ServerOptions {
  std::filesystem::path base;
  BindAddress bind{"127.0.0.1", 7421};
  std::chrono::milliseconds rescan_interval{2000};  // run discovery
  // A comment on an idle SSE stream. Besides keeping proxies from timing out, it is how a closed
  // tab is noticed: the first write after the peer closed draws a reset, the second fails, and
  // only then does the stream's thread end.
  std::chrono::milliseconds keepalive_interval{5000};
  // The longest wait between two looks at a tailed events.jsonl (inotify wakes a stream sooner).
  std::chrono::milliseconds tail_poll{250};
  std::size_t max_threads = 64;
  std::size_t max_streams = 48;
};

// The address could not be bound (in use, not local, ...); errnum() is the bind errno.
class BindError : public SystemError {
 public:
  using SystemError::SystemError;
};

class Server {
 public:
  explicit Server(ServerOptions opts);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();  // == stop()

  // NotFound when base is not a directory; BindError naming the address when it cannot listen.
  void start();
  void stop();  // idempotent

  int port() const;                  // the bound port (the real one when asked for port 0)
  BindAddress address() const;       // host + bound port
  std::string url() const;           // "http://127.0.0.1:7421/"
  std::size_t open_streams() const;  // event streams currently open

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace patchbay::server
