// Sim discovery (SPEC 15.8) and run/sim directory naming (SPEC 15.9).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <fstream>

#include "patchbay/error.hpp"
#include "runner/discovery.hpp"
#include "runner/rundir.hpp"
#include "runner_test_util.hpp"

using namespace patchbay;
using namespace patchbay::runner;
namespace fs = std::filesystem;
using runner_test::error_of;
using runner_test::TempDir;

namespace {

using Paths = std::vector<fs::path>;

std::chrono::system_clock::time_point at(std::time_t secs) {
  return std::chrono::system_clock::from_time_t(secs);
}

}  // namespace

TEST(RunnerDiscovery, ExpandsDirectoriesAndDeduplicates) {
  TempDir d;
  auto a = d.touch("sims/a.toml");
  auto b = d.touch("sims/b.toml");
  d.touch("sims/skip.txt");
  auto found = expand_inputs({(d.path / "sims").string(), a.string()});
  EXPECT_EQ(found, (Paths{a, b}));
}

TEST(RunnerDiscovery, ExplicitFilesKeepAnyExtensionAndMissingOnesFail) {
  TempDir d;
  auto odd = d.touch("x/sim.conf");
  auto nested = d.touch("x/deeper/n.toml");
  EXPECT_EQ(expand_inputs({odd.string(), (d.path / "x").string()}), (Paths{nested, odd}));
  std::string missing = (d.path / "nope.toml").string();
  std::string err = error_of([&] { expand_inputs({missing}); });
  EXPECT_NE(err.find(missing), std::string::npos) << err;
}

TEST(RunnerDiscovery, ConfigGlobFindsNestedSims) {
  TempDir d;
  d.touch("patchbay.toml", "simulations = \"sims/**\"\nother = 1\n");
  auto one = d.touch("sims/one.toml");
  auto two = d.touch("sims/deep/er/two.toml");
  d.touch("sims/README.md");
  d.touch("elsewhere/three.toml");
  std::vector<std::string> lines;
  auto found = discover_sims(d.path, [&](const std::string& l) { lines.push_back(l); });
  EXPECT_EQ(found, (Paths{two, one}));
  EXPECT_EQ(lines, (std::vector<std::string>{"patchbay: using simulations from sims/**"}));
}

TEST(RunnerDiscovery, ConfigArrayMixesPathsAndGlobs) {
  TempDir d;
  d.touch("patchbay.toml", "simulations = [\"a/x.toml\", \"b/*.toml\", \"c\"]\n");
  auto x = d.touch("a/x.toml");
  auto y = d.touch("b/y.toml");
  d.touch("b/sub/not-matched.toml");  // `*` does not cross '/'
  auto z = d.touch("c/z/z.toml");
  EXPECT_EQ(discover_sims(d.path, nullptr), (Paths{x, y, z}));
}

TEST(RunnerDiscovery, PatternMatchingNothingIsAnErrorNamingIt) {
  TempDir d;
  d.touch("patchbay.toml", "simulations = [\"sims/*.toml\", \"missing/**/*.toml\"]\n");
  d.touch("sims/ok.toml");
  std::string err = error_of([&] { discover_sims(d.path, nullptr); });
  EXPECT_NE(err.find("'missing/**/*.toml'"), std::string::npos) << err;
}

TEST(RunnerDiscovery, FallsBackToDotPatchbayToml) {
  TempDir d;
  d.touch(".patchbay.toml", "simulations = \"s.toml\"\n");
  auto s = d.touch("s.toml");
  EXPECT_EQ(discover_sims(d.path, nullptr), (Paths{s}));
}

TEST(RunnerDiscovery, NoConfigMeansNoSimFiles) {
  TempDir d;
  std::string err = error_of([&] { discover_sims(d.path, nullptr); });
  EXPECT_EQ(err.rfind("no sim files found", 0), 0u) << err;
}

TEST(RunnerDiscovery, GlobMatchRules) {
  EXPECT_TRUE(glob_match("sims/*.toml", "sims/a.toml"));
  EXPECT_FALSE(glob_match("sims/*.toml", "sims/x/a.toml"));
  EXPECT_TRUE(glob_match("sims/**", "sims"));
  EXPECT_TRUE(glob_match("sims/**", "sims/x/y/a.toml"));
  EXPECT_TRUE(glob_match("sims/**/*.toml", "sims/a.toml"));
  EXPECT_TRUE(glob_match("sims/**/*.toml", "sims/x/y/a.toml"));
  EXPECT_FALSE(glob_match("sims/**/*.toml", "other/a.toml"));
  EXPECT_TRUE(glob_match("sim?.toml", "sim1.toml"));
  EXPECT_FALSE(glob_match("sim?.toml", "sim12.toml"));
  EXPECT_FALSE(glob_match("a?b", "a/b"));
  EXPECT_TRUE(glob_match("sim[0-9].toml", "sim7.toml"));
  EXPECT_FALSE(glob_match("sim[0-9].toml", "simx.toml"));
  EXPECT_TRUE(glob_match("sim[!0-9].toml", "simx.toml"));
  EXPECT_TRUE(glob_match("*-nat*", "home-nat-v4"));
  EXPECT_FALSE(glob_match("*", "a/b"));
}

TEST(RunnerRunDir, TimestampIsUtcIso8601) {
  EXPECT_EQ(utc_timestamp(at(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(utc_timestamp(at(1700000000)), "2023-11-14T22:13:20Z");
}

TEST(RunnerRunDir, SameSecondGetsASuffixAndLatestFollows) {
  TempDir d;
  fs::path work = d.path / "work";
  auto first = make_run_root(work, at(1700000000));
  EXPECT_EQ(first, work / "sim-231114-221320");
  EXPECT_TRUE(fs::is_directory(first));
  EXPECT_EQ(fs::read_symlink(work / "latest"), fs::path("sim-231114-221320"));
  auto second = make_run_root(work, at(1700000000));
  EXPECT_EQ(second, work / "sim-231114-221320-1");
  EXPECT_TRUE(fs::is_directory(second));
  fs::path target = fs::read_symlink(work / "latest");
  EXPECT_TRUE(target.is_relative());
  EXPECT_EQ(target, fs::path("sim-231114-221320-1"));
  EXPECT_TRUE(fs::equivalent(work / "latest", second));
  EXPECT_EQ(make_run_root(work, at(1700000000)), work / "sim-231114-221320-2");
  std::size_t entries = 0;
  for (auto& e : fs::directory_iterator(work))
    entries += e.path().filename().string().starts_with(".") ? 100 : 1;
  EXPECT_EQ(entries, 4u);  // three run roots + latest, no temp symlink left behind
}

TEST(RunnerRunDir, SimDirsAreSanitisedAndSuffixed) {
  TempDir d;
  EXPECT_EQ(make_sim_dir(d.path, "sim-a"), d.path / "sim-a");
  EXPECT_EQ(make_sim_dir(d.path, "sim-a"), d.path / "sim-a-1");
  EXPECT_TRUE(fs::is_directory(d.path / "sim-a-1"));
  EXPECT_EQ(make_sim_dir(d.path, "iperf / 2"), d.path / "iperf___2");
  EXPECT_EQ(sanitize_name(""), "sim");
  EXPECT_EQ(sanitize_name("a.b_c-D9"), "a.b_c-D9");
  EXPECT_EQ(sanitize_name(".."), "__");
}
