// SPEC 15.1: TOML lab files.
#include <gtest/gtest.h>

#include <fstream>

#include "patchbay/patchbay.hpp"

using namespace patchbay;

namespace {

std::string error_of(std::string_view text) {
  try {
    Lab::from_toml(text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST(TomlLab, BuildsRoutersDevicesAndConditionsInOrder) {
  auto lab = Lab::from_toml(R"(
[[router]]
name = "home"
upstream = "isp"
preset = "home"

[[router]]
name = "isp"
ip_support = "dual-stack"
mtu = 1400
downlink_condition = { latency_ms = 5 }

[device.laptop]
default_via = "wlan0"
[device.laptop.eth0]
gateway = "isp"
[device.laptop.wlan0]
gateway = "home"
impair = "wifi"
impair_direction = "both"

[device.fetcher]
count = 3
[device.fetcher.eth0]
gateway = "isp"
impair = { rate_kbit = 5000, loss_pct = 1.5, latency_ms = 40 }
)");
  auto isp = lab.router_by_name("isp");
  auto home = lab.router_by_name("home");
  ASSERT_TRUE(isp && home);
  EXPECT_EQ(home->upstream(), isp->id());
  EXPECT_EQ(home->nat_mode(), Nat::home());  // the preset
  EXPECT_EQ(isp->mtu(), 1400u);
  EXPECT_EQ(isp->ip_support(), IpSupport::DualStack);
  ASSERT_TRUE(isp->downlink_condition());
  auto laptop = lab.device_by_name("laptop");
  ASSERT_TRUE(laptop);
  EXPECT_EQ(laptop->default_iface().name(), "wlan0");
  EXPECT_EQ(laptop->iface("wlan0")->condition(LinkDirection::Down), LinkCondition::wifi());
  EXPECT_EQ(laptop->iface("wlan0")->router(), home->id());
  EXPECT_FALSE(laptop->iface("eth0")->condition(LinkDirection::Up));
  // count = 3: fetcher-0 .. fetcher-2, no plain "fetcher".
  EXPECT_FALSE(lab.device_by_name("fetcher"));
  for (int i = 0; i < 3; ++i) {
    auto f = lab.device_by_name("fetcher-" + std::to_string(i));
    ASSERT_TRUE(f) << i;
    LinkLimits l;
    l.rate_kbit = 5000;
    l.loss_pct = 1.5f;
    l.latency_ms = 40;
    EXPECT_EQ(f->default_iface().condition(LinkDirection::Up), LinkCondition::manual(l));
  }
  // Routers are built in upstream rounds, name order within a round: isp (id 2) before home.
  EXPECT_LT(isp->id().value, home->id().value);
}

TEST(TomlLab, RegionsAreCreatedLinkedAndHonoured) {
  auto lab = Lab::from_toml(R"(
[region.eu]
latencies = { us = 30 }

[[router]]
name = "a"
region = "us"

[[router]]
name = "b"
region = "eu"

[device.da.eth0]
gateway = "a"
[device.db.eth0]
gateway = "b"
)");
  ASSERT_EQ(lab.regions().size(), 2u);
  EXPECT_EQ(lab.router_by_name("a")->region(), "us");
  auto da = *lab.device_by_name("da"), db = *lab.device_by_name("db");
  SocketAddr refl(*db.ip(), 3478);
  auto g = db.spawn_reflector(refl);
  double ms = da.run([&] { return patchbay::testing::udp_rtt_median(refl, 5, 3); }).count() / 1000.0;
  EXPECT_GE(ms, 58.0);
  EXPECT_LE(ms, 75.0);
  ASSERT_EQ(lab.state().region_links.size(), 1u);
}

TEST(TomlLab, ErrorsNameTheFileTableAndKey) {
  EXPECT_TRUE(contains(error_of("[device.d.eth0]\nimpair = \"wifi\"\n"), "gateway"))
      << error_of("[device.d.eth0]\n");
  auto unknown = error_of("[device.d.eth0]\ngateway = \"nowhere\"\n");
  EXPECT_TRUE(contains(unknown, "device.d.eth0") && contains(unknown, "nowhere")) << unknown;
  auto preset = error_of("[[router]]\nname = \"r\"\npreset = \"castle\"\n");
  EXPECT_TRUE(contains(preset, "router 'r'") && contains(preset, "preset") && contains(preset, "castle"))
      << preset;
  auto type = error_of("[[router]]\nname = \"r\"\nmtu = \"big\"\n");
  EXPECT_TRUE(contains(type, "mtu") && contains(type, "integer")) << type;
  auto impair = error_of("[[router]]\nname = \"r\"\n[device.d.eth0]\ngateway = \"r\"\nimpair = \"warp\"\n");
  EXPECT_TRUE(contains(impair, "invalid impair") && contains(impair, "warp")) << impair;
  auto noif = error_of("[[router]]\nname = \"r\"\n[device.d]\ncount = 2\n");
  EXPECT_TRUE(contains(noif, "device 'd' has no interface sub-tables")) << noif;
  auto cycle =
      error_of("[[router]]\nname = \"a\"\nupstream = \"b\"\n[[router]]\nname = \"b\"\nupstream = \"a\"\n");
  EXPECT_TRUE(contains(cycle, "router upstreams form a cycle: a -> b, b -> a")) << cycle;
  auto count =
      error_of("[[router]]\nname = \"r\"\n[device.d]\ncount = 0\n[device.d.eth0]\ngateway = \"r\"\n");
  EXPECT_TRUE(contains(count, "count")) << count;
  auto conflict = error_of("[region.a]\nlatencies = { b = 10 }\n[region.b]\nlatencies = { a = 20 }\n");
  EXPECT_TRUE(contains(conflict, "conflicts")) << conflict;
  auto syntax = error_of("[[router]\nname = 1\n");
  EXPECT_TRUE(contains(syntax, "<toml>:1:")) << syntax;
}

// Errors the builders find (not the TOML reader) are ConfigErrors too, naming the table.
TEST(TomlLab, DeviceLevelErrorsAreConfigErrorsNamingTheTable) {
  auto longname = error_of("[[router]]\nname = \"r\"\n[device.d.wlan0-is-far-too-long]\ngateway = \"r\"\n");
  EXPECT_TRUE(contains(longname, "<toml>: [device.d.wlan0-is-far-too-long]") &&
              contains(longname, "invalid interface name 'wlan0-is-far-too-long'"))
      << longname;
  auto clash = error_of("[[router]]\nname = \"r\"\n[device.r.eth0]\ngateway = \"r\"\n");
  EXPECT_TRUE(contains(clash, "<toml>: [device.r]") && contains(clash, "'r'")) << clash;
  auto counted = error_of(
      "[[router]]\nname = \"r\"\n[device.x]\ncount = 2\n[device.x.eth0]\ngateway = \"r\"\n"
      "[device.x-1.eth0]\ngateway = \"r\"\n");
  EXPECT_TRUE(contains(counted, "[device.x") && contains(counted, "x-1")) << counted;
}

TEST(TomlLab, UnknownUpstreamNamesTheRouter) {
  auto e = error_of("[[router]]\nname = \"home\"\nupstream = \"isp\"\n");
  EXPECT_TRUE(contains(e, "<toml>: [router 'home'] upstream") && contains(e, "unknown router 'isp'")) << e;
  EXPECT_FALSE(contains(e, "cycle")) << e;
}

TEST(TomlLab, LoadReadsAFileAndNamesItInErrors) {
  auto path = std::filesystem::temp_directory_path() / "patchbay-toml-test.toml";
  std::ofstream(path) << "[[router]]\nname = \"r\"\n[device.d.eth0]\ngateway = \"r\"\n";
  auto lab = Lab::load(path);
  EXPECT_TRUE(lab.device_by_name("d"));
  std::ofstream(path) << "[device.d.eth0]\ngateway = \"x\"\n";
  try {
    Lab::load(path);
    FAIL() << "loaded a bad file";
  } catch (const ConfigError& e) {
    EXPECT_TRUE(contains(e.what(), path.string())) << e.what();
  }
  std::filesystem::remove(path);
  EXPECT_THROW(Lab::load(path), ConfigError);
}
