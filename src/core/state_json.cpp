// RouterState / DeviceState / IfaceSnapshot JSON (SPEC 13.3), used by router_added and
// device_added events and by anything that reports a node's state.
#include "core/lab_core.hpp"

namespace patchbay::detail {

namespace {

template <class T>
nlohmann::json opt(const std::optional<T>& v) {
  if (!v) return nullptr;
  if constexpr (std::is_arithmetic_v<T>)
    return *v;
  else
    return v->to_string();
}

}  // namespace

nlohmann::json LabCore::router_state(const RouterRec& r) const {
  std::string upstream_name;
  nlohmann::json devices = nlohmann::json::array();
  nlohmann::json region = nullptr;
  // A region router is announced before its region record exists: its name carries the region.
  if (r.region_router)
    region = r.name.substr(7);
  else if (auto name = regions_->name_of(r.region))
    region = *name;
  {
    std::lock_guard lk(plan_mu_);
    if (r.upstream)
      if (auto up = nodes_.router(*r.upstream)) upstream_name = up->name;
    for (auto& [id, ifs] : r.attached)
      if (auto d = nodes_.live_device(id)) devices.push_back(d->name);
  }
  return {
      {"ns", r.ns_label},
      {"region", region},
      {"nat", r.nat.to_json()},
      {"nat_v6", to_string(r.nat_v6)},
      {"firewall", r.firewall.to_json()},
      {"ip_support", to_string(r.ip_support)},
      {"mtu", opt(r.mtu)},
      {"upstream", r.upstream ? nlohmann::json(upstream_name) : nlohmann::json(nullptr)},
      {"uplink_ip", opt(r.wan_ip)},
      {"uplink_ip_v6", opt(r.wan_ip6)},
      {"uplink_ll_v6", opt(r.wan_ll6)},
      {"downstream_cidr", opt(r.lan4)},
      {"downstream_gw", opt(r.gw4())},
      {"downstream_cidr_v6", opt(r.lan6)},
      {"downstream_gw_v6", opt(r.gw6())},
      {"downstream_ll_v6", opt(r.lan_ll6)},
      {"downstream_bridge", r.lan_name},
      {"downlink_condition", r.downlink ? r.downlink->to_json() : nlohmann::json(nullptr)},
      {"devices", devices},
      {"counters", nlohmann::json::object()},
      {"preset", r.preset ? nlohmann::json(to_string(*r.preset)) : nlohmann::json(nullptr)},
      {"block_icmp_frag_needed", r.block_frag_needed},
      {"ra_enabled", r.ra_enabled},
      {"ra_interval_secs", r.ra_interval},
      {"ra_lifetime_secs", r.ra_lifetime},
      {"uplink_condition",
       {{"up", r.uplink_up ? r.uplink_up->to_json() : nlohmann::json(nullptr)},
        {"down", r.uplink_down ? r.uplink_down->to_json() : nlohmann::json(nullptr)}}},
  };
}

nlohmann::json LabCore::iface_snapshot(const DeviceRec&, const IfaceRec& i) const {
  return {
      {"name", i.name},
      {"router", nodes_.name_of(i.router)},
      {"ip", opt(i.ip)},
      {"ip_v6", opt(i.ip6)},
      {"ll_v6", opt(i.ll6)},
      {"link_condition", i.cond_up ? i.cond_up->to_json() : nlohmann::json(nullptr)},
      {"link_condition_down", i.cond_down ? i.cond_down->to_json() : nlohmann::json(nullptr)},
      {"is_up", i.up},
  };
}

nlohmann::json LabCore::device_state(const DeviceRec& d) const {
  nlohmann::json ifs = nlohmann::json::array();
  for (const auto& i : d.ifaces) ifs.push_back(iface_snapshot(d, i));
  return {
      {"ns", d.ns_label},  {"default_via", d.default_if},          {"mtu", opt(d.mtu)},
      {"interfaces", ifs}, {"counters", nlohmann::json::object()},
  };
}

}  // namespace patchbay::detail
