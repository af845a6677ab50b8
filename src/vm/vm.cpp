#include "vm/vm.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <ostream>
#include <sstream>
#include <thread>

#include <httplib.h>

#include "patchbay/error.hpp"
#include "runner/binaries.hpp"
#include "runner/binary_util.hpp"
#include "runner/download.hpp"
#include "runner/host_command.hpp"
#include "server/command.hpp"
#include "vm/plan.hpp"
#include "vm/settings.hpp"

extern char** environ;

namespace patchbay::vm {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

constexpr int kNotRunning = 3;
constexpr int kSshProbes = 180;  // SPEC 16: up to 180 probes 300 ms apart
constexpr auto kSshProbeGap = 300ms;
constexpr auto kStopGrace = 20s;

// Runs argv with our stdin/stdout/stderr (an interactive ssh, `patchbay run` in the guest) and
// returns its exit status, 128 + signal when killed.
int run_foreground(const std::vector<std::string>& argv, const std::string& what) {
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (int rc = ::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ); rc != 0)
    throw SystemError(what, "start '" + argv[0] + "': " + std::strerror(rc), rc);
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// A bounded host command whose output goes to `err` line by line; Error unless it exits 0.
void run_step(const std::vector<std::string>& argv, const std::string& what, std::ostream& err,
              std::chrono::milliseconds timeout = std::chrono::minutes(2)) {
  runner::run_program(
      argv, fs::current_path(), [&err](const std::string& l) { err << "  " << l << "\n"; }, what, timeout,
      what);
}

std::string need_program(const std::string& prog, const std::string& package) {
  if (prog.find('/') != std::string::npos) {
    if (::access(prog.c_str(), X_OK) == 0) return prog;
  } else if (auto p = runner::find_in_path(prog)) {
    return p->string();
  }
  throw Error("vm", "'" + prog + "' is not installed (Debian: apt install " + package + ")");
}

// The NoCloud seed over HTTP for the guest's first boot (10.0.2.2 is the host's loopback).
class SeedServer {
 public:
  SeedServer(std::uint16_t port, std::string user_data, std::string meta_data) {
    srv_.Get("/user-data", [u = std::move(user_data)](const httplib::Request&, httplib::Response& r) {
      r.set_content(u, "text/plain");
    });
    srv_.Get("/meta-data", [m = std::move(meta_data)](const httplib::Request&, httplib::Response& r) {
      r.set_content(m, "text/plain");
    });
    srv_.Get("/vendor-data",
             [](const httplib::Request&, httplib::Response& r) { r.set_content("", "text/plain"); });
    if (!srv_.bind_to_port("127.0.0.1", port))
      throw Error("vm seed server",
                  "cannot listen on 127.0.0.1:" + std::to_string(port) + " (in use? set QEMU_VM_SEED_PORT)");
    thread_ = std::thread([this] { srv_.listen_after_bind(); });
  }
  ~SeedServer() {
    srv_.stop();
    if (thread_.joinable()) thread_.join();
  }

 private:
  httplib::Server srv_;
  std::thread thread_;
};

class Vm {
 public:
  explicit Vm(const VmOptions& o)
      : s_(VmSettings::from_env()),
        p_(VmPaths::of(s_, o.project_root.empty() ? fs::current_path() : o.project_root)) {}

  const VmSettings& settings() const { return s_; }
  const VmPaths& paths() const { return p_; }
  std::string label() const { return "vm '" + s_.name + "'"; }

  // The QEMU process when its pid file names a live one.
  std::optional<pid_t> pid() const {
    std::ifstream in(p_.pidfile);
    long pid = 0;
    if (!(in >> pid) || pid <= 0) return std::nullopt;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return std::nullopt;
    return static_cast<pid_t>(pid);
  }

  void up(bool recreate, std::ostream& out, std::ostream& err) {
    need_program(s_.qemu_bin, "qemu-system-x86");  // before any download or disk work
    if (recreate) {
      stop(out);
      std::error_code ec;
      fs::remove(p_.disk, ec);
    }
    fs::create_directories(p_.work);
    fetch_image(out);
    if (!fs::exists(p_.disk)) {
      out << label() << ": creating a " << s_.disk_gb << " GB copy-on-write disk over "
          << p_.image.filename().string() << "\n";
      run_step({need_program("qemu-img", "qemu-utils"), "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                p_.image.string(), p_.disk.string(), std::to_string(s_.disk_gb) + "G"},
               label() + ": qemu-img", err);
    }
    if (!fs::exists(p_.key))
      run_step({need_program("ssh-keygen", "openssh-client"), "-q", "-t", "ed25519", "-N", "", "-C",
                "patchbay-vm-" + s_.name, "-f", p_.key.string()},
               label() + ": ssh-keygen", err);
    const std::string target = target_dir();
    SeedServer seed(
        s_.seed_port,
        cloud_user_data(s_, trim(runner::detail::read_text(p_.key.string() + ".pub")), !target.empty()),
        cloud_meta_data(s_));
    const Accel accel = choose_accel();
    out << label() << ": starting " << s_.qemu_bin << " (" << accel_name(accel) << ", " << s_.cpus
        << " vCPUs, " << s_.mem_mb << " MiB)"
        << (accel == Accel::Tcg ? "; no /dev/kvm, so emulated and slow" : "") << "\n";
    std::error_code ec;
    fs::remove(p_.pidfile, ec);
    run_step(qemu_argv(s_, p_, accel, target), label() + ": qemu", err, 1min);
    wait_for_ssh(out);
    out << label() << ": up; ssh " << s_.ssh_user << "@127.0.0.1:" << s_.ssh_port
        << " (patchbay vm ssh -- CMD), serial console in " << p_.serial_log.string() << "\n";
  }

  // SIGTERM, then SIGKILL after the grace period; false when it was not running.
  bool stop(std::ostream& out) {
    auto p = pid();
    if (!p) {
      remove_runtime_files();
      return false;
    }
    out << label() << ": stopping (pid " << *p << ")\n";
    ::kill(*p, SIGTERM);
    const auto end = std::chrono::steady_clock::now() + kStopGrace;
    while (alive(*p) && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(100ms);
    if (alive(*p)) {
      out << label() << ": still running after " << kStopGrace.count() << " s; SIGKILL\n";
      ::kill(*p, SIGKILL);
      for (int i = 0; i < 50 && alive(*p); ++i) std::this_thread::sleep_for(100ms);
    }
    remove_runtime_files();
    return true;
  }

  std::vector<std::string> remove_runtime_files() const {
    std::vector<std::string> gone;
    for (const auto& f : {p_.pidfile, p_.qmp}) {
      std::error_code ec;
      if (fs::remove(f, ec)) gone.push_back(f.string());
    }
    return gone;
  }

  int ssh(const std::vector<std::string>& remote) const {
    return run_foreground(ssh_argv(s_, p_, remote), label());
  }

 private:
  static bool alive(pid_t p) {
    if (::kill(p, 0) != 0) return errno != ESRCH;
    // A zombie child of ours (tests start qemu stand-ins directly) counts as gone.
    int st = 0;
    const pid_t r = ::waitpid(p, &st, WNOHANG);
    if (r > 0) return false;           // reaped just now
    return r == 0 || errno == ECHILD;  // running, or alive and not ours
  }

  static std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
  }

  // The cargo target directory to share as /target, when the project has one.
  std::string target_dir() const {
    if (const char* t = std::getenv("NETSIM_TARGET_DIR"); t && *t) return fs::absolute(t).string();
    return fs::is_directory(p_.project / "target") ? (p_.project / "target").string() : "";
  }

  void fetch_image(std::ostream& out) const {
    if (fs::exists(p_.image)) return;
    fs::create_directories(p_.image.parent_path());
    out << label() << ": downloading " << s_.image_url << " to " << p_.image.string() << "\n";
    const fs::path part = p_.image.string() + ".part";
    runner::download(s_.image_url, part, label() + ": image");
    fs::rename(part, p_.image);
  }

  void wait_for_ssh(std::ostream& out) const {
    const auto probe = ssh_argv(s_, p_, {"true"});
    for (int i = 1; i <= kSshProbes; ++i) {
      if (!pid()) throw Error(label(), "QEMU exited during boot; see " + p_.serial_log.string());
      const int st = runner::run_host_command({.argv = probe,
                                               .cwd = p_.dir,
                                               .log = {},
                                               .timeout = 30s,
                                               .context = label(),
                                               .name = label() + ": ssh probe"});
      if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return;
      if (i % 20 == 0) out << label() << ": waiting for ssh (" << i << "/" << kSshProbes << " probes)\n";
      std::this_thread::sleep_for(kSshProbeGap);
    }
    throw Error(label(), "ssh did not answer after " + std::to_string(kSshProbes) + " probes; see " +
                             p_.serial_log.string() + " (`patchbay vm down` stops it)");
  }

  VmSettings s_;
  VmPaths p_;
};

// One shell word for the guest's shell.
std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

int vm_up(const VmOptions& o, std::ostream& out, std::ostream& err) {
  Vm vm(o);
  if (auto p = vm.pid(); p && !o.recreate) {
    out << vm.label() << ": already running (pid " << *p << ")\n";
    return 0;
  }
  vm.up(o.recreate, out, err);
  return 0;
}

int vm_down(const VmOptions& o, std::ostream& out, std::ostream&) {
  Vm vm(o);
  const bool was_running = vm.stop(out);
  out << vm.label() << (was_running ? ": stopped" : ": not running") << "\n";
  return 0;
}

int vm_status(const VmOptions& o, std::ostream& out, std::ostream&) {
  Vm vm(o);
  const auto& s = vm.settings();
  if (auto p = vm.pid()) {
    out << vm.label() << ": running (pid " << *p << "), ssh " << s.ssh_user << "@127.0.0.1:" << s.ssh_port
        << ", " << vm.paths().dir.string() << "\n";
    return 0;
  }
  out << vm.label() << ": not running (" << vm.paths().dir.string()
      << (fs::exists(vm.paths().disk) ? ", disk kept" : ", no disk yet") << ")\n";
  return kNotRunning;
}

int vm_cleanup(const VmOptions& o, std::ostream& out, std::ostream&) {
  Vm vm(o);
  if (auto p = vm.pid()) {
    out << vm.label() << ": running (pid " << *p << "); nothing is stale (`patchbay vm down` stops it)\n";
    return 0;
  }
  auto gone = vm.remove_runtime_files();
  for (auto& g : gone) out << vm.label() << ": removed stale " << g << "\n";
  if (gone.empty()) out << vm.label() << ": nothing to clean up\n";
  return 0;
}

int vm_ssh(const VmOptions& o, std::ostream&, std::ostream& err) {
  Vm vm(o);
  if (!vm.pid()) {
    err << "patchbay: " << vm.label() << " is not running (`patchbay vm up` starts it)\n";
    return kNotRunning;
  }
  return vm.ssh(o.args);
}

int vm_run(const VmOptions& o, std::ostream& out, std::ostream& err) {
  Vm vm(o);
  if (!vm.pid()) vm.up(false, out, err);
  const auto& p = vm.paths();
  // The guest runs this very executable from the shared work dir (same Debian release, same libraries).
  const fs::path bin_dir = p.work / ".bin";
  fs::create_directories(bin_dir);
  fs::copy_file("/proc/self/exe", bin_dir / "patchbay", fs::copy_options::overwrite_existing);
  fs::permissions(bin_dir / "patchbay", static_cast<fs::perms>(0755));
  std::string cmd = "cd /app && NETSIM_IN_VM=1 /work/.bin/patchbay run --work-dir /work/runs";
  for (const auto& a : o.args) {
    std::error_code ec;
    if (a.rfind("-", 0) != 0 && fs::exists(a, ec)) {
      const fs::path abs = fs::absolute(a).lexically_normal();
      const fs::path rel = abs.lexically_relative(p.project);
      if (rel.empty() || rel.native().rfind("..", 0) == 0)
        throw ConfigError("vm run", "'" + a + "' is outside the project root " + p.project.string() +
                                        ", the only directory the VM sees (as /app)");
      cmd += " " + sh_quote("/app/" + rel.string());
    } else {
      cmd += " " + sh_quote(a);
    }
  }
  out << vm.label() << ": " << cmd << "\n";
  const int rc = vm.ssh({cmd});
  out << vm.label() << ": runs are in " << (p.work / "runs").string()
      << " (`patchbay vm serve` shows them)\n";
  return rc;
}

int vm_serve(const VmOptions& o, std::ostream&, std::ostream&) {
  Vm vm(o);
  server::ServeOptions so;
  so.outdir = vm.paths().work / "runs";
  fs::create_directories(*so.outdir);
  if (!o.bind.empty()) so.bind = o.bind;
  return server::serve_command(so);
}

}  // namespace patchbay::vm
