// log benchmark: what a log call costs on a node thread. A disabled record (debug under the
// default "info" filter) against an empty loop in the same run, enabled() alone, and a record
// that is written to the node's files (JSON line, ANSI text, two write(2) calls). Then the same
// through a Node handle of a real lab (Node::log from a thread that is not the node's): disabled,
// written, and disabled while another thread keeps adding devices (the lab lock is busy).
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>

#include "emit.hpp"
#include "log/filter.hpp"
#include "log/sink.hpp"
#include "patchbay/log.hpp"
#include "patchbay/patchbay.hpp"

using namespace patchbay;
using Clock = std::chrono::steady_clock;

namespace {

void emit(const std::string& metric, double value, const char* unit) {
  bench::emit("log", metric, value, unit, 2);
}

template <class F>
double ns_per_call(long n, F&& f) {
  auto t = Clock::now();
  for (long i = 0; i < n; ++i) f(i);
  return std::chrono::duration<double, std::nano>(Clock::now() - t).count() / static_cast<double>(n);
}

}  // namespace

int main(int argc, char** argv) {
  long n = 20'000'000, written = 200'000;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--iterations") == 0) n = std::atol(argv[i + 1]);
  char tmpl[] = "/tmp/pb-logbench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 1;
  const std::filesystem::path dir = tmpl;
  auto filter =
      std::make_shared<const log::detail::Filter>(log::detail::Filter::parse("info,app::noisy=warn"));
  log::detail::set_thread_sink(std::make_shared<log::detail::NodeSink>(dir, "device", "bench", filter));

  volatile long sink = 0;
  emit("empty_loop", ns_per_call(n, [&](long i) { sink = sink + i; }), "ns");
  emit("disabled_record",
       ns_per_call(n,
                   [&](long i) {
                     sink = sink + i;
                     log::debug("app::hot", "never written", {{"i", i}});
                   }),
       "ns");
  emit("enabled_check_prefix_match",
       ns_per_call(n, [&](long i) { sink = sink + i + log::enabled(log::Level::Info, "app::noisy::x"); }),
       "ns");
  log::Span span("bench", {{"run", 1}});
  emit("written_record",
       ns_per_call(written,
                   [&](long i) {
                     log::info("app::hot", "written", {{"i", i}});
                   }),
       "ns");
  log::detail::set_thread_sink(nullptr);

  {
    Lab lab{LabOpts{}.label("log-bench").outdir(OutDir::exact(dir / "lab")).log_filter("info")};
    auto dc = lab.add_router("dc").build();
    auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
    const long m = n / 10;
    emit("node_log_disabled",
         ns_per_call(m,
                     [&](long i) {
                       dev.log(log::Level::Debug, "app", "x", {{"i", i}});
                     }),
         "ns");
    emit("node_log_written",
         ns_per_call(written / 10,
                     [&](long i) {
                       dev.log(log::Level::Info, "app", "x", {{"i", i}});
                     }),
         "ns");
    std::atomic<bool> stop{false};
    std::atomic<int> built{0};
    std::thread builder([&] {
      for (int k = 0; !stop; ++k) {
        lab.add_device("b" + std::to_string(k)).iface("eth0", dc.id()).build();
        ++built;
      }
    });
    while (built == 0) std::this_thread::yield();
    emit("node_log_disabled_during_builds",
         ns_per_call(m,
                     [&](long i) {
                       dev.log(log::Level::Debug, "app", "x", {{"i", i}});
                     }),
         "ns");
    emit("node_log_written_during_builds",
         ns_per_call(written / 10,
                     [&](long i) {
                       dev.log(log::Level::Info, "app", "x", {{"i", i}});
                     }),
         "ns");
    stop = true;
    builder.join();
  }
  std::filesystem::remove_all(dir);
  return 0;
}
