// sys::write_all (the one EINTR / short-write loop every writer uses) and the once-per-process
// RLIMIT_NOFILE raise (docs/logging.md: three descriptors per logging node).
#include "sys/io.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "events/writer.hpp"
#include "patchbay/lab.hpp"

namespace patchbay::sys {
namespace {

TEST(SysIo, WriteAllWritesEveryByteThroughAPipeSmallerThanTheData) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  // 1 MiB through a 64 KiB pipe: write(2) returns short counts while the reader catches up.
  std::string data(1 << 20, '\0');
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
  std::string got;
  std::thread reader([&] {
    char buf[4096];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) got.append(buf, static_cast<std::size_t>(n));
  });
  EXPECT_TRUE(write_all(p[1], data));
  ::close(p[1]);
  reader.join();
  ::close(p[0]);
  EXPECT_EQ(got.size(), data.size());
  EXPECT_EQ(got, data);
}

TEST(SysIo, WriteAllReportsFailureWithErrno) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  ::close(p[0]);
  struct sigaction ign {
  }, old{};
  ign.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGPIPE, &ign, &old), 0);
  errno = 0;
  EXPECT_FALSE(write_all(p[1], "x"));
  EXPECT_EQ(errno, EPIPE);
  ::sigaction(SIGPIPE, &old, nullptr);
  ::close(p[1]);
  errno = 0;
  EXPECT_FALSE(write_all(-1, "x"));
  EXPECT_EQ(errno, EBADF);
  EXPECT_TRUE(write_all(-1, ""));  // nothing to write is no error
}

TEST(SysIo, RaiseNofileLimitOnceLiftsTheSoftLimitToTheHardOne) {
  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  const NofileLimit first = raise_nofile_limit_once();
  rlimit after{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, after.rlim_max);
  EXPECT_EQ(first.soft, after.rlim_cur);
  EXPECT_EQ(first.hard, after.rlim_max);
  EXPECT_GE(after.rlim_cur, before.rlim_cur);
  // Once per process: a later lowering by the program is kept.
  rlimit lowered = after;
  lowered.rlim_cur = std::min<rlim_t>(after.rlim_max, 512);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lowered), 0);
  const NofileLimit again = raise_nofile_limit_once();
  EXPECT_EQ(again.soft, first.soft);
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, lowered.rlim_cur);
  ::setrlimit(RLIMIT_NOFILE, &before);
}

// The first lab that opens its output raises the limit. Checked in a fresh process (this binary
// re-run with a filter), since the raise happens once per process and another test may have
// done it already here.
TEST(SysIoChild, FirstOutputWriterRaisesTheSoftLimit) {
  const char* dir = std::getenv("PB_NOFILE_CHILD_DIR");
  if (!dir) GTEST_SKIP() << "run by SysIo.FirstOutputWriterRaisesTheSoftLimit";
  rlimit rl{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  ASSERT_GT(rl.rlim_max, 256u);
  rl.rlim_cur = 256;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &rl), 0);
  { events::OutputWriter w(OutDir::exact(dir), "lab", "lab 'test'"); }
  rlimit after{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &after), 0);
  EXPECT_EQ(after.rlim_cur, after.rlim_max);
}

TEST(SysIo, FirstOutputWriterRaisesTheSoftLimit) {
  const auto dir = std::filesystem::temp_directory_path() / ("pb-nofile-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::string cmd = "PB_NOFILE_CHILD_DIR='" + dir.string() + "' /proc/" + std::to_string(::getpid()) +
                    "/exe --gtest_filter=SysIoChild.FirstOutputWriterRaisesTheSoftLimit >/dev/null 2>&1";
  const int st = std::system(cmd.c_str());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

}  // namespace
}  // namespace patchbay::sys
