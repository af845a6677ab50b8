// link::Direction and link::Trace in virtual time: every `now` is chosen by the test, nothing
// sleeps. Random stages are checked against their distributions with explicit tolerances (the
// seeds are fixed, so the outcomes are reproducible; the bands say what would still be correct).
#include "link/pipeline.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>

#include <unistd.h>

#include "patchbay/error.hpp"

// Conditions are written as designated initialisers ({.rate_kbit = 8000}); GCC flags the
// omitted std::optional members even though they are value-initialised, which is what we want.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace patchbay::link {
namespace {

constexpr Nanos ms(double v) {
  return static_cast<Nanos>(v * 1'000'000);
}

// A direction configured at time 0.
Direction direction(const LinkLimits& l, std::uint64_t seed = 1) {
  Direction d(seed);
  d.set_limits(l, 0);
  return d;
}

// A non-GSO frame whose id sits in the destination MAC, where corruption never reaches.
FramePtr frame(std::size_t size, std::uint32_t id) {
  auto f = std::make_unique<Frame>();
  f->bytes.resize(size);
  for (std::size_t i = 0; i < size; ++i) f->bytes[i] = static_cast<std::uint8_t>(i * 7 + 3);
  for (int i = 0; i < 4; ++i) f->bytes[i] = static_cast<std::uint8_t>(id >> (8 * i));
  f->bytes[12] = 0x88;  // local experimental ethertype: no stage may parse this as IP
  f->bytes[13] = 0xb5;
  return f;
}

std::uint32_t id_of(const Frame& f) {
  std::uint32_t id = 0;
  for (int i = 0; i < 4; ++i) id |= std::uint32_t{f.bytes[i]} << (8 * i);
  return id;
}

std::vector<std::uint32_t> ids(const std::vector<FramePtr>& frames) {
  std::vector<std::uint32_t> v;
  for (const auto& f : frames) v.push_back(id_of(*f));
  return v;
}

// The delay one lone frame offered at `at` gets (its due time minus `at`); delivers it.
Nanos lone_delay(Direction& d, Nanos at, std::uint32_t id = 0) {
  d.offer(frame(100, id), at);
  const Nanos due = *d.next_deadline();
  std::vector<FramePtr> out;
  d.poll(due, out);
  EXPECT_EQ(out.size(), 1u);
  return due - at;
}

struct Stats {
  double mean = 0, sd = 0, min = 0, max = 0;
};

Stats delay_stats(const LinkLimits& l, int n, std::uint64_t seed = 7) {
  Direction d = direction(l, seed);
  std::vector<double> v;
  for (int i = 0; i < n; ++i) v.push_back(static_cast<double>(lone_delay(d, ms(1000.0 * i))) / 1e6);
  Stats s;
  s.mean = std::accumulate(v.begin(), v.end(), 0.0) / n;
  double sq = 0;
  for (double x : v) sq += (x - s.mean) * (x - s.mean);
  s.sd = std::sqrt(sq / (n - 1));
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  return s;
}

// Binomial 99.9 % band (z = 3.29) around n * p.
void expect_binomial(std::uint64_t observed, int n, double p) {
  const double mean = n * p, half = 3.29 * std::sqrt(n * p * (1 - p));
  EXPECT_GE(static_cast<double>(observed), mean - half);
  EXPECT_LE(static_cast<double>(observed), mean + half);
}

// ---- loss ----------------------------------------------------------------------------------------

TEST(PipelineLoss, BernoulliTenPercentWithinBinomialBand) {
  Direction d = direction({.loss_pct = 10}, 42);
  constexpr int kN = 10'000;
  std::vector<FramePtr> out;
  for (int i = 0; i < kN; ++i) d.offer(frame(100, i), 0);
  d.poll(0, out);
  expect_binomial(d.counters().drops_loss, kN, 0.10);
  EXPECT_EQ(out.size() + d.counters().drops_loss, static_cast<std::size_t>(kN));
  EXPECT_EQ(d.counters().packets, out.size());
  EXPECT_EQ(d.counters().bytes, out.size() * 100);
}

TEST(PipelineLoss, GilbertElliottAveragesNinePercentInBurstsOfTwo) {
  Direction d(3);
  LinkLimits l;
  l.burst_loss = GilbertElliott{.p_pct = 5, .r_pct = 50, .loss_bad_pct = 100, .loss_good_pct = 0};
  d.set_limits(l, 0);
  constexpr int kN = 100'000;
  std::vector<FramePtr> out;
  for (int i = 0; i < kN; ++i) d.offer(frame(64, i), 0);
  d.poll(0, out);
  // Stationary P(bad) = p / (p + r) = 5 / 55; a bad run lasts 1 / r = 2 packets on average.
  const double loss = static_cast<double>(d.counters().drops_loss) / kN;
  EXPECT_NEAR(loss, 5.0 / 55.0, 0.1 * 5.0 / 55.0);
  std::vector<bool> delivered(kN);
  for (auto id : ids(out)) delivered[id] = true;
  int bursts = 0, lost = 0;
  for (int i = 0; i < kN; ++i) {
    if (delivered[i]) continue;
    ++lost;
    if (i == 0 || delivered[i - 1]) ++bursts;
  }
  EXPECT_NEAR(static_cast<double>(lost) / bursts, 2.0, 0.4);
}

// ---- determinism ---------------------------------------------------------------------------------

std::vector<std::uint32_t> run_impaired(std::uint64_t seed) {
  Direction d = direction(
      {.loss_pct = 10, .latency_ms = 10, .jitter_ms = 5, .reorder_pct = 10, .duplicate_pct = 5}, seed);
  std::vector<FramePtr> out;
  for (int i = 0; i < 2000; ++i) {
    d.offer(frame(200, i), ms(0.1 * i));
    d.poll(ms(0.1 * i), out);
  }
  d.poll(ms(10'000), out);
  return ids(out);
}

TEST(PipelineDeterminism, SameSeedGivesIdenticalDeliveredSequence) {
  const auto a = run_impaired(1234), b = run_impaired(1234);
  EXPECT_GT(a.size(), 1500u);
  EXPECT_EQ(a, b);
}

TEST(PipelineDeterminism, DifferentSeedGivesDifferentSequence) {
  const auto a = run_impaired(1234), b = run_impaired(1235);
  EXPECT_GT(b.size(), 1500u);
  EXPECT_NE(a, b);
}

// ---- duplicate, corrupt --------------------------------------------------------------------------

TEST(PipelineDuplicate, DeliversBothCopiesAtTheConfiguredRatio) {
  Direction d = direction({.duplicate_pct = 20}, 5);
  constexpr int kN = 10'000;
  std::vector<FramePtr> out;
  for (int i = 0; i < kN; ++i) d.offer(frame(100, i), 0);
  d.poll(0, out);
  expect_binomial(d.counters().duplicated, kN, 0.20);
  EXPECT_EQ(out.size(), kN + d.counters().duplicated);
  std::vector<int> seen(kN);
  for (const auto& f : out) {
    ++seen[id_of(*f)];
    EXPECT_EQ(f->bytes, frame(100, id_of(*f))->bytes);
  }
  EXPECT_EQ(static_cast<std::uint64_t>(std::count(seen.begin(), seen.end(), 2)), d.counters().duplicated);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), 0), 0);
}

TEST(PipelineCorrupt, CorruptsAtTheConfiguredRatio) {
  Direction d = direction({.corrupt_pct = 10}, 6);
  constexpr int kN = 10'000;
  std::vector<FramePtr> out;
  for (int i = 0; i < kN; ++i) d.offer(frame(100, i), 0);
  d.poll(0, out);
  expect_binomial(d.counters().corrupted, kN, 0.10);
  std::uint64_t changed = 0;
  for (const auto& f : out) changed += f->bytes != frame(100, id_of(*f))->bytes;
  EXPECT_EQ(changed, d.counters().corrupted);
  EXPECT_EQ(out.size(), static_cast<std::size_t>(kN));
}

TEST(PipelineCorrupt, FlipsExactlyOneBitPastTheEthernetHeader) {
  Direction d = direction({.corrupt_pct = 100}, 8);
  std::vector<FramePtr> out;
  for (int i = 0; i < 2000; ++i) d.offer(frame(15 + i % 100, i), 0);
  d.poll(0, out);
  ASSERT_EQ(out.size(), 2000u);
  std::size_t lowest = 1 << 20;
  bool hit_last_byte = false;
  for (const auto& f : out) {
    const auto orig = frame(f->bytes.size(), id_of(*f));
    int bits = 0;
    for (std::size_t i = 0; i < f->bytes.size(); ++i) {
      const int diff = std::popcount(static_cast<unsigned>(f->bytes[i] ^ orig->bytes[i]));
      if (diff == 0) continue;
      bits += diff;
      lowest = std::min(lowest, i);
      hit_last_byte |= i + 1 == f->bytes.size();
    }
    EXPECT_EQ(bits, 1);
  }
  EXPECT_EQ(lowest, 14u);  // byte 14 is reachable, bytes 0..13 never
  EXPECT_TRUE(hit_last_byte);
  EXPECT_EQ(d.counters().corrupted, 2000u);
}

TEST(PipelineCorrupt, LeavesHeaderOnlyFramesAlone) {
  Direction d = direction({.corrupt_pct = 100}, 8);
  std::vector<FramePtr> out;
  d.offer(frame(14, 1), 0);
  d.poll(0, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0]->bytes, frame(14, 1)->bytes);
  EXPECT_EQ(d.counters().corrupted, 0u);
}

// ---- rate and queue ------------------------------------------------------------------------------

TEST(PipelineRate, EightMbitSpacesKilobyteFramesExactlyOneMsApart) {
  Direction d = direction({.rate_kbit = 8000});
  for (int i = 0; i < 10; ++i) d.offer(frame(1000, i), 0);
  std::vector<FramePtr> out;
  for (int k = 1; k <= 10; ++k) {
    ASSERT_EQ(d.next_deadline(), ms(k));
    d.poll(ms(k) - 1, out);
    EXPECT_EQ(out.size(), static_cast<std::size_t>(k - 1));  // never before its due time
    d.poll(ms(k), out);
    EXPECT_EQ(out.size(), static_cast<std::size_t>(k));
  }
  EXPECT_EQ(ids(out), (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_TRUE(d.idle());
}

TEST(PipelineRate, LongBusyPeriodHasNoRoundingDrift) {
  Direction d = direction({.rate_kbit = 3000, .queue_limit_pkts = 100'000});
  for (int i = 0; i < 10'000; ++i) d.offer(frame(1514, i), 0);
  // 10,000 * 1514 * 8 bits at 3 Mbit/s = 40.373333... s; floored once, not 10,000 times.
  std::vector<FramePtr> out;
  d.poll(40'373'333'332, out);
  EXPECT_EQ(out.size(), 9'999u);
  d.poll(40'373'333'333, out);
  EXPECT_EQ(out.size(), 10'000u);
}

TEST(PipelineQueue, DefaultLimitIsSixtyFourPacketsForSmallProducts) {
  Direction d(1);
  LinkLimits l;
  l.rate_kbit = 1000;  // 125 kB/s * 20 ms = 2.5 kB: far below 64 packets
  d.set_limits(l, 0);
  for (int i = 0; i < 100; ++i) d.offer(frame(1000, i), 0);
  EXPECT_EQ(d.counters().drops_queue, 36u);
  EXPECT_EQ(d.counters().queue_high_water, 64u);
  std::vector<FramePtr> out;
  d.poll(ms(10'000), out);
  EXPECT_EQ(out.size(), 64u);
  EXPECT_EQ(ids(out).back(), 63u);  // tail drop: the first 64 survive
}

TEST(PipelineQueue, DefaultLimitIsOneBandwidthDelayProductPlusHeadroom) {
  Direction d = direction({.rate_kbit = 100'000, .latency_ms = 100});
  // 12.5 MB/s * (200 + 20) ms / 1514 = 1816.38 packets
  for (int i = 0; i < 2000; ++i) d.offer(frame(1514, i), 0);
  EXPECT_EQ(d.counters().queue_high_water, 1816u);
  EXPECT_EQ(d.counters().drops_queue, 184u);
}

TEST(PipelineQueue, ExplicitLimitTailDropsAndFreesAsPacketsDepart) {
  Direction d = direction({.rate_kbit = 8000, .queue_limit_pkts = 10});
  for (int i = 0; i < 15; ++i) d.offer(frame(1000, i), 0);
  EXPECT_EQ(d.counters().drops_queue, 5u);
  EXPECT_EQ(d.counters().queue_high_water, 10u);
  // At 1 ms the first frame has left the bottleneck: room for exactly one more.
  d.offer(frame(1000, 100), ms(1));
  d.offer(frame(1000, 101), ms(1));
  EXPECT_EQ(d.counters().drops_queue, 6u);
  std::vector<FramePtr> out;
  d.poll(ms(100), out);
  EXPECT_EQ(out.size(), 11u);
  EXPECT_EQ(ids(out).back(), 100u);
}

TEST(PipelineQueue, LatencyAloneNeverDrops) {
  Direction d = direction({.latency_ms = 200});
  for (int i = 0; i < 10'000; ++i) d.offer(frame(1514, i), 0);
  EXPECT_EQ(d.counters().drops_queue, 0u);
  EXPECT_EQ(d.queued_bytes(), 10'000u * 1514);
  std::vector<FramePtr> out;
  d.poll(ms(200), out);
  EXPECT_EQ(out.size(), 10'000u);
}

// ---- trace ---------------------------------------------------------------------------------------

TEST(TraceParse, SingleOneIsTwelveMbit) {
  const auto t = Trace::parse("1\n", "one.trace");
  EXPECT_EQ(t->opportunities_ms(), std::vector<std::uint32_t>{1});
  EXPECT_EQ(t->period_ms(), 1u);
  EXPECT_DOUBLE_EQ(t->average_kbit(), 12'000.0);
}

TEST(TraceParse, AllowsBlankLinesAndRepeatedTimestamps) {
  const auto t = Trace::parse("\n  3\n3\r\n\n10\n\n", "x");
  EXPECT_EQ(t->opportunities_ms(), (std::vector<std::uint32_t>{3, 3, 10}));
  EXPECT_DOUBLE_EQ(t->average_kbit(), 3 * 12'000.0 / 10);
}

std::string parse_error(std::string_view text) {
  try {
    Trace::parse(text, "bad.trace");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TraceParse, RejectsMalformedFilesNamingTheLine) {
  EXPECT_EQ(parse_error("1\n2\nabc\n").rfind("bad.trace:3: ", 0), 0u) << parse_error("1\n2\nabc\n");
  EXPECT_EQ(parse_error("1\n2x\n").rfind("bad.trace:2: ", 0), 0u);
  EXPECT_EQ(parse_error("-1\n").rfind("bad.trace:1: ", 0), 0u);
  EXPECT_EQ(parse_error("1.5\n").rfind("bad.trace:1: ", 0), 0u);
  EXPECT_EQ(parse_error("99999999999\n").rfind("bad.trace:1: ", 0), 0u);
  EXPECT_EQ(parse_error("5\n\n3\n").rfind("bad.trace:3: ", 0), 0u);
  EXPECT_NE(parse_error("5\n\n3\n").find("earlier"), std::string::npos);
  EXPECT_NE(parse_error("").find("bad.trace:1: empty"), std::string::npos);
  EXPECT_NE(parse_error("\n\n").find("empty"), std::string::npos);
  EXPECT_EQ(parse_error("0\n0\n").rfind("bad.trace:2: last timestamp is 0", 0), 0u);
  EXPECT_EQ(parse_error("1\n"), "(no error)");  // positive control
}

TEST(TraceLoad, ReadsAFileAndNamesItInErrors) {
  const auto dir = std::filesystem::temp_directory_path();
  const auto good = dir / ("pb_trace_good_" + std::to_string(::getpid()));
  const auto bad = dir / ("pb_trace_bad_" + std::to_string(::getpid()));
  std::ofstream(good) << "2\n4\n";
  std::ofstream(bad) << "2\nfour\n";
  EXPECT_EQ(Trace::load(good)->opportunities_ms(), (std::vector<std::uint32_t>{2, 4}));
  try {
    Trace::load(bad);
    ADD_FAILURE() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(bad.string() + ":2: ", 0), 0u) << e.what();
  }
  EXPECT_THROW(Trace::load(dir / "pb_trace_does_not_exist"), ConfigError);
  std::filesystem::remove(good);
  std::filesystem::remove(bad);
}

TEST(PipelineTrace, OneMsTraceDeliversTwelveMbitUnderOverload) {
  Direction d(1);
  LinkLimits l;
  l.queue_limit_pkts = 10'000;
  d.set_limits(l, 0, Trace::parse("1\n", "t"));
  std::vector<FramePtr> out;
  for (int i = 0; i < 2000; ++i) {  // 24 Mbit/s offered for 1 s
    d.offer(frame(1500, i), ms(0.5 * i));
    d.poll(ms(0.5 * i), out);
  }
  d.poll(ms(1000), out);
  const double mbit = d.counters().bytes * 8.0 / 1e6;  // over 1 s
  EXPECT_NEAR(mbit, 12.0, 0.12);
  EXPECT_EQ(d.counters().drops_queue, 0u);
}

TEST(PipelineTrace, SmallPacketsShareAnOpportunityAndLargeOnesSpanSeveral) {
  Direction d(1);
  LinkLimits l;
  d.set_limits(l, 0, Trace::parse("10\n", "t"));  // one opportunity every 10 ms
  for (int i = 0; i < 4; ++i) d.offer(frame(500, i), 0);
  d.offer(frame(3000, 4), ms(30));  // starts on a fresh opportunity: takes 30 and 40 ms
  d.offer(frame(100, 5), ms(30));
  std::vector<Nanos> dues;
  std::vector<FramePtr> out;
  while (auto t = d.next_deadline()) {
    const std::size_t before = out.size();
    d.poll(*t, out);
    dues.insert(dues.end(), out.size() - before, *t);
  }
  EXPECT_EQ(ids(out), (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(dues, (std::vector<Nanos>{ms(10), ms(10), ms(10), ms(20), ms(40), ms(50)}));
}

TEST(PipelineTrace, RepeatsWithThePeriodAndSkipsIdleOpportunities) {
  Direction d(1);
  LinkLimits l;
  d.set_limits(l, ms(1000), Trace::parse("0\n10\n", "t"));  // at 0, 10 | 10, 20 | 20, 30 ...
  std::vector<Nanos> dues;
  const auto depart = [&](Nanos at) {
    d.offer(frame(1500, 0), at);
    dues.push_back(*d.next_deadline() - ms(1000));
    std::vector<FramePtr> out;
    d.poll(*d.next_deadline(), out);
  };
  depart(ms(1000));                 // opportunity at 0
  depart(ms(1010));                 // period boundary: the first of the two at 10
  depart(ms(1010));                 // the second one at 10
  depart(ms(1010));                 // next at 20
  depart(ms(1000 + 3601e3 + 0.5));  // after an hour idle: the next one, not the missed ones
  EXPECT_EQ(dues, (std::vector<Nanos>{0, ms(10), ms(10), ms(20), ms(3601e3 + 10)}));
}

// ---- delay ---------------------------------------------------------------------------------------

TEST(PipelineDelay, UniformJitterStaysWithinLatencyPlusMinusJitter) {
  const Stats s = delay_stats({.latency_ms = 50, .jitter_ms = 10}, 10'000);
  EXPECT_GE(s.min, 40.0);
  EXPECT_LE(s.max, 60.0);
  EXPECT_LT(s.min, 40.1);  // the whole band is used
  EXPECT_GT(s.max, 59.9);
  EXPECT_NEAR(s.mean, 50.0, 0.5);
  EXPECT_NEAR(s.sd, 10.0 / std::sqrt(3.0), 0.1 * 10.0 / std::sqrt(3.0));
}

TEST(PipelineDelay, NormalHasMeanLatencyAndSdJitter) {
  const Stats s =
      delay_stats({.latency_ms = 100, .jitter_ms = 10, .distribution = DelayDistribution::Normal}, 10'000);
  EXPECT_NEAR(s.mean, 100.0, 10.0);
  EXPECT_NEAR(s.sd, 10.0, 1.0);
  EXPECT_LT(s.min, 70.0);  // unbounded, unlike uniform
}

TEST(PipelineDelay, ParetoHasSdJitterAndAHeavyRightTail) {
  const Stats s =
      delay_stats({.latency_ms = 100, .jitter_ms = 10, .distribution = DelayDistribution::Pareto}, 10'000);
  EXPECT_NEAR(s.sd, 10.0, 2.5);
  EXPECT_NEAR(s.mean, 100.0, 1.0);
  EXPECT_GT(s.min, 100.0 - 10.0);  // short left side: (1 - 1.5) / sd(Pareto 3) = -0.58 sd
  EXPECT_GT(s.max, 100.0 + 5 * 10.0);
}

TEST(PipelineDelay, ParetoNormalHasSdJitter) {
  const Stats s = delay_stats(
      {.latency_ms = 100, .jitter_ms = 10, .distribution = DelayDistribution::ParetoNormal}, 10'000);
  EXPECT_NEAR(s.sd, 10.0, 2.5);
  EXPECT_NEAR(s.mean, 100.0, 1.0);
}

TEST(PipelineDelay, ParetoTableIsStandardised) {
  // The table is private: check it through a larger sample of draws.
  const Stats s = delay_stats(
      {.latency_ms = 1000, .jitter_ms = 100, .distribution = DelayDistribution::Pareto}, 50'000, 99);
  EXPECT_NEAR(s.mean, 1000.0, 2.0);
  EXPECT_NEAR(s.sd, 100.0, 10.0);
}

TEST(PipelineDelay, DelayIsClampedAtZero) {
  const Stats s =
      delay_stats({.latency_ms = 1, .jitter_ms = 10, .distribution = DelayDistribution::Normal}, 2000);
  EXPECT_EQ(s.min, 0.0);
  EXPECT_GT(s.max, 10.0);
}

std::vector<std::uint32_t> jittered_order(bool jitter_reorders, float reorder_pct = 0) {
  Direction d = direction(
      {.latency_ms = 50, .jitter_ms = 20, .reorder_pct = reorder_pct, .jitter_reorders = jitter_reorders},
      11);
  std::vector<FramePtr> out;
  for (int i = 0; i < 1000; ++i) {
    d.offer(frame(100, i), ms(0.1 * i));
    d.poll(ms(0.1 * i), out);
  }
  while (auto t = d.next_deadline()) d.poll(*t, out);
  EXPECT_EQ(out.size(), 1000u);
  return ids(out);
}

TEST(PipelineDelay, JitterReordersByDefault) {
  const auto order = jittered_order(true);
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
}

TEST(PipelineDelay, JitterReordersFalseNeverReorders) {
  const auto order = jittered_order(false);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  const auto with_reorder = jittered_order(false, 50);
  EXPECT_TRUE(std::is_sorted(with_reorder.begin(), with_reorder.end()));
}

TEST(PipelineDelay, EqualDueTimesKeepOfferOrder) {
  Direction d = direction({.latency_ms = 10});
  for (int i = 0; i < 100; ++i) d.offer(frame(100, i), ms(1));
  std::vector<FramePtr> out;
  d.poll(ms(11), out);
  const auto order = ids(out);
  EXPECT_EQ(order.size(), 100u);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
}

// ---- reorder -------------------------------------------------------------------------------------

TEST(PipelineReorder, ShareOfPacketsSkipsTheDelayLine) {
  Direction d = direction({.latency_ms = 50, .reorder_pct = 25}, 12);
  constexpr int kN = 10'000;
  std::uint64_t immediate = 0;
  std::vector<FramePtr> out;
  for (int i = 0; i < kN; ++i) {
    d.offer(frame(100, i), ms(i));  // 1 ms apart: only a skipping frame can be due at once
    const std::size_t before = out.size();
    d.poll(ms(i), out);
    for (std::size_t k = before; k < out.size(); ++k)
      immediate += id_of(*out[k]) == static_cast<std::uint32_t>(i);
  }
  expect_binomial(d.counters().reordered, kN, 0.25);
  EXPECT_EQ(immediate, d.counters().reordered);
  d.poll(ms(kN + 100), out);
  EXPECT_EQ(out.size(), static_cast<std::size_t>(kN));
}

TEST(PipelineReorder, HasNoEffectWithoutLatency) {
  Direction d = direction({.reorder_pct = 50}, 12);
  EXPECT_FALSE(d.needs_gso_split());
  std::vector<FramePtr> out;
  for (int i = 0; i < 100; ++i) d.offer(frame(100, i), 0);
  d.poll(0, out);
  EXPECT_EQ(d.counters().reordered, 0u);
  EXPECT_EQ(out.size(), 100u);
}

// ---- set_limits ----------------------------------------------------------------------------------

TEST(PipelineSetLimits, QueuedFramesKeepTheirScheduleAcrossALatencyChange) {
  Direction d(1);
  LinkLimits l;
  l.latency_ms = 100;
  d.set_limits(l, 0);
  d.offer(frame(100, 1), 0);
  l.latency_ms = 10;
  d.set_limits(l, ms(1));
  d.offer(frame(100, 2), ms(1));
  std::vector<FramePtr> out;
  EXPECT_EQ(d.next_deadline(), ms(11));
  d.poll(ms(11), out);
  EXPECT_EQ(ids(out), std::vector<std::uint32_t>{2});
  EXPECT_EQ(d.next_deadline(), ms(100));
  d.poll(ms(100), out);
  EXPECT_EQ(ids(out), (std::vector<std::uint32_t>{2, 1}));
}

TEST(PipelineSetLimits, RateChangeServesLaterFramesAfterTheLastQueuedOne) {
  Direction d(1);
  LinkLimits l;
  l.rate_kbit = 8000;
  d.set_limits(l, 0);
  for (int i = 0; i < 5; ++i) d.offer(frame(1000, i), 0);  // depart at 1..5 ms
  l.rate_kbit = 16'000;
  d.set_limits(l, ms(0.5));
  d.offer(frame(1000, 5), ms(0.5));  // 0.5 ms of serialisation after the one leaving at 5 ms
  std::vector<Nanos> dues;
  std::vector<FramePtr> out;
  while (auto t = d.next_deadline()) {
    dues.push_back(*t);
    d.poll(*t, out);
  }
  EXPECT_EQ(dues, (std::vector<Nanos>{ms(1), ms(2), ms(3), ms(4), ms(5), ms(5.5)}));
  EXPECT_EQ(d.counters().drops_queue, 0u);
}

TEST(PipelineSetLimits, ClearingDeliversWhatWasQueuedThenPassesThrough) {
  Direction d = direction({.rate_kbit = 8000, .latency_ms = 20});
  for (int i = 0; i < 5; ++i) d.offer(frame(1000, i), 0);  // due at 21..25 ms
  d.set_limits(LinkLimits{}, ms(0.5));
  EXPECT_FALSE(d.passthrough());  // frames are pending: bypassing now could reorder
  EXPECT_FALSE(d.needs_gso_split());
  d.offer(frame(1000, 5), ms(0.5));  // still behind the bottleneck queue (leaves at 5 ms)
  std::vector<FramePtr> out;
  d.poll(ms(5), out);
  EXPECT_EQ(ids(out), std::vector<std::uint32_t>{5});
  d.poll(ms(25), out);
  EXPECT_EQ(ids(out), (std::vector<std::uint32_t>{5, 0, 1, 2, 3, 4}));
  EXPECT_TRUE(d.idle());
  EXPECT_TRUE(d.passthrough());
  EXPECT_EQ(d.counters().packets, 6u);
}

TEST(PipelineSetLimits, ReinstallingTheSameTraceKeepsItsClock) {
  Direction d(1);
  const auto t = Trace::parse("10\n", "t");
  LinkLimits l;
  d.set_limits(l, 0, t);
  l.latency_ms = 1;
  d.set_limits(l, ms(3), t);
  d.offer(frame(1500, 0), ms(3));
  EXPECT_EQ(d.next_deadline(), ms(11));  // opportunity at 10 ms of the original clock + 1 ms
}

// ---- state ---------------------------------------------------------------------------------------

TEST(PipelineState, PassthroughIdleAndDeadlineFollowTheFrames) {
  Direction d(1);
  EXPECT_TRUE(d.passthrough());
  EXPECT_TRUE(d.idle());
  EXPECT_EQ(d.next_deadline(), std::nullopt);
  LinkLimits l;
  l.latency_ms = 30;
  d.set_limits(l, 0);
  EXPECT_FALSE(d.passthrough());
  EXPECT_TRUE(d.idle());
  d.offer(frame(300, 1), ms(2));
  EXPECT_FALSE(d.idle());
  EXPECT_EQ(d.next_deadline(), ms(32));
  EXPECT_EQ(d.queued_bytes(), 300u);
  std::vector<FramePtr> out;
  d.poll(ms(31.999), out);
  EXPECT_TRUE(out.empty());
  d.poll(ms(32), out);
  EXPECT_EQ(out.size(), 1u);
  EXPECT_TRUE(d.idle());
  EXPECT_EQ(d.queued_bytes(), 0u);
  EXPECT_EQ(d.next_deadline(), std::nullopt);
  EXPECT_EQ(d.counters().packets, 1u);
  EXPECT_EQ(d.counters().bytes, 300u);
}

TEST(PipelineState, NeedsGsoSplitOnlyForPerPacketStages) {
  const auto needs = [](auto mutate) {
    LinkLimits l;
    mutate(l);
    Direction d(1);
    d.set_limits(l, 0);
    return d.needs_gso_split();
  };
  EXPECT_FALSE(needs([](LinkLimits&) {}));
  EXPECT_FALSE(needs([](LinkLimits& l) { l.rate_kbit = 1000; }));
  EXPECT_FALSE(needs([](LinkLimits& l) { l.latency_ms = 10, l.jitter_ms = 5; }));
  EXPECT_TRUE(needs([](LinkLimits& l) { l.loss_pct = 1; }));
  EXPECT_TRUE(needs([](LinkLimits& l) { l.burst_loss = GilbertElliott{.p_pct = 1, .r_pct = 50}; }));
  EXPECT_TRUE(needs([](LinkLimits& l) { l.duplicate_pct = 1; }));
  EXPECT_TRUE(needs([](LinkLimits& l) { l.corrupt_pct = 1; }));
  EXPECT_TRUE(needs([](LinkLimits& l) { l.latency_ms = 10, l.reorder_pct = 1; }));
  EXPECT_FALSE(needs([](LinkLimits& l) { l.reorder_pct = 1; }));
}

TEST(PipelineState, StagesOnlyLatencyOrRateAreNotPassthrough) {
  Direction d = direction({.rate_kbit = 1000});
  EXPECT_FALSE(d.passthrough());
  d.set_limits(LinkLimits{}, 0);
  EXPECT_TRUE(d.passthrough());
}

}  // namespace
}  // namespace patchbay::link
