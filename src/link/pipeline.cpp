// One link direction: the stages of stages.hpp composed in SPEC 7.5 order.
//
// Choices the header leaves open:
// * Departure and delivery times are computed when a frame is offered. The bottleneck is FIFO, so
//   a frame's departure depends only on earlier frames and the rate/trace in force when it
//   arrives; the delay is drawn right after. The frame then waits in the delay line only, and
//   next_deadline() is its earliest due time (a departure needs no wake-up of its own).
// * set_limits: frames already offered keep their times, including those still in the
//   bottleneck. A new rate or trace serves later frames from the last scheduled departure on, so
//   a rate change never drops, reschedules or overtakes what is queued; clearing the rate lets
//   later frames leave at max(now, last departure), i.e. still behind the queue.
// * A latency decrease lets later frames overtake earlier ones still in the delay line (a path
//   change does that too), unless jitter_reorders is false, which forbids any overtaking.
// * The trace passed to set_limits overrides rate_kbit; limits.rate_trace is only the path the
//   caller loaded it from (without a trace object, rate_kbit applies).
// * reorder_pct: drawn only when latency > 0 and jitter_reorders is true (otherwise it could
//   have no effect); a reordered frame is due when it leaves the bottleneck.
#include "link/pipeline.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "link/stages.hpp"
#include "patchbay/error.hpp"

namespace patchbay::link {

// ---- Trace ---------------------------------------------------------------------------------------

namespace {

[[noreturn]] void trace_error(const std::string& source, std::size_t line, const std::string& what) {
  throw ConfigError(source + ":" + std::to_string(line), what);
}

std::string_view trim(std::string_view s) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

std::shared_ptr<const Trace> Trace::load(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path.string(), std::string("cannot read trace file: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path.string());
}

std::shared_ptr<const Trace> Trace::parse(std::string_view text, const std::string& source) {
  auto trace = std::make_shared<Trace>();
  std::size_t line = 0, last_line = 0;
  while (!text.empty()) {
    const std::size_t eol = text.find('\n');
    const std::string_view raw = text.substr(0, eol);
    text.remove_prefix(eol == std::string_view::npos ? text.size() : eol + 1);
    ++line;
    const std::string_view tok = trim(raw);
    if (tok.empty()) continue;  // blank lines are allowed (trailing newlines, separators)
    std::uint32_t ms = 0;
    const auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), ms);
    if (ec == std::errc::result_out_of_range) {
      trace_error(source, line, "timestamp out of range: '" + std::string(tok) + "'");
    }
    if (ec != std::errc() || end != tok.data() + tok.size()) {
      trace_error(source, line,
                  "not a non-negative integer millisecond timestamp: '" + std::string(tok) + "'");
    }
    if (!trace->ms_.empty() && ms < trace->ms_.back()) {
      trace_error(source, line,
                  "timestamp " + std::to_string(ms) + " is earlier than the previous one (" +
                      std::to_string(trace->ms_.back()) + ")");
    }
    trace->ms_.push_back(ms);
    last_line = line;
  }
  if (trace->ms_.empty()) trace_error(source, std::max<std::size_t>(line, 1), "empty trace: no timestamps");
  if (trace->ms_.back() == 0) {
    trace_error(source, last_line, "last timestamp is 0, but it is the trace's period and must be > 0");
  }
  return trace;
}

double Trace::average_kbit() const {
  // bits per millisecond = kbit per second
  return static_cast<double>(ms_.size()) * TraceServer::kBytesPerOpportunity * 8.0 / period_ms();
}

// ---- Direction -----------------------------------------------------------------------------------

namespace {

double duplicate_pct(const LinkLimits& l) {
  return l.duplicate_pct;
}

// Reordering means skipping the delay line: without latency, or when overtaking is forbidden, it
// could have no effect, and a draw for it would be wasted.
double reorder_pct(const LinkLimits& l) {
  return l.latency_ms > 0 && l.jitter_reorders ? l.reorder_pct : 0.0;
}

}  // namespace

struct Direction::Impl {
  explicit Impl(std::uint64_t seed)
      : loss(seed),
        duplicate(seed, kDuplicateStream, duplicate_pct),
        corrupt(seed),
        delay(seed),
        reorder(seed, kReorderStream, reorder_pct) {}

  template <typename F>
  void for_each_stage(F&& f) {
    f(loss), f(duplicate), f(corrupt), f(bottleneck), f(delay), f(reorder);
  }

  LossStage loss;
  PercentStage duplicate;
  CorruptStage corrupt;
  BottleneckQueue bottleneck;
  DelaySampler delay;
  PercentStage reorder;  // active only when it can change the order (reorder_pct)
  DelayLine line;
  bool no_overtaking = false;
  std::uint64_t next_seq = 0;
};

void Direction::ImplDeleter::operator()(Impl* p) const {
  delete p;
}

Direction::Direction(std::uint64_t seed) : impl_(new Impl(seed)) {
  set_limits(LinkLimits{}, 0);
}

void Direction::set_limits(const LinkLimits& limits, Nanos now, std::shared_ptr<const Trace> trace) {
  limits_ = limits;
  Impl& s = *impl_;
  const StageConfig c{limits_, trace, now};
  s.for_each_stage([&](Stage auto& stage) { stage.configure(c); });
  s.no_overtaking = !limits.jitter_reorders;
}

bool Direction::needs_gso_split() const {
  const Impl& s = *impl_;
  return s.loss.active() || s.duplicate.active() || s.corrupt.active() || s.reorder.active();
}

bool Direction::passthrough() const {
  const Impl& s = *impl_;
  return !needs_gso_split() && !s.bottleneck.active() && !s.delay.active() && s.line.empty();
}

void Direction::offer(FramePtr f, Nanos now) {
  Impl& s = *impl_;
  // Once per frame, before any stage touches the bytes: a flipped bit in a header must not change
  // how many wire packets the frame stands for.
  const WireShape shape = wire_shape(*f);
  if (s.loss.active() && s.loss.drop()) {
    counters_.drops_loss += shape.packets;
    return;
  }
  FramePtr copy;
  if (s.duplicate.active() && s.duplicate.fire()) {
    copy = std::make_unique<Frame>(*f);
    counters_.duplicated += shape.packets;
  }
  for (FramePtr* frame : {&f, &copy}) {
    if (!*frame) continue;
    if (s.corrupt.active() && s.corrupt.apply(**frame)) counters_.corrupted += shape.packets;

    const std::optional<Nanos> departure = s.bottleneck.admit(now, shape.packets, shape.wire_bytes);
    counters_.queue_high_water = std::max(counters_.queue_high_water, s.bottleneck.depth());
    if (!departure) {
      counters_.drops_queue += shape.packets;
      continue;
    }

    Nanos due = *departure;
    if (s.reorder.active() && s.reorder.fire()) {
      counters_.reordered += shape.packets;
    } else {
      due += s.delay.sample();
    }
    if (s.no_overtaking && !s.line.empty()) due = std::max(due, s.line.latest_due());
    s.line.push(Pending{due, s.next_seq++, shape.packets, shape.wire_bytes, std::move(*frame)});
  }
}

void Direction::poll(Nanos now, std::vector<FramePtr>& out) {
  Pending p;
  while (impl_->line.pop_due(now, p)) {
    counters_.packets += p.packets;
    counters_.bytes += p.wire_bytes;
    out.push_back(std::move(p.frame));
  }
}

std::optional<Nanos> Direction::next_deadline() const {
  return impl_->line.next_due();
}

bool Direction::idle() const {
  return impl_->line.empty();
}

std::uint64_t Direction::queued_bytes() const {
  return impl_->line.bytes();
}

}  // namespace patchbay::link
