// SPEC 13.1, 13.4, 13.5 with real labs: per-node log files, node context on node threads,
// timeline events, the lab's filter, library records (link, DNS, NAT, RA/RS) and teardown races
// (items 128, 134 and 135).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "e2e_scenario.hpp"
#include "patchbay/patchbay.hpp"
#include "util.hpp"

using namespace patchbay;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// A fresh directory under /tmp, removed with everything in it.
class TempDir : public pbtest::TempDir {
 public:
  TempDir() : pbtest::TempDir("pb-lablog") {}
};

class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The default filter ("info") whatever the environment of the test run says.
struct DefaultFilter {
  ScopedEnv a{"PATCHBAY_LOG", std::nullopt}, b{"RUST_LOG", std::nullopt};
};

std::vector<ojson> jsonl(const fs::path& p) {
  std::ifstream f(p);
  std::vector<ojson> out;
  for (std::string l; std::getline(f, l);) out.push_back(ojson::parse(l));
  return out;
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

std::vector<std::string> messages(const fs::path& p) {
  std::vector<std::string> out;
  if (!fs::exists(p)) return out;
  for (const auto& j : jsonl(p)) out.push_back(j["fields"].value("message", ""));
  return out;
}

const ojson* find_kind(const std::vector<ojson>& events, const std::string& kind) {
  for (const auto& e : events)
    if (e.value("kind", "") == kind) return &e;
  return nullptr;
}

LabOpts exact(const TempDir& d) {
  return LabOpts{}.outdir(OutDir::exact(d.path()));
}

}  // namespace

// Item 128.
TEST(LabLogs, EndToEndRunHasEventsStateAndPerNodeFiles) {
  DefaultFilter df;
  TempDir base;
  ScopedEnv out("PATCHBAY_OUTDIR", base.path().string());
  fs::path dir;
  std::string server_ip;
  {
    Lab lab{LabOpts{}.outdir_from_env().label("e2e-test")};
    EXPECT_EQ(pbtest::run_e2e_scenario(lab), "hello");
    server_ip = lab.device_by_name("server")->ip()->to_string();
    dir = *lab.outdir();
  }
  EXPECT_EQ(dir.parent_path(), base.path());
  EXPECT_TRUE(dir.filename().string().ends_with("-e2e-test")) << dir;

  auto events = jsonl(dir / "events.jsonl");
  EXPECT_TRUE(find_kind(events, "router_added"));
  EXPECT_TRUE(find_kind(events, "device_added"));
  auto state = nlohmann::json::parse(slurp(dir / "state.json"));
  EXPECT_TRUE(state["routers"].contains("home"));
  EXPECT_TRUE(state["devices"].contains("client"));
  EXPECT_EQ(state["status"], "stopped");

  for (const char* f : {"device.client.tracing.jsonl", "device.client.tracing.log",
                        "device.server.tracing.jsonl", "device.server.tracing.log"})
    EXPECT_TRUE(fs::exists(dir / f)) << f;
  // Routers logged nothing at info, the IX never has files.
  for (const auto& name : files_in(dir)) {
    EXPECT_FALSE(name.starts_with("router.")) << name;
    EXPECT_FALSE(name.starts_with("ix.")) << name;
  }

  auto started = jsonl(dir / "device.server.events.jsonl");
  ASSERT_EQ(started.size(), 1u);
  EXPECT_EQ(started[0]["kind"], "TcpEchoStarted");
  EXPECT_EQ(started[0]["addr"], server_ip + ":7000");
  auto done = jsonl(dir / "device.client.events.jsonl");
  ASSERT_EQ(done.size(), 1u);
  EXPECT_TRUE(done[0].dump().starts_with(R"({"bytes":5,"kind":"TcpRoundtripComplete","timestamp":")"))
      << done[0].dump();

  // The client's record: spans s1{z=3} -> s2{y=2}, target foo, x=1, no message.
  auto client = lines_of(dir / "device.client.tracing.jsonl");
  ASSERT_EQ(client.size(), 2u);
  auto rec = ojson::parse(client[0]);
  EXPECT_EQ(rec["target"], "foo");
  EXPECT_EQ(rec["fields"].dump(), R"({"x":1})");
  EXPECT_EQ(rec["spans"].dump(), R"([{"name":"s1","z":3},{"name":"s2","y":2}])");
  EXPECT_TRUE(log::render_line(client[0], false)->ends_with(" INFO s1{z=3}:s2{y=2}: foo: x=1\n"));
  std::string text;
  for (const auto& l : client) text += log::render_line(l).value();
  EXPECT_EQ(slurp(dir / "device.client.tracing.log"), text);
}

// Item 135: an exact output directory.
TEST(LabLogs, ExactOutdirHoldsTheRunOfAHelloEcho) {
  DefaultFilter df;
  TempDir d;
  {
    Lab lab{exact(d).label("vm-smoke")};
    EXPECT_EQ(pbtest::run_e2e_scenario(lab), "hello");
    EXPECT_EQ(lab.outdir(), d.path());
  }
  EXPECT_TRUE(fs::exists(d.path() / "events.jsonl"));
  auto state = nlohmann::json::parse(slurp(d.path() / "state.json"));
  EXPECT_EQ(state["label"], "vm-smoke");
  EXPECT_EQ(state["status"], "stopped");
}

TEST(LabLogs, EveryNodeThreadCarriesItsNodeContext) {
  DefaultFilter df;
  TempDir d;
  Lab lab{exact(d)};
  auto r = lab.add_router("r").build();
  auto dev = lab.add_device("dev").iface("eth0", r.id()).build();
  dev.run([] { log::info("ctx", "run"); });
  dev.spawn([](Device) -> asio::awaitable<void> {
       log::info("ctx", "spawn");
       co_return;
     })
      .get();
  dev.spawn_thread([] { log::info("ctx", "thread"); }).join();
  std::thread([] { log::info("ctx", "foreign"); }).join();  // no node context: console only
  r.run([] { log::info("ctx", "router"); });
  EXPECT_EQ(messages(*dev.filepath("tracing.jsonl")), (std::vector<std::string>{"run", "spawn", "thread"}));
  EXPECT_EQ(messages(*r.filepath("tracing.jsonl")), (std::vector<std::string>{"router"}));
}

// Item 134.
TEST(LabLogs, NodeEventsAndRecordsFromAForeignThread) {
  DefaultFilter df;
  TempDir d;
  Lab lab{exact(d)};
  auto r = lab.add_router("r").build();
  auto a = lab.add_device("a").iface("eth0", r.id()).build();
  auto b = lab.add_device("b").iface("eth0", r.id()).build();
  std::thread([&] {
    a.emit_event("Probe", {{"n", 7}});
    a.log(log::Level::Warn, "app", "hi", {{"k", "v"}});
    a.log(log::Level::Debug, "app", "filtered");
  }).join();
  auto ev = jsonl(d.path() / "device.a.events.jsonl");
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["kind"], "Probe");
  EXPECT_EQ(ev[0]["n"], 7);
  auto tr = jsonl(d.path() / "device.a.tracing.jsonl");
  ASSERT_EQ(tr.size(), 2u);
  EXPECT_EQ(tr[0]["target"], "patchbay::_events::Probe");
  EXPECT_EQ(tr[1]["level"], "WARN");
  EXPECT_EQ(tr[1]["fields"].dump(), R"({"message":"hi","k":"v"})");
  EXPECT_FALSE(fs::exists(d.path() / "device.b.tracing.jsonl"));  // b's files stay uncreated
}

TEST(LabLogs, SilentNodesCreateNoFiles) {
  DefaultFilter df;
  TempDir d;
  {
    Lab lab{exact(d)};
    auto r = lab.add_router("r").build();
    std::vector<Device> devs;
    for (int i = 0; i < 20; ++i)
      devs.push_back(lab.add_device("d" + std::to_string(i)).iface("eth0", r.id()).build());
    devs[0].run([] {});  // a node thread that logs nothing
    devs[1].log(log::Level::Debug, "app", "below the filter");
  }
  EXPECT_EQ(files_in(d.path()), (std::set<std::string>{"events.jsonl", "state.json"}));
}

TEST(LabLogs, LabFilterOptionAndTimelineEventsBypassIt) {
  TempDir d;
  Lab lab{exact(d).log_filter("warn,app=debug")};
  auto r = lab.add_router("r").build();
  auto dev = lab.add_device("dev").iface("eth0", r.id()).build();
  dev.run([] {
    EXPECT_FALSE(log::enabled(log::Level::Info, "other"));
    EXPECT_TRUE(log::enabled(log::Level::Debug, "app::x"));
    log::info("other", "dropped");
    log::trace("app", "dropped");
    log::debug("app::x", "kept");
    emit_event("Always");
  });
  EXPECT_EQ(messages(*dev.filepath("tracing.jsonl")), (std::vector<std::string>{"kept", ""}));
  EXPECT_EQ(jsonl(*dev.filepath("events.jsonl")).size(), 1u);
  EXPECT_THROW(Lab(exact(d).log_filter("app=loud")), InvalidArgument);
  EXPECT_THROW(Lab(LabOpts{}.log_filter("x[span]=debug")), InvalidArgument);
}

TEST(LabLogs, FilepathNamesTheNodeFile) {
  TempDir d;
  Lab lab{exact(d)};
  auto r = lab.add_router("r").build();
  auto dev = lab.add_device("client").iface("eth0", r.id()).build();
  EXPECT_EQ(dev.filepath("qlog"), d.path() / "device.client.qlog");
  EXPECT_EQ(r.filepath("tracing.log"), d.path() / "router.r.tracing.log");
  EXPECT_EQ(lab.ix().filepath("x"), std::nullopt);  // the IX has no files
  lab.remove_device(dev.id());
  EXPECT_THROW(dev.filepath("qlog"), Removed);
  dev.log(log::Level::Error, "app", "after removal");  // never throws

  Lab plain{LabOpts{}};
  auto r2 = plain.add_router("r").build();
  EXPECT_EQ(r2.filepath("qlog"), std::nullopt);
  r2.log(log::Level::Error, "app", "no outdir");
}

TEST(LabLogs, LoggingRacingWithTeardownNeitherCrashesNorWritesLate) {
  DefaultFilter df;
  TempDir d;
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::optional<Lab> lab;
  lab.emplace(exact(d));
  auto r = lab->add_router("r").build();
  auto dev = lab->add_device("dev").iface("eth0", r.id()).build();
  std::thread foreign([&] {
    while (!stop) {
      dev.log(log::Level::Info, "race", "foreign");
      dev.emit_event("Race");
      ++written;
    }
  });
  std::atomic<bool> inside_running{false};
  auto inside = dev.spawn_thread([&] {
    inside_running = true;
    while (!stop) log::info("race", "inside");
  });
  // Both must be logging when the lab goes (a thread still entering the namespace would fail).
  while (written < 100 || !inside_running) std::this_thread::sleep_for(1ms);
  lab.reset();  // destroys the lab while both keep logging
  const auto json = fs::file_size(d.path() / "device.dev.tracing.jsonl");
  const auto text = fs::file_size(d.path() / "device.dev.tracing.log");
  const auto events = fs::file_size(d.path() / "device.dev.events.jsonl");
  const int before = written;
  while (written < before + 1000) std::this_thread::sleep_for(1ms);  // still logging, into nothing
  EXPECT_EQ(fs::file_size(d.path() / "device.dev.tracing.jsonl"), json);
  EXPECT_EQ(fs::file_size(d.path() / "device.dev.tracing.log"), text);
  EXPECT_EQ(fs::file_size(d.path() / "device.dev.events.jsonl"), events);
  stop = true;
  foreign.join();
  inside.join();
  for (const auto& l : lines_of(d.path() / "device.dev.tracing.jsonl")) EXPECT_TRUE(ojson::accept(l)) << l;
}

TEST(LabLogs, LibraryRecordsForLinksDnsAndNatMappings) {
  DefaultFilter df;
  TempDir d;
  Lab lab{exact(d).log_filter("info,patchbay::nat=debug")};
  auto dc = lab.add_router("dc").preset(RouterPreset::Public).build();
  auto home = lab.add_router("home").preset(RouterPreset::Home).build();
  auto dev = lab.add_device("dev").iface("eth0", home.id()).build();
  auto srv = lab.add_device("srv").iface("eth0", dc.id()).build();
  const SocketAddr refl(IpAddr(*srv.ip()), 3478);
  auto guard = srv.spawn_reflector(refl);
  auto observed =
      dev.run([&] { return patchbay::testing::udp_roundtrip(refl, SocketAddr(IpAddr(*dev.ip()), 40123)); });

  // The controller logs after releasing the packet: the reply may come back first.
  std::vector<ojson> nat;
  const ojson* mapping = nullptr;
  for (auto end = std::chrono::steady_clock::now() + 3s;
       !mapping && std::chrono::steady_clock::now() < end;) {
    nat = fs::exists(*home.filepath("tracing.jsonl")) ? jsonl(*home.filepath("tracing.jsonl")) : nat;
    for (const auto& j : nat)
      if (j["target"] == "patchbay::nat" && j["fields"].value("message", "") == "new mapping") mapping = &j;
    if (!mapping) std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(mapping) << slurp(*home.filepath("tracing.jsonl"));
  EXPECT_EQ((*mapping)["level"], "DEBUG");
  EXPECT_EQ((*mapping)["fields"]["proto"], "udp");
  EXPECT_EQ((*mapping)["fields"]["internal"], dev.ip()->to_string() + ":40123");
  EXPECT_EQ((*mapping)["fields"]["external"], observed.to_string());
  EXPECT_EQ((*mapping)["fields"]["remote"], refl.to_string());

  dev.iface("eth0")->set_condition(LinkCondition::wifi(), LinkDirection::Both);
  dev.dns_entry("relay", IpAddr::parse("198.18.0.42"));
  auto recs = jsonl(*dev.filepath("tracing.jsonl"));
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["target"], "patchbay::link");
  EXPECT_EQ(recs[0]["fields"].dump(),
            R"({"message":"link condition changed","iface":"eth0","direction":"both","condition":"wifi"})");
  EXPECT_EQ(recs[1]["target"], "patchbay::dns");
  EXPECT_EQ(recs[1]["fields"].dump(), R"({"message":"hosts entry set","name":"relay","ip":"198.18.0.42"})");
}

TEST(LabLogs, RouterAdvertisementAndSolicitationTimelineEvents) {
  DefaultFilter df;
  TempDir d;
  Lab lab{exact(d).ipv6_provisioning_mode(Ipv6ProvisioningMode::RaDriven)};
  auto r = lab.add_router("r").ip_support(IpSupport::DualStack).ra_lifetime_secs(600).build();
  auto dev = lab.add_device("dev").iface("eth0", r.id()).build();  // waits for the RA route
  const auto lan_ll = r.iface(r.downstream_bridge())->ll6->to_string();

  auto ras = jsonl(*r.filepath("events.jsonl"));
  ASSERT_FALSE(ras.empty());
  EXPECT_EQ(ras[0]["kind"], "RouterAdvertisement");
  EXPECT_EQ(ras[0]["ns"], r.ns());
  EXPECT_EQ(ras[0]["router"], "r");
  EXPECT_EQ(ras[0]["iface"], r.downstream_bridge());
  EXPECT_EQ(ras[0]["src"], lan_ll);
  EXPECT_EQ(ras[0]["lifetime_secs"], 600);
  EXPECT_EQ(ras[0]["interval_secs"], 30);

  // One RS, or a few when an answer was slow to come (the build retransmits every 300 ms).
  auto rss = jsonl(*dev.filepath("events.jsonl"));
  ASSERT_GE(rss.size(), 1u);
  EXPECT_LE(rss.size(), 7u);
  for (const auto& rs : rss) {
    EXPECT_EQ(rs["kind"], "RouterSolicitation");
    EXPECT_EQ(rs["ns"], dev.ns());
    EXPECT_EQ(rs["device"], "dev");
    EXPECT_EQ(rs["iface"], "eth0");
    EXPECT_EQ(rs["dst"], "ff02::2");
    EXPECT_EQ(rs["router_ll"], lan_ll);
  }
  // Every RA sent is an event: the first one, then the answer to the solicitation.
  for (auto end = std::chrono::steady_clock::now() + 3s;
       ras.size() < 2 && std::chrono::steady_clock::now() < end;) {
    std::this_thread::sleep_for(20ms);
    ras = jsonl(*r.filepath("events.jsonl"));
  }
  EXPECT_GE(ras.size(), 2u);
}

// Review item 3: the descriptor cost of a logging node, which docs/logging.md states: two once
// it logs (.tracing.jsonl, .tracing.log), three once it emits a timeline event, none after its
// removal (review item 10: closed after everything that logs for it stopped).
TEST(LabLogs, ALoggingNodeHoldsTwoOrThreeDescriptorsUntilRemoved) {
  // Only the node's own files: the lab's other threads open and close descriptors meanwhile.
  auto open_fds = [] {
    std::size_t n = 0;
    for (auto it = fs::directory_iterator("/proc/self/fd"); it != fs::directory_iterator(); ++it) {
      std::error_code ec;
      auto target = fs::read_symlink(it->path(), ec);
      if (!ec && target.filename().string().starts_with("device.dev.")) ++n;
    }
    return n;
  };
  TempDir d;
  Lab lab{exact(d).log_filter("info")};
  auto r = lab.add_router("r").build();
  auto dev = lab.add_device("dev").iface("eth0", r.id()).build();
  dev.run([] {});
  const std::size_t base = open_fds();
  EXPECT_EQ(base, 0u);
  dev.log(log::Level::Info, "app", "first");
  EXPECT_EQ(open_fds(), base + 2);
  dev.log(log::Level::Info, "app", "second");
  EXPECT_EQ(open_fds(), base + 2);
  dev.emit_event("Tick");
  EXPECT_EQ(open_fds(), base + 3);
  lab.remove_device(dev.id());
  EXPECT_LE(open_fds(), base);
  EXPECT_EQ(messages(d.path() / "device.dev.tracing.jsonl"),
            (std::vector<std::string>{"first", "second", ""}));
}
