// Lab file leniency of the original tool (SPEC 15.1 rule 5): unknown keys inside impair, condition
// and custom NAT tables are warnings naming file, table and key; a router with both region and
// upstream keeps the upstream and drops the region with a warning.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include <toml++/toml.h>

#include "config/lab_plan.hpp"
#include "config/lenient_keys.hpp"

namespace patchbay::config {
namespace {

using nlohmann::json;

LabPlan plan_of(std::string_view text) {
  return plan_lab(toml::parse(text, std::string_view("lab.toml")), "lab.toml");
}

const RouterPlan& router(const LabPlan& plan, const std::string& name) {
  auto it = std::find_if(plan.routers.begin(), plan.routers.end(), [&](auto& r) { return r.name == name; });
  if (it == plan.routers.end()) throw std::runtime_error("no router " + name);
  return *it;
}

bool has(const std::vector<std::string>& warnings, const std::string& text) {
  return std::find(warnings.begin(), warnings.end(), text) != warnings.end();
}

std::string all(const std::vector<std::string>& warnings) {
  std::string out;
  for (auto& w : warnings) out += w + "\n";
  return out;
}

TEST(LabPlanLenient, UnknownKeysInImpairAndConditionTablesWarnAndTheRestApplies) {
  auto plan = plan_of(R"(
[[router]]
name = "home"
downlink_condition = { latency_ms = 5, colour = "red", burst_loss = { p_pct = 1.0, r_pct = 10.0, zz = 2 } }
uplink_condition = { manual = { latency_ms = 3, q = 1 }, extra = 2 }
[device.laptop.wlan0]
gateway = "home"
impair = { latency_ms = 40, loss_pct = 1.5, flavour = "x" }
)");
  const auto& w = plan.warnings;
  EXPECT_EQ(w.size(), 5u) << all(w);
  EXPECT_TRUE(has(w, "lab.toml: [device.laptop.wlan0] unknown key 'impair.flavour' ignored")) << all(w);
  EXPECT_TRUE(has(w, "lab.toml: [router 'home'] unknown key 'downlink_condition.colour' ignored")) << all(w);
  EXPECT_TRUE(has(w, "lab.toml: [router 'home'] unknown key 'downlink_condition.burst_loss.zz' ignored"))
      << all(w);
  EXPECT_TRUE(has(w, "lab.toml: [router 'home'] unknown key 'uplink_condition.extra' ignored")) << all(w);
  EXPECT_TRUE(has(w, "lab.toml: [router 'home'] unknown key 'uplink_condition.manual.q' ignored")) << all(w);

  ASSERT_EQ(plan.devices.size(), 1u);
  ASSERT_TRUE(plan.devices[0].ifaces[0].impair);
  auto impair = plan.devices[0].ifaces[0].impair->to_limits();
  EXPECT_EQ(impair.latency_ms, 40u);
  EXPECT_FLOAT_EQ(impair.loss_pct, 1.5f);
  const auto& home = router(plan, "home");
  ASSERT_TRUE(home.downlink_condition && home.uplink_condition);
  auto down = home.downlink_condition->to_limits();
  EXPECT_EQ(down.latency_ms, 5u);
  ASSERT_TRUE(down.burst_loss);
  EXPECT_DOUBLE_EQ(down.burst_loss->r_pct, 10.0);
  EXPECT_EQ(home.uplink_condition->to_limits().latency_ms, 3u);
}

TEST(LabPlanLenient, UnknownKeysInCustomNatWarnAndTheRestApplies) {
  auto plan = plan_of(R"(
[[router]]
name = "r"
nat = { note = "y", custom = { mapping = "endpoint_independent", filtering = "address_dependent", hairpin = true, flavour = "x", timeouts = { udp = 31, udp_stream = 120, tcp_established = 3600, sctp = 5 } } }
)");
  const auto& w = plan.warnings;
  EXPECT_EQ(w.size(), 3u) << all(w);
  EXPECT_TRUE(has(w, "lab.toml: [router 'r'] unknown key 'nat.note' ignored")) << all(w);
  EXPECT_TRUE(has(w, "lab.toml: [router 'r'] unknown key 'nat.custom.flavour' ignored")) << all(w);
  EXPECT_TRUE(has(w, "lab.toml: [router 'r'] unknown key 'nat.custom.timeouts.sctp' ignored")) << all(w);
  const auto& r = router(plan, "r");
  ASSERT_TRUE(r.nat);
  auto cfg = r.nat->to_config();
  ASSERT_TRUE(cfg);
  EXPECT_EQ(r.nat->to_string(), "custom");
  EXPECT_EQ(cfg->filtering, NatFiltering::AddressDependent);
  EXPECT_TRUE(cfg->hairpin);
  EXPECT_EQ(cfg->timeouts.udp, 31u);
}

// Leniency is about names only: a known key with a bad value, or a missing required key, still
// fails, naming file, table and key.
TEST(LabPlanLenient, KnownKeysAreStillCheckedStrictly) {
  auto error_of = [](std::string_view text) -> std::string {
    try {
      plan_of(text);
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "<no error>";
  };
  auto bad = error_of("[[router]]\nname = \"r\"\ndownlink_condition = { latency_ms = \"slow\", x = 1 }\n");
  EXPECT_NE(bad.find("lab.toml: [router 'r'] downlink_condition"), std::string::npos) << bad;
  EXPECT_NE(bad.find("latency_ms"), std::string::npos) << bad;
  bad =
      error_of("[[router]]\nname = \"r\"\nnat = { custom = { filtering = \"address_dependent\", x = 1 } }\n");
  EXPECT_NE(bad.find("lab.toml: [router 'r'] nat"), std::string::npos) << bad;
  EXPECT_NE(bad.find("mapping"), std::string::npos) << bad;
  bad = error_of("[[router]]\nname = \"r\"\n[device.d.eth0]\ngateway = \"r\"\nimpair = \"warp\"\n");
  EXPECT_NE(bad.find("invalid impair"), std::string::npos) << bad;
}

// The key lists of lenient_keys.cpp against the library: everything the library writes must pass
// through without a warning, or a new key would be silently dropped from lab files.
TEST(LenientKeys, EveryKeyTheLibraryWritesIsKnown) {
  LinkLimits l;
  l.rate_kbit = 1000;
  l.latency_ms = 10;
  l.jitter_ms = 2;
  l.reorder_pct = 1;
  l.duplicate_pct = 1;
  l.corrupt_pct = 1;
  l.distribution = DelayDistribution::Normal;
  l.burst_loss = GilbertElliott{1, 10, 50, 1};
  l.queue_limit_pkts = 100;
  l.rate_trace = "/tmp/trace";
  l.jitter_reorders = false;
  std::vector<std::string> unknown;
  auto note = [&](const std::string& k) { unknown.push_back(k); };
  json cond = limits_to_json(l);
  cond["loss_pct"] = 1.0;  // exclusive with burst_loss in a valid value; only the name matters here
  EXPECT_EQ(drop_unknown_condition_keys(cond, "c", note), cond);
  EXPECT_EQ(drop_unknown_condition_keys(json{{"manual", cond}}, "c", note), json({{"manual", cond}}));
  json nat = {{"custom", NatConfig{}.to_json()}};
  EXPECT_EQ(drop_unknown_nat_keys(nat, "nat", note), nat);
  EXPECT_TRUE(unknown.empty()) << unknown[0];
  EXPECT_EQ(drop_unknown_nat_keys("home", "nat", note), json("home"));
  EXPECT_EQ(drop_unknown_condition_keys("wifi", "c", note), json("wifi"));
}

TEST(LabPlanLenient, RegionBesideUpstreamIsIgnoredWithAWarning) {
  auto plan = plan_of(R"(
[[router]]
name = "isp"
region = "eu"
[[router]]
name = "home"
upstream = "isp"
region = "us"
)");
  const auto& home = router(plan, "home");
  EXPECT_EQ(home.upstream, "isp");
  EXPECT_EQ(home.region, std::nullopt);
  EXPECT_EQ(router(plan, "isp").region, "eu");
  EXPECT_EQ(plan.regions, (std::set<std::string>{"eu"}));  // "us" is not created for the dropped key
  ASSERT_EQ(plan.warnings.size(), 1u) << all(plan.warnings);
  EXPECT_EQ(plan.warnings[0], "lab.toml: [router 'home'] region 'us' ignored: the router has upstream 'isp'");
}

}  // namespace
}  // namespace patchbay::config
