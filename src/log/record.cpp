// Records: the thread context (node sink, span stack), the console sink, and the JSON lines of
// SPEC 13.4 / 13.5.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

#include "log/render.hpp"
#include "log/sink.hpp"
#include "patchbay/events.hpp"
#include "sys/io.hpp"

namespace patchbay::log {

namespace detail {

namespace {

using ojson = nlohmann::ordered_json;
constexpr std::string_view kEventsMarker = "_events::";

struct Console {
  Filter filter;
  bool color;
  std::mutex mu;
};

// Replaced consoles are kept (a reader may still hold one); a handful at most per process.
std::atomic<Console*> g_console{nullptr};
std::mutex g_console_mu;
std::vector<Console*>* g_consoles = new std::vector<Console*>;  // never freed: reachable

// The raw pointer is what the hot path reads (trivially constructed thread_local: no guard);
// the shared_ptr keeps it alive for as long as the thread may log.
thread_local NodeSink* t_sink = nullptr;
thread_local std::shared_ptr<NodeSink> t_sink_owner;
thread_local std::vector<const Span::Data*> t_spans;

bool console_wants(const Console* c, Level level, std::string_view target) {
  return c != nullptr && c->filter.enabled(level, target);
}

bool file_wants(const NodeSink* s, Level level, std::string_view target) {
  return s != nullptr && (s->filter().enabled(level, target) || is_event_target(target));
}

ojson to_json(const Value& v) {
  return std::visit([](const auto& x) { return ojson(x); }, v);
}

ojson span_json(const Span::Data& s) {
  ojson j = ojson::object();
  j["name"] = s.name;
  for (const auto& [k, v] : s.fields) j[k] = to_json(v);
  return j;
}

std::string dump(const ojson& j) {
  return j.dump(-1, ' ', false, ojson::error_handler_t::replace);
}

// {"timestamp","level","fields":{"message",...},"target"[,"span","spans"]}
ojson record_tree(const std::string& ts, Level level, std::string_view target, std::string_view message,
                  Fields fields) {
  ojson j = ojson::object();
  j["timestamp"] = ts;
  j["level"] = level_name(level);
  ojson f = ojson::object();
  if (!message.empty()) f["message"] = message;
  for (const auto& [k, v] : fields) f[std::string(k)] = to_json(v);
  j["fields"] = std::move(f);
  j["target"] = target;
  if (!t_spans.empty()) {
    j["span"] = span_json(*t_spans.back());
    ojson all = ojson::array();
    for (const auto* s : t_spans) all.push_back(span_json(*s));
    j["spans"] = std::move(all);
  }
  return j;
}

// The text of a record: from the tree in hand, unless dumping replaced invalid UTF-8 (U+FFFD in
// the line), where only the line parsed back gives the bytes fmt-log prints for it.
std::optional<std::string> record_text(const ojson& tree, const std::string& line, bool color) {
  if (line.find("\xEF\xBF\xBD") != std::string::npos) return render_line(line, color);
  return render_record(tree, color);
}

// {...fields except "message", "kind", "timestamp"}
std::string event_line(const std::string& ts, std::string_view target, Fields fields) {
  ojson j = ojson::object();
  for (const auto& [k, v] : fields)
    if (k != "message" && k != "kind" && k != "timestamp") j[std::string(k)] = to_json(v);
  j["kind"] = target.substr(target.rfind(kEventsMarker) + kEventsMarker.size());
  j["timestamp"] = ts;
  return dump(j);
}

void write_console(Console& c, const ojson& tree, const std::string& json) {
  auto text = record_text(tree, json, c.color);
  if (!text) return;
  std::lock_guard lk(c.mu);
  (void)sys::write_all(STDERR_FILENO, *text);  // nowhere left to report a broken stderr
}

}  // namespace

void set_thread_sink(std::shared_ptr<NodeSink> sink) {
  t_sink = sink.get();
  t_sink_owner = std::move(sink);
}

namespace {
std::atomic<int> g_ceiling{-1};
}  // namespace

void raise_ceiling(int level) {
  int cur = g_ceiling.load(std::memory_order_relaxed);
  while (cur < level && !g_ceiling.compare_exchange_weak(cur, level, std::memory_order_release)) {
  }
}

bool below_ceiling(Level level) {
  return static_cast<int>(level) <= g_ceiling.load(std::memory_order_acquire);
}

bool is_event_target(std::string_view target) {
  return target.find(kEventsMarker) != std::string_view::npos;
}

std::string event_target(std::string_view prefix, std::string_view kind) {
  std::string target(prefix);
  if (!target.empty()) target += "::";
  target += kEventsMarker;
  target += kind;
  return target;
}

bool wants(const NodeSink* sink, Level level, std::string_view target) {
  return file_wants(sink, level, target) ||
         console_wants(g_console.load(std::memory_order_acquire), level, target);
}

void write(NodeSink* sink, Level level, std::string_view target, std::string_view message, Fields fields) {
  const bool to_file = file_wants(sink, level, target);
  Console* con = g_console.load(std::memory_order_acquire);
  const bool to_console = console_wants(con, level, target);
  if (!to_file && !to_console) return;
  try {
    const std::string ts = format_rfc3339(std::chrono::system_clock::now(), 6);
    const ojson tree = record_tree(ts, level, target, message, fields);
    const std::string json = dump(tree);
    if (to_file) {
      // Byte-identical to what `fmt-log` prints for the line (render.hpp's guarantee).
      auto text = record_text(tree, json, true);
      sink->write(json, text ? *text : std::string(),
                  is_event_target(target) ? event_line(ts, target, fields) : "");
    }
    if (to_console) write_console(*con, tree, json);
  } catch (...) {
    // Logging never throws into the caller (only allocation can fail here).
  }
}

}  // namespace detail

void record(Level level, std::string_view target, std::string_view message, Fields fields) {
  detail::write(detail::t_sink, level, target, message, fields);
}

bool enabled(Level level, std::string_view target) {
  return detail::wants(detail::t_sink, level, target);
}

Span::Span(std::string_view name, Fields fields) {
  // Nothing this thread logs can be written anywhere (no node sink, no console): the span would
  // only cost allocations. It is not pushed, and ~Span, which looks for it, finds nothing to pop.
  if (detail::t_sink == nullptr && detail::g_console.load(std::memory_order_acquire) == nullptr) return;
  data_.name = name;
  data_.fields.reserve(fields.size());
  for (const auto& [k, v] : fields) data_.fields.emplace_back(std::string(k), v);
  detail::t_spans.push_back(&data_);
}

Span::~Span() {
  auto& st = detail::t_spans;
  // Spans end in reverse order unless one is destroyed early by hand; remove this one wherever it is.
  if (!st.empty() && st.back() == &data_) {
    st.pop_back();
    return;
  }
  for (auto it = st.begin(); it != st.end(); ++it)
    if (*it == &data_) {
      st.erase(it);
      return;
    }
}

void init_console(std::string filter) {
  if (filter.empty()) filter = detail::filter_from_env();
  auto* c = new detail::Console{detail::Filter::parse(filter), ::isatty(STDERR_FILENO) == 1, {}};
  std::lock_guard lk(detail::g_console_mu);
  detail::g_consoles->push_back(c);
  detail::raise_ceiling(c->filter.max_level());
  detail::g_console.store(c, std::memory_order_release);
}

}  // namespace patchbay::log

namespace patchbay {

void emit_event(std::string_view kind, log::Fields fields) {
  emit_event("patchbay", kind, fields);
}

void emit_event(std::string_view target_prefix, std::string_view kind, log::Fields fields) {
  log::record(log::Level::Info, log::detail::event_target(target_prefix, kind), "", fields);
}

}  // namespace patchbay
