#include "server/http.hpp"

#include <arpa/inet.h>

#include <charconv>

#include "patchbay/error.hpp"

namespace patchbay::server {

std::string BindAddress::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

namespace {

bool iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

bool host_allowed(std::string_view host_header, const BindAddress& bound) {
  std::string_view name = host_header, port = "80";
  // "[v6]:port", "[v6]", "name:port" or "name"; the brackets stay part of the name.
  const auto colon = host_header.rfind(':');
  const auto bracket = host_header.rfind(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    name = host_header.substr(0, colon);
    port = host_header.substr(colon + 1);
  }
  if (name.empty() || port != std::to_string(bound.port)) return false;
  const std::string bound_host =
      bound.host.find(':') != std::string::npos ? "[" + bound.host + "]" : bound.host;
  for (std::string_view ok : {std::string_view("localhost"), std::string_view("127.0.0.1"),
                              std::string_view("[::1]"), std::string_view(bound_host)})
    if (iequal(name, ok)) return true;
  // Bound to a wildcard (--bind 0.0.0.0 / [::], e.g. inside a VM), other machines reach us by one
  // of our addresses. An address literal cannot be re-pointed by DNS, so any literal is safe.
  const bool wildcard = bound.host == "0.0.0.0" || bound.host == "::";
  if (!wildcard) return false;
  const std::string literal(name.starts_with('[') && name.ends_with(']') ? name.substr(1, name.size() - 2)
                                                                         : name);
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, literal.c_str(), buf) == 1 || ::inet_pton(AF_INET6, literal.c_str(), buf) == 1;
}

BindAddress parse_bind(std::string_view text) {
  const std::string ctx = "--bind '" + std::string(text) + "'";
  BindAddress out;
  std::string_view port;
  if (text.starts_with('[')) {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':')
      throw InvalidArgument(ctx, "expected [IPV6]:PORT");
    out.host = std::string(text.substr(1, close - 1));
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
      throw InvalidArgument(ctx, "expected HOST:PORT, e.g. 127.0.0.1:7421");
    out.host = std::string(text.substr(0, colon));
    port = text.substr(colon + 1);
    if (out.host.find(':') != std::string::npos)
      throw InvalidArgument(ctx, "an IPv6 address needs brackets: [::1]:7421");
  }
  if (out.host.empty()) throw InvalidArgument(ctx, "the host is empty");
  auto p = parse_u64(port);
  if (!p || *p > 65535) throw InvalidArgument(ctx, "the port must be a number from 0 to 65535");
  out.port = static_cast<int>(*p);
  return out;
}

std::string content_type_for(std::string_view file_name) {
  if (file_name.ends_with(".json")) return "application/json";
  if (file_name.ends_with(".jsonl")) return "application/x-ndjson";
  return "text/plain; charset=utf-8";
}

RangeAnswer answer_range(const std::vector<std::pair<std::int64_t, std::int64_t>>& ranges,
                         std::uint64_t size) {
  RangeAnswer a;
  a.length = size;
  if (ranges.size() != 1) return a;
  auto [first, last] = ranges.front();
  if (first < 0 && last < 0) return a;
  const std::string whole = "/" + std::to_string(size);
  auto unsatisfiable = [&] {
    RangeAnswer u;
    u.status = 416;
    u.content_range = "bytes *" + whole;
    return u;
  };
  std::uint64_t begin, end;  // inclusive
  if (first < 0) {           // suffix: the last N bytes
    if (last == 0 || size == 0) return unsatisfiable();
    const auto n = static_cast<std::uint64_t>(last);
    begin = n >= size ? 0 : size - n;
    end = size - 1;
  } else {
    begin = static_cast<std::uint64_t>(first);
    if (begin >= size) return unsatisfiable();
    end = last < 0 ? size - 1 : std::min<std::uint64_t>(static_cast<std::uint64_t>(last), size - 1);
  }
  a.status = 206;
  a.offset = begin;
  a.length = end - begin + 1;
  a.content_range = "bytes " + std::to_string(begin) + "-" + std::to_string(end) + whole;
  return a;
}

std::optional<std::uint64_t> parse_u64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

std::string sse_event(std::uint64_t id, std::string_view data) {
  std::string out = "id: " + std::to_string(id) + "\ndata: ";
  out.append(data);
  out += "\n\n";
  return out;
}

std::string sse_data(std::string_view data) {
  return "data: " + std::string(data) + "\n\n";
}

std::string sse_comment(std::string_view comment) {
  return ": " + std::string(comment) + "\n\n";
}

}  // namespace patchbay::server
