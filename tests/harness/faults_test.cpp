// Faults (issue 11): SIGKILL a process in the middle of a build, of a transfer through the link
// engine, and of a sim run by the CLI. Nothing can clean up after SIGKILL, so what must hold is
// that nothing of it was ever owned by anyone else: within 1 s no process it started is alive, no
// network namespace it created is held by anyone, and no mount or /tmp entry of it remains.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "snapshot.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Every network namespace some task or open fd of the machine refers to, with who holds it
// ("<pid>(<comm>)"), so a failure names the holder.
std::map<std::string, std::string> held_netns() {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (auto& p : fs::directory_iterator("/proc", ec)) {
    const auto name = p.path().filename().string();
    if (name.empty() || name[0] < '0' || name[0] > '9') continue;
    std::string comm;
    auto link = [&](const std::string& path) {
      char buf[64];
      ssize_t n = ::readlink(path.c_str(), buf, sizeof buf - 1);
      if (n <= 5 || std::string_view(buf, 5) != "net:[") return;
      if (comm.empty()) std::getline(std::ifstream(p.path() / "comm"), comm);
      auto& who = out[std::string(buf, static_cast<std::size_t>(n))];
      const auto me = name + "(" + comm + ")";
      if (who.find(me) == std::string::npos) who += (who.empty() ? "" : ",") + me;
    };
    for (auto& t : fs::directory_iterator(p.path() / "task", ec)) link((t.path() / "ns/net").string());
    for (auto& f : fs::directory_iterator(p.path() / "fd", ec)) link(f.path().string());
  }
  return out;
}

// A process that exists and is not a zombie.
bool alive(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(f, s)) return false;
  auto close = s.rfind(')');
  return close != std::string::npos && close + 2 < s.size() && s[close + 2] != 'Z';
}

// Processes whose command line contains `marker`, alive.
std::vector<pid_t> with_marker(const std::string& marker) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (auto& p : fs::directory_iterator("/proc", ec)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(p.path().filename().c_str()));
    if (pid <= 0 || pid == ::getpid()) continue;
    auto cmd = slurp(p.path() / "cmdline");
    for (auto& c : cmd)
      if (c == '\0') c = ' ';
    if (cmd.find(marker) != std::string::npos && alive(pid)) out.push_back(pid);
  }
  return out;
}

struct World {
  std::map<std::string, std::string> netns;  // namespace -> holders
  pbharness::Snapshot self;                  // mounts, interfaces, nft tables, /tmp
};

World world() {
  return {held_netns(), pbharness::take_snapshot()};
}

pid_t spawn(const std::vector<std::string>& argv, const fs::path& err) {
  std::vector<char*> a;
  for (auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, a[0], &fa, nullptr, a.data(), environ), 0) << argv[0];
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

// Kills `pid` once `ready()` holds, then waits up to 1 s for the world to be as before; returns
// what still differs ("" when nothing), with `children` (pids the victim reported) included.
std::string kill_and_compare(pid_t pid, const World& before, const std::function<bool()>& ready,
                             const std::function<std::vector<pid_t>()>& children, const std::string& what) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  while (!ready() && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (!ready()) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return what + ": never got ready";
  }
  const auto kids = children();
  if (kids.empty()) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return what + ": reported no child (the check would be empty)";
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  const auto killed = Clock::now();
  std::string diff;
  for (;;) {
    diff.clear();
    for (pid_t k : kids)
      if (alive(k)) diff += "child " + std::to_string(k) + " alive; ";
    const auto now = world();
    std::string nsd;
    for (auto& [n, who] : now.netns)
      if (!before.netns.count(n)) nsd += " " + n + " by " + who;
    if (!nsd.empty()) diff += "namespaces still held:" + nsd + "; ";
    auto d = before.self.diff(now.self);
    // Only machine-wide state counts here: this process's own fds/threads/children do not change.
    if (before.self.mounts != now.self.mounts || before.self.interfaces != now.self.interfaces ||
        before.self.nft_tables != now.self.nft_tables || before.self.tmp_entries != now.self.tmp_entries)
      diff += d;
    if (diff.empty() || Clock::now() - killed > std::chrono::seconds(1)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return diff.empty() ? "" : what + ": " + diff;
}

std::vector<pid_t> reported_children(const fs::path& report) {
  std::vector<pid_t> out;
  std::istringstream in(slurp(report));
  std::string word;
  while (in >> word)
    if (word == "child" && in >> word) out.push_back(static_cast<pid_t>(std::stoi(word)));
  return out;
}

struct TempDir {
  fs::path dir;
  TempDir() {
    char t[] = "/tmp/harness-faults-XXXXXX";
    dir = ::mkdtemp(t);
  }
  ~TempDir() { fs::remove_all(dir); }
};

void victim_case(const std::string& phase) {
  TempDir t;
  const auto report = t.dir / "report";
  const auto before = world();
  pid_t pid = spawn({HARNESS_VICTIM, phase, report.string()}, t.dir / "err");
  ASSERT_GT(pid, 0);
  auto diff = kill_and_compare(
      pid, before, [&] { return slurp(report).find("ready") != std::string::npos; },
      [&] { return reported_children(report); }, phase);
  EXPECT_EQ(diff, "") << slurp(t.dir / "err");
}

TEST(Faults, SigkillDuringABuildLeavesNothing) {
  victim_case("build");
}

TEST(Faults, SigkillDuringATransferThroughTheEngineLeavesNothing) {
  victim_case("transfer");
}

TEST(Faults, SigkillOfTheCliDuringASimLeavesNothing) {
  TempDir t;
  {
    std::ofstream f(t.dir / "kill.toml");
    f << "[[router]]\nname = \"dc\"\n[device.client.eth0]\ngateway = \"dc\"\nimpair = \"wifi\"\n"
         "[device.server.eth0]\ngateway = \"dc\"\n"
         "[[step]]\naction = \"spawn\"\nid = \"bg\"\ndevice = \"server\"\ncmd = [\"sleep\", \"3621\"]\n"
         "[[step]]\naction = \"run\"\ndevice = \"client\"\ncmd = [\"sleep\", \"3622\"]\n";
  }
  const auto before = world();
  const auto err = t.dir / "err";
  pid_t pid = spawn(
      {PATCHBAY_CLI, "run", (t.dir / "kill.toml").string(), "--work-dir", (t.dir / "work").string()}, err);
  ASSERT_GT(pid, 0);
  auto diff = kill_and_compare(
      pid, before,
      [&] {
        return slurp(err).find("action=run") != std::string::npos && !with_marker("sleep 3622").empty();
      },
      [&] {
        auto a = with_marker("sleep 3621");
        auto b = with_marker("sleep 3622");
        a.insert(a.end(), b.begin(), b.end());
        return a;
      },
      "sim");
  EXPECT_EQ(diff, "") << slurp(err);
}

}  // namespace
