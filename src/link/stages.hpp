// The stages link::Direction (pipeline.hpp) is composed of, one small class per idea:
//
//   LossStage       Bernoulli or Gilbert-Elliott drop decision           bool drop()
//   PercentStage    a biased coin (duplicate, reorder)                   bool fire()
//   CorruptStage    flips one bit past the Ethernet header               bool apply(Frame&)
//   BottleneckQueue tail-drop queue in front of a Server (RateServer or  optional<Nanos> admit(...)
//                   TraceServer)
//   DelaySampler    latency + jitter draw from the configured distribution  Nanos sample()
//   DelayLine       time-ordered frames waiting for delivery (storage, not a stage)
//
// Every stage meets one contract (the Stage concept below): configure(StageConfig) from the
// direction's limits, keeping whatever state a real channel keeps across a change (Gilbert-Elliott
// state, rate remainder, trace clock), and active(), false when the stage cannot act at all, so an
// inactive stage is skipped without a random draw (the streams of the others stay put). The verb
// differs by what the stage does to a frame (decide, transform, schedule), as listed above.
//
// Every random stage owns its own Rng seeded from (direction seed, stage constant), so enabling
// duplication never shifts the loss stream and the same packet sequence gives the same decisions.
// Rng and its uniform/normal helpers are our own code on purpose: std:: distributions are
// implementation-defined and differ between standard library versions.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "link/pipeline.hpp"

namespace patchbay::link {

// xoshiro256** (Blackman/Vigna), state filled by SplitMix64 from a derived seed.
class Rng {
 public:
  Rng(std::uint64_t seed, std::uint64_t stream);
  std::uint64_t next();
  double uniform();                      // [0, 1), 53 random bits
  bool chance(double pct);               // true with probability pct / 100; no draw when pct <= 0
  std::uint64_t below(std::uint64_t n);  // uniform in [0, n), n > 0 (Lemire, unbiased)
  double normal();                       // standard normal (Box-Muller)

 private:
  std::array<std::uint64_t, 4> s_{};
};

// Stream constants: part of the determinism contract, never renumber.
inline constexpr std::uint64_t kLossStream = 0x6c6f7373;       // "loss"
inline constexpr std::uint64_t kDuplicateStream = 0x64757065;  // "dupe"
inline constexpr std::uint64_t kCorruptStream = 0x636f7272;    // "corr"
inline constexpr std::uint64_t kDelayStream = 0x64656c61;      // "dela"
inline constexpr std::uint64_t kReorderStream = 0x72656f72;    // "reor"

// A FIFO ring buffer that only grows: after warm-up, push/pop never allocate (std::deque frees
// and reallocates a block every few hundred packets).
template <typename T>
class Ring {
 public:
  bool empty() const { return size_ == 0; }
  std::size_t size() const { return size_; }
  T& front() { return buf_[head_]; }
  const T& front() const { return buf_[head_]; }
  const T& back() const { return buf_[(head_ + size_ - 1) & (buf_.size() - 1)]; }
  void push_back(T v) {
    if (size_ == buf_.size()) grow();
    buf_[(head_ + size_) & (buf_.size() - 1)] = std::move(v);
    ++size_;
  }
  T pop_front() {
    T v = std::move(buf_[head_]);
    head_ = (head_ + 1) & (buf_.size() - 1);
    --size_;
    return v;
  }

 private:
  void grow() {
    std::vector<T> n(buf_.empty() ? 16 : buf_.size() * 2);  // power of two: index by mask
    for (std::size_t i = 0; i < size_; ++i) n[i] = std::move(buf_[(head_ + i) & (buf_.size() - 1)]);
    buf_.swap(n);
    head_ = 0;
  }
  std::vector<T> buf_;
  std::size_t head_ = 0, size_ = 0;
};

// What a stage is configured from: the direction's new limits, the trace loaded for them (the
// bottleneck only) and the time of the change.
struct StageConfig {
  const LinkLimits& limits;
  const std::shared_ptr<const Trace>& trace;
  Nanos now = 0;
};

template <typename S>
concept Stage = requires(S& s, const S& cs, const StageConfig& c) {
  s.configure(c);
  { cs.active() } -> std::same_as<bool>;
};

class LossStage {
 public:
  explicit LossStage(std::uint64_t seed) : rng_(seed, kLossStream) {}
  // Keeps the Gilbert-Elliott state across changes: a condition change is not a new channel.
  void configure(const StageConfig& c);
  bool active() const { return pct_ > 0 || ge_.has_value(); }
  bool drop();

 private:
  Rng rng_;
  double pct_ = 0;
  std::optional<GilbertElliott> ge_;
  bool bad_ = false;
};

// duplicate_pct and reorder_pct are the same idea (one biased coin per frame) on separate streams;
// `percent` picks the coin's bias from the limits (0 when the stage could have no effect).
class PercentStage {
 public:
  using Pick = double (*)(const LinkLimits&);
  PercentStage(std::uint64_t seed, std::uint64_t stream, Pick percent) : rng_(seed, stream), pick_(percent) {}
  void configure(const StageConfig& c) { pct_ = pick_(c.limits); }
  bool active() const { return pct_ > 0; }
  bool fire() { return rng_.chance(pct_); }

 private:
  Rng rng_;
  Pick pick_;
  double pct_ = 0;
};

class CorruptStage {
 public:
  explicit CorruptStage(std::uint64_t seed) : rng_(seed, kCorruptStream) {}
  void configure(const StageConfig& c) { pct_ = c.limits.corrupt_pct; }
  bool active() const { return pct_ > 0; }
  // True when a bit was flipped (at a byte offset in [14, size)).
  bool apply(Frame& f);

 private:
  Rng rng_;
  double pct_ = 0;
};

// When the last bit of a frame that starts serving at `start` leaves the bottleneck.
class Server {
 public:
  virtual ~Server() = default;
  virtual Nanos depart(Nanos start, std::uint64_t wire_bytes) = 0;
};

// Serialisation at a fixed rate: wire_bytes * 8e6 / rate_kbit ns, the sub-nanosecond remainder
// carried to the next packet of a busy period so long transfers have no rounding drift.
class RateServer final : public Server {
 public:
  void set_rate(std::uint32_t kbit);
  Nanos depart(Nanos start, std::uint64_t wire_bytes) override;

 private:
  std::uint64_t kbit_ = 0, carry_ = 0;
  Nanos last_ = 0;
};

// Mahimahi delivery opportunities. Rule (byte credit, as Mahimahi's LinkQueue does it): each
// opportunity grants 1500 bytes; a frame is served from the credit of the earliest opportunity at
// or after its start and departs at the opportunity that serves its last byte. Credit left in an
// opportunity serves the next frame only if that frame has started by then (small packets share);
// otherwise it is lost. A frame starting on a fresh opportunity thus consumes ceil(len/1500).
class TraceServer final : public Server {
 public:
  static constexpr std::uint64_t kBytesPerOpportunity = 1500;
  // The trace clock starts at `now`; re-installing an equal trace keeps the running clock.
  void set_trace(std::shared_ptr<const Trace> t, Nanos now);
  Nanos depart(Nanos start, std::uint64_t wire_bytes) override;

 private:
  Nanos time_of(std::uint64_t k) const;            // absolute opportunity index -> time
  std::uint64_t first_at_or_after(Nanos t) const;  // O(log n) even after long idle gaps
  std::shared_ptr<const Trace> trace_;
  Nanos origin_ = 0;
  std::uint64_t next_ = 0;                     // opportunity serving the next byte
  std::uint64_t left_ = kBytesPerOpportunity;  // credit left in it
};

// The bottleneck: departure times are computed on admission (FIFO, so they are final), and only
// (departure, packets) records stay here to measure occupancy; the frame itself goes straight to
// the delay line with its final due time. That makes next_deadline() a single heap/FIFO peek.
class BottleneckQueue {
 public:
  // The trace, when given, overrides limits.rate_kbit.
  void configure(const StageConfig& c);
  bool active() const { return server_ != nullptr; }
  // Departure time for a frame arriving at `now`, or nullopt when the queue is full (tail drop).
  // Without a server frames still leave no earlier than the last scheduled departure, so removing
  // the rate never lets new packets overtake ones still queued.
  std::optional<Nanos> admit(Nanos now, std::uint32_t packets, std::uint64_t wire_bytes);
  std::uint64_t depth() const { return waiting_pkts_; }
  std::uint64_t limit() const { return limit_; }

 private:
  void drain(Nanos now);
  Ring<std::pair<Nanos, std::uint32_t>> waiting_;
  std::uint64_t waiting_pkts_ = 0, limit_ = 0;
  Nanos last_departure_ = 0;
  Server* server_ = nullptr;
  RateServer rate_;
  TraceServer trace_;
};

class DelaySampler {
 public:
  explicit DelaySampler(std::uint64_t seed) : rng_(seed, kDelayStream) {}
  void configure(const StageConfig& c);
  bool active() const { return latency_ns_ > 0 || jitter_ns_ > 0; }
  Nanos sample();  // latency + jitter * draw, clamped >= 0; no draw without jitter

 private:
  double draw();  // uniform: [-1, 1]; others: mean 0, sd 1
  Rng rng_;
  Nanos latency_ns_ = 0, jitter_ns_ = 0;
  DelayDistribution dist_ = DelayDistribution::Uniform;
};

static_assert(Stage<LossStage> && Stage<PercentStage> && Stage<CorruptStage> && Stage<BottleneckQueue> &&
              Stage<DelaySampler>);

// The standardised (mean 0, sd 1) Pareto table, alpha = 3, built at first use from the quantile
// function. A finite table (like netem's) bounds the tail at ~21 sd, which keeps a single draw
// from stalling a direction for minutes.
const std::vector<double>& pareto_table();

struct Pending {
  Nanos due = 0;
  std::uint64_t seq = 0;      // offer order: FIFO among equal due times
  std::uint32_t packets = 1;  // wire packets
  std::uint64_t wire_bytes = 0;
  FramePtr frame;
};

// Frames ordered by (due, seq). Frames whose due time is not earlier than the newest one go to a
// FIFO (the only case without jitter/reorder: O(1)); the rest go to a binary heap (O(log n)).
// The two are merged on pop.
class DelayLine {
 public:
  void push(Pending p);
  bool empty() const { return fifo_.empty() && heap_.empty(); }
  std::optional<Nanos> next_due() const;
  bool pop_due(Nanos now, Pending& out);  // earliest frame if its due <= now
  Nanos latest_due() const { return latest_due_; }
  std::uint64_t bytes() const { return bytes_; }

 private:
  Ring<Pending> fifo_;
  std::vector<Pending> heap_;
  Nanos latest_due_ = 0;
  std::uint64_t bytes_ = 0;
};

}  // namespace patchbay::link
