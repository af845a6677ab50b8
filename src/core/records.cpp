#include "core/records.hpp"

#include "sys/spelling.hpp"

namespace patchbay::detail {

namespace {

constexpr sys::Spelling<NodeKind> kNodeKindNames[] = {
    {NodeKind::Ix, "ix"},
    {NodeKind::Router, "router"},
    {NodeKind::Device, "device"},
};

}  // namespace

std::string NodeRec::kind_name() const {
  return std::string(sys::name_of(kNodeKindNames, kind, "node"));
}

std::string NodeRec::describe() const {
  return kind_name() + " '" + name + "'";
}

void NodeRec::stop_workers() {
  std::shared_ptr<SyncWorker> s;
  std::unique_ptr<IoWorker> a;
  {
    std::lock_guard lk(exec_mu);
    s = std::move(sw);
    a = std::move(aw);
  }
  a.reset();
  s.reset();
}

IfaceRec* DeviceRec::find(std::string_view n) {
  for (auto& i : ifaces)
    if (i.name == n) return &i;
  return nullptr;
}

}  // namespace patchbay::detail
