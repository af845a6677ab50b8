// The per-node log files of a lab (SPEC 13.1). A node's sink is made at build and published while
// the node is alive, so loggers on any thread find it without the plan lock and without waiting for
// builds or for each other.
//
// Locking: `mu_` guards the published sinks only; it is a leaf lock (readers share it).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "log/filter.hpp"
#include "log/sink.hpp"
#include "patchbay/types.hpp"

namespace patchbay::detail {

class NodeLogs {
 public:
  using Sink = log::detail::NodeSink;

  // Without `dir` the lab writes no files: make() gives null and nothing is ever published.
  NodeLogs(std::optional<std::filesystem::path> dir, std::shared_ptr<const log::detail::Filter> filter)
      : dir_(std::move(dir)), filter_(std::move(filter)) {}

  // The files of a new node: `kind` is consts::kKindRouter or kKindDevice.
  std::shared_ptr<Sink> make(std::string_view kind, const std::string& name) const {
    return dir_ ? std::make_shared<Sink>(*dir_, kind, name, filter_) : nullptr;
  }
  // The sink of a live node, or null.
  std::shared_ptr<Sink> find(NodeId id) const {
    std::shared_lock lk(mu_);
    auto it = sinks_.find(id.value);
    return it == sinks_.end() ? nullptr : it->second;
  }
  void publish(NodeId id, std::shared_ptr<Sink> sink) {
    if (!sink) return;
    std::unique_lock lk(mu_);
    sinks_[id.value] = std::move(sink);
  }
  void withdraw(NodeId id) {
    std::unique_lock lk(mu_);
    sinks_.erase(id.value);
  }
  void clear() {
    std::unique_lock lk(mu_);
    sinks_.clear();
  }

 private:
  const std::optional<std::filesystem::path> dir_;
  const std::shared_ptr<const log::detail::Filter> filter_;
  mutable std::shared_mutex mu_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Sink>> sinks_;
};

}  // namespace patchbay::detail
