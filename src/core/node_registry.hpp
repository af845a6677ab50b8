// The lab's nodes by id and by name: the IX, the routers and the devices that exist (names are
// unique across routers and devices, SPEC 4), and the id counter (ids are never reused; a router
// takes two, itself and its LAN switch, a device one plus one per interface).
//
// Locking: one leaf mutex of its own, so a lookup (every handle operation starts with one) never
// waits for an address allocation or a build. The changes (next_id/add/take_id/erase) are made by
// the builders while they hold LabCore's plan lock, which makes a build's name check, id choice and
// insertion one step; add() still refuses a taken name by itself.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/records.hpp"

namespace patchbay::detail {

class NodeRegistry {
 public:
  // The IX record, set once before any other node exists.
  void set_ix(std::shared_ptr<IxRec> ix) { ix_ = std::move(ix); }
  const std::shared_ptr<IxRec>& ix() const { return ix_; }

  // The id the next node gets.
  NodeId next_id() const;
  // Takes one id (a device's new interface).
  NodeId take_id();
  // Registers a built record under its name and id; the node and its `ids` consecutive ids from
  // its own on are taken. AlreadyExists naming the node when the name is used.
  void add(std::shared_ptr<RouterRec> r, std::uint64_t ids);
  void add(std::shared_ptr<DeviceRec> d, std::uint64_t ids);
  bool name_taken(std::string_view name) const;
  // Forgets a node (its name becomes free); no-op when unknown.
  void erase(NodeId id);
  // Forgets every router and device and returns them (lab teardown).
  std::vector<std::shared_ptr<NodeRec>> take_all();

  // Lookups: nullptr when unknown or removed. The live_* forms also refuse a node that is being
  // built or removed (alive == false).
  std::shared_ptr<NodeRec> node(NodeId id) const;
  std::shared_ptr<RouterRec> router(NodeId id) const;
  std::shared_ptr<DeviceRec> device(NodeId id) const;
  std::shared_ptr<RouterRec> live_router(NodeId id) const;
  std::shared_ptr<DeviceRec> live_device(NodeId id) const;
  std::shared_ptr<NodeRec> by_name(std::string_view name) const;
  // Every live router / device, by id.
  std::vector<std::shared_ptr<RouterRec>> routers() const;
  std::vector<std::shared_ptr<DeviceRec>> devices() const;
  // The name of a router or device, or "" when unknown.
  std::string name_of(NodeId id) const;

 private:
  void add_name(const NodeRec& n, std::uint64_t ids);  // mu_ held

  mutable std::mutex mu_;
  std::uint64_t next_id_ = 2;  // the IX switch is 1
  std::unordered_map<std::uint64_t, std::shared_ptr<RouterRec>> routers_;
  std::unordered_map<std::uint64_t, std::shared_ptr<DeviceRec>> devices_;
  std::map<std::string, NodeId, std::less<>> names_;
  std::shared_ptr<IxRec> ix_;  // written once, before the lab is shared
};

}  // namespace patchbay::detail
