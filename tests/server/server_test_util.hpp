// Shared pieces of the devtools server tests: scratch directories with hand-made runs, a server
// on a free port, and a small server-sent-events reader on top of httplib::Client.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <httplib.h>

#include "server/server.hpp"

namespace pbtest {

namespace fs = std::filesystem;

inline std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A directory under /tmp named after the running test, removed at the end.
struct TempDir {
  fs::path dir;
  explicit TempDir(const std::string& suffix = "") {
    auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir = fs::temp_directory_path() / ("pb-server-" + std::to_string(::getpid()) + "-" +
                                       info->test_suite_name() + "-" + info->name() + suffix);
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path write(const std::string& rel, const std::string& text) const {
    fs::create_directories((dir / rel).parent_path());
    std::ofstream(dir / rel, std::ios::binary) << text;
    return dir / rel;
  }
  // A run directory: events.jsonl with `events` lines and, when label is set, a state.json.
  fs::path run(const std::string& rel, int events = 3, const std::optional<std::string>& label = std::nullopt,
               const std::string& status = "running") const {
    std::string lines;
    for (int i = 0; i < events; ++i)
      lines += R"({"opid":)" + std::to_string(i) +
               R"(,"timestamp":"2026-03-05T12:00:00.000000000Z","kind":"k)" + std::to_string(i) + "\"}\n";
    write(rel + "/events.jsonl", lines);
    if (label)
      write(rel + "/state.json",
            R"({"opid": 2, "label": ")" + *label + R"(", "status": ")" + status + "\"}\n");
    return dir / rel;
  }
};

// A started server on 127.0.0.1 and a free port.
inline std::unique_ptr<patchbay::server::Server> start_server(
    const fs::path& base, const std::function<void(patchbay::server::ServerOptions&)>& tweak = nullptr) {
  patchbay::server::ServerOptions o;
  o.base = base;
  o.bind = {"127.0.0.1", 0};
  o.rescan_interval = std::chrono::milliseconds(200);
  if (tweak) tweak(o);
  auto s = std::make_unique<patchbay::server::Server>(o);
  s->start();
  return s;
}

inline std::unique_ptr<httplib::Client> client(const patchbay::server::Server& s) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", s.port());
  c->set_read_timeout(10, 0);
  c->set_connection_timeout(5, 0);
  return c;
}

struct SseEvent {
  std::optional<std::uint64_t> id;
  std::string data;
};

// Splits an SSE byte stream into events and comments; feed() it the chunks as they arrive.
class SseParser {
 public:
  std::vector<SseEvent> events;
  std::vector<std::string> comments;

  void feed(const char* data, std::size_t n) {
    buf_.append(data, n);
    std::size_t end;
    while ((end = buf_.find("\n\n")) != std::string::npos) {
      block(buf_.substr(0, end));
      buf_.erase(0, end + 2);
    }
  }

 private:
  void block(const std::string& b) {
    SseEvent ev;
    bool any = false;
    std::istringstream in(b);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(": ", 0) == 0) {
        comments.push_back(line.substr(2));
      } else if (line.rfind("id: ", 0) == 0) {
        ev.id = std::stoull(line.substr(4));
        any = true;
      } else if (line.rfind("data: ", 0) == 0) {
        ev.data += line.substr(6);
        any = true;
      }
    }
    if (any) events.push_back(ev);
  }
  std::string buf_;
};

// GETs an SSE route and feeds the parser until `done(parser)` is true (then the client cancels)
// or the stream ends. Returns the response status (0 when there was none).
inline int read_sse(httplib::Client& c, const std::string& path, const httplib::Headers& headers,
                    SseParser& p, const std::function<bool(const SseParser&)>& done,
                    std::string* content_type = nullptr) {
  int status = 0;
  auto res = c.Get(
      path, headers,
      [&](const httplib::Response& r) {
        status = r.status;
        if (content_type) *content_type = r.get_header_value("Content-Type");
        return r.status == 200;
      },
      [&](const char* d, std::size_t n) {
        p.feed(d, n);
        return !done(p);
      });
  return res ? res->status : status;
}

}  // namespace pbtest
