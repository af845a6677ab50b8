// Logs through the CLI: the runner's CommandStarted / CommandCompleted timeline events in the
// device's files (SPEC 13.5, 17.15 item 134) and `patchbay fmt-log` (SPEC 15.10, items 133, 151).
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const fs::path kCli = PATCHBAY_CLI;

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::vector<json> jsonl(const fs::path& p) {
  std::ifstream f(p);
  std::vector<json> out;
  for (std::string l; std::getline(f, l);) out.push_back(json::parse(l));
  return out;
}

struct Result {
  int code;
  std::string out, err;
};

struct Scratch {
  fs::path dir;
  Scratch() {
    dir = fs::temp_directory_path() / ("pb-logcli-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories((dir / rel).parent_path());
    std::ofstream(dir / rel, std::ios::binary) << text;
  }
  // `args` is shell text (redirections allowed).
  Result run(const std::string& args) const {
    std::string cmd = "cd " + quote(dir.string()) + " && " + quote(kCli.string()) + " " + args + " >" +
                      quote((dir / "cli.out").string()) + " 2>" + quote((dir / "cli.err").string());
    int st = std::system(cmd.c_str());
    return {WIFEXITED(st) ? WEXITSTATUS(st) : 128, slurp(dir / "cli.out"), slurp(dir / "cli.err")};
  }
};

// Two tracing records (one with spans, one without a message) and the §13.4 text of each.
const std::string kRec1 =
    R"({"timestamp":"2026-03-05T12:00:00.000001Z","level":"INFO","fields":{"x":1},"target":"foo",)"
    R"("span":{"name":"s2","y":2},"spans":[{"name":"s1","z":3},{"name":"s2","y":2}]})";
const std::string kRec1Ansi =
    "\x1b[2m2026-03-05T12:00:00.000001Z\x1b[0m \x1b[32m INFO\x1b[0m "
    "\x1b[1ms1\x1b[0m\x1b[1m{\x1b[0m\x1b[3mz\x1b[0m\x1b[2m=\x1b[0m3\x1b[1m}\x1b[0m\x1b[2m:\x1b[0m"
    "\x1b[1ms2\x1b[0m\x1b[1m{\x1b[0m\x1b[3my\x1b[0m\x1b[2m=\x1b[0m2\x1b[1m}\x1b[0m\x1b[2m:\x1b[0m"
    " \x1b[2mfoo\x1b[0m\x1b[2m:\x1b[0m \x1b[3mx\x1b[0m\x1b[2m=\x1b[0m1\n";
const std::string kRec1Plain = "2026-03-05T12:00:00.000001Z  INFO s1{z=3}:s2{y=2}: foo: x=1\n";
const std::string kRec2 =
    R"({"timestamp":"2026-03-05T12:00:01.000000Z","level":"WARN","fields":{"message":"slow","ms":250},"target":"app"})";
const std::string kRec2Plain = "2026-03-05T12:00:01.000000Z  WARN app: slow ms=250\n";

bool wait_for_text(const fs::path& p, const std::string& needle, std::chrono::seconds limit = 10s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (slurp(p).find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

void append(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary | std::ios::app) << text;
}

}  // namespace

// Item 134 (runner half) and item 133 (fmt-log output == the lab's .tracing.log).
TEST(LogCli, StepCommandsAreTimelineEventsInTheDevicesFiles) {
  Scratch s;
  s.write("cmds.toml", R"toml(
[[router]]
name = "dc"
[device.server.eth0]
gateway = "dc"
[device.client.eth0]
gateway = "dc"

[[step]]
action = "spawn"
id = "srv"
device = "server"
cmd = ["sleep", "30"]
[[step]]
action = "run"
id = "hello"
device = "client"
cmd = ["sh", "-c", "echo hi"]
[[step]]
action = "spawn"
id = "bg"
device = "client"
cmd = ["sh", "-c", "exit 4"]
[[step]]
action = "wait-for"
id = "bg"
)toml");
  auto r = s.run("run cmds.toml --work-dir work");
  ASSERT_EQ(r.code, 0) << r.err;
  const fs::path sim = fs::canonical(s.dir / "work/latest") / "cmds";

  auto client = jsonl(sim / "device.client.events.jsonl");
  ASSERT_EQ(client.size(), 4u) << slurp(sim / "device.client.events.jsonl");
  EXPECT_EQ(client[0]["kind"], "CommandStarted");
  EXPECT_EQ(client[0]["device"], "client");
  EXPECT_EQ(client[0]["step_id"], "hello");
  EXPECT_EQ(client[0]["cmd"], "sh -c 'echo hi'");
  EXPECT_EQ(client[1]["kind"], "CommandCompleted");
  EXPECT_EQ(client[1]["step_id"], "hello");
  EXPECT_EQ(client[1]["exit_code"], 0);
  EXPECT_EQ(client[2]["kind"], "CommandStarted");
  EXPECT_EQ(client[2]["step_id"], "bg");
  EXPECT_EQ(client[3]["kind"], "CommandCompleted");
  EXPECT_EQ(client[3]["exit_code"], 4);
  for (const auto& e : client) EXPECT_TRUE(e.contains("timestamp"));

  // The spawned server is terminated at the end of the sim: 128 + SIGTERM.
  auto server = jsonl(sim / "device.server.events.jsonl");
  ASSERT_EQ(server.size(), 2u);
  EXPECT_EQ(server[0]["step_id"], "srv");
  EXPECT_EQ(server[1]["kind"], "CommandCompleted");
  EXPECT_EQ(server[1]["exit_code"], 128 + SIGTERM);
  EXPECT_EQ(server[1]["signal"], SIGTERM);

  // The routers logged nothing: no files. The lab's text file is what fmt-log prints.
  EXPECT_FALSE(fs::exists(sim / "router.dc.tracing.jsonl"));
  auto f = s.run("fmt-log " + quote((sim / "device.client.tracing.jsonl").string()));
  EXPECT_EQ(f.code, 0) << f.err;
  EXPECT_EQ(f.out, slurp(sim / "device.client.tracing.log"));
  EXPECT_NE(f.out.find("patchbay::runner::_events::CommandStarted"), std::string::npos) << f.out;
}

TEST(LogCli, FmtLogRendersRecordsAndPassesOtherLinesThrough) {
  Scratch s;
  s.write("x.tracing.jsonl",
          kRec1 + "\nnot json\n{\"opid\":0,\"kind\":\"lab_created\"}\n\n" + kRec2);  // no final \n
  auto r = s.run("fmt-log x.tracing.jsonl");
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, kRec1Ansi + "not json\n{\"opid\":0,\"kind\":\"lab_created\"}\n\n" +
                       "\x1b[2m2026-03-05T12:00:01.000000Z\x1b[0m \x1b[33m WARN\x1b[0m \x1b[2mapp\x1b[0m"
                       "\x1b[2m:\x1b[0m slow \x1b[3mms\x1b[0m\x1b[2m=\x1b[0m250\n");
  auto plain = s.run("fmt-log --no-color x.tracing.jsonl");
  EXPECT_EQ(plain.out, kRec1Plain + "not json\n{\"opid\":0,\"kind\":\"lab_created\"}\n\n" + kRec2Plain);
  // stdin, with or without "-".
  EXPECT_EQ(s.run("fmt-log --no-color - < x.tracing.jsonl").out, plain.out);
  EXPECT_EQ(s.run("fmt-log --no-color < x.tracing.jsonl").out, plain.out);
}

TEST(LogCli, FmtLogRecursiveWritesTextNextToEveryJsonl) {
  Scratch s;
  s.write("runs/a/device.x.tracing.jsonl", kRec1 + "\n");
  s.write("runs/b/c/router.r.tracing.jsonl", kRec2 + "\n");
  s.write("runs/a/events.jsonl", "{\"opid\":0}\n");
  auto r = s.run("fmt-log -r runs");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(slurp(s.dir / "runs/a/device.x.tracing.log"), kRec1Ansi);
  EXPECT_NE(slurp(s.dir / "runs/b/c/router.r.tracing.log").find("slow"), std::string::npos);
  EXPECT_FALSE(fs::exists(s.dir / "runs/a/events.log"));
  EXPECT_NE(r.out.find("device.x.tracing.log"), std::string::npos) << r.out;
  // Rendering again gives the same bytes (the file is replaced, not appended to).
  ASSERT_EQ(s.run("fmt-log --recursive runs").code, 0);
  EXPECT_EQ(slurp(s.dir / "runs/a/device.x.tracing.log"), kRec1Ansi);
}

TEST(LogCli, FmtLogUsageAndFileErrors) {
  Scratch s;
  s.write("runs/x.tracing.jsonl", kRec1 + "\n");
  auto dir = s.run("fmt-log runs");
  EXPECT_EQ(dir.code, 2);
  EXPECT_NE(dir.err.find("use -r"), std::string::npos) << dir.err;
  EXPECT_EQ(s.run("fmt-log -r -f runs").code, 2);
  EXPECT_EQ(s.run("fmt-log -r").code, 2);
  auto missing = s.run("fmt-log nope.jsonl");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("nope.jsonl"), std::string::npos) << missing.err;
  // -r on a file that is no .tracing.jsonl has no .tracing.log twin to write: a usage error, not
  // a wrongly named file (or length_error for a name shorter than the extension).
  s.write("device.x.events.jsonl", kRec1 + "\n");
  s.write("a", kRec1 + "\n");
  for (const char* f : {"device.x.events.jsonl", "a"}) {
    auto r = s.run(std::string("fmt-log -r ") + f);
    EXPECT_EQ(r.code, 2) << f << ": " << r.err;
    EXPECT_NE(r.err.find("tracing.jsonl"), std::string::npos) << r.err;
  }
  EXPECT_EQ(std::vector<fs::path>(fs::directory_iterator(s.dir / "runs"), {}).size(), 1u);
  EXPECT_FALSE(fs::exists(s.dir / "device.xtracing.log"));
  EXPECT_EQ(s.run("fmt-log -r runs/x.tracing.jsonl").code, 0);
  EXPECT_EQ(slurp(s.dir / "runs/x.tracing.log"), kRec1Ansi);
}

// Item 151.
TEST(LogCli, FmtLogFollowPrintsLinesAppendedAfterStart) {
  Scratch s;
  const fs::path log = s.dir / "n.tracing.jsonl", out = s.dir / "follow.out";
  s.write("n.tracing.jsonl", kRec1 + "\n");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::execl(kCli.c_str(), "patchbay", "fmt-log", "-f", "--no-color", log.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  EXPECT_TRUE(wait_for_text(out, kRec1Plain)) << slurp(out);
  // A line arriving in two writes is printed once it is complete.
  append(log, kRec2.substr(0, 20));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(slurp(out), kRec1Plain);
  append(log, kRec2.substr(20) + "\nplain line\n");
  EXPECT_TRUE(wait_for_text(out, kRec2Plain + "plain line\n")) << slurp(out);
  EXPECT_EQ(slurp(out), kRec1Plain + kRec2Plain + "plain line\n");
  ::kill(pid, SIGTERM);
  int st = 0;
  ::waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFSIGNALED(st));  // it was still following
}

// Review item 9: a file replaced by another under the same name (rename over it) while followed:
// what was appended to the old file just before the switch is printed, then the new file.
TEST(LogCli, FmtLogFollowKeepsTheOldFilesLastLinesWhenReplaced) {
  Scratch s;
  const fs::path log = s.dir / "n.tracing.jsonl", out = s.dir / "follow.out", next = s.dir / "next.tmp";
  s.write("n.tracing.jsonl", "first\n");
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(fd, STDOUT_FILENO);
    ::execl(kCli.c_str(), "patchbay", "fmt-log", "-f", "--no-color", log.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_TRUE(wait_for_text(out, "first\n")) << slurp(out);
  for (int round = 0; round < 3; ++round) {
    // Append to the followed file and replace it at once, so the follower sees both in one look.
    const std::string tag = std::to_string(round);
    std::ofstream(next, std::ios::binary) << "new " << tag << "\n";
    append(log, "old " + tag + "\n");
    fs::rename(next, log);
    ASSERT_TRUE(wait_for_text(out, "new " + tag + "\n")) << slurp(out);
  }
  EXPECT_EQ(slurp(out), "first\nold 0\nnew 0\nold 1\nnew 1\nold 2\nnew 2\n");
  ::kill(pid, SIGTERM);
  int st = 0;
  ::waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFSIGNALED(st));
}
