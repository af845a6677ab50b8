// Stages of one link direction; see stages.hpp for the composition and pipeline.hpp for semantics.
#include "link/stages.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numbers>

namespace patchbay::link {

namespace {

constexpr Nanos kNanosPerMs = 1'000'000;

std::uint64_t splitmix64_next(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Min-heap order on (due, seq) for std::push_heap/pop_heap (which build max-heaps).
bool later(const Pending& a, const Pending& b) {
  return a.due != b.due ? a.due > b.due : a.seq > b.seq;
}

}  // namespace

// ---- Rng -----------------------------------------------------------------------------------------

Rng::Rng(std::uint64_t seed, std::uint64_t stream) {
  // Mix the stream constant in before expanding so that nearby seeds and nearby streams give
  // unrelated states.
  std::uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ULL);
  x = splitmix64_next(x);
  for (auto& w : s_) w = splitmix64_next(x);
}

std::uint64_t Rng::next() {
  const std::uint64_t result = std::rotl(s_[1] * 5, 7) * 9;
  const std::uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = std::rotl(s_[3], 45);
  return result;
}

double Rng::uniform() {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

bool Rng::chance(double pct) {
  return pct > 0 && uniform() * 100.0 < pct;
}

std::uint64_t Rng::below(std::uint64_t n) {
  unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
  auto low = static_cast<std::uint64_t>(m);
  if (low < n) {
    const std::uint64_t threshold = (0 - n) % n;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(next()) * n;
      low = static_cast<std::uint64_t>(m);
    }
  }
  return static_cast<std::uint64_t>(m >> 64);
}

double Rng::normal() {
  const double u1 = 1.0 - uniform();  // (0, 1]: log() stays finite
  const double u2 = uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
}

// ---- Loss, corrupt -------------------------------------------------------------------------------

void LossStage::configure(const StageConfig& c) {
  const LinkLimits& l = c.limits;
  pct_ = l.burst_loss ? 0.0 : l.loss_pct;
  ge_ = l.burst_loss;
  if (!ge_) bad_ = false;
}

bool LossStage::drop() {
  if (!ge_) return rng_.chance(pct_);
  // Decide in the current state, then move: P(bad) = p / (p + r), bursts average 1 / r packets.
  const bool lost = rng_.chance(bad_ ? ge_->loss_bad_pct : ge_->loss_good_pct);
  if (bad_) {
    if (rng_.chance(ge_->r_pct)) bad_ = false;
  } else if (rng_.chance(ge_->p_pct)) {
    bad_ = true;
  }
  return lost;
}

bool CorruptStage::apply(Frame& f) {
  if (!rng_.chance(pct_) || f.bytes.size() <= 14) return false;
  // A pending partial checksum would be completed by the receiver's stack over the corrupted
  // bytes and hide the damage; complete it first so the receiver sees a bad checksum, as on a wire.
  if ((f.vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && f.vnet.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
    complete_checksum(f);
  }
  const std::size_t offset = 14 + rng_.below(f.bytes.size() - 14);
  f.bytes[offset] ^= static_cast<std::uint8_t>(1u << rng_.below(8));
  return true;
}

// ---- Servers -------------------------------------------------------------------------------------

void RateServer::set_rate(std::uint32_t kbit) {
  if (kbit != kbit_) carry_ = 0;
  kbit_ = kbit;
}

Nanos RateServer::depart(Nanos start, std::uint64_t wire_bytes) {
  if (start > last_) carry_ = 0;  // idle gap: the fraction belonged to the previous busy period
  const std::uint64_t num = wire_bytes * 8'000'000 + carry_;
  carry_ = num % kbit_;
  last_ = start + static_cast<Nanos>(num / kbit_);
  return last_;
}

void TraceServer::set_trace(std::shared_ptr<const Trace> t, Nanos now) {
  if (trace_ && (t == trace_ || t->opportunities_ms() == trace_->opportunities_ms())) return;
  trace_ = std::move(t);
  origin_ = now;
  next_ = 0;
  left_ = kBytesPerOpportunity;
}

Nanos TraceServer::time_of(std::uint64_t k) const {
  const auto& ms = trace_->opportunities_ms();
  const std::uint64_t cycle = k / ms.size();
  const std::uint64_t at_ms = cycle * trace_->period_ms() + ms[k % ms.size()];
  return origin_ + static_cast<Nanos>(at_ms) * kNanosPerMs;
}

std::uint64_t TraceServer::first_at_or_after(Nanos t) const {
  if (t <= origin_) return 0;
  const auto& ms = trace_->opportunities_ms();
  const std::uint64_t n = ms.size();
  const auto period_ns = static_cast<std::uint64_t>(trace_->period_ms()) * kNanosPerMs;
  const auto rel = static_cast<std::uint64_t>(t - origin_);
  const std::uint64_t cycle = rel / period_ns, off = rel % period_ns;
  if (off == 0) {
    // Exactly on a period boundary: the previous cycle's timestamps equal to the period are at t
    // and come first in opportunity order.
    const auto j = std::lower_bound(ms.begin(), ms.end(), trace_->period_ms()) - ms.begin();
    return (cycle - 1) * n + static_cast<std::uint64_t>(j);
  }
  const auto off_ms = static_cast<std::uint32_t>((off + kNanosPerMs - 1) / kNanosPerMs);
  const auto i = static_cast<std::uint64_t>(std::lower_bound(ms.begin(), ms.end(), off_ms) - ms.begin());
  return i == n ? (cycle + 1) * n : cycle * n + i;
}

Nanos TraceServer::depart(Nanos start, std::uint64_t wire_bytes) {
  const std::uint64_t k = first_at_or_after(start);
  if (k > next_) {  // the opportunities in between passed with nothing to send
    next_ = k;
    left_ = kBytesPerOpportunity;
  }
  std::uint64_t remaining = std::max<std::uint64_t>(wire_bytes, 1);
  while (remaining > left_) {  // at most ceil(64 KiB / 1500) rounds for a GSO frame
    remaining -= left_;
    ++next_;
    left_ = kBytesPerOpportunity;
  }
  left_ -= remaining;
  const Nanos departure = time_of(next_);
  if (left_ == 0) {
    ++next_;
    left_ = kBytesPerOpportunity;
  }
  return departure;
}

// ---- Bottleneck queue ----------------------------------------------------------------------------

void BottleneckQueue::configure(const StageConfig& c) {
  const LinkLimits& l = c.limits;
  double kbit = 0;
  if (c.trace) {
    kbit = c.trace->average_kbit();
    trace_.set_trace(c.trace, c.now);
    server_ = &trace_;
  } else if (l.rate_kbit > 0) {
    kbit = l.rate_kbit;
    rate_.set_rate(l.rate_kbit);
    server_ = &rate_;
  } else {
    server_ = nullptr;
  }
  if (l.queue_limit_pkts > 0) {
    limit_ = l.queue_limit_pkts;
  } else {
    // One bandwidth-delay product (round trip of this direction's latency and jitter) plus 20 ms
    // of headroom, in full-size frames: enough that the queue, not the limit, shapes TCP.
    const double window_s = (2.0 * l.latency_ms + 2.0 * l.jitter_ms + 20.0) / 1000.0;
    const double bytes = kbit * 125.0 * window_s;
    limit_ = std::max<std::uint64_t>(64, static_cast<std::uint64_t>(bytes / 1514.0));
  }
}

void BottleneckQueue::drain(Nanos now) {
  while (!waiting_.empty() && waiting_.front().first <= now) waiting_pkts_ -= waiting_.pop_front().second;
}

std::optional<Nanos> BottleneckQueue::admit(Nanos now, std::uint32_t packets, std::uint64_t wire_bytes) {
  drain(now);
  const Nanos start = std::max(now, last_departure_);
  if (server_ == nullptr) return start;
  // An empty queue always accepts, so a GSO frame larger than a small explicit limit still passes.
  if (waiting_pkts_ > 0 && waiting_pkts_ + packets > limit_) return std::nullopt;
  last_departure_ = server_->depart(start, wire_bytes);
  waiting_.push_back({last_departure_, packets});
  waiting_pkts_ += packets;
  return last_departure_;
}

// ---- Delay ---------------------------------------------------------------------------------------

const std::vector<double>& pareto_table() {
  static const std::vector<double> table = [] {
    constexpr int kSize = 4096;
    constexpr double kAlpha = 3.0;
    std::vector<double> t(kSize);
    double sum = 0;
    for (int i = 0; i < kSize; ++i) {
      const double u = (i + 0.5) / kSize;  // midpoint quantiles of Pareto(x_m = 1, alpha)
      t[i] = std::pow(1.0 - u, -1.0 / kAlpha);
      sum += t[i];
    }
    // Standardise the table itself (not the infinite-support law) so draws have mean 0, sd 1.
    const double mean = sum / kSize;
    double sq = 0;
    for (double x : t) sq += (x - mean) * (x - mean);
    const double sd = std::sqrt(sq / kSize);
    for (double& x : t) x = (x - mean) / sd;
    return t;
  }();
  return table;
}

void DelaySampler::configure(const StageConfig& c) {
  const LinkLimits& l = c.limits;
  latency_ns_ = static_cast<Nanos>(l.latency_ms) * kNanosPerMs;
  jitter_ns_ = static_cast<Nanos>(l.jitter_ms) * kNanosPerMs;
  dist_ = l.distribution;
}

double DelaySampler::draw() {
  switch (dist_) {
    case DelayDistribution::Uniform:
      return 2.0 * rng_.uniform() - 1.0;
    case DelayDistribution::Normal:
      return rng_.normal();
    case DelayDistribution::Pareto: {
      const auto& t = pareto_table();
      return t[rng_.below(t.size())];
    }
    case DelayDistribution::ParetoNormal: {
      // netem's mix: a quarter normal, three quarters Pareto; independent, so the sd of the sum
      // is sqrt(0.25^2 + 0.75^2), divided out to keep the draw standardised.
      static const double kScale = 1.0 / std::sqrt(0.25 * 0.25 + 0.75 * 0.75);
      const auto& t = pareto_table();
      const double n = rng_.normal();
      return (0.25 * n + 0.75 * t[rng_.below(t.size())]) * kScale;
    }
  }
  return 0;
}

Nanos DelaySampler::sample() {
  if (jitter_ns_ == 0) return latency_ns_;
  const double d = static_cast<double>(latency_ns_) + static_cast<double>(jitter_ns_) * draw();
  return d <= 0 ? 0 : static_cast<Nanos>(std::llround(d));
}

// ---- Delay line ----------------------------------------------------------------------------------

void DelayLine::push(Pending p) {
  bytes_ += p.frame->bytes.size();
  latest_due_ = empty() ? p.due : std::max(latest_due_, p.due);
  if (fifo_.empty() || p.due >= fifo_.back().due) {
    fifo_.push_back(std::move(p));
  } else {
    heap_.push_back(std::move(p));
    std::push_heap(heap_.begin(), heap_.end(), later);
  }
}

std::optional<Nanos> DelayLine::next_due() const {
  if (fifo_.empty() && heap_.empty()) return std::nullopt;
  if (fifo_.empty()) return heap_.front().due;
  if (heap_.empty()) return fifo_.front().due;
  return std::min(fifo_.front().due, heap_.front().due);
}

bool DelayLine::pop_due(Nanos now, Pending& out) {
  const bool from_heap = !heap_.empty() && (fifo_.empty() || later(fifo_.front(), heap_.front()));
  if (from_heap) {
    if (heap_.front().due > now) return false;
    std::pop_heap(heap_.begin(), heap_.end(), later);
    out = std::move(heap_.back());
    heap_.pop_back();
  } else {
    if (fifo_.empty() || fifo_.front().due > now) return false;
    out = fifo_.pop_front();
  }
  bytes_ -= out.frame->bytes.size();
  return true;
}

}  // namespace patchbay::link
