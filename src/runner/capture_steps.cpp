#include "runner/capture_steps.hpp"

#include <cstdint>
#include <limits>
#include <optional>

#include "runner/lab_steps.hpp"

namespace patchbay::runner {

namespace {

std::optional<std::uint64_t> count(const StepView& v, const char* key, std::uint64_t max) {
  if (!v.has(key)) return std::nullopt;
  const auto& j = v.j.at(key);
  if (!j.is_number_integer() || j.get<std::int64_t>() < 1 || j.get<std::uint64_t>() > max)
    throw ConfigError(v.where(key),
                      "expected a whole number from 1 to " + std::to_string(max) + ", got " + j.dump());
  return j.get<std::uint64_t>();
}

void record_stop(const std::string& id, const CaptureStats& s, CaptureStore& store) {
  store.record(id + ".packets", std::to_string(s.packets));
  store.record(id + ".kernel_drops", std::to_string(s.kernel_drops));
}

}  // namespace

bool PacketCaptureSteps::run(Lab& lab, const StepView& v, const InterpContext& ctx, CaptureStore& store) {
  if (v.action == "capture") {
    start(lab, v, ctx, store);
  } else if (v.action == "capture-stop") {
    stop(v, store);
  } else {
    return false;
  }
  return true;
}

void PacketCaptureSteps::start(Lab& lab, const StepView& v, const InterpContext& ctx, CaptureStore& store) {
  if (v.has("device") == v.has("router"))
    throw ConfigError(v.where("device"), "name exactly one node: `device` or `router`");
  std::optional<Node> node;
  std::string ifname;
  if (v.has("device")) {
    auto dev = step_device(lab, v);
    ifname = v.opt_str("interface").value_or(dev.default_iface().name());
    node = dev;
  } else {
    auto r = step_router(lab, v);
    if (!v.has("interface"))
      throw ConfigError(v.where("interface"), "missing (a router has no default; e.g. \"br-lan\")");
    ifname = v.str("interface");
    node = r;
  }
  const std::string id = v.opt_str("id").value_or(ifname);
  if (running_.count(id)) throw ConfigError(v.where("id"), "capture '" + id + "' is already running");
  CaptureOptions o;
  o.filter = interpolate(v.opt_str("filter").value_or(""), ctx);
  if (auto mb = count(v, "rotate_mb", 1 << 20)) o.rotate_bytes = *mb << 20;
  if (auto n = count(v, "max_files", 1 << 20)) o.max_files = static_cast<unsigned>(*n);
  if (auto s = count(v, "snaplen", std::numeric_limits<std::uint32_t>::max()))
    o.snaplen = static_cast<std::uint32_t>(*s);
  if (o.max_files && !o.rotate_bytes) throw ConfigError(v.where("max_files"), "needs rotate_mb");
  auto path = node->filepath(id + ".pcapng");
  if (!path) throw ConfigError(v.where("action"), "the lab has no output directory");
  auto guard = node->capture(ifname, *path, o);
  store.record(id + ".path", guard.path().string());
  running_.emplace(id, std::move(guard));
}

void PacketCaptureSteps::stop(const StepView& v, CaptureStore& store) {
  const std::string id = v.str("id");
  auto it = running_.find(id);
  if (it == running_.end()) {
    std::string known;
    for (auto& [k, g] : running_) known += (known.empty() ? "" : ", ") + k;
    throw ConfigError(v.where("id"),
                      "no running capture '" + id + "' (running: " + (known.empty() ? "none" : known) + ")");
  }
  auto guard = std::move(it->second);
  running_.erase(it);
  record_stop(id, guard.stop(), store);
}

std::vector<std::string> PacketCaptureSteps::stop_all(CaptureStore& store) {
  std::vector<std::string> errors;
  for (auto& [id, guard] : running_) {
    try {
      record_stop(id, guard.stop(), store);
    } catch (const Error& e) {
      errors.push_back(e.what());
    }
  }
  running_.clear();
  return errors;
}

}  // namespace patchbay::runner
