#include "core/node_registry.hpp"

#include <algorithm>

namespace patchbay::detail {

NodeId NodeRegistry::next_id() const {
  std::lock_guard lk(mu_);
  return NodeId{next_id_};
}

NodeId NodeRegistry::take_id() {
  std::lock_guard lk(mu_);
  return NodeId{next_id_++};
}

void NodeRegistry::add_name(const NodeRec& n, std::uint64_t ids) {
  if (!names_.emplace(n.name, n.id).second)
    throw AlreadyExists(n.describe(), "build: the name is already used by another node");
  next_id_ = std::max(next_id_, n.id.value + ids);
}

void NodeRegistry::add(std::shared_ptr<RouterRec> r, std::uint64_t ids) {
  std::lock_guard lk(mu_);
  add_name(*r, ids);
  routers_.emplace(r->id.value, std::move(r));
}

void NodeRegistry::add(std::shared_ptr<DeviceRec> d, std::uint64_t ids) {
  std::lock_guard lk(mu_);
  add_name(*d, ids);
  devices_.emplace(d->id.value, std::move(d));
}

bool NodeRegistry::name_taken(std::string_view name) const {
  std::lock_guard lk(mu_);
  return names_.find(name) != names_.end();
}

void NodeRegistry::erase(NodeId id) {
  std::lock_guard lk(mu_);
  std::string name;
  if (auto r = routers_.find(id.value); r != routers_.end()) {
    name = r->second->name;
    routers_.erase(r);
  } else if (auto d = devices_.find(id.value); d != devices_.end()) {
    name = d->second->name;
    devices_.erase(d);
  } else {
    return;
  }
  // The name may already belong to a newer node only if this one was never registered under it.
  if (auto n = names_.find(name); n != names_.end() && n->second == id) names_.erase(n);
}

std::vector<std::shared_ptr<NodeRec>> NodeRegistry::take_all() {
  std::lock_guard lk(mu_);
  std::vector<std::shared_ptr<NodeRec>> out;
  out.reserve(routers_.size() + devices_.size());
  for (auto& [id, d] : devices_) out.push_back(d);
  for (auto& [id, r] : routers_) out.push_back(r);
  devices_.clear();
  routers_.clear();
  names_.clear();
  return out;
}

std::shared_ptr<NodeRec> NodeRegistry::node(NodeId id) const {
  if (id.value == 1) return ix_;
  std::lock_guard lk(mu_);
  if (auto it = routers_.find(id.value); it != routers_.end()) return it->second;
  if (auto it = devices_.find(id.value); it != devices_.end()) return it->second;
  return nullptr;
}

std::shared_ptr<RouterRec> NodeRegistry::router(NodeId id) const {
  std::lock_guard lk(mu_);
  auto it = routers_.find(id.value);
  return it == routers_.end() ? nullptr : it->second;
}

std::shared_ptr<DeviceRec> NodeRegistry::device(NodeId id) const {
  std::lock_guard lk(mu_);
  auto it = devices_.find(id.value);
  return it == devices_.end() ? nullptr : it->second;
}

std::shared_ptr<RouterRec> NodeRegistry::live_router(NodeId id) const {
  auto r = router(id);
  return r && r->alive ? r : nullptr;
}

std::shared_ptr<DeviceRec> NodeRegistry::live_device(NodeId id) const {
  auto d = device(id);
  return d && d->alive ? d : nullptr;
}

std::shared_ptr<NodeRec> NodeRegistry::by_name(std::string_view name) const {
  std::lock_guard lk(mu_);
  auto it = names_.find(name);
  if (it == names_.end()) return nullptr;
  if (auto r = routers_.find(it->second.value); r != routers_.end()) return r->second;
  if (auto d = devices_.find(it->second.value); d != devices_.end()) return d->second;
  return nullptr;
}

namespace {

template <class Rec>
std::vector<std::shared_ptr<Rec>> live_by_id(
    const std::unordered_map<std::uint64_t, std::shared_ptr<Rec>>& m) {
  std::vector<std::shared_ptr<Rec>> out;
  for (auto& [id, n] : m)
    if (n->alive) out.push_back(n);
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a->id < b->id; });
  return out;
}

}  // namespace

std::vector<std::shared_ptr<RouterRec>> NodeRegistry::routers() const {
  std::lock_guard lk(mu_);
  return live_by_id(routers_);
}

std::vector<std::shared_ptr<DeviceRec>> NodeRegistry::devices() const {
  std::lock_guard lk(mu_);
  return live_by_id(devices_);
}

std::string NodeRegistry::name_of(NodeId id) const {
  auto n = node(id);
  return n ? n->name : std::string();
}

}  // namespace patchbay::detail
