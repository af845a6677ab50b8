// `patchbay serve` and `patchbay run --bind/--open` as a user runs them (SPEC 15.10): the real
// binary in the background, its output read from files, stopped with a signal. The `run` tests
// build a lab (a user namespace, or root).
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <regex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server_test_util.hpp"

extern char** environ;

namespace fs = std::filesystem;
using json = nlohmann::json;
using pbtest::TempDir;

namespace {

const fs::path kCli = PATCHBAY_CLI;

// The CLI in the background, stdout and stderr in files under `dir`.
class Cli {
 public:
  Cli(const fs::path& dir, std::vector<std::string> args, std::vector<std::string> env = {})
      : out_(dir / "cli.out"), err_(dir / "cli.err") {
    // Everything the child needs is prepared here: between fork and exec only async-signal-safe
    // calls are allowed in a process with threads.
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string kv = *e;
      auto key = kv.substr(0, kv.find('=') + 1);
      if (std::none_of(env.begin(), env.end(), [&](const std::string& o) { return o.rfind(key, 0) == 0; }))
        envs.push_back(kv);
    }
    envs.insert(envs.end(), env.begin(), env.end());
    std::vector<char*> envp;
    for (auto& kv : envs) envp.push_back(kv.data());
    envp.push_back(nullptr);
    std::vector<char*> argv{const_cast<char*>(kCli.c_str())};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      // A test that aborts (a sanitizer report, a crash) skips ~Cli: the server must not outlive it.
      if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) ::_exit(125);
      if (::chdir(dir.c_str()) != 0) ::_exit(126);
      int o = ::open(out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int e = ::open(err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(o, 1);
      ::dup2(e, 2);
      ::execve(kCli.c_str(), argv.data(), envp.data());
      ::_exit(127);
    }
  }
  ~Cli() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::string out() const { return pbtest::slurp(out_); }
  std::string err() const { return pbtest::slurp(err_); }
  // The groups of the first match of `re` in stdout or stderr, waiting up to `timeout` for it.
  // Copies, not a std::smatch: the next call replaces the text a match would point into.
  std::optional<std::vector<std::string>> wait_for(const std::regex& re, bool on_stderr,
                                                   std::chrono::seconds timeout = std::chrono::seconds(60)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      const std::string text = on_stderr ? err() : out();
      std::smatch m;
      if (std::regex_search(text, m, re)) return std::vector<std::string>(m.begin(), m.end());
      if (exited_ || poll_exit()) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return std::nullopt;
  }
  void signal(int sig) const { ::kill(pid_, sig); }
  // The exit code, or -1 when the process had to be killed after `timeout`.
  int wait(std::chrono::seconds timeout = std::chrono::seconds(60)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (!exited_ && !poll_exit() && std::chrono::steady_clock::now() < end)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (!exited_) return -1;
    return code_;
  }

 private:
  bool poll_exit() {
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) != pid_) return false;
    exited_ = true;
    code_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return true;
  }
  fs::path out_, err_;
  pid_t pid_ = -1;
  bool exited_ = false;
  int code_ = -1;
};

const std::regex kServing(R"(patchbay: serving (.+) at http://127\.0\.0\.1:([0-9]+)/)");
const std::regex kRunUrl(R"(patchbay: http://127\.0\.0\.1:([0-9]+)/)");

json get_json(int port, const std::string& path) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10, 0);
  auto r = c.Get(path);
  return r && r->status == 200 ? json::parse(r->body) : json();
}

const char* kSim = R"([sim]
name = "live"

[[router]]
name = "dc"

[device.box.eth0]
gateway = "dc"

[[step]]
action = "run"
id = "wait"
device = "box"
cmd = ["sleep", "2"]
)";

}  // namespace

TEST(ServeCli, MissingDirectoryExits2) {
  TempDir t;
  Cli cli(t.dir, {"serve", "no-such-dir", "--bind", "127.0.0.1:0"});
  EXPECT_EQ(cli.wait(), 2);
  EXPECT_NE(cli.err().find("directory 'no-such-dir' does not exist"), std::string::npos) << cli.err();
}

TEST(ServeCli, TestdirWithoutPatchbayOutdirExits2) {
  TempDir t;
  Cli cli(t.dir, {"serve", "--testdir", "--bind", "127.0.0.1:0"}, {"PATCHBAY_OUTDIR="});
  EXPECT_EQ(cli.wait(), 2);
  EXPECT_NE(cli.err().find("PATCHBAY_OUTDIR is not set"), std::string::npos) << cli.err();
}

TEST(ServeCli, PortInUseExits3NamingTheAddress) {
  TempDir t;
  auto holder = pbtest::start_server(t.dir);  // holds a port on 127.0.0.1
  const std::string addr = "127.0.0.1:" + std::to_string(holder->port());
  Cli cli(t.dir, {"serve", ".", "--bind", addr});
  EXPECT_EQ(cli.wait(), 3);
  EXPECT_NE(cli.err().find("cannot listen on " + addr + ": Address already in use"), std::string::npos)
      << cli.err();
}

TEST(ServeCli, ServesUntilSigterm) {
  TempDir t;
  t.run("work/inv/sim", 2, "cli-label");
  Cli cli(t.dir, {"serve", "work", "--bind", "127.0.0.1:0"});
  auto m = cli.wait_for(kServing, false);
  ASSERT_TRUE(m) << cli.out() << cli.err();
  EXPECT_EQ((*m)[1], "work");
  const int port = std::stoi((*m)[2]);
  auto runs = get_json(port, "/api/runs");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["label"], "cli-label");
  cli.signal(SIGTERM);
  EXPECT_EQ(cli.wait(std::chrono::seconds(10)), 0);
  EXPECT_TRUE(get_json(port, "/api/runs").is_null());  // nothing listens any more
}

TEST(ServeCli, TestdirServesPatchbayOutdirAndOpenWithoutXdgOpenCarriesOn) {
  TempDir t;
  t.run("outdir/20260305_120000-lab", 1, "from-env");
  fs::create_directories(t.dir / "emptybin");
  Cli cli(t.dir, {"serve", "--testdir", "--bind", "127.0.0.1:0", "--open"},
          {"PATCHBAY_OUTDIR=" + (t.dir / "outdir").string(), "PATH=" + (t.dir / "emptybin").string()});
  auto m = cli.wait_for(kServing, false);
  ASSERT_TRUE(m) << cli.out() << cli.err();
  EXPECT_EQ((*m)[1], (t.dir / "outdir").string());
  EXPECT_TRUE(
      cli.wait_for(std::regex("xdg-open not found; open http://127.0.0.1:[0-9]+/ in a browser"), true));
  auto runs = get_json(std::stoi((*m)[2]), "/api/runs");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["label"], "from-env");
  cli.signal(SIGINT);
  EXPECT_EQ(cli.wait(std::chrono::seconds(10)), 0);
}

// `run --bind` serves the work dir while the sims run: a script can watch the run live.
TEST(ServeCli, RunBindServesTheRunWhileItRuns) {
  TempDir t;
  t.write("live.toml", kSim);
  Cli cli(t.dir, {"run", "--work-dir", "work", "--bind", "127.0.0.1:0", "live.toml"});
  auto m = cli.wait_for(kRunUrl, true);
  ASSERT_TRUE(m) << cli.err();
  const int port = std::stoi((*m)[1]);
  json live;
  // Until the lab's first state.json says "running" (the step sleeps 2 s); null once the run
  // ended and the server with it.
  for (auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       std::chrono::steady_clock::now() < end;) {
    auto runs = get_json(port, "/api/runs");
    if (runs.is_null()) break;
    if (runs.is_array() && !runs.empty() && runs[0]["status"] == "running") {
      live = runs[0];
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_FALSE(live.is_null()) << "no running run seen; stderr: " << cli.err();
  const std::string name = live["name"];
  EXPECT_TRUE(std::regex_match(name, std::regex("sim-[0-9]{6}-[0-9]{6}/live"))) << name;
  EXPECT_EQ(live["invocation"], name.substr(0, name.find('/')));
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(10, 0);
  pbtest::SseParser p;
  pbtest::read_sse(c, "/api/runs/" + name + "/events", {}, p,
                   [](const pbtest::SseParser& q) { return !q.events.empty(); });
  ASSERT_FALSE(p.events.empty());
  EXPECT_EQ(p.events[0].id, 0u);
  EXPECT_EQ(json::parse(p.events[0].data)["kind"], "lab_created");
  EXPECT_EQ(cli.wait(), 0) << cli.err();
  EXPECT_TRUE(get_json(port, "/api/runs").is_null());  // served during the run only
}

// `run --open`: the browser gets the URL, and the server outlives the run until Ctrl-C.
TEST(ServeCli, RunOpenKeepsServingAfterTheRunUntilCtrlC) {
  TempDir t;
  t.write("live.toml", kSim);
  t.write("bin/xdg-open", "#!/bin/sh\necho \"$1\" > \"" + (t.dir / "opened").string() + "\"\n");
  fs::permissions(t.dir / "bin/xdg-open", fs::perms::owner_all);
  const char* path = std::getenv("PATH");
  Cli cli(t.dir, {"run", "--work-dir", "work", "--open", "--bind", "127.0.0.1:0", "live.toml"},
          {"PATH=" + (t.dir / "bin").string() + ":" + (path ? path : "/usr/bin:/bin")});
  auto m = cli.wait_for(kRunUrl, true);
  ASSERT_TRUE(m) << cli.err();
  const int port = std::stoi((*m)[1]);
  ASSERT_TRUE(cli.wait_for(std::regex("run finished; server still running \\(Ctrl-C to exit\\)"), true))
      << cli.err();
  EXPECT_EQ(pbtest::slurp(t.dir / "opened"), "http://127.0.0.1:" + std::to_string(port) + "/\n");
  auto runs = get_json(port, "/api/runs");
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["status"], "stopped");
  cli.signal(SIGINT);
  EXPECT_EQ(cli.wait(std::chrono::seconds(10)), 0) << cli.err();
}
