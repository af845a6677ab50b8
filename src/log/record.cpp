// Records: the thread context (node sink, span stack), the console sink, and the JSON lines of
// SPEC 13.4 / 13.5.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <vector>

#include <nlohmann/json.hpp>

#include "log/sink.hpp"
#include "patchbay/events.hpp"

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
std::string record_line(const std::string& ts, Level level, std::string_view target, std::string_view message,
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
  return dump(j);
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

void write_console(Console& c, const std::string& json) {
  auto text = render_line(json, c.color);
  if (!text) return;
  std::lock_guard lk(c.mu);
  std::string_view rest = *text;
  while (!rest.empty()) {
    ssize_t n = ::write(STDERR_FILENO, rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

void set_thread_sink(std::shared_ptr<NodeSink> sink) {
  t_sink = sink.get();
  t_sink_owner = std::move(sink);
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
    const std::string json = record_line(ts, level, target, message, fields);
    if (to_file) {
      // Rendered from the line itself, so the text file is byte-identical to `fmt-log` output.
      auto text = render_line(json, true);
      sink->write(json, text ? *text : std::string(),
                  is_event_target(target) ? event_line(ts, target, fields) : "");
    }
    if (to_console) write_console(*con, json);
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
