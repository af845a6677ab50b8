// Unit tests for the lab event stream: opids, the JSON line format and the state.json reducer
// (SPEC 13.1-13.3, acceptance items 129-131).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "events/bus.hpp"
#include "patchbay/error.hpp"
#include "patchbay/events.hpp"

namespace patchbay {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::system_clock;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------------------------------------
// EventBus / EventSubscription

TEST(EventBus, AssignsGaplessOpidsWhileSubscriberNeverReads) {
  events::EventBus bus;
  std::vector<std::uint64_t> sink_opids;
  std::vector<system_clock::time_point> sink_times;
  bus.set_sink([&](const LabEvent& ev) {
    sink_opids.push_back(ev.opid);
    sink_times.push_back(ev.timestamp);
  });
  EventSubscription idle = bus.subscribe(16);

  for (int i = 0; i < 10000; ++i) {
    LabEvent ev = bus.publish("packet_counters", {{"node", "r1"}, {"i", i}});
    ASSERT_EQ(ev.opid, static_cast<std::uint64_t>(i));
  }

  ASSERT_EQ(sink_opids.size(), 10000u);
  for (std::size_t i = 0; i < sink_opids.size(); ++i) ASSERT_EQ(sink_opids[i], i);
  for (std::size_t i = 1; i < sink_times.size(); ++i) ASSERT_LE(sink_times[i - 1], sink_times[i]);
  EXPECT_EQ(bus.next_opid(), 10000u);
  EXPECT_EQ(idle.lagged(), 10000u - 16u);
  // The survivors are the newest 16, in order.
  for (std::uint64_t want = 10000 - 16; want < 10000; ++want) {
    auto ev = idle.try_next();
    ASSERT_TRUE(ev.has_value());
    EXPECT_EQ(ev->opid, want);
  }
  EXPECT_FALSE(idle.try_next().has_value());
}

TEST(EventBus, ConcurrentPublishersYieldStrictlyIncreasingOpids) {
  events::EventBus bus;
  std::vector<std::uint64_t> sink_opids;
  bus.set_sink([&](const LabEvent& ev) { sink_opids.push_back(ev.opid); });
  EventSubscription full = bus.subscribe(20000);
  EventSubscription small = bus.subscribe(8);

  constexpr int kThreads = 4;
  constexpr int kPerThread = 2500;
  constexpr std::uint64_t kTotal = kThreads * kPerThread;
  std::vector<std::uint64_t> seen;
  std::thread reader([&] {
    while (seen.size() < kTotal) {
      auto ev = full.next(milliseconds(5000));
      if (!ev) break;
      seen.push_back(ev->opid);
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&bus, t] {
      for (int i = 0; i < kPerThread; ++i) bus.publish("link_up", {{"device", "d" + std::to_string(t)}});
    });
  }
  for (auto& w : writers) w.join();
  reader.join();

  ASSERT_EQ(seen.size(), kTotal);
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i);
  EXPECT_EQ(full.lagged(), 0u);
  ASSERT_EQ(sink_opids.size(), kTotal);
  for (std::size_t i = 0; i < sink_opids.size(); ++i) ASSERT_EQ(sink_opids[i], i);

  std::uint64_t received = 0;
  std::optional<std::uint64_t> prev;
  while (auto ev = small.try_next()) {
    if (prev) {
      EXPECT_GT(ev->opid, *prev);
    }
    prev = ev->opid;
    ++received;
  }
  EXPECT_EQ(received, 8u);
  EXPECT_EQ(received + small.lagged(), kTotal);
}

TEST(EventBus, SubscriberSeesOnlyEventsPublishedAfterSubscribing) {
  events::EventBus bus;
  bus.publish("lab_created", {{"lab_prefix", "lab-p1"}, {"label", nullptr}});
  EventSubscription sub = bus.subscribe(4);
  bus.publish("ix_created", {{"bridge", "br-ix"}});
  auto ev = sub.try_next();
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->opid, 1u);
  EXPECT_EQ(ev->kind, "ix_created");
  EXPECT_FALSE(sub.try_next().has_value());
}

TEST(EventBus, DestroyedSubscriptionIsNoLongerFed) {
  events::EventBus bus;
  auto sub = std::make_unique<EventSubscription>(bus.subscribe(2));
  bus.publish("link_up", json::object());
  EXPECT_TRUE(sub->try_next().has_value());
  sub.reset();
  // Under ASan a delivery to the freed queue would be reported here.
  for (int i = 0; i < 100; ++i) bus.publish("link_up", json::object());
  EXPECT_EQ(bus.next_opid(), 101u);
}

TEST(EventBus, MovedFromSubscriptionIsEmptyAndClosed) {
  events::EventBus bus;
  EventSubscription a = bus.subscribe(4);
  EventSubscription b = std::move(a);
  bus.publish("link_up", json::object());
  EXPECT_FALSE(a.try_next().has_value());  // NOLINT(bugprone-use-after-move): documented state
  EXPECT_TRUE(a.closed());
  EXPECT_EQ(a.lagged(), 0u);
  EXPECT_TRUE(b.try_next().has_value());
}

TEST(EventBus, RejectsNonObjectFieldsAndReservedKeys) {
  events::EventBus bus;
  EXPECT_THROW(bus.publish("x", json::array()), InvalidArgument);
  EXPECT_THROW(bus.publish("x", {{"opid", 7}}), InvalidArgument);
  EXPECT_THROW(bus.publish("x", {{"timestamp", "now"}}), InvalidArgument);
  EXPECT_THROW(bus.publish("x", {{"kind", "y"}}), InvalidArgument);
  EXPECT_THROW(bus.subscribe(0), InvalidArgument);
  // Rejected events consume no opid; a null field set is an empty object.
  LabEvent ok = bus.publish("x", nullptr);
  EXPECT_EQ(ok.opid, 0u);
  EXPECT_TRUE(ok.fields.is_object());
}

TEST(EventBus, SinkFailureDoesNotLeaveAGap) {
  events::EventBus bus;
  bool fail = true;
  std::vector<std::uint64_t> written;
  bus.set_sink([&](const LabEvent& ev) {
    if (fail) throw std::runtime_error("disk full");
    written.push_back(ev.opid);
  });
  EXPECT_THROW(bus.publish("link_up", json::object()), std::runtime_error);
  fail = false;
  bus.publish("link_up", json::object());
  EXPECT_EQ(written, std::vector<std::uint64_t>{0});
}

TEST(EventSubscription, NextTimesOutWhenNothingIsPublished) {
  events::EventBus bus;
  EventSubscription sub = bus.subscribe(4);
  auto start = Clock::now();
  EXPECT_FALSE(sub.next(milliseconds(50)).has_value());
  EXPECT_GE(Clock::now() - start, milliseconds(40));
  EXPECT_FALSE(sub.closed());
}

TEST(EventSubscription, NextWakesUpOnPublish) {
  events::EventBus bus;
  EventSubscription sub = bus.subscribe(4);
  std::thread publisher([&] {
    std::this_thread::sleep_for(milliseconds(50));
    bus.publish("link_down", {{"device", "d1"}, {"iface", "eth0"}});
  });
  auto start = Clock::now();
  auto ev = sub.next(milliseconds(10000));
  auto waited = Clock::now() - start;
  publisher.join();
  ASSERT_TRUE(ev.has_value());
  EXPECT_EQ(ev->kind, "link_down");
  EXPECT_LT(waited, milliseconds(5000));
}

TEST(EventSubscription, DrainsThenReturnsPromptlyAfterBusIsDestroyed) {
  auto bus = std::make_unique<events::EventBus>();
  EventSubscription sub = bus->subscribe(4);
  bus->publish("link_up", json::object());
  bus.reset();
  EXPECT_TRUE(sub.closed());
  EXPECT_TRUE(sub.next(milliseconds(10000)).has_value());
  auto start = Clock::now();
  EXPECT_FALSE(sub.next(milliseconds(10000)).has_value());
  EXPECT_LT(Clock::now() - start, milliseconds(1000));
}

// ---------------------------------------------------------------------------------------------
// LabEvent JSON and timestamps

json iface_snapshot(const std::string& name, const std::string& router, const std::string& ip) {
  return {{"name", name},
          {"router", router},
          {"ip", ip},
          {"ip_v6", nullptr},
          {"ll_v6", nullptr},
          {"link_condition", nullptr},
          {"link_condition_down", nullptr},
          {"is_up", true}};
}

json router_state(const std::string& upstream = "") {
  return {{"ns", "lab-p1-r"},
          {"region", nullptr},
          {"nat", "home"},
          {"nat_v6", "none"},
          {"firewall", "none"},
          {"ip_support", "v4-only"},
          {"mtu", nullptr},
          {"upstream", upstream.empty() ? json(nullptr) : json(upstream)},
          {"uplink_ip", "198.18.0.2"},
          {"uplink_ip_v6", nullptr},
          {"uplink_ll_v6", nullptr},
          {"downstream_cidr", "10.0.1.0/24"},
          {"downstream_gw", "10.0.1.1"},
          {"downstream_cidr_v6", nullptr},
          {"downstream_gw_v6", nullptr},
          {"downstream_ll_v6", nullptr},
          {"downstream_bridge", "br-2"},
          {"downlink_condition", nullptr},
          {"devices", json::array()},
          {"counters", json::object()}};
}

json device_state(std::vector<json> ifaces) {
  std::string default_via = ifaces.empty() ? "" : ifaces.front()["name"].get<std::string>();
  return {{"ns", "lab-p1-d"},
          {"default_via", default_via},
          {"mtu", nullptr},
          {"interfaces", ifaces},
          {"counters", json::object()}};
}

json with_name(json fields, const std::string& name) {
  fields["name"] = name;
  return fields;
}

// One representative field set per kind of SPEC 13.2.
std::vector<std::pair<std::string, json>> every_event_kind() {
  return {
      {"lab_created", {{"lab_prefix", "lab-p1"}, {"label", "e2e"}, {"seed", 42}, {"engine", "userspace"}}},
      {"ix_created",
       {{"bridge", "br-ix"},
        {"cidr", "198.18.0.0/24"},
        {"gw", "198.18.0.1"},
        {"cidr_v6", "2001:db8::/64"},
        {"gw_v6", "2001:db8::1"}}},
      {"router_added", with_name(router_state(), "r1")},
      {"router_removed", {{"name", "r1"}}},
      {"device_added", with_name(device_state({iface_snapshot("eth0", "r1", "10.0.1.2")}), "d1")},
      {"device_removed", {{"name", "d1"}}},
      {"region_added", {{"name", "eu"}, {"router", "region_eu"}}},
      {"region_link_added", {{"router_a", "region_eu"}, {"router_b", "region_us"}, {"condition", nullptr}}},
      {"region_link_broken", {{"router_a", "region_eu"}, {"router_b", "region_us"}, {"condition", nullptr}}},
      {"region_link_restored", {{"router_a", "region_eu"}, {"router_b", "region_us"}}},
      {"nat_changed", {{"router", "r1"}, {"nat", {{"custom", {{"mapping", "endpoint_independent"}}}}}}},
      {"nat_v6_changed", {{"router", "r1"}, {"nat_v6", "nptv6"}}},
      {"nat_state_flushed", {{"router", "r1"}}},
      {"firewall_changed", {{"router", "r1"}, {"firewall", "corporate"}}},
      {"link_condition_changed",
       {{"device", "d1"}, {"iface", "eth0"}, {"condition", "wifi"}, {"direction", "both"}}},
      {"downlink_condition_changed",
       {{"router", "r1"}, {"condition", {{"latency_ms", 20}, {"loss_pct", 1.5}}}}},
      {"link_up", {{"device", "d1"}, {"iface", "eth0"}}},
      {"link_down", {{"device", "d1"}, {"iface", "eth0"}}},
      {"interface_added", {{"device", "d1"}, {"iface", iface_snapshot("eth1", "r2", "10.0.2.2")}}},
      {"interface_removed", {{"device", "d1"}, {"iface_name", "eth1"}}},
      {"interface_replugged",
       {{"device", "d1"},
        {"iface_name", "eth0"},
        {"from_router", "r1"},
        {"to_router", "r2"},
        {"new_ip", "10.0.2.3"},
        {"new_ip_v6", nullptr}}},
      {"device_ip_changed",
       {{"device", "d1"}, {"iface_name", "eth0"}, {"new_ip", "10.0.1.9"}, {"new_ip_v6", "fd10::9"}}},
      {"command_spawned", {{"node", "d1"}, {"pid", 4242}, {"cmd", "ping -c 1 'a b'"}}},
      {"command_exited", {{"node", "d1"}, {"pid", 4242}, {"exit_code", nullptr}, {"signal", 9}}},
      {"packet_counters",
       {{"node", "d1"},
        {"counters", json::array({{{"iface", "eth0"},
                                   {"rx_bytes", 1},
                                   {"tx_bytes", 2},
                                   {"rx_packets", 3},
                                   {"tx_packets", 4}}})}}},
      {"initial_state", {{"state", LabState{}.to_json()}}},
      {"default_route_changed", {{"device", "d1"}, {"iface", "eth1"}}},
      {"ip_added", {{"device", "d1"}, {"iface_name", "eth0"}, {"ip", "10.0.1.77"}, {"prefix_len", 24}}},
      {"uplink_condition_changed", {{"router", "r1"}, {"direction", "down"}, {"condition", "satellite"}}},
      {"ra_changed", {{"router", "r1"}, {"enabled", true}, {"interval_secs", 30}, {"lifetime_secs", 1800}}},
      {"dns_changed", {{"device", nullptr}, {"name", "relay.test"}, {"ip", "10.0.0.5"}}},
  };
}

// "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ", checked by shape rather than through format_rfc3339 itself.
bool is_event_timestamp(std::string_view ts) {
  const std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddddddddZ";
  if (ts.size() != shape.size()) return false;
  for (std::size_t i = 0; i < ts.size(); ++i) {
    bool ok = shape[i] == 'd' ? (ts[i] >= '0' && ts[i] <= '9') : ts[i] == shape[i];
    if (!ok) return false;
  }
  return true;
}

TEST(LabEventJson, EveryKindRoundTripsThroughAJsonLine) {
  events::EventBus bus;
  auto kinds = every_event_kind();
  ASSERT_EQ(kinds.size(), 31u);
  for (const auto& [kind, fields] : kinds) {
    SCOPED_TRACE(kind);
    LabEvent ev = bus.publish(kind, fields);
    std::string line = ev.to_jsonl();
    EXPECT_EQ(line.find('\n'), std::string::npos);
    // Header keys come first, in SPEC order: {"opid":N,"timestamp":"…","kind":"…"
    const std::string opid_prefix = "{\"opid\":" + std::to_string(ev.opid) + ",\"timestamp\":\"";
    ASSERT_EQ(line.rfind(opid_prefix, 0), 0u) << line;
    std::string ts = line.substr(opid_prefix.size(), 30);
    EXPECT_TRUE(is_event_timestamp(ts)) << ts;
    EXPECT_EQ(line.substr(opid_prefix.size() + 30, 11 + kind.size()), "\",\"kind\":\"" + kind + "\"") << line;

    LabEvent back = LabEvent::from_json(json::parse(line));
    EXPECT_EQ(back.opid, ev.opid);
    EXPECT_EQ(back.kind, kind);
    EXPECT_EQ(back.fields, fields);
    EXPECT_EQ(back.timestamp, ev.timestamp);  // nanoseconds survive
    EXPECT_EQ(back.to_jsonl(), line);
    EXPECT_EQ(LabEvent::from_json(ev.to_json()).fields, fields);
  }
}

TEST(LabEventJson, AcceptsOpidsBuiltAsSignedIntegers) {
  json j = {
      {"opid", 5}, {"timestamp", "2026-03-05T12:00:00.000000001Z"}, {"kind", "link_up"}, {"device", "d1"}};
  LabEvent ev = LabEvent::from_json(j);
  EXPECT_EQ(ev.opid, 5u);
  EXPECT_EQ(ev.fields, json({{"device", "d1"}}));
}

TEST(LabEventJson, RejectsMalformedEvents) {
  const std::string ts = "2026-03-05T12:00:00.000000000Z";
  EXPECT_THROW(LabEvent::from_json(json::array()), InvalidArgument);
  EXPECT_THROW(LabEvent::from_json({{"timestamp", ts}, {"kind", "x"}}), InvalidArgument);
  EXPECT_THROW(LabEvent::from_json({{"opid", -1}, {"timestamp", ts}, {"kind", "x"}}), InvalidArgument);
  EXPECT_THROW(LabEvent::from_json({{"opid", "1"}, {"timestamp", ts}, {"kind", "x"}}), InvalidArgument);
  EXPECT_THROW(LabEvent::from_json({{"opid", 1.5}, {"timestamp", ts}, {"kind", "x"}}), InvalidArgument);
  EXPECT_THROW(LabEvent::from_json({{"opid", 1}, {"kind", "x"}}), InvalidArgument);
  EXPECT_THROW(LabEvent::from_json({{"opid", 1}, {"timestamp", "yesterday"}, {"kind", "x"}}),
               InvalidArgument);
  EXPECT_THROW(LabEvent::from_json({{"opid", 1}, {"timestamp", ts}}), InvalidArgument);
  EXPECT_THROW(LabEvent::from_json({{"opid", 1}, {"timestamp", ts}, {"kind", ""}}), InvalidArgument);
  EXPECT_THROW(LabEvent::from_json({{"opid", 1}, {"timestamp", ts}, {"kind", 3}}), InvalidArgument);
}

TEST(LabEventJson, HeaderValuesShadowSameNamedFields) {
  LabEvent ev;
  ev.opid = 3;
  ev.kind = "link_up";
  ev.fields = {{"opid", 99}, {"device", "d1"}};
  json j = json::parse(ev.to_jsonl());
  EXPECT_EQ(j["opid"], 3);
  EXPECT_EQ(j["device"], "d1");
  EXPECT_EQ(ev.to_json()["opid"], 3);
}

system_clock::time_point at(std::int64_t unix_seconds, std::int64_t nanos) {
  return system_clock::time_point{std::chrono::seconds(unix_seconds) + std::chrono::nanoseconds(nanos)};
}

TEST(Rfc3339, FormatsUtcWithRequestedFractionDigits) {
  auto tp = at(1772712000, 123456789);  // 2026-03-05T12:00:00Z
  EXPECT_EQ(format_rfc3339(tp, 9), "2026-03-05T12:00:00.123456789Z");
  EXPECT_EQ(format_rfc3339(tp, 6), "2026-03-05T12:00:00.123456Z");
  EXPECT_EQ(format_rfc3339(tp, 0), "2026-03-05T12:00:00Z");
  EXPECT_EQ(format_rfc3339(at(0, 0), 9), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(format_rfc3339(at(0, -1), 9), "1969-12-31T23:59:59.999999999Z");
  EXPECT_THROW(format_rfc3339(tp, 10), InvalidArgument);
  EXPECT_THROW(format_rfc3339(tp, -1), InvalidArgument);
}

TEST(Rfc3339, ParsesOffsetsShortFractionsAndLowerCase) {
  EXPECT_EQ(parse_rfc3339("2026-03-05T12:00:00.123456789Z"), at(1772712000, 123456789));
  EXPECT_EQ(parse_rfc3339("2026-03-05T13:30:00.5+01:30"), at(1772712000, 500000000));
  EXPECT_EQ(parse_rfc3339("2026-03-05t07:00:00-05:00"), at(1772712000, 0));
  EXPECT_EQ(parse_rfc3339("2026-03-05 12:00:00z"), at(1772712000, 0));
  EXPECT_EQ(parse_rfc3339("2026-03-05T12:00:00.1234567891Z"), at(1772712000, 123456789));
  EXPECT_EQ(parse_rfc3339("2024-02-29T00:00:00Z"), at(1709164800, 0));
}

TEST(Rfc3339, RejectsMalformedTimestamps) {
  for (const char* bad : {"", "2026-03-05", "2026-03-05T12:00:00", "2026-02-30T00:00:00Z",
                          "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-03-05T24:00:00Z",
                          "2026-03-05T12:60:00Z", "2026-03-05T12:00:00.Z", "2026-03-05T12:00:00Zjunk",
                          "2026-03-05T12:00:00+0100", "3000-01-01T00:00:00Z", "26-03-05T12:00:00Z"}) {
    EXPECT_FALSE(parse_rfc3339(bad).has_value()) << bad;
  }
}

// ---------------------------------------------------------------------------------------------
// LabState reducer

struct Reducer {
  LabState state;
  std::uint64_t opid = 0;

  void apply(const std::string& kind, json fields) {
    LabEvent ev;
    ev.opid = opid++;
    ev.timestamp = at(1772712000, 42);
    ev.kind = kind;
    ev.fields = std::move(fields);
    state.apply(ev);
  }
  json router_devices(const std::string& r) const { return state.routers.at(r).at("devices"); }
  json iface(const std::string& d, const std::string& name) const {
    for (const auto& i : state.devices.at(d).at("interfaces")) {
      if (i["name"] == name) return i;
    }
    return nullptr;
  }
};

// LabCreated, IxCreated, RouterAdded r1, DeviceAdded d1@r1 (SPEC 17 item 131).
Reducer basic_lab() {
  Reducer r;
  r.apply("lab_created", {{"lab_prefix", "lab-p1"}, {"label", nullptr}});
  r.apply("ix_created", {{"bridge", "br-ix"},
                         {"cidr", "198.18.0.0/24"},
                         {"gw", "198.18.0.1"},
                         {"cidr_v6", "2001:db8::/64"},
                         {"gw_v6", "2001:db8::1"}});
  r.apply("router_added", with_name(router_state(), "r1"));
  r.apply("device_added", with_name(device_state({iface_snapshot("eth0", "r1", "10.0.1.2")}), "d1"));
  return r;
}

TEST(LabStateReducer, BuildsBasicLab) {
  Reducer r = basic_lab();
  const LabState& s = r.state;
  EXPECT_EQ(s.opid, 3u);
  EXPECT_EQ(s.lab_prefix, "lab-p1");
  EXPECT_FALSE(s.label.has_value());
  EXPECT_EQ(s.status, "running");
  EXPECT_EQ(s.created_at, "2026-03-05T12:00:00.000000042Z");
  ASSERT_TRUE(s.ix.is_object());
  EXPECT_EQ(s.ix["cidr"], "198.18.0.0/24");
  EXPECT_EQ(s.routers.size(), 1u);
  EXPECT_EQ(s.devices.size(), 1u);
  EXPECT_EQ(r.router_devices("r1"), json({"d1"}));
  EXPECT_FALSE(s.routers.at("r1").contains("name"));
  EXPECT_EQ(s.devices.at("d1")["default_via"], "eth0");
}

TEST(LabStateReducer, ReplugMovesDeviceBetweenRouterLists) {
  Reducer r = basic_lab();
  r.apply("router_added", with_name(router_state(), "r2"));
  r.apply("interface_replugged", {{"device", "d1"},
                                  {"iface_name", "eth0"},
                                  {"from_router", "r1"},
                                  {"to_router", "r2"},
                                  {"new_ip", "10.0.2.2"},
                                  {"new_ip_v6", nullptr}});
  EXPECT_EQ(r.router_devices("r1"), json::array());
  EXPECT_EQ(r.router_devices("r2"), json({"d1"}));
  EXPECT_EQ(r.iface("d1", "eth0")["router"], "r2");
  EXPECT_EQ(r.iface("d1", "eth0")["ip"], "10.0.2.2");
  EXPECT_EQ(r.iface("d1", "eth0")["is_up"], true);  // untouched fields survive
}

TEST(LabStateReducer, ReplugKeepsDeviceListedWhileAnotherInterfaceRemains) {
  Reducer r = basic_lab();
  r.apply("router_added", with_name(router_state(), "r2"));
  r.apply("interface_added", {{"device", "d1"}, {"iface", iface_snapshot("eth1", "r1", "10.0.1.3")}});
  r.apply("interface_replugged", {{"device", "d1"},
                                  {"iface_name", "eth1"},
                                  {"from_router", "r1"},
                                  {"to_router", "r2"},
                                  {"new_ip", "10.0.2.3"},
                                  {"new_ip_v6", nullptr}});
  EXPECT_EQ(r.router_devices("r1"), json({"d1"}));
  EXPECT_EQ(r.router_devices("r2"), json({"d1"}));
}

TEST(LabStateReducer, InterfaceAddAndRemoveKeepRouterListsConsistent) {
  Reducer r = basic_lab();
  r.apply("router_added", with_name(router_state(), "r2"));
  json eth1 = iface_snapshot("eth1", "r2", "10.0.2.2");
  r.apply("interface_added", {{"device", "d1"}, {"iface", eth1}});
  r.apply("interface_added", {{"device", "d1"}, {"iface", eth1}});  // re-add: no duplicates
  EXPECT_EQ(r.router_devices("r2"), json({"d1"}));
  EXPECT_EQ(r.state.devices.at("d1")["interfaces"].size(), 2u);

  r.apply("interface_removed", {{"device", "d1"}, {"iface_name", "eth1"}});
  EXPECT_EQ(r.router_devices("r2"), json::array());
  EXPECT_EQ(r.router_devices("r1"), json({"d1"}));
  EXPECT_EQ(r.state.devices.at("d1")["interfaces"].size(), 1u);
}

TEST(LabStateReducer, RemovingDefaultInterfacePromotesFirstRemaining) {
  Reducer r = basic_lab();
  r.apply("interface_added", {{"device", "d1"}, {"iface", iface_snapshot("eth1", "r1", "10.0.1.3")}});
  r.apply("interface_removed", {{"device", "d1"}, {"iface_name", "eth0"}});
  EXPECT_EQ(r.state.devices.at("d1")["default_via"], "eth1");
  EXPECT_EQ(r.router_devices("r1"), json({"d1"}));  // eth1 still hangs off r1
}

TEST(LabStateReducer, RemovalsDeleteAndCleanRouterLists) {
  Reducer r = basic_lab();
  r.apply("device_added", with_name(device_state({iface_snapshot("eth0", "r1", "10.0.1.3")}), "d2"));
  EXPECT_EQ(r.router_devices("r1"), json({"d1", "d2"}));
  r.apply("device_removed", {{"name", "d1"}});
  EXPECT_EQ(r.state.devices.count("d1"), 0u);
  EXPECT_EQ(r.router_devices("r1"), json({"d2"}));
  r.apply("router_removed", {{"name", "r1"}});
  EXPECT_TRUE(r.state.routers.empty());
  EXPECT_EQ(r.state.opid, 6u);
}

TEST(LabStateReducer, DeviceIpAndDefaultRouteChangesUpdateInterfaces) {
  Reducer r = basic_lab();
  r.apply("interface_added", {{"device", "d1"}, {"iface", iface_snapshot("eth1", "r1", "10.0.1.3")}});
  r.apply("device_ip_changed",
          {{"device", "d1"}, {"iface_name", "eth0"}, {"new_ip", "10.0.1.99"}, {"new_ip_v6", "fd10::99"}});
  EXPECT_EQ(r.iface("d1", "eth0")["ip"], "10.0.1.99");
  EXPECT_EQ(r.iface("d1", "eth0")["ip_v6"], "fd10::99");
  r.apply("default_route_changed", {{"device", "d1"}, {"iface", "eth1"}});
  EXPECT_EQ(r.state.devices.at("d1")["default_via"], "eth1");
  r.apply("default_route_changed", {{"device", "d1"}, {"iface", "nope"}});  // unknown iface: ignored
  EXPECT_EQ(r.state.devices.at("d1")["default_via"], "eth1");
}

TEST(LabStateReducer, LinkConditionFollowsDirection) {
  Reducer r = basic_lab();
  r.apply("link_condition_changed", {{"device", "d1"}, {"iface", "eth0"}, {"condition", "wifi"}});
  EXPECT_EQ(r.iface("d1", "eth0")["link_condition"], "wifi");
  EXPECT_EQ(r.iface("d1", "eth0")["link_condition_down"], nullptr);
  r.apply("link_condition_changed",
          {{"device", "d1"}, {"iface", "eth0"}, {"condition", "mobile-3g"}, {"direction", "down"}});
  EXPECT_EQ(r.iface("d1", "eth0")["link_condition"], "wifi");
  EXPECT_EQ(r.iface("d1", "eth0")["link_condition_down"], "mobile-3g");
  r.apply("link_condition_changed",
          {{"device", "d1"}, {"iface", "eth0"}, {"condition", nullptr}, {"direction", "both"}});
  EXPECT_EQ(r.iface("d1", "eth0")["link_condition"], nullptr);
  EXPECT_EQ(r.iface("d1", "eth0")["link_condition_down"], nullptr);
}

TEST(LabStateReducer, RegionLinkBrokenAndRestoredMatchEitherOrder) {
  Reducer r;
  r.apply("region_added", {{"name", "eu"}, {"router", "region_eu"}});
  r.apply("region_added", {{"name", "us"}, {"router", "region_us"}});
  r.apply("region_link_added", {{"router_a", "region_eu"}, {"router_b", "region_us"}});
  EXPECT_EQ(r.state.regions.at("eu"), json({{"router", "region_eu"}}));
  ASSERT_EQ(r.state.region_links.size(), 1u);
  EXPECT_EQ(r.state.region_links[0],
            json({{"a", "region_eu"}, {"b", "region_us"}, {"condition", nullptr}, {"broken", false}}));

  r.apply("region_link_broken",
          {{"router_a", "region_us"}, {"router_b", "region_eu"}, {"condition", "satellite"}});
  EXPECT_EQ(r.state.region_links[0]["broken"], true);
  EXPECT_EQ(r.state.region_links[0]["condition"], "satellite");
  r.apply("region_link_restored", {{"router_a", "region_eu"}, {"router_b", "region_us"}});
  EXPECT_EQ(r.state.region_links[0]["broken"], false);
  EXPECT_EQ(r.state.region_links[0]["condition"], nullptr);
  r.apply("region_link_broken",
          {{"router_a", "region_eu"}, {"router_b", "region_asia"}, {"condition", nullptr}});
  EXPECT_EQ(r.state.region_links[0]["broken"], false);  // different link: untouched
}

TEST(LabStateReducer, RouterMutationsUpdateTheRouter) {
  Reducer r = basic_lab();
  r.apply("nat_changed", {{"router", "r1"}, {"nat", "corporate"}});
  r.apply("nat_v6_changed", {{"router", "r1"}, {"nat_v6", "nat64"}});
  r.apply("firewall_changed", {{"router", "r1"}, {"firewall", "block-inbound"}});
  r.apply("downlink_condition_changed", {{"router", "r1"}, {"condition", "lan"}});
  r.apply("ra_changed",
          {{"router", "r1"}, {"enabled", true}, {"interval_secs", 30}, {"lifetime_secs", 1800}});
  r.apply("uplink_condition_changed", {{"router", "r1"}, {"direction", "down"}, {"condition", "wifi"}});
  const json& r1 = r.state.routers.at("r1");
  EXPECT_EQ(r1["nat"], "corporate");
  EXPECT_EQ(r1["nat_v6"], "nat64");
  EXPECT_EQ(r1["firewall"], "block-inbound");
  EXPECT_EQ(r1["downlink_condition"], "lan");
  EXPECT_EQ(r1["ra_enabled"], true);
  EXPECT_EQ(r1["ra_interval_secs"], 30);
  EXPECT_EQ(r1["ra_lifetime_secs"], 1800);
  EXPECT_EQ(r1["uplink_condition"], json({{"up", nullptr}, {"down", "wifi"}}));
  r.apply("uplink_condition_changed", {{"router", "r1"}, {"direction", "both"}, {"condition", "lan"}});
  EXPECT_EQ(r.state.routers.at("r1")["uplink_condition"], json({{"up", "lan"}, {"down", "lan"}}));
}

TEST(LabStateReducer, PacketCountersUpsertPerInterface) {
  Reducer r = basic_lab();
  auto counters = [](const std::string& iface, int rx) {
    return json{{"iface", iface}, {"rx_bytes", rx}, {"tx_bytes", 2}, {"rx_packets", 3}, {"tx_packets", 4}};
  };
  r.apply("packet_counters", {{"node", "d1"}, {"counters", json::array({counters("eth0", 100)})}});
  r.apply("packet_counters", {{"node", "d1"}, {"counters", json::array({counters("eth0", 500)})}});
  r.apply("packet_counters", {{"node", "r1"}, {"counters", json::array({counters("br-2", 7)})}});
  EXPECT_EQ(r.state.devices.at("d1")["counters"], json({{"eth0", counters("eth0", 500)}}));
  EXPECT_EQ(r.state.routers.at("r1")["counters"], json({{"br-2", counters("br-2", 7)}}));
}

TEST(LabStateReducer, UnknownAndUntrackedKindsOnlyChangeOpid) {
  Reducer r = basic_lab();
  json before = r.state.to_json();
  for (const char* kind : {"something_new", "link_up", "link_down", "nat_state_flushed", "command_spawned",
                           "command_exited", "ip_added", "dns_changed"}) {
    r.apply(kind, {{"device", "d1"}, {"router", "r1"}, {"node", "d1"}, {"name", "d1"}});
  }
  json after = r.state.to_json();
  EXPECT_EQ(after["opid"], 11);
  after["opid"] = before["opid"];
  EXPECT_EQ(after, before);
}

TEST(LabStateReducer, MalformedFieldsOnlyChangeOpid) {
  Reducer r = basic_lab();
  json before = r.state.to_json();
  r.apply("router_added", {{"ns", "x"}});                          // no name
  r.apply("device_added", {{"name", 7}});                          // name not a string
  r.apply("nat_changed", {{"router", "ghost"}, {"nat", "home"}});  // unknown router
  r.apply("interface_removed", {{"device", "d1"}});                // no iface_name
  r.apply("initial_state", {{"state", "not an object"}});
  r.apply("link_condition_changed",
          {{"device", "d1"}, {"iface", "eth0"}, {"condition", "x"}, {"direction", "sideways"}});
  json after = r.state.to_json();
  after["opid"] = before["opid"];
  EXPECT_EQ(after, before);
  EXPECT_EQ(r.state.opid, 9u);
}

TEST(LabStateReducer, InitialStateReplacesEverything) {
  Reducer other = basic_lab();
  other.state.status = "stopped";
  Reducer r;
  r.apply("lab_created", {{"lab_prefix", "lab-old"}, {"label", "old"}});
  r.apply("router_added", with_name(router_state(), "old"));
  r.apply("initial_state", {{"state", other.state.to_json()}});
  EXPECT_EQ(r.state.opid, 2u);  // the event's opid, not the embedded one
  EXPECT_EQ(r.state.lab_prefix, "lab-p1");
  EXPECT_FALSE(r.state.label.has_value());
  EXPECT_EQ(r.state.status, "stopped");
  EXPECT_EQ(r.state.routers.count("old"), 0u);
  EXPECT_EQ(r.router_devices("r1"), json({"d1"}));
}

// ---------------------------------------------------------------------------------------------
// state.json

TEST(LabStateJson, HasExactlyTheStateJsonKeys) {
  json j = basic_lab().state.to_json();
  std::set<std::string> keys;
  for (const auto& [k, _] : j.items()) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"opid", "lab_prefix", "label", "status", "created_at", "ix",
                                         "routers", "devices", "regions", "region_links"}));
  EXPECT_EQ(j["label"], nullptr);
  EXPECT_TRUE(j["regions"].is_object());
  EXPECT_TRUE(j["region_links"].is_array());
  EXPECT_TRUE(LabState{}.to_json()["routers"].is_object());
  EXPECT_EQ(LabState{}.to_json()["ix"], nullptr);
}

TEST(LabStateJson, RoundTripsThroughText) {
  Reducer r = basic_lab();
  r.apply("region_added", {{"name", "eu"}, {"router", "region_eu"}});
  r.apply("region_link_added", {{"router_a", "region_eu"}, {"router_b", "region_us"}, {"condition", "lan"}});
  r.state.label = "e2e-test";
  r.state.status = "stopped";
  std::string text = r.state.to_json().dump(2);
  LabState back = LabState::from_json(json::parse(text));
  EXPECT_EQ(back.to_json(), r.state.to_json());
  EXPECT_EQ(back.opid, r.state.opid);
  EXPECT_EQ(back.label, "e2e-test");
  EXPECT_EQ(back.created_at, r.state.created_at);
}

TEST(LabStateJson, MissingKeysKeepDefaultsAndWrongTypesThrow) {
  LabState partial = LabState::from_json({{"lab_prefix", "lab-p9"}});
  EXPECT_EQ(partial.lab_prefix, "lab-p9");
  EXPECT_EQ(partial.status, "running");
  EXPECT_TRUE(partial.routers.empty());

  EXPECT_THROW(LabState::from_json(json::array()), InvalidArgument);
  EXPECT_THROW(LabState::from_json({{"opid", -3}}), InvalidArgument);
  EXPECT_THROW(LabState::from_json({{"label", 5}}), InvalidArgument);
  EXPECT_THROW(LabState::from_json({{"routers", json::array()}}), InvalidArgument);
  EXPECT_THROW(LabState::from_json({{"devices", {{"d1", "x"}}}}), InvalidArgument);
  EXPECT_THROW(LabState::from_json({{"ix", "br"}}), InvalidArgument);
  EXPECT_THROW(LabState::from_json({{"region_links", json::object()}}), InvalidArgument);
}

}  // namespace
}  // namespace patchbay
