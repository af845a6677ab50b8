#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <asio/posix/stream_descriptor.hpp>

#include "exec/spawner.hpp"
#include "patchbay/exec.hpp"

extern char** environ;

namespace patchbay {

std::vector<std::string> Command::environment() const {
  std::vector<std::pair<std::string, std::string>> kv;
  if (!env_clear_) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string s(*e);
      auto eq = s.find('=');
      if (eq == std::string::npos) continue;
      kv.emplace_back(s.substr(0, eq), s.substr(eq + 1));
    }
  }
  for (const auto& [k, v] : env_) {
    std::erase_if(kv, [&](const auto& p) { return p.first == k; });
    if (v) kv.emplace_back(k, *v);
  }
  std::vector<std::string> out;
  out.reserve(kv.size());
  for (auto& [k, v] : kv) out.push_back(k + "=" + v);
  return out;
}

namespace {

std::string shell_quote(const std::string& s) {
  if (!s.empty() &&
      s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./-_") ==
          std::string::npos)
    return s;
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

}  // namespace

std::string Command::to_string() const {
  std::string out = shell_quote(program_);
  for (const auto& a : args_) out += " " + shell_quote(a);
  return out;
}

Child::Child(std::shared_ptr<detail::ChildState> st, UniqueFd in, UniqueFd out, UniqueFd err)
    : st_(std::move(st)), in_(std::move(in)), out_(std::move(out)), err_(std::move(err)) {}

Child::~Child() = default;

namespace {
detail::ChildState& state(const std::shared_ptr<detail::ChildState>& st) {
  if (!st) throw InvalidArgument("Child: empty handle");
  return *st;
}
}  // namespace

pid_t Child::pid() const {
  return state(st_).pid;
}
ExitStatus Child::wait() {
  return state(st_).wait();
}
std::optional<ExitStatus> Child::try_wait() {
  return state(st_).get();
}
std::optional<ExitStatus> Child::wait_for(std::chrono::milliseconds t) {
  return state(st_).wait_for(t);
}

asio::awaitable<ExitStatus> Child::async_wait() {
  auto st = st_;
  if (auto s = state(st).get()) co_return *s;
  // A pidfd becomes readable when the process exits; the reaper publishes the status right after.
  int dup = ::fcntl(st->pidfd.get(), F_DUPFD_CLOEXEC, 3);
  if (dup < 0) co_return st->wait();
  auto ex = co_await asio::this_coro::executor;
  asio::posix::stream_descriptor sd(ex, dup);
  co_await sd.async_wait(asio::posix::stream_descriptor::wait_read, asio::use_awaitable);
  co_return st->wait();
}

void Child::signal(int sig) {
  auto& s = state(st_);
  if (s.get()) return;
  if (::syscall(SYS_pidfd_send_signal, s.pidfd.get(), sig, nullptr, 0) != 0 && errno != ESRCH)
    throw ProcessError("child " + std::to_string(s.pid), std::string("signal: ") + std::strerror(errno));
}

void Child::kill() {
  auto& s = state(st_);
  // The whole group: the child and whatever it started (sh -c 'a & b'); never once the group is
  // done, when its id may belong to someone else.
  s.signal_group(SIGKILL);
}

}  // namespace patchbay
