// patchbay/exec.hpp: running programs and code inside a node.
//
//   auto out = dev.output(Command("ping").args({"-c1", "198.18.0.1"}));   // run, capture, wait
//   if (!out.status.success()) std::cerr << out.err;
//   Child srv = dc.spawn_command(Command("iperf3").arg("-s").std_out(Stdio::null()));
//   // ... clients talk to it ...
//   srv.kill();                         // SIGKILL to the child's process group
//
// Children are started from a long-lived lab thread with PR_SET_PDEATHSIG(SIGKILL), in their own
// process group, inside the node's network namespace. The lab tracks every child: destroying the
// lab (or removing the node) terminates and reaps all of them. A Child's destructor does not kill.
//
// JoinHandle<T> is the result of Node::spawn (an Asio coroutine on the node's io thread);
// ThreadHandle<T> of Node::spawn_thread (a dedicated thread, joined by the destructor).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "patchbay/error.hpp"
#include "patchbay/fd.hpp"

namespace patchbay {

class Stdio {
 public:
  enum class Kind { Inherit, Null, Piped, File, Fd };
  static Stdio inherit() { return Stdio(Kind::Inherit); }
  static Stdio null() { return Stdio(Kind::Null); }
  static Stdio piped() { return Stdio(Kind::Piped); }
  static Stdio file(std::filesystem::path p, bool append = true) {
    Stdio s(Kind::File);
    s.path_ = std::move(p);
    s.append_ = append;
    return s;
  }
  static Stdio fd(UniqueFd fd) {
    Stdio s(Kind::Fd);
    s.fd_ = std::make_shared<UniqueFd>(std::move(fd));
    return s;
  }
  Kind kind() const { return kind_; }
  const std::filesystem::path& path() const { return path_; }
  bool append() const { return append_; }
  int raw_fd() const { return fd_ ? fd_->get() : -1; }

 private:
  explicit Stdio(Kind k) : kind_(k) {}
  Kind kind_;
  std::filesystem::path path_;
  bool append_ = true;
  std::shared_ptr<UniqueFd> fd_;
};

// A program to run. PATH is searched with the command's own PATH (or the process's).
class Command {
 public:
  explicit Command(std::string program) : program_(std::move(program)) {}
  Command& arg(std::string a) {
    args_.push_back(std::move(a));
    return *this;
  }
  Command& args(std::vector<std::string> as) {
    for (auto& a : as) args_.push_back(std::move(a));
    return *this;
  }
  Command& env(std::string k, std::string v) {
    env_.emplace_back(std::move(k), std::optional<std::string>(std::move(v)));
    return *this;
  }
  Command& env_remove(std::string k) {
    env_.emplace_back(std::move(k), std::nullopt);
    return *this;
  }
  Command& env_clear() {
    env_clear_ = true;
    env_.clear();
    return *this;
  }
  Command& cwd(std::filesystem::path p) {
    cwd_ = std::move(p);
    return *this;
  }
  Command& std_in(Stdio s) {
    stdin_ = std::move(s);
    return *this;
  }
  Command& std_out(Stdio s) {
    stdout_ = std::move(s);
    return *this;
  }
  Command& std_err(Stdio s) {
    stderr_ = std::move(s);
    return *this;
  }

  const std::string& program() const { return program_; }
  const std::vector<std::string>& arguments() const { return args_; }
  // The final environment: the process's own (unless cleared) with the edits applied in order.
  std::vector<std::string> environment() const;
  const std::optional<std::filesystem::path>& working_dir() const { return cwd_; }
  const Stdio& stdin_spec() const { return stdin_; }
  const Stdio& stdout_spec() const { return stdout_; }
  const Stdio& stderr_spec() const { return stderr_; }
  // Shell-quoted command line, as written in command_spawned events.
  std::string to_string() const;

 private:
  std::string program_;
  std::vector<std::string> args_;
  std::vector<std::pair<std::string, std::optional<std::string>>> env_;
  bool env_clear_ = false;
  std::optional<std::filesystem::path> cwd_;
  Stdio stdin_ = Stdio::null();
  Stdio stdout_ = Stdio::inherit();
  Stdio stderr_ = Stdio::inherit();
};

struct ExitStatus {
  std::optional<int> code;    // set when the process exited
  std::optional<int> signal;  // set when it was killed by a signal
  bool success() const { return code && *code == 0; }
};

struct Output {
  ExitStatus status;
  std::string out, err;
};

namespace detail {
struct ChildState;
}

class Child {
 public:
  Child() = default;
  Child(std::shared_ptr<detail::ChildState> st, UniqueFd in, UniqueFd out, UniqueFd err);
  Child(Child&&) noexcept = default;
  Child& operator=(Child&&) noexcept = default;
  ~Child();

  pid_t pid() const;
  ExitStatus wait();
  std::optional<ExitStatus> try_wait();
  std::optional<ExitStatus> wait_for(std::chrono::milliseconds timeout);
  asio::awaitable<ExitStatus> async_wait();
  void signal(int sig);  // to the process only
  void kill();           // SIGKILL to the whole process group
  UniqueFd take_stdin() { return std::move(in_); }
  UniqueFd take_stdout() { return std::move(out_); }
  UniqueFd take_stderr() { return std::move(err_); }

 private:
  std::shared_ptr<detail::ChildState> st_;
  UniqueFd in_, out_, err_;
};

namespace detail {

// A task the node's io thread must fail with Cancelled if the lab goes away first.
struct TaskCancel {
  virtual ~TaskCancel() = default;
  virtual void cancel_on_shutdown() = 0;
};

// Shared completion state of a task or thread.
template <class T>
struct TaskState {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::optional<std::conditional_t<std::is_void_v<T>, bool, T>> value;
  std::exception_ptr error;
  std::function<void()> abort_fn;              // set by the spawner of the task
  std::vector<std::function<void()>> on_done;  // async_get continuations

  template <class V>
  void set_value(V&& v) {
    finish([&] { value.emplace(std::forward<V>(v)); });
  }
  void set_error(std::exception_ptr e) {
    finish([&] { error = std::move(e); });
  }
  template <class F>
  void finish(F&& f) {
    std::vector<std::function<void()>> callbacks;
    {
      std::lock_guard lk(mu);
      if (done) return;
      f();
      done = true;
      callbacks.swap(on_done);
    }
    cv.notify_all();
    for (auto& cb : callbacks) cb();
  }
};

}  // namespace detail

template <class T>
class JoinHandle {
 public:
  JoinHandle() = default;
  explicit JoinHandle(std::shared_ptr<detail::TaskState<T>> st) : st_(std::move(st)) {}

  // Waits for the task; returns its value or rethrows its exception (Cancelled when aborted or
  // when the lab shut down first).
  T get() {
    std::unique_lock lk(st_->mu);
    st_->cv.wait(lk, [&] { return st_->done; });
    if (st_->error) std::rethrow_exception(st_->error);
    if constexpr (!std::is_void_v<T>) return std::move(*st_->value);
  }
  bool is_finished() const {
    std::lock_guard lk(st_->mu);
    return st_->done;
  }
  bool wait_for(std::chrono::milliseconds timeout) const {
    std::unique_lock lk(st_->mu);
    return st_->cv.wait_for(lk, timeout, [&] { return st_->done; });
  }
  void abort() {
    std::function<void()> fn;
    {
      std::lock_guard lk(st_->mu);
      if (st_->done) return;
      fn = st_->abort_fn;
    }
    if (fn) fn();
  }
  asio::awaitable<T> async_get() {
    auto st = st_;
    co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
        [st](auto handler) {
          auto shared = std::make_shared<decltype(handler)>(std::move(handler));
          auto resume = [shared] {
            auto ex = asio::get_associated_executor(*shared);
            asio::post(ex, std::move(*shared));
          };
          std::unique_lock lk(st->mu);
          if (st->done) {
            lk.unlock();
            resume();
          } else {
            st->on_done.push_back(std::move(resume));
          }
        },
        asio::use_awaitable);
    co_return get();
  }

 private:
  std::shared_ptr<detail::TaskState<T>> st_;
};

template <class T>
class ThreadHandle {
 public:
  ThreadHandle() = default;
  ThreadHandle(std::thread t, std::shared_ptr<detail::TaskState<T>> st)
      : t_(std::move(t)), st_(std::move(st)) {}
  ThreadHandle(ThreadHandle&&) noexcept = default;
  ThreadHandle& operator=(ThreadHandle&& o) noexcept {
    if (this != &o) {
      if (t_.joinable()) t_.join();
      t_ = std::move(o.t_);
      st_ = std::move(o.st_);
    }
    return *this;
  }
  ~ThreadHandle() {
    if (t_.joinable()) t_.join();
  }
  bool joinable() const { return t_.joinable(); }
  T join() {
    if (!t_.joinable()) throw InvalidArgument("ThreadHandle::join: thread already joined");
    t_.join();
    if (st_->error) std::rethrow_exception(st_->error);
    if constexpr (!std::is_void_v<T>) return std::move(*st_->value);
  }

 private:
  std::thread t_;
  std::shared_ptr<detail::TaskState<T>> st_;
};

}  // namespace patchbay
