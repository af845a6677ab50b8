// Server internals shared by server.cpp (lifecycle, event streams) and routes.cpp (run routes).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "patchbay/fd.hpp"
#include "server/run_index.hpp"
#include "server/server.hpp"

namespace patchbay::server {

// The byte ranges of a request as httplib parsed them ((first, last), -1 = absent).
using ByteRanges = std::vector<std::pair<std::int64_t, std::int64_t>>;

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
void send_json(httplib::Response& res, int status, const nlohmann::ordered_json& body);
void send_error(httplib::Response& res, int status, const std::string& message);
inline void send_forbidden(httplib::Response& res) {
  send_error(res, 403, "forbidden");
}

// One open event stream; releases its slot in Server::Impl::streams when destroyed.
class StreamSlot {
 public:
  explicit StreamSlot(std::atomic<std::size_t>& count) : count_(count) {}
  StreamSlot(const StreamSlot&) = delete;
  StreamSlot& operator=(const StreamSlot&) = delete;
  ~StreamSlot() { count_.fetch_sub(1); }

 private:
  std::atomic<std::size_t>& count_;
};

struct Server::Impl {
  explicit Impl(ServerOptions o);

  ServerOptions opts;
  std::filesystem::path base;  // canonical
  httplib::Server http;
  RunIndex index;
  UniqueFd stop_fd;  // eventfd, readable once stop() began: wakes every stream at once
  std::atomic<bool> stopping{false};
  std::atomic<std::size_t> streams{0};
  std::thread listener;
  int port = 0;
  std::mutex stop_mu;
  bool stopped = false;  // guarded by stop_mu

  void add_routes();

  // server.cpp: streams. nullptr (and a 503 sent) when max_streams are open.
  std::unique_ptr<StreamSlot> open_stream(httplib::Response& res);
  void subscribe(httplib::Response& res);
  void events(const std::filesystem::path& events_file, std::optional<std::uint64_t> after,
              httplib::Response& res);

  // routes.cpp
  void run_route(const std::string& rest, const httplib::Request& req, httplib::Response& res,
                 const ByteRanges& ranges);
  void combined_results(const std::string& name, httplib::Response& res);
};

}  // namespace patchbay::server
