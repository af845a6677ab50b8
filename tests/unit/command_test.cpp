#include <gtest/gtest.h>

#include <algorithm>

#include "patchbay/exec.hpp"
#include "sys/process.hpp"

using namespace patchbay;

TEST(Command, QuotesArgumentsLikeAShell) {
  Command c("sh");
  c.args({"-c", "echo 'hi there'", "plain", ""});
  EXPECT_EQ(c.to_string(), "sh -c 'echo '\\''hi there'\\''' plain ''");
}

TEST(Command, EnvironmentAppliesEditsInOrder) {
  Command c("env");
  c.env_clear().env("A", "1").env("B", "2").env_remove("A").env("B", "3");
  auto env = c.environment();
  EXPECT_EQ(env, std::vector<std::string>{"B=3"});
}

TEST(Command, InheritsProcessEnvironmentUnlessCleared) {
  ::setenv("PATCHBAY_TEST_VAR", "x", 1);
  auto env = Command("true").environment();
  EXPECT_NE(std::find(env.begin(), env.end(), "PATCHBAY_TEST_VAR=x"), env.end());
}

TEST(FindProgram, SearchesPathLikeExecvp) {
  EXPECT_EQ(sys::find_program("sh", "/nonexistent:/bin:/usr/bin").value_or(""), "/bin/sh");
  EXPECT_EQ(sys::find_program("./x", "/bin").value_or(""), "./x");
  EXPECT_FALSE(sys::find_program("no-such-program-xyz", "/bin:/usr/bin"));
}
