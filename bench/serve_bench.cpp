// serve benchmark: how fast the devtools server's event stream (GET /api/runs/{run}/events, SSE)
// delivers appended events to a client, measured in-process with an httplib client on loopback.
//
// Two sources, N events each (default 10,000):
// - appender: a thread writes events.jsonl lines itself, each carrying its append time
//   (steady clock), so latency = client receipt - append, the server's own share. Paced at
//   --rate events/s for latency, then in one burst (64 KiB writes) for sustained events/s.
// - lab: a real Lab with OutDir::exact emitting dns_changed events (Lab::dns_entry); latency =
//   client receipt - the event's own timestamp (system clock), so it includes the lab's
//   events.jsonl writer, which batches and flushes within 100 ms. Paced, then a burst.
// Receipt times are taken when a complete SSE message has been parsed by the client.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>

#include <nlohmann/json.hpp>

#include "emit.hpp"
#include "patchbay/patchbay.hpp"
#include "server/server.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using Steady = std::chrono::steady_clock;
using System = std::chrono::system_clock;

namespace {

void emit(const std::string& metric, double value, const char* unit) {
  bench::emit("serve", metric, value, unit);
}

std::int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Steady::now().time_since_epoch()).count();
}

std::int64_t system_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(System::now().time_since_epoch()).count();
}

// "2026-03-05T12:00:00.123456789Z" -> ns since the epoch.
std::int64_t rfc3339_ns(const std::string& ts) {
  std::tm tm{};
  ::strptime(ts.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::int64_t ns = static_cast<std::int64_t>(::timegm(&tm)) * 1000000000;
  if (ts.size() > 20 && ts[19] == '.') {
    std::string frac = ts.substr(20, ts.find('Z') - 20);
    frac.resize(9, '0');
    ns += std::stoll(frac);
  }
  return ns;
}

// Reads the SSE stream until `n` events arrived; `latency` gets (receipt - the event's time) in ms.
class Receiver {
 public:
  Receiver(int port, std::string path, std::size_t n, bool steady_clock_field)
      : port_(port), path_(std::move(path)), n_(n), steady_(steady_clock_field) {}

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void join() { thread_.join(); }
  std::size_t received() const { return got_.load(); }
  const std::vector<double>& latency_ms() const { return latency_; }
  Steady::time_point last_receipt() const { return last_; }

 private:
  void run() {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30, 0);
    std::string buf;
    c.Get(path_, [&](const char* d, std::size_t len) {
      buf.append(d, len);
      std::size_t end;
      while ((end = buf.find("\n\n")) != std::string::npos) {
        on_message(buf.substr(0, end));
        buf.erase(0, end + 2);
      }
      return got_.load() < n_;
    });
  }
  void on_message(const std::string& msg) {
    auto pos = msg.find("\ndata: ");
    if (msg.rfind("id: ", 0) != 0 || pos == std::string::npos) return;
    const std::int64_t now = steady_ ? steady_ns() : system_ns();
    auto ev = json::parse(msg.substr(pos + 7));
    const std::int64_t t =
        steady_ ? ev["t_ns"].get<std::int64_t>() : rfc3339_ns(ev["timestamp"].get<std::string>());
    latency_.push_back(static_cast<double>(now - t) / 1e6);
    last_ = Steady::now();
    got_.fetch_add(1);
  }

  int port_;
  std::string path_;
  std::size_t n_;
  bool steady_;
  std::thread thread_;
  std::atomic<std::size_t> got_{0};
  std::vector<double> latency_;
  Steady::time_point last_;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size())))];
}

void report(const std::string& source, const Receiver& r, std::size_t n) {
  if (r.received() < n)
    std::cerr << "serve_bench: " << source << ": only " << r.received() << " of " << n << " events\n";
  emit(source + "_latency_p50", percentile(r.latency_ms(), 50), "ms");
  emit(source + "_latency_p99", percentile(r.latency_ms(), 99), "ms");
}

void wait_streams(const patchbay::server::Server& srv, std::size_t n) {
  for (int i = 0; i < 500 && srv.open_streams() < n; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));  // history read, stream idle
}

std::string appended_line(std::size_t opid) {
  return R"({"opid":)" + std::to_string(opid) +
         R"(,"timestamp":"2026-03-05T12:00:00.000000000Z","kind":"bench","t_ns":)" +
         std::to_string(steady_ns()) + "}\n";
}

// Paced: one write per event at `rate`/s. Returns nothing; the receiver measures.
void appender_paced(const fs::path& file, std::size_t n, std::size_t first, double rate) {
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND);
  auto t0 = Steady::now();
  for (std::size_t i = 0; i < n; ++i) {
    std::this_thread::sleep_until(
        t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 * static_cast<double>(i) / rate)));
    auto line = appended_line(first + i);
    if (::write(fd, line.data(), line.size()) < 0) break;
  }
  ::close(fd);
}

// Burst: lines are produced and written in 64 KiB writes as fast as the disk takes them.
void appender_burst(const fs::path& file, std::size_t n, std::size_t first) {
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND);
  std::string buf;
  for (std::size_t i = 0; i < n; ++i) {
    buf += appended_line(first + i);
    if (buf.size() >= 65536 || i + 1 == n) {
      if (::write(fd, buf.data(), buf.size()) < 0) break;
      buf.clear();
    }
  }
  ::close(fd);
}

double events_per_s(std::size_t n, Steady::time_point t0, const Receiver& r) {
  return static_cast<double>(n) / std::chrono::duration<double>(r.last_receipt() - t0).count();
}

void bench_appender(const patchbay::server::Server& srv, const fs::path& base, std::size_t n, double rate) {
  auto file = base / "appender" / "events.jsonl";
  fs::create_directories(file.parent_path());
  { std::ofstream touch(file); }
  Receiver paced(srv.port(), "/api/runs/appender/events", n, true);
  paced.start();
  wait_streams(srv, 1);
  appender_paced(file, n, 0, rate);
  paced.join();
  report("append", paced, n);

  Receiver burst(srv.port(), "/api/runs/appender/events?after=" + std::to_string(n - 1), n, true);
  burst.start();
  wait_streams(srv, 1);
  auto t0 = Steady::now();
  appender_burst(file, n, n);
  burst.join();
  emit("append_burst_events_per_s", events_per_s(n, t0, burst), "events/s");
}

void bench_lab(const patchbay::server::Server& srv, const fs::path& base, std::size_t n, double rate) {
  using namespace patchbay;
  Lab lab(LabOpts{}.label("serve-bench").outdir(OutDir::exact(base / "lab")));
  const auto ip = IpAddr::parse("10.0.0.1");
  // opid 0 and 1 are lab_created and ix_created.
  Receiver paced(srv.port(), "/api/runs/lab/events?after=1", n, false);
  paced.start();
  wait_streams(srv, 1);
  auto t0 = Steady::now();
  for (std::size_t i = 0; i < n; ++i) {
    std::this_thread::sleep_until(
        t0 + std::chrono::nanoseconds(static_cast<std::int64_t>(1e9 * static_cast<double>(i) / rate)));
    lab.dns_entry("bench", ip);
  }
  paced.join();
  report("lab", paced, n);

  Receiver burst(srv.port(), "/api/runs/lab/events?after=" + std::to_string(n + 1), n, false);
  burst.start();
  wait_streams(srv, 1);
  t0 = Steady::now();
  for (std::size_t i = 0; i < n; ++i) lab.dns_entry("bench", ip);
  burst.join();
  emit("lab_burst_events_per_s", events_per_s(n, t0, burst), "events/s");
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t n = 10000;
  double rate = 2000;
  bool lab = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--events" && i + 1 < argc) {
      n = static_cast<std::size_t>(std::atoll(argv[++i]));
    } else if (a == "--rate" && i + 1 < argc) {
      rate = std::atof(argv[++i]);
    } else if (a == "--no-lab") {
      lab = false;
    } else {
      std::cerr << "usage: serve_bench [--events N] [--rate EVENTS_PER_S] [--no-lab]\n";
      return 2;
    }
  }
  if (n < 1 || rate <= 0) {
    std::cerr << "serve_bench: --events and --rate must be positive\n";
    return 2;
  }
  if (lab) patchbay::init_userns();  // before any thread exists
  auto base = fs::temp_directory_path() / ("pb-serve-bench-" + std::to_string(::getpid()));
  fs::create_directories(base);
  {
    patchbay::server::ServerOptions o;
    o.base = base;
    o.bind = {"127.0.0.1", 0};
    patchbay::server::Server srv(o);
    srv.start();
    bench_appender(srv, base, n, rate);
    if (lab) bench_lab(srv, base, n, rate);
  }
  fs::remove_all(base);
}
