// patchbay/events.hpp: the lab event stream, its JSON form and the state reducer (SPEC 13.1-13.3).
//
//   EventSubscription sub = lab.subscribe();        // bounded, live
//   LabState state;
//   while (auto ev = sub.next(std::chrono::seconds(1))) {
//     std::cout << ev->to_jsonl() << "\n";  // {"opid":3,"timestamp":"...Z","kind":"device_added",...}
//     state.apply(*ev);                     // state == the devtools' state.json
//   }
//
// Guarantees:
// - Every event of a lab has a unique opid; opids start at 0, grow by one, and never decrease as
//   timestamps grow. A subscriber sees them in opid order.
// - A subscriber's queue is bounded: when it is full the *oldest* queued event is dropped and
//   lagged() grows by one. Publishing never blocks on a slow subscriber. (The events.jsonl writer is
//   not a subscriber: it is fed without a bound and never loses events.)
// - EventSubscription is thread-safe; one subscription is meant to be drained by one consumer.
// - LabEvent::from_json and LabState::from_json throw InvalidArgument on malformed input;
//   LabState::apply never throws: an event whose fields do not fit changes only `opid`.
// - Timestamps are UTC; events carry nanoseconds ("2026-03-05T12:00:00.123456789Z").
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace patchbay {

// Event kinds of SPEC 13.2, for emitters and readers that want to avoid typos.
namespace event_kind {
inline constexpr std::string_view kLabCreated = "lab_created";
inline constexpr std::string_view kIxCreated = "ix_created";
inline constexpr std::string_view kRouterAdded = "router_added";
inline constexpr std::string_view kRouterRemoved = "router_removed";
inline constexpr std::string_view kDeviceAdded = "device_added";
inline constexpr std::string_view kDeviceRemoved = "device_removed";
inline constexpr std::string_view kRegionAdded = "region_added";
inline constexpr std::string_view kRegionLinkAdded = "region_link_added";
inline constexpr std::string_view kRegionLinkBroken = "region_link_broken";
inline constexpr std::string_view kRegionLinkRestored = "region_link_restored";
inline constexpr std::string_view kNatChanged = "nat_changed";
inline constexpr std::string_view kNatV6Changed = "nat_v6_changed";
inline constexpr std::string_view kNatStateFlushed = "nat_state_flushed";
inline constexpr std::string_view kFirewallChanged = "firewall_changed";
inline constexpr std::string_view kLinkConditionChanged = "link_condition_changed";
inline constexpr std::string_view kDownlinkConditionChanged = "downlink_condition_changed";
inline constexpr std::string_view kLinkUp = "link_up";
inline constexpr std::string_view kLinkDown = "link_down";
inline constexpr std::string_view kInterfaceAdded = "interface_added";
inline constexpr std::string_view kInterfaceRemoved = "interface_removed";
inline constexpr std::string_view kInterfaceReplugged = "interface_replugged";
inline constexpr std::string_view kDeviceIpChanged = "device_ip_changed";
inline constexpr std::string_view kCommandSpawned = "command_spawned";
inline constexpr std::string_view kCommandExited = "command_exited";
inline constexpr std::string_view kPacketCounters = "packet_counters";
inline constexpr std::string_view kInitialState = "initial_state";
inline constexpr std::string_view kDefaultRouteChanged = "default_route_changed";
inline constexpr std::string_view kIpAdded = "ip_added";
inline constexpr std::string_view kUplinkConditionChanged = "uplink_condition_changed";
inline constexpr std::string_view kRaChanged = "ra_changed";
inline constexpr std::string_view kDnsChanged = "dns_changed";
// Additive: `router`, `enabled` (Router::set_block_icmp_frag_needed).
inline constexpr std::string_view kBlockIcmpFragNeededChanged = "block_icmp_frag_needed_changed";
// Additive: `service` ("event loop", "nat controller"), `what`, `message`: a lab service failed
// on one item and carried on (Lab::service_errors() counts them).
inline constexpr std::string_view kServiceError = "service_error";
}  // namespace event_kind

// "2026-03-05T12:00:00.123456789Z" (UTC). fractional_digits in [0, 9]: 9 for lab events, 6 for
// log records, 0 omits the fraction. Digits are truncated, not rounded, so order is preserved.
// Throws InvalidArgument for a digit count outside [0, 9].
std::string format_rfc3339(std::chrono::system_clock::time_point tp, int fractional_digits);

// Parses RFC 3339 ("…T…", optional fraction of any length, "Z" or "±HH:MM"); fraction digits
// beyond nanoseconds are ignored. nullopt for anything malformed or outside years 1678-2261
// (the range of a nanosecond system_clock).
std::optional<std::chrono::system_clock::time_point> parse_rfc3339(std::string_view text);

// One line of events.jsonl.
struct LabEvent {
  std::uint64_t opid = 0;
  std::chrono::system_clock::time_point timestamp{};
  std::string kind;                                  // "router_added", ...
  nlohmann::json fields = nlohmann::json::object();  // every other top-level key

  // {"opid":..,"timestamp":"..","kind":"..", ...fields}. A field named opid/timestamp/kind is
  // shadowed by the header value.
  nlohmann::json to_json() const;
  // One compact line without trailing newline, keys in the order opid, timestamp, kind, then the
  // fields sorted by name. Invalid UTF-8 in strings is replaced with U+FFFD rather than thrown.
  std::string to_jsonl() const;
  // Requires an object with an unsigned integer "opid", an RFC 3339 "timestamp" and a non-empty
  // string "kind"; everything else becomes `fields`. Throws InvalidArgument otherwise.
  static LabEvent from_json(const nlohmann::json& j);
};

// The reduced lab state written as state.json (SPEC 13.3). Router and device entries are kept as
// the JSON objects the events carry (RouterState / DeviceState), so fields added later pass through.
struct LabState {
  std::uint64_t opid = 0;
  std::string lab_prefix;
  std::optional<std::string> label;
  std::string status = "running";  // "running" | "stopped"
  std::optional<std::string> created_at;
  nlohmann::json ix = nullptr;                            // {"bridge","cidr","gw","cidr_v6","gw_v6"} | null
  std::map<std::string, nlohmann::json> routers;          // name -> RouterState
  std::map<std::string, nlohmann::json> devices;          // name -> DeviceState
  std::map<std::string, nlohmann::json> regions;          // name -> {"router": str}
  nlohmann::json region_links = nlohmann::json::array();  // [{"a","b","condition","broken"}]

  // The reducer of SPEC 13.3. Every event sets opid; kinds it does not know change nothing else.
  void apply(const LabEvent& ev);
  nlohmann::json to_json() const;
  // Missing keys keep their defaults (so older or partial files load); wrong types throw
  // InvalidArgument naming the key.
  static LabState from_json(const nlohmann::json& j);
};

namespace events {
class EventBus;
class SubscriberQueue;
}  // namespace events

// A live, bounded view of a lab's events from the moment of subscribing. Move-only; destroying it
// unregisters it. When the lab goes away, next() drains what is queued and then returns nullopt
// at once (closed() turns true).
class EventSubscription {
 public:
  EventSubscription(EventSubscription&&) noexcept = default;
  EventSubscription& operator=(EventSubscription&&) noexcept = default;
  EventSubscription(const EventSubscription&) = delete;
  EventSubscription& operator=(const EventSubscription&) = delete;
  ~EventSubscription() = default;

  // Waits up to `timeout` for the next event; nullopt on timeout or when closed and drained.
  std::optional<LabEvent> next(std::chrono::milliseconds timeout);
  std::optional<LabEvent> try_next();
  // Events dropped from this subscription because its queue was full (cumulative).
  std::uint64_t lagged() const;
  // True once the publisher is gone; queued events can still be read.
  bool closed() const;

 private:
  friend class events::EventBus;
  explicit EventSubscription(std::shared_ptr<events::SubscriberQueue> queue) : queue_(std::move(queue)) {}

  std::shared_ptr<events::SubscriberQueue> queue_;
};

}  // namespace patchbay
