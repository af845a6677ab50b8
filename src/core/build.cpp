// Turning device configurations into namespaces, veths, addresses and routes, and back; the
// helpers every build shares. Routers: build_router.cpp.
#include <algorithm>

#include "core/ids.hpp"
#include "core/lab_core.hpp"
#include "core/macs.hpp"
#include "patchbay/consts.hpp"
#include "sys/sysctl.hpp"

namespace patchbay::detail {

namespace {

bool valid_node_name(std::string_view n) {
  if (n.empty() || n.size() > 64) return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  return true;
}

}  // namespace

void validate_node_name(const std::string& kind, const std::string& n) {
  if (!valid_node_name(n))
    throw InvalidArgument(kind + " '" + n + "'", "invalid name (expected 1-64 characters of [A-Za-z0-9_-])");
  if (n.rfind("region_", 0) == 0)
    throw InvalidArgument(kind + " '" + n + "'",
                          "names starting with 'region_' are reserved for region routers");
}

void validate_ifname(const std::string& dev, const std::string& n) {
  bool ok = !n.empty() && n.size() <= 15 && n != "." && n != ".." && n != "lo";
  for (char c : n)
    if (c == '/' || c == ':' || !std::isgraph(static_cast<unsigned char>(c))) ok = false;
  if (!ok)
    throw InvalidArgument("device '" + dev + "'", "invalid interface name '" + n +
                                                      "' (1-15 characters, no '/', ':' or spaces, not 'lo')");
}

// ---- devices ----

namespace {

// Refuses a device configuration before anything is allocated; returns the default interface.
std::string validate_device(const DeviceConfig& cfg, const std::string& owner) {
  validate_node_name("device", cfg.name);
  if (cfg.ifaces.empty()) throw InvalidArgument(owner, "build: a device needs at least one interface");
  for (std::size_t i = 0; i < cfg.ifaces.size(); ++i) {
    validate_ifname(cfg.name, cfg.ifaces[i].first);
    for (std::size_t j = 0; j < i; ++j)
      if (cfg.ifaces[j].first == cfg.ifaces[i].first)
        throw AlreadyExists(owner, "build: interface '" + cfg.ifaces[i].first + "' added twice");
  }
  std::string default_if = cfg.default_via.value_or(cfg.ifaces.front().first);
  if (std::none_of(cfg.ifaces.begin(), cfg.ifaces.end(), [&](auto& p) { return p.first == default_if; }))
    throw InvalidArgument(owner, "build: default_via '" + default_if + "' is not one of its interfaces");
  return default_if;
}

}  // namespace

std::shared_ptr<DeviceRec> LabCore::build_device(const DeviceConfig& cfg) {
  const std::string owner = "device '" + cfg.name + "'";
  const std::string default_if = validate_device(cfg, owner);
  std::shared_ptr<DeviceRec> d;
  RouterMap rts;  // the device's routers by id
  {
    std::lock_guard lk(plan_mu_);
    if (closing_) throw Removed(owner, "the lab is shut down");
    if (nodes_.name_taken(cfg.name))
      throw AlreadyExists(owner, "build: the name is already used by another node");
    for (auto& [ifn, rid] : cfg.ifaces) {
      auto rt = nodes_.live_router(rid);
      if (!rt)
        throw NotFound(
            owner, "build: interface '" + ifn + "': router " + std::to_string(rid.value) + " does not exist");
      rts[rid.value] = std::move(rt);
    }
    const NodeId id = nodes_.next_id();
    d = std::make_shared<DeviceRec>(NodeKind::Device, id, cfg.name);
    d->log = logs_->make(consts::kKindDevice, cfg.name);
    d->ns_label = "lab" + std::to_string(seq_) + "-d" + std::to_string(id.value);
    d->default_if = default_if;
    d->mtu = cfg.mtu;
    d->provisioning = cfg.provisioning;
    std::uint64_t next = id.value + 1;
    try {
      for (auto& [ifn, rid] : cfg.ifaces) {
        auto& rt = rts[rid.value];
        IfaceRec i;
        i.id = NodeId{next++};
        i.name = ifn;
        i.router = rid;
        if (auto c = cfg.conditions.find(ifn); c != cfg.conditions.end()) {
          i.cond_up = c->second.first;
          i.cond_down = c->second.second;
        }
        alloc_iface_addrs(i, *rt, owner);
        d->ifaces.push_back(std::move(i));
      }
    } catch (...) {
      release_device_allocs(*d);
      throw;
    }
    nodes_.add(d, next - id.value);
    for (auto& i : d->ifaces) rts[i.router.value]->attached[id].insert(i.name);
  }

  try {
    d->ns = wiring_->new_namespace();
    wiring_->wire_device(plan_device(*d, rts, ra_->driven(*d), wiring_context()), *d->ns, d->describe());
  } catch (...) {
    // Deleting the router-side ends removes the pairs even if the namespace lingers.
    for (auto& i : d->ifaces) {
      if (i.port_ifindex == 0) continue;
      try {
        sys::NlBatch b;
        sys::del_link(b, i.port_ifindex);
        rts[i.router.value]->ns->commit(b);
      } catch (const Error&) {
      }
    }
    std::lock_guard lk(plan_mu_);
    nodes_.erase(d->id);
    release_device_allocs(*d);
    d->ns.reset();
    throw;
  }
  d->alive = true;
  logs_->publish(d->id, d->log);
  try {
    links_->attach_device_links(*d);
    if (ra_->driven(*d)) {
      std::lock_guard lk(d->mu);
      for (auto& i : d->ifaces) ra_->provision(*d, i, true);
    }
  } catch (...) {
    try {
      remove_device(d->id);
    } catch (const Error&) {
    }
    throw;
  }
  auto fields = device_state(*d);
  fields["name"] = d->name;
  emit("device_added", std::move(fields));
  return d;
}

// Plan lock held.
void LabCore::release_device_allocs(DeviceRec& d) {
  for (auto& i : d.ifaces) release_iface_addrs(i, d.id);
}

void LabCore::remove_device(NodeId id) {
  std::shared_ptr<DeviceRec> d;
  std::vector<std::pair<std::shared_ptr<RouterRec>, int>> ports;
  {
    std::lock_guard lk(plan_mu_);
    d = nodes_.live_device(id);
    if (!d) throw NotFound("remove_device", "device " + std::to_string(id.value) + " does not exist");
    d->alive = false;
    logs_->withdraw(d->id);
    nodes_.erase(id);
    for (auto& i : d->ifaces)
      if (auto r = nodes_.router(i.router)) ports.emplace_back(std::move(r), i.port_ifindex);
    release_device_allocs(*d);
  }
  std::lock_guard nlk(d->mu);
  terminate_children(d->id);
  d->stop_workers();
  links_->detach_device_links(*d);
  for (auto& [rt, port] : ports) {
    try {
      sys::NlBatch b(d->describe() + ": remove");
      sys::del_link(b, port);
      rt->ns->commit(b);
    } catch (const Error&) {
    }
  }
  // Last, like a router's: a closed sink drops what is written to it, so nothing that still runs
  // for the device during its removal may come after this.
  if (d->log) d->log->close();
  d->ns.reset();
  dns_->forget_device(d->id);
  emit("device_removed", {{"name", d->name}});
}

}  // namespace patchbay::detail
