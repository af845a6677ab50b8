// One direction of one emulated link: the pure, clock-free part of the link engine.
//
//   Direction d(seed);                   // per (link, direction) seed from seed3(lab, link, dir)
//   d.set_limits(limits, now);           // atomic swap; packets already queued keep their schedule
//   d.offer(std::move(frame), now);      // loss -> duplicate -> corrupt -> bottleneck -> delay line
//   d.poll(now, out);                    // frames whose due time has come, in delivery order
//   auto t = d.next_deadline();          // when poll() has something next (the engine's timer)
//
// Time is an absolute CLOCK_MONOTONIC value in nanoseconds supplied by the caller, so the whole
// pipeline is testable in virtual time. Semantics follow SPEC 7.5:
// * loss (Bernoulli loss_pct, or Gilbert-Elliott burst_loss) -> duplicate -> corrupt (one random
//   bit flipped at a byte offset >= 14, i.e. past the Ethernet header) -> bottleneck queue served
//   at rate_kbit (token bucket on wire bytes: serialisation time = wire_bytes * 8 / rate) or by a
//   Mahimahi trace -> delay line (latency + jitter sample from `distribution`, clamped >= 0;
//   reorder_pct of packets skip the delay line) -> delivery.
// * Bottleneck queue limit: queue_limit_pkts, or when 0: max(64, rate * (2L + 2J + 20 ms) / 1514
//   bytes); tail drop. Without a rate there is no bottleneck queue. The delay line is never
//   packet-limited.
// * jitter_reorders == false: a packet is never delivered before one offered earlier.
// * Every random decision comes from per-stage generators derived from the constructor's seed,
//   so the same seed and the same packet sequence give the same decisions.
// * A frame counts as wire_shape(frame).packets packets for rate, trace and queue accounting.
//   Loss/duplicate/corrupt/reorder decide per frame: the engine splits GSO frames first
//   whenever needs_gso_split() is true.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "link/frame.hpp"
#include "patchbay/link.hpp"

namespace patchbay::link {

using Nanos = std::int64_t;  // absolute CLOCK_MONOTONIC nanoseconds

// A Mahimahi trace: delivery opportunities (ms offsets) repeating with period = last timestamp.
class Trace {
 public:
  // Throws ConfigError "<path>:<line>: <what>" for a malformed file (non-integer, decreasing,
  // empty, or a last timestamp of 0).
  static std::shared_ptr<const Trace> load(const std::filesystem::path& path);
  static std::shared_ptr<const Trace> parse(std::string_view text, const std::string& source);
  const std::vector<std::uint32_t>& opportunities_ms() const { return ms_; }
  std::uint32_t period_ms() const { return ms_.back(); }
  double average_kbit() const;  // 1500 bytes per opportunity

 private:
  std::vector<std::uint32_t> ms_;
};

struct DirectionCounters {
  std::uint64_t packets = 0, bytes = 0;  // delivered wire packets / bytes (duplicates included)
  std::uint64_t drops_loss = 0, drops_queue = 0, drops_memory = 0;  // wire packets
  std::uint64_t duplicated = 0, corrupted = 0, reordered = 0;
  std::uint64_t queue_high_water = 0;  // bottleneck queue depth, wire packets
  bool operator==(const DirectionCounters&) const = default;
};

class Direction {
 public:
  explicit Direction(std::uint64_t seed);

  // Validated limits in; a trace is loaded by the caller (set_trace) so that file errors surface
  // in the API call that set the condition.
  void set_limits(const LinkLimits& limits, Nanos now, std::shared_ptr<const Trace> trace = nullptr);
  const LinkLimits& limits() const { return limits_; }

  // True when no stage is active: the engine may forward without queueing (nothing is pending
  // either, so order is kept).
  bool passthrough() const;
  // Loss, duplicate, corrupt or reorder active: offer wire packets, not GSO frames.
  bool needs_gso_split() const;

  void offer(FramePtr f, Nanos now);
  // Appends due frames (due <= now) in delivery order.
  void poll(Nanos now, std::vector<FramePtr>& out);
  std::optional<Nanos> next_deadline() const;
  bool idle() const;  // nothing queued anywhere

  const DirectionCounters& counters() const { return counters_; }
  std::uint64_t queued_bytes() const;  // for the lab-wide memory cap

 private:
  // The stages (stages.hpp) live behind a pointer so this header stays light; the out-of-line
  // deleter lets the implicit destructor and moves work with Impl incomplete here.
  struct Impl;
  struct ImplDeleter {
    void operator()(Impl* p) const;
  };
  std::unique_ptr<Impl, ImplDeleter> impl_;
  LinkLimits limits_;
  DirectionCounters counters_;
};

}  // namespace patchbay::link
