// SPEC 10 / 17.9: DNS overlays (per-device /etc/hosts and /etc/resolv.conf).
#include <gtest/gtest.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>

#include "patchbay/patchbay.hpp"
#include "util.hpp"

using namespace patchbay;
using namespace std::chrono_literals;
namespace pt = patchbay::testing;

namespace {

// `getent hosts <name>` inside the node: the first address printed, or nullopt when it fails.
std::optional<IpAddr> getent(Node& n, const std::string& name) {
  auto out = n.output(Command("getent").args({"hosts", name}));
  if (!out.status.success()) return std::nullopt;
  std::istringstream in(out.out);
  std::string addr;
  in >> addr;
  return IpAddr::try_parse(addr);
}

std::string cat(Node& n, const std::string& path) {
  auto out = n.output(Command("cat").arg(path));
  EXPECT_TRUE(out.status.success()) << out.err;
  return out.out;
}

// getaddrinfo on the calling thread: the first address, or nullopt.
std::optional<IpAddr> lookup(const std::string& name, int family = AF_UNSPEC) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0 || res == nullptr) return std::nullopt;
  char buf[INET6_ADDRSTRLEN] = {};
  if (res->ai_family == AF_INET)
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(res->ai_addr)->sin_addr, buf, sizeof buf);
  else
    ::inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(res->ai_addr)->sin6_addr, buf, sizeof buf);
  ::freeaddrinfo(res);
  return IpAddr::try_parse(buf);
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

std::vector<std::filesystem::path> lab_tmp_dirs(const std::string& prefix) {
  const char* tmp = std::getenv("TMPDIR");
  std::filesystem::path base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(base))
    if (e.path().filename().string().rfind("patchbay-" + prefix + "-", 0) == 0) out.push_back(e.path());
  return out;
}

const IpAddr kA = Ipv4Addr::parse("203.0.113.10");
const IpAddr kB = Ipv4Addr::parse("203.0.113.20");

struct TwoDevices {
  Lab lab;
  Router dc = lab.add_router("dc").build();
  Device a = lab.add_device("a").iface("eth0", dc.id()).build();
  Device b = lab.add_device("b").iface("eth0", dc.id()).build();
};

}  // namespace

// 90
TEST(DnsEntries, GetentInDevicePrintsLabEntry) {
  TwoDevices t;
  t.lab.dns_entry("myserver.test", *t.dc.uplink_ip());
  EXPECT_EQ(getent(t.a, "myserver.test"), IpAddr(*t.dc.uplink_ip()));
  EXPECT_EQ(getent(t.a, "nosuch.test"), std::nullopt);  // control: unknown names fail
}

// 90
TEST(DnsEntries, EntryAddedAfterTheOverlayExistsIsVisibleImmediately) {
  TwoDevices t;
  EXPECT_EQ(getent(t.a, "late.test"), std::nullopt);  // the overlay exists from here on
  t.a.run([] {});                                     // and a worker lives in it
  t.lab.dns_entry("late.test", kA);
  EXPECT_EQ(getent(t.a, "late.test"), kA);
  EXPECT_EQ(t.a.run([] { return lookup("late.test"); }), kA);
  t.lab.dns_entry("later.test", kB);  // the same long-lived worker sees the rewrite
  EXPECT_EQ(t.a.run([] { return lookup("later.test"); }), kB);
}

// 90
TEST(DnsEntries, DeviceBuiltAfterTheEntrySeesIt) {
  Lab lab;
  auto dc = lab.add_router("dc").build();
  lab.dns_entry("early.test", kA);
  auto d = lab.add_device("d").iface("eth0", dc.id()).build();
  EXPECT_EQ(getent(d, "early.test"), kA);
}

// 91
TEST(DnsEntries, LabEntriesOnEveryDeviceDeviceEntriesOnlyOnTheirs) {
  TwoDevices t;
  t.lab.dns_entry("everyone.test", kA);
  t.a.dns_entry("only-a.test", kB);
  EXPECT_EQ(getent(t.a, "everyone.test"), kA);
  EXPECT_EQ(getent(t.b, "everyone.test"), kA);
  EXPECT_EQ(getent(t.a, "only-a.test"), kB);
  EXPECT_EQ(getent(t.b, "only-a.test"), std::nullopt);
}

// 92
TEST(DnsResolve, LabSeesLabWideDeviceSeesBothAndShadowsForItselfOnly) {
  TwoDevices t;
  t.lab.dns_entry("shared.test", kA);
  t.a.dns_entry("mine.test", kB);
  t.a.dns_entry("shared.test", kB);  // shadows the lab-wide entry on a only
  EXPECT_EQ(t.lab.resolve("shared.test"), kA);
  EXPECT_EQ(t.lab.resolve("mine.test"), std::nullopt);
  EXPECT_EQ(t.a.resolve("mine.test"), kB);
  EXPECT_EQ(t.a.resolve("shared.test"), kB);
  EXPECT_EQ(t.b.resolve("shared.test"), kA);
  EXPECT_EQ(t.b.resolve("mine.test"), std::nullopt);
  // The files agree with the tables.
  EXPECT_EQ(getent(t.a, "shared.test"), kB);
  EXPECT_EQ(getent(t.b, "shared.test"), kA);
}

// 93
TEST(DnsHostsFile, ContentAndOrderAreExact) {
  TwoDevices t;
  t.lab.dns_entry("one.test", kA);
  t.a.dns_entry("dev.test", Ipv4Addr::parse("198.51.100.7"));
  t.lab.dns_entry("two.test", Ipv6Addr::parse("2001:db8::2"));
  t.lab.dns_entry("one.test", kB);  // replaced in place: keeps its position
  EXPECT_EQ(cat(t.a, "/etc/hosts"),
            "# generated by patchbay\n127.0.0.1\tlocalhost\n::1\tlocalhost\n"
            "203.0.113.20\tone.test\n2001:db8::2\ttwo.test\n198.51.100.7\tdev.test\n");
  EXPECT_EQ(cat(t.b, "/etc/hosts"),
            "# generated by patchbay\n127.0.0.1\tlocalhost\n::1\tlocalhost\n"
            "203.0.113.20\tone.test\n2001:db8::2\ttwo.test\n");
}

// 93: routers and the IX keep the host's files
TEST(DnsHostsFile, RoutersAndIxHaveNoOverlay) {
  TwoDevices t;
  t.lab.dns_entry("x.test", kA);
  const std::string host = slurp("/etc/hosts");
  EXPECT_EQ(cat(t.dc, "/etc/hosts"), host);
  auto ix = t.lab.ix();
  EXPECT_EQ(cat(ix, "/etc/hosts"), host);
  EXPECT_NE(cat(t.a, "/etc/hosts"), host);  // control
}

// 94
TEST(DnsInProcess, GetaddrinfoInsideRun) {
  TwoDevices t;
  t.lab.dns_entry("run.test", kA);
  EXPECT_EQ(t.a.run([] { return lookup("run.test"); }), kA);
  EXPECT_EQ(t.b.run([] { return lookup("nosuch.test"); }), std::nullopt);  // control
}

// 94
TEST(DnsInProcess, AsioResolverInsideSpawn) {
  TwoDevices t;
  t.lab.dns_entry("asio.test", kA);
  auto h = t.a.spawn([](Device) -> asio::awaitable<std::string> {
    asio::ip::tcp::resolver res(co_await asio::this_coro::executor);
    auto results = co_await res.async_resolve("asio.test", "80", asio::use_awaitable);
    co_return results.begin()->endpoint().address().to_string();
  });
  EXPECT_EQ(h.get(), kA.to_string());
}

// 94
TEST(DnsInProcess, GetaddrinfoInsideSpawnThread) {
  TwoDevices t;
  t.lab.dns_entry("thread.test", kA);
  auto h = t.a.spawn_thread([] { return lookup("thread.test"); });
  EXPECT_EQ(h.join(), kA);
}

// 94: a library reading the files itself sees the same content as getaddrinfo
TEST(DnsInProcess, ThreadsReadTheOverlayFilesDirectly) {
  TwoDevices t;
  t.lab.dns_entry("direct.test", kA);
  t.lab.set_nameserver(Ipv4Addr::parse("192.0.2.53"));
  auto [hosts, resolv] = t.a.run([] { return std::pair(slurp("/etc/hosts"), slurp("/etc/resolv.conf")); });
  EXPECT_NE(hosts.find("203.0.113.10\tdirect.test\n"), std::string::npos) << hosts;
  EXPECT_EQ(resolv, "# generated by patchbay\nnameserver 192.0.2.53\n");
}

// 94: threads keep the working directory they would have had without the overlay
TEST(DnsInProcess, DeviceThreadsAndChildrenKeepTheWorkingDirectory) {
  TwoDevices t;
  const auto here = std::filesystem::current_path();
  EXPECT_EQ(t.a.run([] { return std::filesystem::current_path(); }), here);
  auto out = t.a.output(Command("pwd"));
  EXPECT_EQ(out.out, here.string() + "\n");
}

// 95
TEST(DnsNameserver, DefaultAndLabWideNameserver) {
  TwoDevices t;
  EXPECT_EQ(cat(t.a, "/etc/resolv.conf"), "# generated by patchbay\nnameserver 127.0.0.53\n");
  t.lab.set_nameserver(Ipv4Addr::parse("8.8.8.8"));
  EXPECT_EQ(cat(t.a, "/etc/resolv.conf"), "# generated by patchbay\nnameserver 8.8.8.8\n");
  EXPECT_EQ(cat(t.b, "/etc/resolv.conf"), "# generated by patchbay\nnameserver 8.8.8.8\n");
}

// 95
TEST(DnsNameserver, DeviceOverrideChangesOnlyThatDevice) {
  TwoDevices t;
  t.lab.set_nameserver(Ipv4Addr::parse("8.8.8.8"));
  auto c = t.lab.add_device("c").iface("eth0", t.dc.id()).build();
  c.set_nameserver(Ipv4Addr::parse("9.9.9.9"));  // before its overlay exists
  EXPECT_EQ(cat(t.a, "/etc/resolv.conf"), "# generated by patchbay\nnameserver 8.8.8.8\n");
  t.a.set_nameserver(Ipv6Addr::parse("2001:db8::53"));  // after its overlay exists
  EXPECT_EQ(cat(t.a, "/etc/resolv.conf"), "# generated by patchbay\nnameserver 2001:db8::53\n");
  EXPECT_EQ(t.a.run([] { return slurp("/etc/resolv.conf"); }),
            "# generated by patchbay\nnameserver 2001:db8::53\n");  // the existing worker too
  EXPECT_EQ(cat(c, "/etc/resolv.conf"), "# generated by patchbay\nnameserver 9.9.9.9\n");
  EXPECT_EQ(cat(t.b, "/etc/resolv.conf"), "# generated by patchbay\nnameserver 8.8.8.8\n");
  // Back to the lab's, which still follows lab-wide changes.
  t.a.set_nameserver(std::nullopt);
  t.lab.set_nameserver(Ipv4Addr::parse("1.1.1.1"));
  EXPECT_EQ(cat(t.a, "/etc/resolv.conf"), "# generated by patchbay\nnameserver 1.1.1.1\n");
  EXPECT_EQ(cat(c, "/etc/resolv.conf"), "# generated by patchbay\nnameserver 9.9.9.9\n");
}

// 96
TEST(DnsEntries, V6EntryResolvesThroughBothApisAndGetent) {
  TwoDevices t;
  const IpAddr v6 = Ipv6Addr::parse("2001:db8::42");
  t.lab.dns_entry("six.test", v6);
  t.b.dns_entry("six-b.test", v6);
  EXPECT_EQ(t.lab.resolve("six.test"), v6);
  EXPECT_EQ(t.a.resolve("six.test"), v6);
  EXPECT_EQ(t.b.resolve("six-b.test"), v6);
  EXPECT_EQ(getent(t.a, "six.test"), v6);
  EXPECT_EQ(getent(t.b, "six-b.test"), v6);
  EXPECT_EQ(t.a.run([] { return lookup("six.test", AF_INET6); }), v6);
}

TEST(DnsEntries, InvalidNamesAreRejected) {
  TwoDevices t;
  EXPECT_THROW(t.lab.dns_entry("", kA), InvalidArgument);
  EXPECT_THROW(t.lab.dns_entry("two words", kA), InvalidArgument);
  EXPECT_THROW(t.a.dns_entry("bad#name", kA), InvalidArgument);
  EXPECT_NO_THROW(t.a.dns_entry("good-name.test", kA));
}

TEST(DnsEvents, EveryChangeEmitsDnsChanged) {
  TwoDevices t;
  auto sub = t.lab.subscribe();
  t.lab.dns_entry("e.test", kA);
  t.a.dns_entry("f.test", kB);
  t.lab.set_nameserver(Ipv4Addr::parse("8.8.8.8"));
  t.a.set_nameserver(std::nullopt);
  std::vector<nlohmann::json> got;
  while (auto ev = sub.next(1s)) {
    if (ev->kind == "dns_changed") got.push_back(ev->fields);
    if (got.size() == 4) break;
  }
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0], (nlohmann::json{{"device", nullptr}, {"name", "e.test"}, {"ip", "203.0.113.10"}}));
  EXPECT_EQ(got[1], (nlohmann::json{{"device", "a"}, {"name", "f.test"}, {"ip", "203.0.113.20"}}));
  EXPECT_EQ(got[2], (nlohmann::json{{"device", nullptr}, {"name", nullptr}, {"ip", "8.8.8.8"}}));
  EXPECT_EQ(got[3], (nlohmann::json{{"device", "a"}, {"name", nullptr}, {"ip", nullptr}}));
}

TEST(DnsLifecycle, HostFilesAreUntouched) {
  const std::string hosts = slurp("/etc/hosts"), resolv = slurp("/etc/resolv.conf");
  {
    TwoDevices t;
    t.lab.dns_entry("host-check.test", kA);
    t.lab.set_nameserver(Ipv4Addr::parse("8.8.8.8"));
    t.a.set_nameserver(Ipv4Addr::parse("9.9.9.9"));
    EXPECT_EQ(getent(t.a, "host-check.test"), kA);  // control: the overlay is in use
    EXPECT_EQ(slurp("/etc/hosts"), hosts);
    EXPECT_EQ(slurp("/etc/resolv.conf"), resolv);
  }
  EXPECT_EQ(slurp("/etc/hosts"), hosts);
  EXPECT_EQ(slurp("/etc/resolv.conf"), resolv);
}

// The overlay's files live in a tmpfs mounted nowhere: nothing in TMPDIR, even while the lab
// lives, so a lab killed by SIGKILL leaves no file (tests/harness/faults_test.cpp).
TEST(DnsLifecycle, NoFileInTmpdirWhileOrAfterTheLabLives) {
  std::string prefix;
  {
    TwoDevices t;
    prefix = t.lab.prefix();
    t.lab.dns_entry("tmp.test", kA);
    EXPECT_EQ(getent(t.a, "tmp.test"), kA);  // control: the overlay exists and works
    EXPECT_TRUE(lab_tmp_dirs(prefix).empty());
  }
  EXPECT_TRUE(lab_tmp_dirs(prefix).empty());
}

TEST(DnsLifecycle, RemovingDevicesAndLabsLeaksNothing) {
  {
    Lab warm;
    auto dc = warm.add_router("dc").build();
    warm.add_device("d").iface("eth0", dc.id()).build().run([] {});
  }
  int fds = pbtest::fd_count();
  int threads = pbtest::thread_count();
  for (int i = 0; i < 10; ++i) {
    TwoDevices t;
    t.lab.dns_entry("n.test", kA);
    t.a.run([] {});
    t.b.output(Command("true"));
    auto th = t.a.spawn_thread([] { return lookup("n.test"); });
    EXPECT_EQ(th.join(), kA);
    t.lab.remove_device(t.b.id());
    EXPECT_EQ(getent(t.a, "n.test"), kA);  // the other device keeps its overlay
  }
  EXPECT_EQ(pbtest::fd_count(), fds);
  EXPECT_EQ(pbtest::thread_count(), threads);
}
