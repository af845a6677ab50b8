// Shared by the CLI tests: runs the real `patchbay` binary in a scratch project directory.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace cli_test {

namespace fs = std::filesystem;
using json = nlohmann::json;

inline const fs::path kCli = PATCHBAY_CLI;
inline const fs::path kHolepunch = PB_HOLEPUNCH;
inline const fs::path kSource = PATCHBAY_SOURCE_DIR;

inline std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline json read_json(const fs::path& p) {
  std::ifstream f(p);
  EXPECT_TRUE(f.good()) << p;
  return f ? json::parse(f) : json();
}

inline std::string quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

struct Result {
  int code;
  std::string out, err;
  double seconds;
};

// A scratch project directory with its own work dir; removed at the end.
struct Scratch {
  fs::path dir;
  Scratch() {
    dir = fs::temp_directory_path() / ("pb-runner-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
  void write(const std::string& rel, const std::string& text) const {
    fs::create_directories((dir / rel).parent_path());
    std::ofstream(dir / rel) << text;
  }
  fs::path work() const { return dir / "work"; }
  fs::path latest() const { return fs::canonical(work() / "latest"); }
  // `env` prefixes the command (e.g. "env PATH=/usr/bin:/bin").
  Result run(const std::string& args, const std::string& env = "") const {
    auto t0 = std::chrono::steady_clock::now();
    std::string cmd = "cd " + quote(dir.string()) + " && " + env + " " + quote(kCli.string()) + " " + args +
                      " >" + quote((dir / "cli.out").string()) + " 2>" + quote((dir / "cli.err").string());
    int st = std::system(cmd.c_str());
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return {WIFEXITED(st) ? WEXITSTATUS(st) : 128, slurp(dir / "cli.out"), slurp(dir / "cli.err"), secs};
  }
};

// Starts the CLI in the background in `dir` with stream `fd` (1 or 2) going to dir/file.
inline pid_t spawn_cli(const fs::path& dir, std::vector<std::string> args, int fd, const std::string& file) {
  args.insert(args.begin(), "patchbay");
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::chdir(dir.c_str()) != 0) ::_exit(126);
    int out = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(out, fd);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(kCli.c_str(), argv.data());
    ::_exit(127);
  }
  return pid;
}

inline std::string topo() {
  return R"toml(
[[router]]
name = "dc"
[device.server.eth0]
gateway = "dc"
[device.client.eth0]
gateway = "dc"
)toml";
}

}  // namespace cli_test
