// Small pure pieces of the devtools server (SPEC 14.1): bind addresses, content types, byte
// ranges and server-sent-event framing. No sockets here, so all of it is unit-testable.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace patchbay::server {

inline constexpr std::string_view kDefaultBind = "127.0.0.1:7421";

// "HOST:PORT" or "[IPV6]:PORT"; port 0 asks the kernel for a free port. InvalidArgument names the
// flag value and what is wrong with it.
struct BindAddress {
  std::string host;
  int port = 0;
  // "127.0.0.1:7421", "[::1]:7421": the form used in URLs.
  std::string to_string() const;
};
BindAddress parse_bind(std::string_view text);

// The DNS-rebinding guard: is `host_header` (the request's Host, "" when absent) one of
// localhost, 127.0.0.1, [::1] or the bound host, each with the bound port? A page of another
// site whose name was re-pointed at 127.0.0.1 sends its own name and is refused. Host names
// compare case-insensitively; a missing port counts as 80. Bound to a wildcard (0.0.0.0, ::), any
// IP address literal with the bound port is accepted too (DNS cannot re-point a literal).
bool host_allowed(std::string_view host_header, const BindAddress& bound);

// `.json` -> application/json, `.jsonl` -> application/x-ndjson, else text/plain; charset=utf-8.
std::string content_type_for(std::string_view file_name);

// A Range request applied to a file of `size` bytes. `ranges` are the (first, last) pairs the
// HTTP library parsed, -1 for an absent bound ("bytes=-N" is (-1, N)). One satisfiable range ->
// 206 with its bytes; an unsatisfiable one -> 416; no range, several ranges or a range with
// neither bound -> 200 with the whole file (a server may ignore Range, RFC 9110 14.2).
struct RangeAnswer {
  int status = 200;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::string content_range;  // "bytes a-b/size" (206), "bytes */size" (416), else empty
};
RangeAnswer answer_range(const std::vector<std::pair<std::int64_t, std::int64_t>>& ranges,
                         std::uint64_t size);

// Digits only, no sign, no overflow; nullopt otherwise (query parameters and Last-Event-ID).
std::optional<std::uint64_t> parse_u64(std::string_view s);

// One server-sent event: "id: <id>\ndata: <data>\n\n". `data` must hold no newline.
std::string sse_event(std::uint64_t id, std::string_view data);
std::string sse_data(std::string_view data);        // "data: <data>\n\n"
std::string sse_comment(std::string_view comment);  // ": <comment>\n\n" (ignored by clients)

}  // namespace patchbay::server
