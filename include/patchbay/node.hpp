// patchbay/node.hpp: what every node handle (Device, Router, Ix) can do.
//
//   int v = dev.run([] { /* runs on the device's worker thread, inside its namespace */
//     return 42; });
//   UniqueFd s = dev.socket(AF_INET, SOCK_STREAM);     // created inside, usable anywhere
//   auto t = dev.spawn([](Device d) -> asio::awaitable<int> { co_return 1; });  // io thread
//   Output o = dev.output(Command("ip").args({"addr"}));
//   dev.log(log::Level::Info, "app", "started", {{"port", 4433}});   // device.<name>.tracing.*
//   dev.emit_event("Connected", {{"peer", "relay"}});                   // + device.<name>.events.jsonl
//   auto cap = dev.capture("eth0", {}, "icmp");   // device.<name>.eth0.pcapng until cap.stop()
//
// Handles are cheap copyable values that refer to a node by id; they do not own it. Once the node
// is removed or the lab destroyed every operation throws patchbay::Removed, except name() and id().
// All operations are safe to call from any thread. Worker threads are created on first use: an
// idle node costs file descriptors, not threads.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <asio/bind_cancellation_slot.hpp>
#include <asio/cancellation_signal.hpp>
#include <asio/co_spawn.hpp>
#include <asio/dispatch.hpp>

#include "patchbay/capture.hpp"
#include "patchbay/exec.hpp"
#include "patchbay/fd.hpp"
#include "patchbay/log.hpp"
#include "patchbay/net.hpp"
#include "patchbay/reflector.hpp"
#include "patchbay/types.hpp"

namespace patchbay {

namespace detail {
class LabCore;
class LabRef;
struct NodeRec;
struct ReflectorAccess;
}  // namespace detail

class Node {
 public:
  NodeId id() const { return id_; }
  const std::string& name() const { return name_; }
  // "lab<seq>-root", "lab<seq>-r<id>", "lab<seq>-d<id>"
  std::string ns() const;
  bool alive() const;

  // Runs f on the node's sync worker and returns its result (or rethrows). Blocks the caller.
  template <class F>
  auto run(F&& f) -> std::invoke_result_t<F> {
    using R = std::invoke_result_t<F>;
    if constexpr (std::is_void_v<R>) {
      run_erased([&] { f(); });
    } else {
      std::optional<R> out;
      run_erased([&] { out.emplace(f()); });
      return std::move(*out);
    }
  }

  // Runs f on a new thread inside the node; the handle's destructor joins it.
  template <class F>
  auto spawn_thread(F&& f) -> ThreadHandle<std::invoke_result_t<F>> {
    using R = std::invoke_result_t<F>;
    auto st = std::make_shared<detail::TaskState<R>>();
    auto enter = thread_entry("u");
    std::thread t([st, enter = std::move(enter), fn = std::forward<F>(f)]() mutable {
      try {
        enter();
        if constexpr (std::is_void_v<R>) {
          fn();
          st->set_value(true);
        } else {
          st->set_value(fn());
        }
      } catch (...) {
        st->set_error(std::current_exception());
      }
    });
    return ThreadHandle<R>(std::move(t), std::move(st));
  }

  Child spawn_command(Command cmd);
  Output output(Command cmd);  // spawn with piped stdout/stderr, read both, wait

  // A socket created inside the node's namespace, usable from any thread and event loop.
  UniqueFd socket(int family, int type, int protocol = 0);

  // The node's io_context executor (starts the io thread on first use).
  asio::any_io_executor executor();

  // UDP or TCP reflector answering "OBSERVED <peer>"; returns once bound; stops with the guard.
  ReflectorGuard spawn_reflector(SocketAddr bind, Proto proto = Proto::Udp);

  // A pcapng capture of one of the node's interfaces until the guard stops (capture.hpp). An empty
  // `pcap` means filepath("<ifname>.pcapng") in the run directory (InvalidArgument without an
  // output directory). Throws NotFound for an unknown interface, InvalidArgument for a filter
  // libpcap rejects or bad options, Error naming the file when it cannot be created.
  CaptureGuard capture(std::string ifname, std::filesystem::path pcap = {}, CaptureOptions opts = {});
  CaptureGuard capture(std::string ifname, std::filesystem::path pcap, std::string filter);

  // <run_dir>/<kind>.<name>.<suffix> ("device.client.qlog"), name sanitised as the log files are;
  // nullopt without an output directory and for the IX. Creates nothing.
  std::optional<std::filesystem::path> filepath(std::string_view suffix) const;
  // A log record / timeline event (log.hpp) in this node's files, from any thread, carrying the
  // calling thread's spans. Never throws: once the node or the lab is gone, records reach only
  // the console.
  void log(log::Level level, std::string_view target, std::string_view msg, log::Fields fields = {}) const;
  void emit_event(std::string_view kind, log::Fields fields = {}) const;  // "patchbay::_events::<kind>"
  void emit_event(std::string_view target_prefix, std::string_view kind, log::Fields fields = {}) const;

 protected:
  friend struct detail::ReflectorAccess;
  Node(std::weak_ptr<detail::LabCore> lab, NodeId id, std::string name)
      : lab_(std::move(lab)), id_(id), name_(std::move(name)) {}

  // Runs a coroutine factory on the node's io thread.
  template <class Self, class F>
  auto spawn_impl(Self self, F&& f) {
    using Aw = std::invoke_result_t<F, Self>;
    using T = typename Aw::value_type;
    struct State : detail::TaskState<T>, detail::TaskCancel {
      asio::cancellation_signal sig;
      void cancel_on_shutdown() override {
        this->set_error(std::make_exception_ptr(Cancelled("task", "lab shut down")));
      }
    };
    auto st = std::make_shared<State>();
    auto ex = executor();
    track_task(st);
    std::weak_ptr<State> weak = st;  // the state must not own itself through its abort function
    st->abort_fn = [weak, ex] {
      if (auto s = weak.lock()) asio::dispatch(ex, [s] { s->sig.emit(asio::cancellation_type::all); });
    };
    asio::co_spawn(ex, std::forward<F>(f)(std::move(self)),
                   asio::bind_cancellation_slot(st->sig.slot(), [st](std::exception_ptr e, auto... v) {
                     if (e) {
                       st->set_error(e);
                     } else if constexpr (sizeof...(v) == 0) {
                       st->set_value(true);
                     } else {
                       st->set_value(std::move(v)...);
                     }
                   }));
    return JoinHandle<T>(std::static_pointer_cast<detail::TaskState<T>>(st));
  }

  detail::LabRef core() const;                   // an operation on the lab; Removed when it is gone
  std::shared_ptr<detail::NodeRec> rec() const;  // throws Removed when the node is gone
  void run_erased(const std::function<void()>& fn);
  std::function<void()> thread_entry(const char* suffix) const;  // enters the node's namespaces
  void track_task(std::shared_ptr<detail::TaskCancel> t);

  std::weak_ptr<detail::LabCore> lab_;
  NodeId id_;
  std::string name_;
};

}  // namespace patchbay
