// Log listing and log-kind detection of a run directory (SPEC 14.1).
#include "events/run_files.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <mutex>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "patchbay/consts.hpp"

namespace patchbay::events {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::size_t kSniffBytes = 16384;

std::string read_head(const fs::path& file) {
  std::ifstream f(file, std::ios::binary);
  std::string head(kSniffBytes, '\0');
  f.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<std::size_t>(std::max<std::streamsize>(f.gcount(), 0)));
  return head;
}

// A JSON text sequence (RFC 7464) whose first record is a qlog file header.
bool is_qlog_seq(const std::string& head) {
  if (head.empty() || head[0] != '\x1e') return false;
  auto rec = json::parse(head.substr(1, head.find('\x1e', 1) - 1), nullptr, false);
  if (!rec.is_object() || !rec.contains("file_schema") || !rec["file_schema"].is_string()) return false;
  return rec["file_schema"].get<std::string>().find("qlog:file") != std::string::npos;
}

// Complete lines only: the 16 KiB cut may end inside one (a file without any newline is one line).
std::vector<std::string> head_lines(const std::string& head) {
  std::vector<std::string> lines;
  std::size_t start = 0, nl;
  while ((nl = head.find('\n', start)) != std::string::npos) {
    if (nl > start) lines.push_back(head.substr(start, nl - start));
    start = nl + 1;
  }
  if (lines.empty() && start < head.size()) lines.push_back(head.substr(start));
  return lines;
}

}  // namespace

namespace {

// The kind of a file found by reading its head, remembered per path with the file's identity:
// the UI polls /logs every few seconds and a run can hold thousands of files, whose heads would
// otherwise be read (16 KiB each) and parsed on every request.
struct SniffedKind {
  dev_t dev;
  ino_t ino;
  off_t size;
  std::int64_t mtime_ns;
  std::string kind;
};
constexpr std::size_t kMaxCachedKinds = 65536;  // a few MiB at most; cleared when full
std::mutex g_kinds_mu;
std::unordered_map<std::string, SniffedKind>* g_kinds = new std::unordered_map<std::string, SniffedKind>;

std::string sniff_kind(const fs::path& file, const std::string& name) {
  const std::string head = read_head(file);
  if (is_qlog_seq(head)) return "qlog";
  const auto lines = head_lines(head);
  bool all_json = !lines.empty();
  for (auto& l : lines) {
    auto j = json::parse(l, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      all_json = false;
      break;
    }
  }
  if (all_json) {
    auto first = json::parse(lines.front(), nullptr, false);
    if (first.contains("timestamp") && first.contains("level") && first.contains("target"))
      return "tracing_jsonl";
  }
  if (name.ends_with(".jsonl") || (all_json && lines.size() > 1)) return "jsonl";
  if (name.ends_with(".json") || !json::parse(head, nullptr, false).is_discarded()) return "json";
  if (head.find("\x1b[") != std::string::npos) return "ansi_text";
  return "text";
}

}  // namespace

std::string log_kind(const fs::path& file) {
  const std::string name = file.filename().string();
  if (name == consts::kEventsJsonl) return "lab_events";
  if (name.ends_with(".tracing.jsonl")) return "tracing_jsonl";
  if (name.ends_with(".qlog") || name.find(".qlog-") != std::string::npos) return "qlog";
  if (name.ends_with(".pcapng") || name.ends_with(".pcap")) return "pcapng";
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return sniff_kind(file, name);
  const std::int64_t mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  const std::string key = file.string();
  {
    std::lock_guard lk(g_kinds_mu);
    auto it = g_kinds->find(key);
    if (it != g_kinds->end() && it->second.dev == st.st_dev && it->second.ino == st.st_ino &&
        it->second.size == st.st_size && it->second.mtime_ns == mtime)
      return it->second.kind;
  }
  std::string kind = sniff_kind(file, name);
  std::lock_guard lk(g_kinds_mu);
  if (g_kinds->size() >= kMaxCachedKinds) g_kinds->clear();
  (*g_kinds)[key] = {st.st_dev, st.st_ino, st.st_size, mtime, kind};
  return kind;
}

std::string log_node(const std::string& file_name) {
  for (std::string_view kind : {"device.", "router."}) {
    if (file_name.rfind(kind, 0) == 0) {
      auto rest = file_name.substr(kind.size());
      return rest.substr(0, rest.find('.'));
    }
  }
  return "_run";
}

json list_logs(const fs::path& dir) {
  std::vector<std::tuple<std::string, std::string, std::string>> rows;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    // The state writer's state.json.tmp can be renamed away between listing and stat: error_code
    // overloads skip such files instead of failing the whole listing.
    std::error_code fe;
    auto st = it->symlink_status(fe);
    if (fe || !fs::is_regular_file(st)) continue;
    auto size = it->file_size(fe);
    if (fe || size == 0) continue;
    std::string name = it->path().filename().string();
    rows.emplace_back(log_node(name), log_kind(it->path()), name);
  }
  std::sort(rows.begin(), rows.end());
  json out = json::array();
  for (auto& [node, kind, path] : rows) out.push_back({{"node", node}, {"kind", kind}, {"path", path}});
  return out;
}

}  // namespace patchbay::events
