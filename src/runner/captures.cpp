#include "runner/captures.hpp"

#include <re2/re2.h>

#include <charconv>
#include <cstddef>
#include <iostream>

#include "patchbay/error.hpp"

namespace patchbay::runner {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  if (!path.empty() && path.front() == '.') path.remove_prefix(1);
  std::vector<std::string_view> segs;
  if (path.empty()) return segs;  // "" and "." name the root
  std::size_t start = 0;
  while (true) {
    std::size_t dot = path.find('.', start);
    segs.push_back(path.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return segs;
}

[[noreturn]] void key_error(std::string_view where, const std::string& name, std::string_view key,
                            const std::string& why) {
  throw ConfigError(std::string(where), "capture '" + name + "': key '" + std::string(key) + "': " + why);
}

CaptureSpec parse_one(const std::string& name, const nlohmann::json& t, std::string_view where) {
  if (!t.is_object()) {
    throw ConfigError(std::string(where), "capture '" + name + "': expected a table, got " + t.type_name());
  }
  CaptureSpec spec;
  spec.name = name;
  for (const auto& [key, v] : t.items()) {
    if (key == "pipe") {
      if (!v.is_string()) key_error(where, name, key, std::string("expected a string, got ") + v.type_name());
      const auto& p = v.get_ref<const std::string&>();
      if (p == "stdout") {
        spec.pipe = Pipe::Stdout;
      } else if (p == "stderr") {
        spec.pipe = Pipe::Stderr;
      } else {
        key_error(where, name, key, "expected \"stdout\" or \"stderr\", got \"" + p + "\"");
      }
    } else if (key == "regex") {
      if (!v.is_string()) key_error(where, name, key, std::string("expected a string, got ") + v.type_name());
      const auto& pattern = v.get_ref<const std::string&>();
      RE2 re(pattern, RE2::Quiet);
      if (!re.ok()) key_error(where, name, key, "invalid regex '" + pattern + "': " + re.error());
      spec.regex = pattern;
    } else if (key == "match") {
      if (!v.is_object()) key_error(where, name, key, std::string("expected a table, got ") + v.type_name());
      for (const auto& [field, want] : v.items()) {
        if (!want.is_primitive() || want.is_null()) {
          key_error(where, name, key, "field '" + field + "': expected a string, number or boolean");
        }
        spec.match.emplace_back(field, json_capture_string(want));
      }
    } else if (key == "pick") {
      if (!v.is_string()) key_error(where, name, key, std::string("expected a string, got ") + v.type_name());
      const auto& path = v.get_ref<const std::string&>();
      for (auto seg : split_path(path)) {
        if (seg.empty()) key_error(where, name, key, "empty segment in path '" + path + "'");
      }
      spec.pick = path;
    } else {
      // Unknown keys warn rather than fail, as in lab files (SPEC 15.1); the warning still points
      // at a misspelt key that would otherwise make the capture silently never match.
      std::cerr << "patchbay: " << where << ": capture '" << name << "': unknown key '" << key
                << "' ignored\n";
    }
  }
  return spec;
}

// A JSON field matches when its string form equals the expected value. The field name is tried
// verbatim first because tracing output has keys such as "log.target"; then as a dot path.
bool field_matches(const nlohmann::json& doc, const std::string& field, const std::string& want) {
  const nlohmann::json* v = nullptr;
  if (doc.is_object()) {
    auto it = doc.find(field);
    if (it != doc.end()) v = &*it;
  }
  if (v == nullptr) v = json_pick(doc, field);
  if (v == nullptr || !v->is_primitive() || v->is_null()) return false;
  return json_capture_string(*v) == want;
}

}  // namespace

Parser parse_parser(std::string_view s, std::string_view what) {
  if (s == "text") return Parser::Text;
  if (s == "ndjson") return Parser::Ndjson;
  if (s == "json") return Parser::Json;
  throw ConfigError(std::string(what),
                    "invalid parser '" + std::string(s) + "' (expected text, ndjson or json)");
}

std::vector<CaptureSpec> parse_captures(const nlohmann::json& captures, std::string_view where) {
  std::vector<CaptureSpec> out;
  if (captures.is_null()) return out;
  if (!captures.is_object()) {
    throw ConfigError(std::string(where),
                      std::string("captures: expected a table, got ") + captures.type_name());
  }
  for (const auto& [name, t] : captures.items()) out.push_back(parse_one(name, t, where));
  return out;
}

CaptureInput capture_input(bool spawn, const std::vector<CaptureSpec>& specs) {
  if (spawn) return CaptureInput::StdoutAndStderr;
  for (const auto& s : specs)
    if (s.pipe == Pipe::Stderr) return CaptureInput::StdoutAndStderr;
  return CaptureInput::Stdout;
}

const nlohmann::json* json_pick(const nlohmann::json& v, std::string_view path) {
  const nlohmann::json* cur = &v;
  for (auto seg : split_path(path)) {
    if (seg.empty()) return nullptr;
    if (cur->is_object()) {
      auto it = cur->find(std::string(seg));
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      std::size_t i = 0;
      auto [end, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), i);
      if (ec != std::errc() || end != seg.data() + seg.size() || i >= cur->size()) return nullptr;
      cur = &(*cur)[i];
    } else {
      return nullptr;
    }
  }
  return cur;
}

std::string json_capture_string(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// ---- CaptureStore ----

void CaptureStore::record(const std::string& key, std::string value) {
  {
    std::lock_guard lock(mu_);
    values_[key].push_back(std::move(value));
  }
  cv_.notify_all();
}

std::optional<std::string> CaptureStore::latest(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(key);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

std::vector<std::string> CaptureStore::history(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(key);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

bool CaptureStore::contains(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto it = values_.find(key);
  return it != values_.end() && !it->second.empty();
}

std::optional<std::string> CaptureStore::wait_for(const std::string& key,
                                                  std::chrono::steady_clock::time_point deadline) const {
  std::unique_lock lock(mu_);
  std::optional<std::string> found;
  cv_.wait_until(lock, deadline, [&] {
    auto it = values_.find(key);
    if (it != values_.end() && !it->second.empty()) {
      found = it->second.back();
      return true;
    }
    return cancelled_;
  });
  return found;
}

void CaptureStore::cancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_ = true;
  }
  cv_.notify_all();
}

std::map<std::string, std::vector<std::string>> CaptureStore::snapshot() const {
  std::lock_guard lock(mu_);
  return values_;
}

// ---- StreamCapturer ----

struct StreamCapturer::Compiled {
  CaptureSpec spec;
  std::unique_ptr<RE2> re;  // set iff spec.regex
  std::string key;
};

StreamCapturer::StreamCapturer(std::string step_id, Parser parser, std::vector<CaptureSpec> specs,
                               CaptureStore& store, std::optional<CaptureInput> input)
    : step_id_(std::move(step_id)),
      parser_(parser),
      input_(input.value_or(capture_input(/*spawn=*/false, specs))),
      store_(store) {
  for (auto& s : specs) {
    Compiled c;
    c.key = step_id_ + "." + s.name;
    if (s.regex) {
      c.re = std::make_unique<RE2>(*s.regex, RE2::Quiet);
      if (!c.re->ok()) {
        throw ConfigError("step '" + step_id_ + "'",
                          "capture '" + s.name + "': invalid regex '" + *s.regex + "': " + c.re->error());
      }
    } else if (parser_ == Parser::Json) {
      wants_doc_ = true;
    }
    c.spec = std::move(s);
    captures_.push_back(std::move(c));
  }
}

StreamCapturer::~StreamCapturer() = default;

void StreamCapturer::apply_json(const Compiled& c, const nlohmann::json& doc) {
  for (const auto& [field, want] : c.spec.match) {
    if (!field_matches(doc, field, want)) return;
  }
  if (!c.spec.pick) {
    store_.record(c.key, json_capture_string(doc));
    return;
  }
  const nlohmann::json* v = json_pick(doc, *c.spec.pick);
  store_.record(c.key, v ? json_capture_string(*v) : std::string());
}

void StreamCapturer::line(Pipe pipe, std::string_view line) {
  if (pipe == Pipe::Stderr && input_ == CaptureInput::Stdout) return;
  std::optional<nlohmann::json> doc;  // parsed at most once, only when an ndjson capture needs it
  bool doc_tried = false;
  for (const auto& c : captures_) {
    if (c.re) {
      re2::StringPiece groups[2];
      const int n = c.re->NumberOfCapturingGroups() >= 1 ? 2 : 1;
      if (!c.re->Match(line, 0, line.size(), RE2::UNANCHORED, groups, n)) continue;
      // An optional group 1 that did not take part falls back to the whole match.
      const auto& g = (n == 2 && groups[1].data() != nullptr) ? groups[1] : groups[0];
      store_.record(c.key, std::string(g.data(), g.size()));
    } else if (parser_ == Parser::Ndjson) {
      if (!doc_tried) {
        doc_tried = true;
        auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (!parsed.is_discarded()) doc = std::move(parsed);
      }
      if (doc) apply_json(c, *doc);
    }
  }
  if (parser_ == Parser::Json && wants_doc_) {
    std::lock_guard lock(buf_mu_);
    buffered_.append(line);
    buffered_.push_back('\n');
  }
}

void StreamCapturer::finish() {
  std::string buf;
  {
    std::lock_guard lock(buf_mu_);
    if (finished_) return;
    finished_ = true;
    buf = std::move(buffered_);
  }
  if (parser_ != Parser::Json || !wants_doc_) return;
  // As in the original, output that is not one JSON document (say a log line on the merged stderr)
  // leaves the match/pick captures unset.
  auto doc = nlohmann::json::parse(buf, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return;
  for (const auto& c : captures_) {
    if (!c.re) apply_json(c, doc);
  }
}

}  // namespace patchbay::runner
