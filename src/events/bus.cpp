// EventBus and the subscriber queues behind EventSubscription.
#include "events/bus.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "patchbay/error.hpp"

namespace patchbay {

namespace events {

void SubscriberQueue::push(const LabEvent& ev) {
  {
    std::lock_guard lock(mu_);
    // Dropping the oldest keeps a slow reader close to "now", which is what a live view wants.
    if (queue_.size() >= capacity_) {
      queue_.pop_front();
      ++lagged_;
    }
    queue_.push_back(ev);
  }
  cv_.notify_one();
}

void SubscriberQueue::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

std::optional<LabEvent> SubscriberQueue::pop(std::optional<std::chrono::milliseconds> timeout) {
  std::unique_lock lock(mu_);
  if (timeout) cv_.wait_for(lock, *timeout, [&] { return !queue_.empty() || closed_; });
  if (queue_.empty()) return std::nullopt;
  LabEvent ev = std::move(queue_.front());
  queue_.pop_front();
  return ev;
}

std::uint64_t SubscriberQueue::lagged() const {
  std::lock_guard lock(mu_);
  return lagged_;
}

bool SubscriberQueue::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

EventBus::~EventBus() {
  std::lock_guard lock(mu_);
  for (auto& weak : subscribers_) {
    if (auto queue = weak.lock()) queue->close();
  }
}

LabEvent EventBus::publish(std::string kind, nlohmann::json fields) {
  if (fields.is_null()) fields = nlohmann::json::object();
  if (!fields.is_object()) {
    throw InvalidArgument("publish(" + kind + ")",
                          std::string("fields must be a JSON object, got ") + fields.type_name());
  }
  for (const char* key : {"opid", "timestamp", "kind"}) {
    if (fields.contains(key)) {
      throw InvalidArgument("publish(" + kind + ")", std::string("field '") + key + "' is reserved");
    }
  }
  LabEvent ev;
  ev.kind = std::move(kind);
  ev.fields = std::move(fields);

  std::lock_guard lock(mu_);
  ev.opid = next_opid_;
  // The wall clock may step back (NTP); clamping keeps timestamps monotonic in opid order.
  last_timestamp_ = std::max(last_timestamp_, std::chrono::system_clock::now());
  ev.timestamp = last_timestamp_;
  // The sink goes first and a throw takes the opid back, so events.jsonl never shows a gap.
  if (sink_) sink_(ev);
  ++next_opid_;

  std::erase_if(subscribers_, [&](const std::weak_ptr<SubscriberQueue>& weak) {
    auto queue = weak.lock();
    if (!queue) return true;
    queue->push(ev);
    return false;
  });
  return ev;
}

EventSubscription EventBus::subscribe(std::size_t capacity) {
  if (capacity == 0) throw InvalidArgument("subscribe", "capacity must be at least 1");
  auto queue = std::make_shared<SubscriberQueue>(capacity);
  std::lock_guard lock(mu_);
  subscribers_.push_back(queue);
  return EventSubscription(std::move(queue));
}

void EventBus::set_sink(std::function<void(const LabEvent&)> sink) {
  std::lock_guard lock(mu_);
  sink_ = std::move(sink);
}

std::uint64_t EventBus::next_opid() const {
  std::lock_guard lock(mu_);
  return next_opid_;
}

}  // namespace events

std::optional<LabEvent> EventSubscription::next(std::chrono::milliseconds timeout) {
  return queue_ ? queue_->pop(timeout) : std::nullopt;
}

std::optional<LabEvent> EventSubscription::try_next() {
  return queue_ ? queue_->pop(std::nullopt) : std::nullopt;
}

std::uint64_t EventSubscription::lagged() const {
  return queue_ ? queue_->lagged() : 0;
}

bool EventSubscription::closed() const {
  return !queue_ || queue_->closed();
}

}  // namespace patchbay
