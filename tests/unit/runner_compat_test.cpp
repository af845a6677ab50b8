// Sim file behaviours kept from the original runner: an empty [sim] name means the file stem, and a
// wait-for on an id no step defines stays in the plan with a warning (it then waits for nothing).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runner/expand.hpp"
#include "runner/sim_file.hpp"
#include "runner_test_util.hpp"

namespace patchbay::runner {
namespace {

using nlohmann::json;
using runner_test::TempDir;

SimFile sim_from(const TempDir& d, const std::string& text) {
  return load_sim(d.touch("compat-sim.toml", text), d.path);
}

TEST(RunnerCompat, EmptySimNameFallsBackToTheFileStem) {
  TempDir d;
  EXPECT_EQ(sim_from(d, "[sim]\nname = \"\"\n").name, "compat-sim");
  EXPECT_EQ(sim_from(d, "[sim]\nname = \"named\"\n").name, "named");
  EXPECT_THROW(sim_from(d, "[sim]\nname = 3\n"), PhaseError);
}

TEST(RunnerCompat, UnknownWaitForIdIsKeptWithAWarning) {
  TempDir d;
  std::vector<std::string> warnings;
  auto steps = expand_steps(sim_from(d, R"(
[[step]]
action = "spawn"
id = "srv"
device = "a"
cmd = ["true"]
[[step]]
action = "wait-for"
id = "svr"
)"),
                            {}, &warnings);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[1]["action"], "wait-for");
  EXPECT_EQ(steps[1]["id"], "svr");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("[[step]] #2"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("wait-for 'svr' names no step"), std::string::npos) << warnings[0];
}

}  // namespace
}  // namespace patchbay::runner
