// LabState: the state.json reducer of SPEC 13.3.
//
// The reducer is deliberately forgiving: it runs on the events.jsonl writer thread and in readers
// of old files, so an event whose fields are missing or of the wrong type changes only `opid`
// instead of throwing. Router/device entries stay plain JSON so fields added by newer emitters
// survive a round trip.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "patchbay/consts.hpp"
#include "patchbay/error.hpp"
#include "patchbay/events.hpp"

namespace patchbay {

namespace {

using nlohmann::json;

std::optional<std::string> get_string(const json& obj, std::string_view key) {
  if (!obj.is_object()) return std::nullopt;
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

// The value of `key`, or null when absent: events spell "no condition" either way.
json get_or_null(const json& obj, std::string_view key) {
  auto it = obj.find(key);
  return it == obj.end() ? json(nullptr) : *it;
}

// Copy `key` from the event into the entry only when the event carries it.
void copy_if_present(const json& from, std::string_view from_key, json& to, std::string_view to_key) {
  auto it = from.find(from_key);
  if (it != from.end()) to[std::string(to_key)] = *it;
}

json* find_entry(std::map<std::string, json>& map, const std::optional<std::string>& name) {
  if (!name) return nullptr;
  auto it = map.find(*name);
  return it == map.end() || !it->second.is_object() ? nullptr : &it->second;
}

json& ensure(json& obj, const char* key, json default_value) {
  json& v = obj[key];
  if (v.type() != default_value.type()) v = std::move(default_value);
  return v;
}

json* find_iface(json& device, std::string_view name) {
  auto it = device.find("interfaces");
  if (it == device.end() || !it->is_array()) return nullptr;
  for (auto& iface : *it) {
    if (get_string(iface, "name") == name) return &iface;
  }
  return nullptr;
}

bool references_router(const json& device, std::string_view router) {
  auto it = device.find("interfaces");
  if (it == device.end() || !it->is_array()) return false;
  return std::any_of(it->begin(), it->end(),
                     [&](const json& iface) { return get_string(iface, "router") == router; });
}

void attach(LabState& st, const std::optional<std::string>& router, const std::string& device) {
  json* r = find_entry(st.routers, router);
  if (!r) return;
  json& list = ensure(*r, "devices", json::array());
  if (std::find(list.begin(), list.end(), json(device)) == list.end()) list.push_back(device);
}

void detach(json& router, const std::string& device) {
  auto it = router.find("devices");
  if (it == router.end() || !it->is_array()) return;
  auto& list = *it;
  list.erase(std::remove(list.begin(), list.end(), json(device)), list.end());
}

// A device stays in a router's list while any of its interfaces still hangs off that router.
void detach_if_unreferenced(LabState& st, const std::optional<std::string>& router,
                            const std::string& device) {
  json* r = find_entry(st.routers, router);
  if (!r) return;
  auto d = st.devices.find(device);
  if (d != st.devices.end() && references_router(d->second, *router)) return;
  detach(*r, device);
}

// Event fields other than "name", with the collections the reducer maintains guaranteed present.
json flattened_entry(const json& fields, const char* list_key) {
  json entry = fields;
  entry.erase("name");
  ensure(entry, list_key, json::array());
  ensure(entry, "counters", json::object());
  return entry;
}

// ---- handlers, one per kind ----

using Handler = void (*)(LabState&, const LabEvent&);

void on_lab_created(LabState& st, const LabEvent& ev) {
  auto prefix = get_string(ev.fields, "lab_prefix");
  if (!prefix) return;
  st.lab_prefix = *prefix;
  st.label = get_string(ev.fields, "label");
  st.status = "running";
  st.created_at = format_rfc3339(ev.timestamp, 9);
}

void on_initial_state(LabState& st, const LabEvent& ev) {
  auto it = ev.fields.find("state");
  if (it == ev.fields.end()) return;
  try {
    st = LabState::from_json(*it);
  } catch (const InvalidArgument&) {
    // Forgiving by design (see top of file); the opid still advances.
  }
}

void on_ix_created(LabState& st, const LabEvent& ev) {
  json ix = json::object();
  for (const char* key : {"bridge", "cidr", "gw", "cidr_v6", "gw_v6"}) ix[key] = get_or_null(ev.fields, key);
  st.ix = std::move(ix);
}

void on_router_added(LabState& st, const LabEvent& ev) {
  auto name = get_string(ev.fields, "name");
  if (name) st.routers[*name] = flattened_entry(ev.fields, "devices");
}

void on_router_removed(LabState& st, const LabEvent& ev) {
  if (auto name = get_string(ev.fields, "name")) st.routers.erase(*name);
}

void on_device_added(LabState& st, const LabEvent& ev) {
  auto name = get_string(ev.fields, "name");
  if (!name) return;
  json& dev = st.devices[*name] = flattened_entry(ev.fields, "interfaces");
  for (const auto& iface : dev["interfaces"]) attach(st, get_string(iface, "router"), *name);
}

void on_device_removed(LabState& st, const LabEvent& ev) {
  auto name = get_string(ev.fields, "name");
  if (!name) return;
  // Every router, not only the referenced ones, so a list that went stale earlier heals here.
  for (auto& [_, router] : st.routers) detach(router, *name);
  st.devices.erase(*name);
}

void on_region_added(LabState& st, const LabEvent& ev) {
  auto name = get_string(ev.fields, "name");
  if (name) st.regions[*name] = json{{"router", get_or_null(ev.fields, "router")}};
}

void on_region_link_added(LabState& st, const LabEvent& ev) {
  auto a = get_string(ev.fields, "router_a");
  auto b = get_string(ev.fields, "router_b");
  if (!a || !b) return;
  if (!st.region_links.is_array()) st.region_links = json::array();
  st.region_links.push_back(
      json{{"a", *a}, {"b", *b}, {"condition", get_or_null(ev.fields, "condition")}, {"broken", false}});
}

// Links are undirected: the event may name the ends in either order.
template <typename F>
void for_region_link(LabState& st, const LabEvent& ev, F&& update) {
  auto a = get_string(ev.fields, "router_a");
  auto b = get_string(ev.fields, "router_b");
  if (!a || !b || !st.region_links.is_array()) return;
  for (auto& link : st.region_links) {
    auto la = get_string(link, "a");
    auto lb = get_string(link, "b");
    if ((la == a && lb == b) || (la == b && lb == a)) update(link);
  }
}

void on_region_link_broken(LabState& st, const LabEvent& ev) {
  for_region_link(st, ev, [&](json& link) {
    link["broken"] = true;
    link["condition"] = get_or_null(ev.fields, "condition");
  });
}

void on_region_link_restored(LabState& st, const LabEvent& ev) {
  for_region_link(st, ev, [](json& link) {
    link["broken"] = false;
    link["condition"] = nullptr;
  });
}

template <typename F>
void for_router(LabState& st, const LabEvent& ev, F&& update) {
  if (json* r = find_entry(st.routers, get_string(ev.fields, "router"))) update(*r);
}

void on_nat_changed(LabState& st, const LabEvent& ev) {
  for_router(st, ev, [&](json& r) { copy_if_present(ev.fields, "nat", r, "nat"); });
}

void on_nat_v6_changed(LabState& st, const LabEvent& ev) {
  for_router(st, ev, [&](json& r) { copy_if_present(ev.fields, "nat_v6", r, "nat_v6"); });
}

void on_firewall_changed(LabState& st, const LabEvent& ev) {
  for_router(st, ev, [&](json& r) { copy_if_present(ev.fields, "firewall", r, "firewall"); });
}

void on_downlink_condition_changed(LabState& st, const LabEvent& ev) {
  for_router(st, ev, [&](json& r) { r["downlink_condition"] = get_or_null(ev.fields, "condition"); });
}

void on_block_frag_changed(LabState& st, const LabEvent& ev) {
  for_router(st, ev, [&](json& r) { copy_if_present(ev.fields, "enabled", r, "block_icmp_frag_needed"); });
}

void on_ra_changed(LabState& st, const LabEvent& ev) {
  for_router(st, ev, [&](json& r) {
    copy_if_present(ev.fields, "enabled", r, "ra_enabled");
    copy_if_present(ev.fields, "interval_secs", r, "ra_interval_secs");
    copy_if_present(ev.fields, "lifetime_secs", r, "ra_lifetime_secs");
  });
}

// Applies `value` to the "up" and/or "down" slot named by the event's direction (absent = up).
// Returns false for an unknown direction so the caller leaves the state alone.
bool set_directional(const json& fields, json& up_slot, json& down_slot) {
  std::string dir = get_string(fields, "direction").value_or("up");
  json value = get_or_null(fields, "condition");
  if (dir != "up" && dir != "down" && dir != "both") return false;
  if (dir != "down") up_slot = value;
  if (dir != "up") down_slot = value;
  return true;
}

void on_uplink_condition_changed(LabState& st, const LabEvent& ev) {
  for_router(st, ev, [&](json& r) {
    json& uc = ensure(r, "uplink_condition", json{{"up", nullptr}, {"down", nullptr}});
    set_directional(ev.fields, uc["up"], uc["down"]);
  });
}

// Runs `update(device_name, device, iface)` for the event's device and interface, if both exist.
template <typename F>
void for_iface(LabState& st, const LabEvent& ev, const char* iface_key, F&& update) {
  auto name = get_string(ev.fields, "device");
  json* dev = find_entry(st.devices, name);
  if (!dev) return;
  auto iface_name = get_string(ev.fields, iface_key);
  if (!iface_name) return;
  if (json* iface = find_iface(*dev, *iface_name)) update(*name, *dev, *iface);
}

void on_link_condition_changed(LabState& st, const LabEvent& ev) {
  for_iface(st, ev, "iface", [&](const std::string&, json&, json& iface) {
    set_directional(ev.fields, iface["link_condition"], iface["link_condition_down"]);
  });
}

void on_interface_added(LabState& st, const LabEvent& ev) {
  auto name = get_string(ev.fields, "device");
  json* dev = find_entry(st.devices, name);
  auto it = ev.fields.find("iface");
  if (!dev || it == ev.fields.end() || !get_string(*it, "name")) return;
  // Re-adding an interface name replaces it rather than listing it twice.
  if (json* existing = find_iface(*dev, *get_string(*it, "name"))) {
    auto old_router = get_string(*existing, "router");
    *existing = *it;
    detach_if_unreferenced(st, old_router, *name);
  } else {
    ensure(*dev, "interfaces", json::array()).push_back(*it);
  }
  attach(st, get_string(*it, "router"), *name);
}

void on_interface_removed(LabState& st, const LabEvent& ev) {
  auto name = get_string(ev.fields, "device");
  auto iface_name = get_string(ev.fields, "iface_name");
  json* dev = find_entry(st.devices, name);
  if (!dev || !iface_name || !find_iface(*dev, *iface_name)) return;

  json& ifaces = (*dev)["interfaces"];
  auto router = get_string(*find_iface(*dev, *iface_name), "router");
  ifaces.erase(std::remove_if(ifaces.begin(), ifaces.end(),
                              [&](const json& i) { return get_string(i, "name") == iface_name; }),
               ifaces.end());
  // Mirrors the lab (SPEC 12.7): losing the default interface promotes the first remaining one.
  if (get_string(*dev, "default_via") == iface_name) {
    (*dev)["default_via"] = ifaces.empty() ? json(nullptr) : get_or_null(ifaces.front(), "name");
  }
  detach_if_unreferenced(st, router, *name);
}

void on_interface_replugged(LabState& st, const LabEvent& ev) {
  for_iface(st, ev, "iface_name", [&](const std::string& device, json&, json& iface) {
    auto old_router = get_string(iface, "router");
    auto to_router = get_string(ev.fields, "to_router");
    if (to_router) iface["router"] = *to_router;
    copy_if_present(ev.fields, "new_ip", iface, "ip");
    copy_if_present(ev.fields, "new_ip_v6", iface, "ip_v6");
    // The event's from_router and the snapshot's router agree in practice; clean up both anyway.
    detach_if_unreferenced(st, old_router, device);
    detach_if_unreferenced(st, get_string(ev.fields, "from_router"), device);
    attach(st, to_router, device);
  });
}

void on_device_ip_changed(LabState& st, const LabEvent& ev) {
  for_iface(st, ev, "iface_name", [&](const std::string&, json&, json& iface) {
    copy_if_present(ev.fields, "new_ip", iface, "ip");
    copy_if_present(ev.fields, "new_ip_v6", iface, "ip_v6");
  });
}

void on_default_route_changed(LabState& st, const LabEvent& ev) {
  for_iface(st, ev, "iface",
            [&](const std::string&, json& dev, json& iface) { dev["default_via"] = iface["name"]; });
}

void on_packet_counters(LabState& st, const LabEvent& ev) {
  auto node = get_string(ev.fields, "node");
  json* entry = find_entry(st.routers, node);
  if (!entry) entry = find_entry(st.devices, node);
  auto it = ev.fields.find("counters");
  if (!entry || it == ev.fields.end() || !it->is_array()) return;
  json& counters = ensure(*entry, "counters", json::object());
  for (const auto& c : *it) {
    if (auto iface = get_string(c, "iface")) counters[*iface] = c;
  }
}

const std::unordered_map<std::string_view, Handler>& handlers() {
  namespace k = event_kind;
  static const std::unordered_map<std::string_view, Handler> table = {
      {k::kLabCreated, on_lab_created},
      {k::kInitialState, on_initial_state},
      {k::kIxCreated, on_ix_created},
      {k::kRouterAdded, on_router_added},
      {k::kRouterRemoved, on_router_removed},
      {k::kDeviceAdded, on_device_added},
      {k::kDeviceRemoved, on_device_removed},
      {k::kRegionAdded, on_region_added},
      {k::kRegionLinkAdded, on_region_link_added},
      {k::kRegionLinkBroken, on_region_link_broken},
      {k::kRegionLinkRestored, on_region_link_restored},
      {k::kNatChanged, on_nat_changed},
      {k::kNatV6Changed, on_nat_v6_changed},
      {k::kFirewallChanged, on_firewall_changed},
      {k::kDownlinkConditionChanged, on_downlink_condition_changed},
      {k::kRaChanged, on_ra_changed},
      {k::kBlockIcmpFragNeededChanged, on_block_frag_changed},
      {k::kUplinkConditionChanged, on_uplink_condition_changed},
      {k::kLinkConditionChanged, on_link_condition_changed},
      {k::kInterfaceAdded, on_interface_added},
      {k::kInterfaceRemoved, on_interface_removed},
      {k::kInterfaceReplugged, on_interface_replugged},
      {k::kDeviceIpChanged, on_device_ip_changed},
      {k::kDefaultRouteChanged, on_default_route_changed},
      {k::kPacketCounters, on_packet_counters},
  };
  return table;
}

// ---- from_json helpers: strict about types, lenient about absence ----

[[noreturn]] void bad_key(std::string_view key, std::string_view expected, const json& got) {
  throw InvalidArgument(
      std::string(consts::kStateJson),
      "\"" + std::string(key) + "\" must be " + std::string(expected) + ", got " + got.type_name());
}

const json* member(const json& j, std::string_view key) {
  auto it = j.find(key);
  return it == j.end() ? nullptr : &*it;
}

void read_string(const json& j, std::string_view key, std::string& out) {
  if (const json* v = member(j, key)) {
    if (!v->is_string()) bad_key(key, "a string", *v);
    out = v->get<std::string>();
  }
}

void read_optional_string(const json& j, std::string_view key, std::optional<std::string>& out) {
  const json* v = member(j, key);
  if (!v || v->is_null()) return;
  if (!v->is_string()) bad_key(key, "a string or null", *v);
  out = v->get<std::string>();
}

void read_entries(const json& j, std::string_view key, std::map<std::string, json>& out) {
  const json* v = member(j, key);
  if (!v || v->is_null()) return;
  if (!v->is_object()) bad_key(key, "an object", *v);
  for (const auto& [name, entry] : v->items()) {
    if (!entry.is_object()) bad_key(std::string(key) + "." + name, "an object", entry);
    out[name] = entry;
  }
}

json entries_to_json(const std::map<std::string, json>& map) {
  json out = json::object();
  for (const auto& [name, entry] : map) out[name] = entry;
  return out;
}

}  // namespace

void LabState::apply(const LabEvent& ev) {
  opid = ev.opid;
  auto it = handlers().find(ev.kind);
  if (it == handlers().end() || !ev.fields.is_object()) return;
  it->second(*this, ev);
  // initial_state replaced the whole state, including its opid; the event's opid still wins.
  opid = ev.opid;
}

json LabState::to_json() const {
  return json{
      {"opid", opid},
      {"lab_prefix", lab_prefix},
      {"label", label ? json(*label) : json(nullptr)},
      {"status", status},
      {"created_at", created_at ? json(*created_at) : json(nullptr)},
      {"ix", ix},
      {"routers", entries_to_json(routers)},
      {"devices", entries_to_json(devices)},
      {"regions", entries_to_json(regions)},
      {"region_links", region_links.is_array() ? region_links : json::array()},
  };
}

LabState LabState::from_json(const json& j) {
  if (!j.is_object()) bad_key("<root>", "an object", j);
  LabState st;
  if (const json* v = member(j, "opid")) {
    if (!v->is_number_unsigned() && !(v->is_number_integer() && v->get<std::int64_t>() >= 0)) {
      bad_key("opid", "an unsigned integer", *v);
    }
    st.opid = v->get<std::uint64_t>();
  }
  read_string(j, "lab_prefix", st.lab_prefix);
  read_optional_string(j, "label", st.label);
  read_string(j, "status", st.status);
  read_optional_string(j, "created_at", st.created_at);
  if (const json* v = member(j, "ix")) {
    if (!v->is_null() && !v->is_object()) bad_key("ix", "an object or null", *v);
    st.ix = *v;
  }
  read_entries(j, "routers", st.routers);
  read_entries(j, "devices", st.devices);
  read_entries(j, "regions", st.regions);
  if (const json* v = member(j, "region_links")) {
    if (!v->is_null() && !v->is_array()) bad_key("region_links", "an array", *v);
    if (v->is_array()) st.region_links = *v;
  }
  return st;
}

}  // namespace patchbay
