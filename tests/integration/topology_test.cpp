// SPEC 17.1 / 17.3: building, looking up and removing nodes; the address plan on live labs.
#include <gtest/gtest.h>

#include "core/ids.hpp"
#include "patchbay/patchbay.hpp"

using namespace patchbay;
using namespace std::chrono_literals;
namespace pt = patchbay::testing;

namespace {

bool pings(Node& from, const IpAddr& to) {
  return from.output(Command("ping").args({"-c", "1", "-W", "2", to.to_string()})).status.success();
}

template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "<no exception>";
}

}  // namespace

TEST(Topology, DeviceAddedLaterGetsNewAddressAndReachesOthers) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto first = lab.add_device("first").iface("eth0", dc.id()).build();
  auto r = first.spawn_reflector({*first.ip(), 9000});
  first.run([] {});  // the first device is running code
  auto later = lab.add_device("later").iface("eth0", dc.id()).build();
  EXPECT_NE(*later.ip(), *first.ip());
  EXPECT_EQ(later.run([&] { return pt::udp_roundtrip({*first.ip(), 9000}); }).ip(), IpAddr(*later.ip()));
  EXPECT_TRUE(pings(later, *first.ip()));
}

TEST(Topology, LookupsByNameAndId) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
  EXPECT_EQ(lab.router_by_name("dc")->id(), dc.id());
  EXPECT_EQ(lab.device_by_name("dev")->id(), dev.id());
  EXPECT_FALSE(lab.device_by_name("dc"));
  EXPECT_FALSE(lab.router_by_name("nope"));
  EXPECT_EQ(lab.router(dc.id())->name(), "dc");
  EXPECT_EQ(lab.device(dev.id())->name(), "dev");
  EXPECT_EQ(lab.devices().size(), 1u);
  EXPECT_EQ(lab.routers().size(), 1u);
  EXPECT_EQ(lab.ix().id(), NodeId{1});
}

TEST(Topology, RemovedDeviceIsGoneButNamedAndOthersKeepWorking) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto keep = lab.add_device("keep").iface("eth0", dc.id()).build();
  auto gone = lab.add_device("gone").iface("eth0", dc.id()).build();
  auto ip = *gone.ip();
  keep.run([] {});
  gone.run([] {});
  Child sleeper = gone.spawn_command(Command("sleep").arg("600"));
  lab.remove_device(gone.id());
  EXPECT_FALSE(gone.alive());
  EXPECT_EQ(gone.name(), "gone");
  EXPECT_THROW(gone.ip(), Removed);
  EXPECT_THROW(gone.run([] {}), Removed);
  auto st = sleeper.wait_for(3s);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->signal.value_or(0), SIGTERM);
  EXPECT_EQ(keep.run([] { return 7; }), 7);
  EXPECT_FALSE(pings(keep, ip));
  EXPECT_TRUE(lab.devices().size() == 1 && lab.devices()[0].name() == "keep");
}

TEST(Topology, RouterWithAttachmentsCannotBeRemoved) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto sub = lab.add_router("sub").upstream(dc.id()).build();
  auto dev = lab.add_device("dev").iface("eth0", sub.id()).build();
  auto msg = error_of<InUse>([&] { lab.remove_router(sub.id()); });
  EXPECT_NE(msg.find("still connected"), std::string::npos) << msg;
  EXPECT_NE(msg.find("dev"), std::string::npos) << msg;
  msg = error_of<InUse>([&] { lab.remove_router(dc.id()); });
  EXPECT_NE(msg.find("router 'sub'"), std::string::npos) << msg;
  lab.remove_device(dev.id());
  lab.remove_router(sub.id());
  EXPECT_FALSE(sub.alive());
  EXPECT_FALSE(lab.router_by_name("sub"));
  lab.remove_router(dc.id());
  EXPECT_TRUE(lab.routers().empty());
}

TEST(Topology, NamesAreCheckedWithClearErrors) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto reserved = error_of<InvalidArgument>([&] { lab.add_router("region_foo").build(); });
  EXPECT_NE(reserved.find("reserved"), std::string::npos) << reserved;
  auto dup = error_of<AlreadyExists>([&] { lab.add_device("dc").iface("eth0", dc.id()).build(); });
  EXPECT_NE(dup.find("'dc'"), std::string::npos) << dup;
  auto unknown = error_of<NotFound>([&] { lab.add_device("d").iface("eth0", NodeId{999}).build(); });
  EXPECT_NE(unknown.find("999"), std::string::npos) << unknown;
  auto up = error_of<NotFound>([&] { lab.add_router("r").upstream(NodeId{424242}).build(); });
  EXPECT_NE(up.find("upstream"), std::string::npos) << up;
  EXPECT_THROW(lab.add_router("bad name").build(), InvalidArgument);
  EXPECT_THROW(lab.add_device("d").build(), InvalidArgument);  // no iface
  EXPECT_THROW(lab.add_device("d").iface("eth0", dc.id()).iface("eth0", dc.id()).build(), AlreadyExists);
  EXPECT_THROW(lab.add_device("d").iface("this-name-is-too-long", dc.id()).build(), InvalidArgument);
  EXPECT_THROW(lab.add_device("d").iface("eth0", dc.id()).default_via("wlan0").build(), InvalidArgument);
  // A failed build leaves nothing behind: the name is free and the next address is the first one.
  auto d = lab.add_device("d").iface("eth0", dc.id()).build();
  EXPECT_EQ(d.ip()->to_string(), "198.18.1.2");
}

TEST(Topology, DownstreamCidrOverride) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  auto r = lab.add_router("custom").downstream_cidr(Ipv4Net::parse("172.30.99.0/24")).build();
  EXPECT_EQ(r.downstream_cidr()->to_string(), "172.30.99.0/24");
  EXPECT_EQ(r.downstream_gw()->to_string(), "172.30.99.1");
  auto dev = lab.add_device("dev").iface("eth0", r.id()).build();
  EXPECT_EQ(dev.ip()->to_string(), "172.30.99.2");
  auto server = lab.add_device("server").iface("eth0", dc.id()).build();
  auto refl = server.spawn_reflector({*server.ip(), 3478});
  EXPECT_EQ(dev.run([&] { return pt::udp_roundtrip({*server.ip(), 3478}); }).ip(), IpAddr(*dev.ip()));

  auto big = lab.add_router("big").downstream_cidr(Ipv4Net::parse("172.20.0.0/16")).build();
  EXPECT_EQ(lab.add_device("b1").iface("eth0", big.id()).build().ip()->to_string(), "172.20.0.2");
  auto small = lab.add_router("small").downstream_cidr(Ipv4Net::parse("172.31.0.16/28")).build();
  EXPECT_EQ(lab.add_device("s1").iface("eth0", small.id()).build().ip()->to_string(), "172.31.0.18");
  auto overlap = error_of<InvalidArgument>(
      [&] { lab.add_router("clash").downstream_cidr(Ipv4Net::parse("172.30.99.128/25")).build(); });
  EXPECT_NE(overlap.find("custom"), std::string::npos) << overlap;
  EXPECT_FALSE(lab.router_by_name("clash"));
}

TEST(Topology, SlashThirtyHoldsOneDeviceThenNamesTheRouter) {
  Lab lab;
  auto r = lab.add_router("tiny").downstream_cidr(Ipv4Net::parse("172.29.0.0/30")).build();
  auto d1 = lab.add_device("d1").iface("eth0", r.id()).build();
  EXPECT_EQ(d1.ip()->to_string(), "172.29.0.2");
  auto msg = error_of<PoolExhausted>([&] { lab.add_device("d2").iface("eth0", r.id()).build(); });
  EXPECT_NE(msg.find("router 'tiny'"), std::string::npos) << msg;
  EXPECT_FALSE(lab.device_by_name("d2"));
}

TEST(Topology, HandlesThrowRemovedAfterLabDestroyed) {
  std::optional<Device> dev;
  std::optional<Router> dc;
  {
    Lab lab;
    dc = lab.add_router("dc").build();
    dev = lab.add_device("dev").iface("eth0", dc->id()).build();
  }
  EXPECT_EQ(dev->name(), "dev");
  EXPECT_EQ(dc->name(), "dc");
  EXPECT_GT(dev->id().value, dc->id().value);
  EXPECT_FALSE(dev->alive());
  EXPECT_THROW(dev->ip(), Removed);
  EXPECT_THROW(dc->uplink_ip(), Removed);
  EXPECT_THROW(dev->run([] {}), Removed);
  EXPECT_THROW(dev->spawn_command(Command("true")), Removed);
}

TEST(Topology, LinkLocalAddressesFollowTheFormulaAndExist) {
  Lab lab;
  auto dc = lab.add_router("dc").ip_support(IpSupport::DualStack).build();
  auto dev = lab.add_device("dev").iface("eth0", dc.id()).build();
  auto iface = dev.default_iface();
  ASSERT_TRUE(iface.ll6());
  // Device interfaces: ll(iface NodeId), SPEC 3.6. The iface id follows the device id.
  EXPECT_EQ(*iface.ll6(), core::ll(dev.id().value + 1));
  auto out = dev.output(Command("ip").args({"-6", "addr", "show", "dev", "eth0"}));
  EXPECT_NE(out.out.find(iface.ll6()->to_string()), std::string::npos) << out.out;
  // Routers expose uplink and LAN link-locals too.
  for (auto& ri : dc.interfaces()) EXPECT_TRUE(ri.ll6) << ri.name;
  // v4-only routers hand out no IPv6 at all.
  auto v4 = lab.add_router("v4").build();
  auto d4 = lab.add_device("d4").iface("eth0", v4.id()).build();
  EXPECT_FALSE(d4.default_iface().ll6());
  EXPECT_FALSE(d4.ip6());
}

TEST(Topology, KernelInterfaceNamesFitWhateverTheNames) {
  Lab lab;
  std::string long_name(64, 'r');
  auto r = lab.add_router(long_name).build();
  auto d = lab.add_device(std::string(64, 'd')).iface("a-15-char-iface", r.id()).build();
  EXPECT_EQ(d.default_iface().name(), "a-15-char-iface");
  auto links = r.output(Command("ip").args({"-o", "link"}));
  EXPECT_TRUE(links.status.success());
  EXPECT_NE(links.out.find("br-lan"), std::string::npos);
  EXPECT_NE(links.out.find("v" + std::to_string(d.id().value + 1)), std::string::npos) << links.out;
}

TEST(Topology, SameCallsGiveSameState) {
  // One fixed seed: with a fresh random seed per lab, seed-derived fields would differ, and with
  // none in the state the comparison would prove nothing about them.
  auto build = [](std::uint64_t seed) {
    Lab lab{LabOpts{}.label("same").seed(seed)};
    auto dc = lab.add_router("dc").ip_support(IpSupport::DualStack).build();
    auto home = lab.add_router("home").upstream(dc.id()).downstream_pool(AddressPool::Private).build();
    lab.add_device("a").iface("eth0", home.id()).iface("eth1", dc.id()).default_via("eth1").build();
    lab.add_device("b").iface("eth0", dc.id()).build();
    // Everything but the lab's identity (prefix, and the namespace labels derived from it).
    auto s = lab.state().to_json();
    s.erase("lab_prefix");
    s.erase("created_at");
    for (auto& [k, v] : s["routers"].items()) v.erase("ns");
    for (auto& [k, v] : s["devices"].items()) v.erase("ns");
    return s.dump();
  };
  const std::string first = build(42);
  EXPECT_NE(first.find("\"b\""), std::string::npos) << first;  // the state holds the lab
  EXPECT_EQ(first, build(42));
}

TEST(Topology, MultiHomedDeviceUsesDefaultVia) {
  Lab lab;
  auto a = lab.add_router("a").build();
  auto b = lab.add_router("b").build();
  auto c = lab.add_router("c").build();
  auto server = lab.add_device("server").iface("eth0", c.id()).build();
  auto dev = lab.add_device("dev").iface("eth0", a.id()).iface("eth1", b.id()).default_via("eth1").build();
  EXPECT_EQ(dev.default_iface().name(), "eth1");
  EXPECT_EQ(dev.ip(), dev.iface("eth1")->ip());
  EXPECT_TRUE(dev.iface("eth1")->is_default());
  EXPECT_FALSE(dev.iface("eth0")->is_default());
  auto refl = server.spawn_reflector({*server.ip(), 3478});
  // Traffic to another subnet leaves through the default interface (eth1, on router b).
  EXPECT_EQ(dev.run([&] { return pt::udp_roundtrip({*server.ip(), 3478}); }).ip(), IpAddr(*dev.ip()));
  auto env = lab.env_vars();
  EXPECT_EQ(env.at("NETSIM_IP_DEV"), dev.ip()->to_string());
  EXPECT_EQ(env.at("NETSIM_IP_DEV_ETH0"), dev.iface("eth0")->ip()->to_string());
}
