// Sim file loading and step expansion (SPEC 15.2, 15.3; 17.16 items 136, 142, 146).
#include <unistd.h>

#include <fstream>
#include <functional>

#include <gtest/gtest.h>

#include "runner/expand.hpp"
#include "runner/sim_file.hpp"

namespace patchbay::runner {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    root_ = fs::path("/tmp") /
            ("patchbay-runner-sim-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const fs::path& root() const { return root_; }
  fs::path write(const std::string& rel, const std::string& text) const {
    fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p;
  }

 private:
  fs::path root_;
};

// Runs fn, expecting a PhaseError of `phase` whose message contains every one of `parts`.
void expect_phase_error(const std::function<void()>& fn, const std::string& phase,
                        const std::vector<std::string>& parts) {
  try {
    fn();
    ADD_FAILURE() << "expected PhaseError(" << phase << ")";
  } catch (const PhaseError& e) {
    EXPECT_EQ(e.phase(), phase) << e.what();
    for (auto& p : parts)
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "'" << p << "' not in: " << e.what();
  }
}

// A sim from text, loaded with cwd = the temp dir.
SimFile sim_from(const TempDir& dir, const std::string& text) {
  return load_sim(dir.write("sim.toml", text), dir.root());
}

std::vector<json> expand(const TempDir& dir, const std::string& text,
                         const std::map<std::string, int>& counted = {}) {
  return expand_steps(sim_from(dir, text), counted);
}

const char* kInlineTopo = R"(
[[router]]
name = "dc"
[device.client.eth0]
gateway = "dc"
)";

// ---- load_sim --------------------------------------------------------------------------------

TEST(RunnerSim, InlineTopologyKeepsOnlyLabTablesAndNameDefaultsToStem) {
  TempDir d;
  auto path = d.write("ping-check.toml", std::string(kInlineTopo) + R"(
[[binary]]
name = "relay"
path = "./relay"
[[step]]
action = "wait"
duration = "1s"
)");
  SimFile sim = load_sim(path, d.root());
  EXPECT_EQ(sim.name, "ping-check");
  EXPECT_TRUE(sim.inline_topology);
  EXPECT_FALSE(sim.topology_path.has_value());
  ASSERT_NE(sim.topology, nullptr);
  EXPECT_TRUE(sim.topology->contains("router"));
  EXPECT_TRUE(sim.topology->contains("device"));
  EXPECT_FALSE(sim.topology->contains("step"));
  EXPECT_FALSE(sim.topology->contains("binary"));
  EXPECT_EQ(sim.topology->at_path("device.client.eth0.gateway").value_or(std::string()), "dc");
  ASSERT_EQ(sim.steps.size(), 1u);
  EXPECT_EQ(sim.steps[0], json({{"action", "wait"}, {"duration", "1s"}}));
  ASSERT_EQ(sim.binaries.size(), 1u);
  EXPECT_EQ(sim.binaries[0]["path"], "./relay");
}

TEST(RunnerSim, SimTableNameOverridesStemAndUnknownKeysWarn) {
  TempDir d;
  SimFile sim = sim_from(d, "colour = 1\n[sim]\nname = \"iperf\"\n");
  EXPECT_EQ(sim.name, "iperf");
  EXPECT_FALSE(sim.inline_topology);
  ASSERT_NE(sim.topology, nullptr);
  EXPECT_TRUE(sim.topology->empty());
  ASSERT_EQ(sim.warnings.size(), 1u);
  EXPECT_NE(sim.warnings[0].find("colour"), std::string::npos);
}

TEST(RunnerSim, StepValuesKeepTheirJsonTypes) {
  TempDir d;
  SimFile sim = sim_from(d, R"(
[[step]]
action = "x"
n = 3
f = 1.5
b = true
when = 1979-05-27
list = [1, "a"]
)");
  ASSERT_EQ(sim.steps.size(), 1u);
  EXPECT_TRUE(sim.steps[0]["n"].is_number_integer());
  EXPECT_EQ(sim.steps[0]["n"], 3);
  EXPECT_EQ(sim.steps[0]["f"], 1.5);
  EXPECT_EQ(sim.steps[0]["b"], true);
  EXPECT_EQ(sim.steps[0]["when"], "1979-05-27");
  EXPECT_EQ(sim.steps[0]["list"], json::parse(R"([1, "a"])"));
}

TEST(RunnerSim, TopologyRefLoadsSiblingToposDirFirst) {
  TempDir d;
  auto path = d.write("sims/one/sim.toml", "[sim]\ntopology = \"a\"\n");
  d.write("sims/topos/a.toml", "[[router]]\nname = \"near\"\n");
  d.write("topos/a.toml", "[[router]]\nname = \"cwd\"\n");
  SimFile sim = load_sim(path, d.root());
  ASSERT_TRUE(sim.topology_path.has_value());
  EXPECT_EQ(*sim.topology_path, d.root() / "sims/topos/a.toml");
  EXPECT_EQ(sim.topology->at_path("router[0].name").value_or(std::string()), "near");
  EXPECT_EQ(sim.topology_ref, "a");
  EXPECT_FALSE(sim.inline_topology);
}

TEST(RunnerSim, TopologyRefFallsBackToCwdTopos) {
  TempDir d;
  auto path = d.write("sims/one/sim.toml", "[sim]\ntopology = \"a\"\n");
  d.write("topos/a.toml", "[[router]]\nname = \"cwd\"\n");
  SimFile sim = load_sim(path, d.root());
  EXPECT_EQ(*sim.topology_path, d.root() / "topos/a.toml");
  EXPECT_EQ(sim.topology->at_path("router[0].name").value_or(std::string()), "cwd");
}

TEST(RunnerSim, MissingTopologyRefNamesBothPlaces) {
  TempDir d;
  auto path = d.write("sims/one/sim.toml", "[sim]\ntopology = \"a\"\n");
  expect_phase_error([&] { load_sim(path, d.root()); }, "load-topology",
                     {(d.root() / "sims/topos/a.toml").string(), (d.root() / "topos/a.toml").string()});
}

TEST(RunnerSim, InlineTopologyWithRefIsRejected) {
  TempDir d;
  auto path = d.write("sims/one/sim.toml", "[sim]\ntopology = \"a\"\n[[router]]\nname = \"r\"\n");
  d.write("sims/topos/a.toml", "[[router]]\nname = \"near\"\n");
  expect_phase_error([&] { load_sim(path, d.root()); }, "load-topology", {"inline router/device/region"});
}

TEST(RunnerSim, TopologySyntaxErrorIsLoadTopology) {
  TempDir d;
  auto path = d.write("sims/one/sim.toml", "[sim]\ntopology = \"a\"\n");
  d.write("sims/topos/a.toml", "[[router]]\nname = \n");
  expect_phase_error([&] { load_sim(path, d.root()); }, "load-topology", {"a.toml:2:"});
}

TEST(RunnerSim, ExtendsSearchesSimDirThenParentThenCwd) {
  TempDir d;
  auto path = d.write("sims/one/sim.toml", "[[extends]]\nfile = \"common.toml\"\n");
  auto tpl = [](const std::string& where) {
    return "[[step-template]]\nname = \"t\"\naction = \"run\"\nfrom = \"" + where + "\"\n";
  };
  auto here = d.write("sims/one/common.toml", tpl("sim-dir"));
  auto parent = d.write("sims/common.toml", tpl("parent"));
  d.write("common.toml", tpl("cwd"));
  EXPECT_EQ(load_sim(path, d.root()).templates.at("t")["from"], "sim-dir");
  fs::remove(here);
  EXPECT_EQ(load_sim(path, d.root()).templates.at("t")["from"], "parent");
  fs::remove(parent);
  EXPECT_EQ(load_sim(path, d.root()).templates.at("t")["from"], "cwd");
}

TEST(RunnerSim, ExtendsFirstDefinitionWinsAndSimOverrides) {
  TempDir d;
  d.write("one.toml", R"(
[[binary]]
name = "relay"
path = "one-relay"
[[binary]]
name = "srv"
path = "one-srv"
[[step-template]]
name = "t"
action = "run"
src = "one"
[[step-group]]
name = "g"
[[step-group.step]]
action = "wait"
[prepare]
bins = ["one"]
[[step]]
action = "from-extends"
)");
  d.write("two.toml", R"(
[[binary]]
name = "relay"
path = "two-relay"
[[step-template]]
name = "t"
action = "run"
src = "two"
[[step-template]]
name = "u"
action = "run"
src = "two"
)");
  SimFile sim = sim_from(d, R"(
[[extends]]
file = "one.toml"
[[extends]]
file = "two.toml"
[[binary]]
name = "srv"
path = "sim-srv"
[[step-template]]
name = "u"
action = "run"
src = "sim"
[[prepare]]
bins = ["sim"]
)");
  ASSERT_EQ(sim.binaries.size(), 2u);
  EXPECT_EQ(sim.binaries[0]["path"], "one-relay");
  EXPECT_EQ(sim.binaries[1]["path"], "sim-srv");
  EXPECT_EQ(sim.templates.at("t")["src"], "one");
  EXPECT_EQ(sim.templates.at("u")["src"], "sim");
  ASSERT_EQ(sim.groups.count("g"), 1u);
  EXPECT_EQ(sim.groups.at("g")["step"].size(), 1u);
  ASSERT_EQ(sim.prepare.size(), 2u);
  EXPECT_EQ(sim.prepare[0]["bins"][0], "one");
  EXPECT_EQ(sim.prepare[1]["bins"][0], "sim");
  EXPECT_TRUE(sim.steps.empty());  // extends files contribute no steps
  ASSERT_EQ(sim.warnings.size(), 1u);
  EXPECT_NE(sim.warnings[0].find("'step'"), std::string::npos);
}

TEST(RunnerSim, MissingExtendsListsThreeCandidates) {
  TempDir d;
  auto path = d.write("sims/one/sim.toml", "[[extends]]\nfile = \"nope.toml\"\n");
  expect_phase_error([&] { load_sim(path, d.root()); }, "load-extends",
                     {(d.root() / "sims/one/nope.toml").string(), (d.root() / "sims/nope.toml").string(),
                      (d.root() / "nope.toml").string()});
}

TEST(RunnerSim, SyntaxErrorIsParseSimWithLineAndColumn) {
  TempDir d;
  auto path = d.write("bad.toml", "[sim]\nname = \n");
  expect_phase_error([&] { load_sim(path, d.root()); }, "parse-sim", {path.string() + ":2:"});
}

TEST(RunnerSim, StepThatIsNotATableIsParseSim) {
  TempDir d;
  auto path = d.write("bad.toml", "step = [1]\n");
  expect_phase_error([&] { load_sim(path, d.root()); }, "parse-sim", {"bad.toml", "[[step]] #1"});
}

TEST(RunnerSim, UnreadableFileIsReadSim) {
  TempDir d;
  expect_phase_error([&] { load_sim(d.root() / "missing.toml", d.root()); }, "read-sim", {"missing.toml"});
}

TEST(RunnerSim, RelativePathIsResolvedAgainstCwd) {
  TempDir d;
  d.write("sims/x.toml", "[sim]\nname = \"rel\"\n");
  SimFile sim = load_sim("sims/x.toml", d.root());
  EXPECT_EQ(sim.name, "rel");
  EXPECT_EQ(sim.path, fs::path("sims/x.toml"));
}

TEST(RunnerSim, LooksLikeSimTellsSimsFromTopologies) {
  EXPECT_TRUE(looks_like_sim(toml::parse("[sim]\nname = \"x\"\n")));
  EXPECT_TRUE(looks_like_sim(toml::parse("[[step]]\naction = \"wait\"\n")));
  EXPECT_TRUE(looks_like_sim(toml::parse("[[binary]]\nname = \"b\"\n")));
  EXPECT_FALSE(looks_like_sim(toml::parse(kInlineTopo)));
}

TEST(RunnerSim, CountedDevicesListsOnlyDevicesWithCount) {
  auto t = toml::parse(R"(
[device.fetcher]
count = 3
[device.fetcher.eth0]
gateway = "dc"
[device.single]
count = 1
[device.single.eth0]
gateway = "dc"
[device.plain.eth0]
gateway = "dc"
)");
  EXPECT_EQ(counted_devices(t), (std::map<std::string, int>{{"fetcher", 3}, {"single", 1}}));
}

TEST(RunnerSim, CountedDevicesRejectsBadCount) {
  auto zero = toml::parse("[device.fetcher]\ncount = 0\n");
  expect_phase_error([&] { counted_devices(zero); }, "load-topology", {"fetcher", "0"});
  auto text = toml::parse("[device.peer]\ncount = \"3\"\n");
  expect_phase_error([&] { counted_devices(text); }, "load-topology", {"peer", "\"3\""});
}

// ---- expand_steps ----------------------------------------------------------------------------

const char* kTemplate = R"(
[[step-template]]
name = "fetch"
action = "run"
id = "tpl-id"
device = "tpl-dev"
timeout = "5s"
cmd = ["fetch", "--quiet"]
env = { A = "tpl", B = "tpl" }
captures = { size = { regex = "tpl" }, keep = { regex = "k" } }
requires = ["srv.ready"]
results = { down_bytes = ".size", duration = ".t" }
)";

json expand_one_use(const std::string& call_site) {
  TempDir d;
  auto steps = expand(d, std::string(kTemplate) + "[[step]]\nuse = \"fetch\"\n" + call_site);
  EXPECT_EQ(steps.size(), 1u);
  return steps.empty() ? json() : steps[0];
}

TEST(RunnerExpand, TemplateAloneKeepsItsKeysWithoutName) {
  json s = expand_one_use("");
  EXPECT_EQ(s["action"], "run");
  EXPECT_EQ(s["id"], "tpl-id");
  EXPECT_EQ(s["cmd"], json::parse(R"(["fetch", "--quiet"])"));
  EXPECT_FALSE(s.contains("name"));
  EXPECT_FALSE(s.contains("use"));
}

TEST(RunnerExpand, TemplateCallSiteReplacesIdDeviceTimeout) {
  json s = expand_one_use("id = \"f1\"\ndevice = \"laptop\"\ntimeout = \"9s\"\n");
  EXPECT_EQ(s["id"], "f1");
  EXPECT_EQ(s["device"], "laptop");
  EXPECT_EQ(s["timeout"], "9s");
}

TEST(RunnerExpand, TemplateEnvMergesKeyWiseCallSiteWins) {
  json s = expand_one_use("env = { B = \"call\", C = \"call\" }\n");
  EXPECT_EQ(s["env"], json({{"A", "tpl"}, {"B", "call"}, {"C", "call"}}));
}

TEST(RunnerExpand, TemplateArgsAreAppendedToCmd) {
  json s = expand_one_use("args = [\"http://x\", \"-v\"]\n");
  EXPECT_EQ(s["cmd"], json::parse(R"(["fetch", "--quiet", "http://x", "-v"])"));
  EXPECT_FALSE(s.contains("args"));
}

TEST(RunnerExpand, TemplateCapturesMergeByNameCallSiteWins) {
  json s = expand_one_use("captures = { size = { regex = \"call\" }, extra = { pick = \".a\" } }\n");
  EXPECT_EQ(s["captures"]["size"], json({{"regex", "call"}}));
  EXPECT_EQ(s["captures"]["keep"], json({{"regex", "k"}}));
  EXPECT_EQ(s["captures"]["extra"], json({{"pick", ".a"}}));
}

TEST(RunnerExpand, TemplateRequiresAreAppended) {
  json s = expand_one_use("requires = [\"relay.up\"]\n");
  EXPECT_EQ(s["requires"], json::parse(R"(["srv.ready", "relay.up"])"));
}

TEST(RunnerExpand, TemplateResultsAreReplacedAndDotPrefixUsesFinalId) {
  json s = expand_one_use("id = \"f1\"\nresults = { up_bytes = \".sent\" }\n");
  EXPECT_EQ(s["results"], json({{"up_bytes", "f1.sent"}}));
  json kept = expand_one_use("id = \"f2\"\n");
  EXPECT_EQ(kept["results"], json({{"down_bytes", "f2.size"}, {"duration", "f2.t"}}));
}

TEST(RunnerExpand, DotResultsOnPlainStepUseDeviceAsDefaultId) {
  TempDir d;
  auto steps = expand(d,
                      "[[step]]\naction = \"run\"\ndevice = \"srv\"\ncmd = [\"x\"]\n"
                      "results = { duration = \".t\", latency_ms = \"other.rtt\" }\n");
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0]["id"], "srv");
  EXPECT_EQ(steps[0]["results"], json({{"duration", "srv.t"}, {"latency_ms", "other.rtt"}}));
}

TEST(RunnerExpand, KindBecomesActionAndGenCertsDeviceDefaultsToId) {
  TempDir d;
  auto steps = expand(d, "[[step]]\nkind = \"gen-certs\"\nid = \"relay-cert\"\n");
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0]["action"], "gen-certs");
  EXPECT_FALSE(steps[0].contains("kind"));
  EXPECT_EQ(steps[0]["device"], "relay-cert");
}

TEST(RunnerExpand, GroupSubstitutesVarsAndExpandsNestedTemplate) {
  TempDir d;
  auto steps = expand(d, R"(
[[step-template]]
name = "serve"
action = "spawn"
cmd = ["${binary.relay}", "--name", "${group.device}"]

[[step-group]]
name = "relay-setup"
[[step-group.step]]
kind = "gen-certs"
id = "${group.device}-cert"
[[step-group.step]]
use = "serve"
device = "${group.device}"
args = ["--cert", "${${group.device}-cert.cert_pem_path}", "--port", "${group.port}"]

[[step]]
use = "relay-setup"
vars = { device = "relay", port = 3340 }
)");
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(steps[0]["action"], "gen-certs");
  EXPECT_EQ(steps[0]["id"], "relay-cert");
  EXPECT_EQ(steps[1]["action"], "spawn");
  EXPECT_EQ(steps[1]["device"], "relay");
  EXPECT_EQ(steps[1]["id"], "relay");
  EXPECT_EQ(steps[1]["cmd"], json::parse(R"(["${binary.relay}", "--name", "relay", "--cert",
                                              "${relay-cert.cert_pem_path}", "--port", "3340"])"));
}

TEST(RunnerExpand, GroupUnknownVarIsError) {
  TempDir d;
  expect_phase_error(
      [&] {
        expand(d,
               "[[step-group]]\nname = \"g\"\n[[step-group.step]]\naction = \"wait\"\nduration = "
               "\"${group.dur}\"\n"
               "[[step]]\nuse = \"g\"\nvars = { device = \"x\" }\n");
      },
      "expand-steps", {"[[step]] #1", "step-group 'g' step #1", "${group.dur}", "unknown group variable"});
}

TEST(RunnerExpand, GroupsDoNotNest) {
  TempDir d;
  expect_phase_error(
      [&] {
        expand(d,
               "[[step-group]]\nname = \"inner\"\n[[step-group]]\nname = \"outer\"\n"
               "[[step-group.step]]\nuse = \"inner\"\n[[step]]\nuse = \"outer\"\n");
      },
      "expand-steps", {"groups do not nest"});
}

TEST(RunnerExpand, UnknownUseIsError) {
  TempDir d;
  expect_phase_error([&] { expand(d, "[[step]]\naction = \"wait\"\n[[step]]\nuse = \"nope\"\n"); },
                     "expand-steps", {"[[step]] #2", "use", "'nope'"});
}

TEST(RunnerExpand, MissingActionIsError) {
  TempDir d;
  expect_phase_error([&] { expand(d, "[[step]]\ndevice = \"a\"\ncmd = [\"true\"]\n"); }, "expand-steps",
                     {"[[step]] #1", "action", "missing"});
}

TEST(RunnerExpand, IgnoredCallSiteKeyIsWarned) {
  TempDir d;
  std::vector<std::string> warnings;
  auto steps = expand_steps(
      sim_from(d, std::string(kTemplate) + "[[step]]\nuse = \"fetch\"\nparser = \"json\"\n"), {}, &warnings);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_FALSE(steps[0].contains("parser"));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("parser"), std::string::npos);
}

TEST(RunnerExpand, CountedAssertChecksAreClonedPerInstance) {
  TempDir d;
  auto steps = expand(d, R"(
[[step]]
action = "assert"
check = "fetcher.ok == 1"
checks = ["fetcher.size matches [0-9]+", "server.ok == 1", "fetcher-x.ok == 1"]
)",
                      {{"fetcher", 3}});
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_FALSE(steps[0].contains("check"));
  EXPECT_EQ(steps[0]["checks"], json::parse(R"([
    "fetcher-0.ok == 1", "fetcher-1.ok == 1", "fetcher-2.ok == 1",
    "fetcher-0.size matches [0-9]+", "fetcher-1.size matches [0-9]+", "fetcher-2.size matches [0-9]+",
    "server.ok == 1", "fetcher-x.ok == 1"])"));
}

TEST(RunnerExpand, UncountedAssertIsUntouched) {
  TempDir d;
  auto steps = expand(d, "[[step]]\naction = \"assert\"\ncheck = \"server.ok == 1\"\n", {{"fetcher", 3}});
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_EQ(steps[0], json({{"action", "assert"}, {"check", "server.ok == 1"}}));
}

TEST(RunnerExpand, CountedRunAndWaitForArePerInstance) {
  TempDir d;
  auto steps = expand(d, R"(
[[step]]
action = "run"
device = "peer"
cmd = ["ping"]
[[step]]
action = "wait-for"
id = "peer"
)",
                      {{"peer", 3}});
  ASSERT_EQ(steps.size(), 6u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(steps[i]["action"], "run");
    EXPECT_EQ(steps[i]["device"], "peer-" + std::to_string(i));
    EXPECT_EQ(steps[i]["id"], "peer-" + std::to_string(i));
    EXPECT_EQ(steps[i]["cmd"], json::parse(R"(["ping"])"));
    EXPECT_EQ(steps[3 + i]["action"], "wait-for");
    EXPECT_EQ(steps[3 + i]["id"], "peer-" + std::to_string(i));
  }
}

TEST(RunnerExpand, CountedSpawnWithOwnIdClonesIdResultsAndWaitFor) {
  TempDir d;
  auto steps = expand(d, R"(
[[step]]
action = "wait-for"
id = "dl"
[[step]]
action = "spawn"
id = "dl"
device = "fetcher"
results = { down_bytes = ".size" }
[[step]]
action = "assert"
check = "dl.size >= 1"
)",
                      {{"fetcher", 2}});
  ASSERT_EQ(steps.size(), 5u);
  EXPECT_EQ(steps[0]["id"], "dl-0");
  EXPECT_EQ(steps[1]["id"], "dl-1");
  EXPECT_EQ(steps[2]["device"], "fetcher-0");
  EXPECT_EQ(steps[2]["id"], "dl-0");
  EXPECT_EQ(steps[3]["results"]["down_bytes"], "dl-1.size");
  EXPECT_EQ(steps[4]["checks"], json::parse(R"(["dl-0.size >= 1", "dl-1.size >= 1"])"));
}

TEST(RunnerExpand, WaitForOnRunOrGenFileIdIsAccepted) {
  TempDir d;
  auto steps = expand(d, R"(
[[step]]
action = "gen-file"
id = "conf"
content = "x"
[[step]]
action = "wait-for"
id = "conf"
)");
  EXPECT_EQ(steps.size(), 2u);
}

// A wait-for on an unknown id: runner_compat_test.cpp.

}  // namespace
}  // namespace patchbay::runner
