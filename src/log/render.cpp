// The ANSI text form of a .tracing.jsonl line (SPEC 13.4), shared by the lab's .tracing.log
// writer and `patchbay fmt-log`, so both produce the same bytes. It mirrors tracing-subscriber's
// default ANSI format.
#include <nlohmann/json.hpp>

#include "log/render.hpp"
#include "log/sink.hpp"
#include "sys/spelling.hpp"

namespace patchbay::log {

namespace {

using ojson = nlohmann::ordered_json;

constexpr const char* kReset = "\x1b[0m";

constexpr sys::Spelling<Level> kLevelNames[] = {
    {Level::Error, "ERROR"}, {Level::Warn, "WARN"},   {Level::Info, "INFO"},
    {Level::Debug, "DEBUG"}, {Level::Trace, "TRACE"},
};

struct Out {
  std::string s;
  bool color;

  void styled(const char* code, std::string_view text) {
    if (color) s += code;
    s += text;
    if (color) s += kReset;
  }
  void bold(std::string_view t) { styled("\x1b[1m", t); }
  void dim(std::string_view t) { styled("\x1b[2m", t); }
  void italic(std::string_view t) { styled("\x1b[3m", t); }
  // ` key=value` pairs: italic key, dim '=', the value as JSON (strings quoted).
  void field(std::string_view key, const ojson& value) {
    italic(key);
    dim("=");
    s += value.dump(-1, ' ', false, ojson::error_handler_t::replace);
  }
};

const char* level_color(std::string_view level) {
  if (level == "ERROR") return "\x1b[31m";
  if (level == "WARN") return "\x1b[33m";
  if (level == "INFO") return "\x1b[32m";
  if (level == "DEBUG") return "\x1b[34m";
  if (level == "TRACE") return "\x1b[35m";
  return "";
}

std::string pad5(std::string_view level) {
  std::string out;
  if (level.size() < 5) out.assign(5 - level.size(), ' ');
  out += level;
  return out;
}

void render_spans(Out& o, const ojson& spans) {
  if (!spans.is_array() || spans.empty()) return;
  o.s += ' ';
  for (const auto& span : spans) {
    std::string name = "?";
    if (span.is_object() && span.contains("name") && span["name"].is_string())
      name = span["name"].get<std::string>();
    o.bold(name);
    if (span.is_object() && span.size() > (span.contains("name") ? 1u : 0u)) {
      o.bold("{");
      bool first = true;
      for (const auto& [k, v] : span.items()) {
        if (k == "name") continue;
        if (!first) o.s += ' ';
        first = false;
        o.field(k, v);
      }
      o.bold("}");
    }
    o.dim(":");
  }
}

}  // namespace

std::string_view level_name(Level level) {
  return sys::name_of(kLevelNames, level, "INFO");
}

std::optional<std::string> render_line(std::string_view json_line, bool color) {
  ojson j = ojson::parse(json_line, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return detail::render_record(j, color);
}

std::optional<std::string> detail::render_record(const ojson& j, bool color) {
  if (!j.is_object()) return std::nullopt;
  auto ts = j.find("timestamp"), level = j.find("level");
  if (ts == j.end() || level == j.end() || !ts->is_string() || !level->is_string()) return std::nullopt;

  Out o{{}, color};
  o.dim(ts->get_ref<const std::string&>());
  o.s += ' ';
  const auto& lv = level->get_ref<const std::string&>();
  o.styled(level_color(lv), pad5(lv));
  if (auto spans = j.find("spans"); spans != j.end()) render_spans(o, *spans);
  if (auto target = j.find("target"); target != j.end() && target->is_string() && !target->empty()) {
    o.s += ' ';
    o.dim(target->get_ref<const std::string&>());
    o.dim(":");
  }
  const ojson* fields = nullptr;
  if (auto f = j.find("fields"); f != j.end() && f->is_object()) fields = &*f;
  if (fields) {
    if (auto m = fields->find("message"); m != fields->end()) {
      std::string text = m->is_string() ? m->get<std::string>() : m->dump();
      if (!text.empty()) {
        o.s += ' ';
        o.s += text;
      }
    }
    for (const auto& [k, v] : fields->items()) {
      if (k == "message") continue;
      o.s += ' ';
      o.field(k, v);
    }
  }
  o.s += '\n';
  return std::move(o.s);
}

}  // namespace patchbay::log
