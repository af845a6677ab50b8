// EventBus: the per-lab publisher behind Lab::subscribe and the events.jsonl writer (SPEC 13.1).
//
//   events::EventBus bus;
//   bus.set_sink([&](const LabEvent& ev) { writer.enqueue(ev); });   // unbounded, never loses events
//   EventSubscription sub = bus.subscribe(1024);                      // bounded, drops oldest
//   bus.publish("router_added", {{"name", "home"}, ...});
//
// publish() assigns opid and timestamp under one lock and delivers to the sink and to every live
// subscriber before releasing it, so every consumer sees opids in order and timestamps never go
// backwards as opids grow. The sink runs under that lock: it must be quick and must not publish.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "patchbay/events.hpp"

namespace patchbay::events {

// One subscriber's bounded queue, shared between the bus (weakly) and the EventSubscription.
class SubscriberQueue {
 public:
  explicit SubscriberQueue(std::size_t capacity) : capacity_(capacity) {}

  void push(const LabEvent& ev);
  void close();
  std::optional<LabEvent> pop(std::optional<std::chrono::milliseconds> timeout);
  std::uint64_t lagged() const;
  bool closed() const;

 private:
  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<LabEvent> queue_;
  std::uint64_t lagged_ = 0;
  bool closed_ = false;
};

class EventBus {
 public:
  EventBus() = default;
  EventBus(const EventBus&) = delete;
  EventBus& operator=(const EventBus&) = delete;
  // Closes every live subscription so blocked next() calls return promptly.
  ~EventBus();

  // Throws InvalidArgument if `fields` is neither null nor an object, or uses a header key
  // (opid, timestamp, kind).
  LabEvent publish(std::string kind, nlohmann::json fields);
  // capacity >= 1 (InvalidArgument otherwise). Sees events published after this call.
  EventSubscription subscribe(std::size_t capacity);
  // Replaces the sink; an empty function removes it.
  void set_sink(std::function<void(const LabEvent&)> sink);
  std::uint64_t next_opid() const;

 private:
  mutable std::mutex mu_;
  std::uint64_t next_opid_ = 0;
  std::chrono::system_clock::time_point last_timestamp_{};
  std::vector<std::weak_ptr<SubscriberQueue>> subscribers_;
  std::function<void(const LabEvent&)> sink_;
};

}  // namespace patchbay::events
