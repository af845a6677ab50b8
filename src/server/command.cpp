// `patchbay serve` (SPEC 15.10) and the browser launcher.
#include "server/command.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string_view>
#include <thread>

extern char** environ;

namespace patchbay::server {

namespace fs = std::filesystem;

namespace {

std::optional<fs::path> find_in_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string_view rest = path ? path : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    auto colon = rest.find(':');
    fs::path cand = fs::path(std::string(rest.substr(0, colon))) / name;
    if (::access(cand.c_str(), X_OK) == 0) return cand;
    if (colon == std::string_view::npos) return std::nullopt;
    rest.remove_prefix(colon + 1);
  }
}

// SIGINT and SIGTERM blocked (for sigwait) with default dispositions, restored on return. A
// shell starts background jobs with SIGINT ignored, and an ignored signal is discarded before
// sigwait could take it: `kill -INT` must stop a server started with `&` as Ctrl-C does.
class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int i = 0; i < 2; ++i) {
      sigaddset(&set_, kSignals[i]);
      ::sigaction(kSignals[i], &dfl, &old_action_[i]);
    }
    ::pthread_sigmask(SIG_BLOCK, &set_, &old_mask_);
  }
  ~StopSignals() {
    ::pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
    for (int i = 0; i < 2; ++i) ::sigaction(kSignals[i], &old_action_[i], nullptr);
  }
  int wait() const {
    int sig = 0;
    ::sigwait(&set_, &sig);
    return sig;
  }

 private:
  static constexpr int kSignals[2] = {SIGINT, SIGTERM};
  sigset_t set_{}, old_mask_{};
  struct sigaction old_action_[2]{};
};

}  // namespace

bool open_in_browser(const std::string& url, std::ostream& err) {
  auto exe = find_in_path("xdg-open");
  if (!exe) {
    err << "patchbay: xdg-open not found; open " << url << " in a browser\n";
    return false;
  }
  posix_spawnattr_t attr;
  ::posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGCHLD}) sigaddset(&defaults, sig);
  ::posix_spawnattr_setsigmask(&attr, &none);
  ::posix_spawnattr_setsigdefault(&attr, &defaults);  // the server ignores SIGPIPE; a browser must not
  ::posix_spawnattr_setpgroup(&attr, 0);
  ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  std::string prog = exe->string();
  char* argv[] = {prog.data(), const_cast<char*>(url.c_str()), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, prog.c_str(), nullptr, &attr, argv, environ);
  ::posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    err << "patchbay: cannot start xdg-open: " << std::strerror(rc) << "; open " << url << " in a browser\n";
    return false;
  }
  std::thread([pid] { ::waitpid(pid, nullptr, 0); }).detach();  // reap it; nobody waits for the browser
  return true;
}

std::unique_ptr<Server> serve_in_background(const fs::path& dir, const std::string& bind) {
  ServerOptions so;
  so.bind = parse_bind(bind);
  std::error_code ec;
  fs::create_directories(dir, ec);
  so.base = dir;
  auto srv = std::make_unique<Server>(so);
  srv->start();
  return srv;
}

int serve_command(const ServeOptions& o) {
  fs::path dir;
  if (o.testdir) {
    if (o.outdir) {
      std::cerr << "patchbay: serve: give OUTDIR or --testdir, not both\n";
      return 2;
    }
    const char* env = std::getenv("PATCHBAY_OUTDIR");
    if (env == nullptr || *env == '\0') {
      std::cerr << "patchbay: serve --testdir: PATCHBAY_OUTDIR is not set\n";
      return 2;
    }
    dir = env;
  } else {
    dir = o.outdir.value_or(".patchbay-work");
  }
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    std::cerr << "patchbay: serve: directory '" << dir.string() << "' "
              << (fs::exists(dir, ec) ? "is not a directory" : "does not exist") << "\n";
    return 2;
  }
  ServerOptions so;
  so.base = dir;
  try {
    so.bind = parse_bind(o.bind);
  } catch (const InvalidArgument& e) {
    std::cerr << "patchbay: serve: " << e.what() << "\n";
    return 2;
  }

  // Blocked before the server starts a thread, so every server thread inherits the mask and the
  // signals wait for sigwait below instead of interrupting one of them.
  StopSignals stop_signals;

  Server srv(so);
  try {
    srv.start();
  } catch (const BindError& e) {
    std::cerr << "patchbay: " << e.what() << "\n";
    return 3;
  } catch (const NotFound& e) {
    std::cerr << "patchbay: " << e.what() << "\n";
    return 2;
  }
  std::cout << "patchbay: serving " << dir.string() << " at " << srv.url() << std::endl;
  if (o.open) open_in_browser(srv.url(), std::cerr);
  stop_signals.wait();
  srv.stop();
  return 0;
}

}  // namespace patchbay::server
