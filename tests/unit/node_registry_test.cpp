// NodeRegistry: ids, unique names, the live filter and teardown, without namespaces.
#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/node_registry.hpp"
#include "patchbay/error.hpp"

namespace patchbay::detail {
namespace {

std::shared_ptr<RouterRec> router(NodeId id, const char* name, bool alive = true) {
  auto r = std::make_shared<RouterRec>(NodeKind::Router, id, name);
  r->alive = alive;
  return r;
}

std::shared_ptr<DeviceRec> device(NodeId id, const char* name, bool alive = true) {
  auto d = std::make_shared<DeviceRec>(NodeKind::Device, id, name);
  d->alive = alive;
  return d;
}

TEST(NodeRegistry, IdsAdvancePastEveryIdANodeTakes) {
  NodeRegistry reg;
  EXPECT_EQ(reg.next_id().value, 2u);  // 1 is the IX switch
  reg.add(router(reg.next_id(), "home"), 2);
  EXPECT_EQ(reg.next_id().value, 4u);
  reg.add(device(reg.next_id(), "laptop"), 3);  // the device and two interfaces
  EXPECT_EQ(reg.next_id().value, 7u);
  EXPECT_EQ(reg.take_id().value, 7u);
  EXPECT_EQ(reg.next_id().value, 8u);
  // A removed node's ids are not given out again.
  reg.erase(NodeId{4});
  EXPECT_EQ(reg.next_id().value, 8u);
}

TEST(NodeRegistry, NamesAreUniqueAcrossRoutersAndDevices) {
  NodeRegistry reg;
  reg.add(router(NodeId{2}, "home"), 2);
  EXPECT_TRUE(reg.name_taken("home"));
  try {
    reg.add(device(NodeId{4}, "home"), 1);
    FAIL() << "a device took a router's name";
  } catch (const AlreadyExists& e) {
    EXPECT_NE(std::string(e.what()).find("device 'home'"), std::string::npos) << e.what();
  }
  EXPECT_EQ(reg.device(NodeId{4}), nullptr);
  EXPECT_EQ(reg.next_id().value, 4u);  // the refused node took no id
  reg.erase(NodeId{2});
  EXPECT_FALSE(reg.name_taken("home"));
  reg.add(device(NodeId{4}, "home"), 1);
  EXPECT_EQ(reg.by_name("home")->kind, NodeKind::Device);
}

TEST(NodeRegistry, LookupsByKindAndTheLiveFilter) {
  NodeRegistry reg;
  auto ix = std::make_shared<IxRec>(NodeKind::Ix, NodeId{1}, "ix");
  reg.set_ix(ix);
  reg.add(router(NodeId{5}, "b"), 2);
  reg.add(router(NodeId{2}, "a"), 2);
  reg.add(router(NodeId{7}, "building", false), 2);
  reg.add(device(NodeId{9}, "d"), 2);
  EXPECT_EQ(reg.node(NodeId{1}), ix);
  EXPECT_EQ(reg.router(NodeId{9}), nullptr);  // a device, not a router
  EXPECT_NE(reg.device(NodeId{9}), nullptr);
  EXPECT_NE(reg.router(NodeId{7}), nullptr);
  EXPECT_EQ(reg.live_router(NodeId{7}), nullptr);  // not alive yet
  auto rs = reg.routers();
  ASSERT_EQ(rs.size(), 2u);
  EXPECT_EQ(rs[0]->name, "a");  // by id
  EXPECT_EQ(rs[1]->name, "b");
  EXPECT_EQ(reg.name_of(NodeId{9}), "d");
  EXPECT_EQ(reg.name_of(NodeId{42}), "");
  EXPECT_EQ(reg.take_all().size(), 4u);
  EXPECT_EQ(reg.by_name("a"), nullptr);
  EXPECT_TRUE(reg.routers().empty());
}

TEST(NodeRegistry, LookupsRunWhileNodesComeAndGo) {
  NodeRegistry reg;
  reg.add(router(NodeId{2}, "stable"), 2);
  std::atomic<bool> stop{false};
  std::atomic<int> misses{0};
  std::thread reader([&] {
    while (!stop)
      if (!reg.by_name("stable") || !reg.live_router(NodeId{2})) ++misses;
  });
  for (std::uint64_t i = 0; i < 2000; ++i) {
    const NodeId id = reg.next_id();
    reg.add(device(id, "churn"), 1);
    reg.erase(id);
  }
  stop = true;
  reader.join();
  EXPECT_EQ(misses.load(), 0);
  EXPECT_FALSE(reg.name_taken("churn"));
}

}  // namespace
}  // namespace patchbay::detail
