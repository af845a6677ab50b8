#include "runner/lab_steps.hpp"

#include <optional>
#include <string>

#include "config/lenient_keys.hpp"

namespace patchbay::runner {

namespace {

// As in lab files (SPEC 15.1 rule 5), keys the library does not read inside a condition or NAT table
// are dropped with a warning naming the step and the key's path, e.g. "condition.colour".
config::UnknownKey unknown_key(const StepView& v, const LabStepWarn& warn) {
  return [&v, &warn](const std::string& path) {
    if (warn) warn(v.where("") + ": unknown key '" + path + "' ignored");
  };
}

std::optional<LinkCondition> condition(const StepView& v, const LabStepWarn& warn) {
  const char* key = v.has("condition") ? "condition" : v.has("impair") ? "impair" : nullptr;
  if (!key) return std::nullopt;
  try {
    return LinkCondition::from_json(
        config::drop_unknown_condition_keys(v.j.at(key), key, unknown_key(v, warn)));
  } catch (const Error& e) {
    throw ConfigError(v.where(key), std::string("invalid condition: ") + e.what());
  }
}

template <class T>
T parsed(const StepView& v, const char* key, const nlohmann::json& value) {
  try {
    return T::from_json(value);
  } catch (const Error& e) {
    throw ConfigError(v.where(key), std::string("invalid value ") + v.j.at(key).dump() + ": " + e.what());
  }
}

const nlohmann::json& required(const StepView& v, const char* key) {
  if (!v.has(key)) throw ConfigError(v.where(key), "missing");
  return v.j.at(key);
}

Nat nat(const StepView& v, const LabStepWarn& warn) {
  return parsed<Nat>(v, "nat",
                     config::drop_unknown_nat_keys(required(v, "nat"), "nat", unknown_key(v, warn)));
}

void region_link(Lab& lab, const StepView& v, bool broken) {
  auto ra = lab.region(v.str("a")), rb = lab.region(v.str("b"));
  if (!ra) throw ConfigError(v.where("a"), "unknown region '" + v.str("a") + "'");
  if (!rb) throw ConfigError(v.where("b"), "unknown region '" + v.str("b") + "'");
  if (broken)
    lab.break_region_link(*ra, *rb);
  else
    lab.restore_region_link(*ra, *rb);
}

}  // namespace

Device step_device(Lab& lab, const StepView& v, const char* key) {
  auto name = v.str(key);
  if (auto d = lab.device_by_name(name)) return *d;
  std::string known;
  for (auto& d : lab.devices()) known += (known.empty() ? "" : ", ") + d.name();
  throw ConfigError(v.where(key), "unknown device '" + name + "' (devices: " + known + ")");
}

Router step_router(Lab& lab, const StepView& v, const char* key) {
  auto name = v.str(key);
  if (auto r = lab.router_by_name(name)) return *r;
  std::string known;
  for (auto& r : lab.routers()) known += (known.empty() ? "" : ", ") + r.name();
  throw ConfigError(v.where(key), "unknown router '" + name + "' (routers: " + known + ")");
}

bool run_lab_step(Lab& lab, const StepView& v, const LabStepWarn& warn) {
  const std::string& a = v.action;
  if (a == "set-link-condition" || a == "set-impair") {
    auto dev = step_device(lab, v);
    auto ifname = v.opt_str("interface").value_or(dev.default_iface().name());
    auto dir = parse_link_direction(v.opt_str("direction").value_or("up"));
    dev.set_link_condition(ifname, condition(v, warn), dir);
  } else if (a == "set-default-route") {
    step_device(lab, v).set_default_route(v.str("to"));
  } else if (a == "link-down") {
    step_device(lab, v).link_down(v.str("interface"));
  } else if (a == "link-up") {
    step_device(lab, v).link_up(v.str("interface"));
  } else if (a == "replug-iface") {
    auto dev = step_device(lab, v);
    dev.replug_iface(v.str("interface"), step_router(lab, v, "to").id());
  } else if (a == "set-nat") {
    step_router(lab, v).set_nat_mode(nat(v, warn));
  } else if (a == "flush-nat-state") {
    step_router(lab, v).flush_nat_state();
  } else if (a == "set-firewall") {
    step_router(lab, v).set_firewall(parsed<Firewall>(v, "firewall", required(v, "firewall")));
  } else if (a == "set-downlink-condition") {
    step_router(lab, v).set_downlink_condition(condition(v, warn));
  } else if (a == "break-region-link" || a == "restore-region-link") {
    region_link(lab, v, a == "break-region-link");
  } else {
    return false;
  }
  return true;
}

}  // namespace patchbay::runner
