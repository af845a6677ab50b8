// LabEvent JSON form and RFC 3339 timestamps.
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "patchbay/error.hpp"
#include "patchbay/events.hpp"

namespace patchbay {

namespace {

using nlohmann::json;
using std::chrono::system_clock;

constexpr std::array<std::string_view, 3> kHeaderKeys = {"opid", "timestamp", "kind"};

bool is_header_key(std::string_view key) {
  for (auto k : kHeaderKeys) {
    if (k == key) return true;
  }
  return false;
}

// Replacing bad UTF-8 keeps one odd byte in a command line or node name from losing a whole event.
std::string dump_compact(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void append_padded(std::string& out, long long value, int width) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  (void)ec;
  int len = static_cast<int>(end - buf.data());
  out.append(static_cast<std::size_t>(width > len ? width - len : 0), '0');
  out.append(buf.data(), end);
}

// A cursor over the text being parsed; every reader returns false instead of throwing.
struct Cursor {
  std::string_view s;
  std::size_t pos = 0;

  bool at_end() const { return pos >= s.size(); }
  char peek() const { return at_end() ? '\0' : s[pos]; }
  bool digit() const { return !at_end() && s[pos] >= '0' && s[pos] <= '9'; }

  bool fixed(int width, int& out) {
    out = 0;
    for (int i = 0; i < width; ++i) {
      if (!digit()) return false;
      out = out * 10 + (s[pos++] - '0');
    }
    return true;
  }
  bool literal(char c) {
    if (peek() != c) return false;
    ++pos;
    return true;
  }
  bool one_of(std::string_view chars) {
    if (at_end() || chars.find(s[pos]) == std::string_view::npos) return false;
    ++pos;
    return true;
  }
};

// Fraction digits after the '.', as nanoseconds; digits past the ninth are consumed and ignored.
bool parse_fraction(Cursor& c, std::int64_t& nanos) {
  nanos = 0;
  int n = 0;
  while (c.digit()) {
    if (n < 9) {
      nanos = nanos * 10 + (c.peek() - '0');
      ++n;
    }
    ++c.pos;
  }
  if (n == 0) return false;
  for (; n < 9; ++n) nanos *= 10;
  return true;
}

// Offset east of UTC in minutes.
bool parse_offset(Cursor& c, int& minutes) {
  if (c.one_of("Zz")) {
    minutes = 0;
    return true;
  }
  char sign = c.peek();
  if (sign != '+' && sign != '-') return false;
  ++c.pos;
  int hh = 0, mm = 0;
  if (!c.fixed(2, hh) || !c.literal(':') || !c.fixed(2, mm) || hh > 23 || mm > 59) return false;
  minutes = (hh * 60 + mm) * (sign == '-' ? -1 : 1);
  return true;
}

std::string require_kind(const json& j) {
  auto it = j.find("kind");
  if (it == j.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
    throw InvalidArgument("lab event", "\"kind\" must be a non-empty string");
  }
  return it->get<std::string>();
}

}  // namespace

std::string format_rfc3339(system_clock::time_point tp, int fractional_digits) {
  using namespace std::chrono;
  if (fractional_digits < 0 || fractional_digits > 9) {
    throw InvalidArgument("format_rfc3339",
                          "fractional_digits must be in [0, 9], got " + std::to_string(fractional_digits));
  }
  // floor (not duration_cast) so instants before 1970 still get a non-negative fraction.
  auto day = floor<days>(tp);
  year_month_day ymd{day};
  hh_mm_ss<nanoseconds> hms{duration_cast<nanoseconds>(tp - day)};

  std::string out;
  out.reserve(32);
  append_padded(out, static_cast<int>(ymd.year()), 4);
  out += '-';
  append_padded(out, static_cast<unsigned>(ymd.month()), 2);
  out += '-';
  append_padded(out, static_cast<unsigned>(ymd.day()), 2);
  out += 'T';
  append_padded(out, hms.hours().count(), 2);
  out += ':';
  append_padded(out, hms.minutes().count(), 2);
  out += ':';
  append_padded(out, hms.seconds().count(), 2);
  if (fractional_digits > 0) {
    long long frac = hms.subseconds().count();
    for (int i = fractional_digits; i < 9; ++i) frac /= 10;
    out += '.';
    append_padded(out, frac, fractional_digits);
  }
  out += 'Z';
  return out;
}

std::optional<system_clock::time_point> parse_rfc3339(std::string_view text) {
  using namespace std::chrono;
  Cursor c{text};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  if (!c.fixed(4, y) || !c.literal('-') || !c.fixed(2, mo) || !c.literal('-') || !c.fixed(2, d)) {
    return std::nullopt;
  }
  // RFC 3339 allows a lower-case 't' and, by its note, a space.
  if (!c.one_of("Tt ")) return std::nullopt;
  if (!c.fixed(2, h) || !c.literal(':') || !c.fixed(2, mi) || !c.literal(':') || !c.fixed(2, s)) {
    return std::nullopt;
  }
  std::int64_t nanos = 0;
  if (c.literal('.') && !parse_fraction(c, nanos)) return std::nullopt;
  int offset_min = 0;
  if (!parse_offset(c, offset_min) || !c.at_end()) return std::nullopt;

  // Nanosecond system_clock spans 1677-09-21 .. 2262-04-11; stay clear of both ends.
  if (y < 1678 || y > 2261) return std::nullopt;
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  // s == 60 is a leap second; it lands on the next minute's :00, which is as close as we can get.
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return std::nullopt;

  auto tp = sys_days{ymd} + hours{h} + minutes{mi} + seconds{s} + nanoseconds{nanos} - minutes{offset_min};
  return time_point_cast<system_clock::duration>(tp);
}

json LabEvent::to_json() const {
  json j = json::object();
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) {
      if (!is_header_key(key)) j[key] = value;
    }
  }
  j["opid"] = opid;
  j["timestamp"] = format_rfc3339(timestamp, 9);
  j["kind"] = kind;
  return j;
}

std::string LabEvent::to_jsonl() const {
  // Built by hand because nlohmann::json sorts keys and readers of events.jsonl expect the header
  // first (SPEC 13.2).
  std::string out = "{\"opid\":";
  out += std::to_string(opid);
  out += ",\"timestamp\":\"";
  out += format_rfc3339(timestamp, 9);
  out += "\",\"kind\":";
  out += dump_compact(json(kind));
  if (fields.is_object()) {
    for (const auto& [key, value] : fields.items()) {
      if (is_header_key(key)) continue;
      out += ',';
      out += dump_compact(json(key));
      out += ':';
      out += dump_compact(value);
    }
  }
  out += '}';
  return out;
}

LabEvent LabEvent::from_json(const json& j) {
  if (!j.is_object()) {
    throw InvalidArgument("lab event", std::string("expected a JSON object, got ") + j.type_name());
  }
  LabEvent ev;
  auto opid = j.find("opid");
  // Parsed JSON stores non-negative integers as unsigned, but hand-built JSON uses signed ones.
  if (opid == j.end() || !opid->is_number_integer() ||
      (!opid->is_number_unsigned() && opid->get<std::int64_t>() < 0)) {
    throw InvalidArgument("lab event", "\"opid\" must be an unsigned integer");
  }
  ev.opid = opid->get<std::uint64_t>();

  auto ts = j.find("timestamp");
  if (ts == j.end() || !ts->is_string()) {
    throw InvalidArgument("lab event " + std::to_string(ev.opid), "\"timestamp\" must be a string");
  }
  auto parsed = parse_rfc3339(ts->get_ref<const std::string&>());
  if (!parsed) {
    throw InvalidArgument("lab event " + std::to_string(ev.opid),
                          "\"timestamp\" is not RFC 3339: " + ts->get<std::string>());
  }
  ev.timestamp = *parsed;
  ev.kind = require_kind(j);

  for (const auto& [key, value] : j.items()) {
    if (!is_header_key(key)) ev.fields[key] = value;
  }
  return ev;
}

}  // namespace patchbay
