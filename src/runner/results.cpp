#include "runner/results.hpp"

#include "runner/files.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string_view>
#include <tuple>

#include <nlohmann/json.hpp>

#include "patchbay/error.hpp"

namespace patchbay::runner {
namespace {

using Row = std::vector<std::string>;

std::optional<double> parse_double(const std::optional<std::string>& s) {
  if (!s || s->empty()) return std::nullopt;
  double v = 0;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || end != s->data() + s->size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<double> rate(const std::optional<std::string>& bytes, const StepResultRecord& r) {
  const auto b = parse_double(bytes);
  const auto secs = elapsed_s(r);
  if (!b || !secs || *secs <= 0) return std::nullopt;
  return *b / (*secs * 1e6);
}

std::string fixed(std::optional<double> v, int decimals, const std::string& absent = "") {
  if (!v) return absent;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, *v);
  return buf;
}

std::optional<double> max_of(const std::vector<StepResultRecord>& recs,
                             std::optional<double> (*metric)(const StepResultRecord&)) {
  std::optional<double> best;
  for (const auto& r : recs) {
    if (auto v = metric(r); v && (!best || *v > *best)) best = v;
  }
  return best;
}

// The numeric columns shared by results.md and the combined detail table.
Row metric_cells(const StepResultRecord& r) {
  return {r.down_bytes.value_or(""), fixed(elapsed_s(r), 3), fixed(mb_s(r), 2),
          r.up_bytes.value_or(""),   fixed(up_mb_s(r), 2),   fixed(latency(r), 1)};
}
constexpr std::array<const char*, 6> kMetricHeaders = {"down_bytes", "elapsed_s", "mb_s",
                                                       "up_bytes",   "up_mb_s",   "latency_ms"};

// A markdown table keeping only the columns where at least one row has a value.
std::string markdown_table(const Row& headers, const std::vector<Row>& rows) {
  std::vector<std::size_t> active;
  for (std::size_t c = 0; c < headers.size(); ++c) {
    if (std::any_of(rows.begin(), rows.end(), [&](const Row& r) { return !r[c].empty(); }))
      active.push_back(c);
  }
  if (active.empty()) return "";
  std::string md = "|";
  for (auto c : active) md += " " + headers[c] + " |";
  md += "\n|";
  for (auto c : active) md += " " + std::string(headers[c].size(), '-') + " |";
  md += "\n";
  for (const auto& row : rows) {
    md += "|";
    for (auto c : active) md += " " + row[c] + " |";
    md += "\n";
  }
  return md;
}

nlohmann::ordered_json opt_json(const std::optional<std::string>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json(nullptr);
}

nlohmann::ordered_json steps_json(const std::vector<StepResultRecord>& recs) {
  auto steps = nlohmann::ordered_json::array();
  for (const auto& r : recs) {
    steps.push_back({{"id", r.id},
                     {"duration", opt_json(r.duration)},
                     {"up_bytes", opt_json(r.up_bytes)},
                     {"down_bytes", opt_json(r.down_bytes)},
                     {"latency_ms", opt_json(r.latency_ms)}});
  }
  return steps;
}

std::string summary_md(const std::vector<SimResults>& sims) {
  // One row per sim name: repeated runs of the same sim are aggregated.
  std::map<std::string, std::vector<StepResultRecord>> by_sim;
  for (const auto& s : sims) {
    auto& v = by_sim[s.sim];
    v.insert(v.end(), s.steps.begin(), s.steps.end());
  }
  std::string md =
      "| Sim | N | Max Down (MB/s) | Max Up (MB/s) |\n| --- | - | --------------- | ------------- |\n";
  for (const auto& [sim, recs] : by_sim) {
    md += "| " + sim + " | " + std::to_string(recs.size()) + " | " + fixed(max_of(recs, mb_s), 2, "-") +
          " | " + fixed(max_of(recs, up_mb_s), 2, "-") + " |\n";
  }
  return md;
}

}  // namespace

std::optional<double> elapsed_s(const StepResultRecord& r) {
  if (!r.duration || r.duration->empty()) return std::nullopt;
  const std::string& d = *r.duration;
  std::uint64_t us = 0;
  auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), us);
  if (ec == std::errc() && end == d.data() + d.size()) return static_cast<double>(us) / 1e6;
  return parse_double(r.duration);
}

std::optional<double> mb_s(const StepResultRecord& r) {
  return rate(r.down_bytes, r);
}
std::optional<double> up_mb_s(const StepResultRecord& r) {
  return rate(r.up_bytes, r);
}
std::optional<double> latency(const StepResultRecord& r) {
  return parse_double(r.latency_ms);
}

std::optional<StepResultRecord> collect_results(const std::string& step_id,
                                                const std::map<std::string, std::string>& results,
                                                const CaptureStore& store) {
  StepResultRecord rec;
  rec.id = step_id;
  bool any = false;
  for (const auto& [field, key] : results) {
    std::optional<std::string>* slot = nullptr;
    if (field == "duration") {
      slot = &rec.duration;
    } else if (field == "up_bytes") {
      slot = &rec.up_bytes;
    } else if (field == "down_bytes") {
      slot = &rec.down_bytes;
    } else if (field == "latency_ms") {
      slot = &rec.latency_ms;
    } else {
      throw ConfigError(
          "step '" + step_id + "'",
          "results: unknown field '" + field + "' (expected duration, up_bytes, down_bytes or latency_ms)");
    }
    if (auto v = store.latest(key)) {
      *slot = std::move(v);
      any = true;
    }
  }
  if (!any) return std::nullopt;
  return rec;
}

void write_sim_results(const std::filesystem::path& sim_dir, const std::string& sim,
                       const std::vector<StepResultRecord>& recs) {
  if (recs.empty()) return;
  nlohmann::ordered_json doc = {{"sim", sim}, {"steps", steps_json(recs)}};
  write_file_atomic(sim_dir / "results.json", doc.dump(2) + "\n");

  Row headers = {"sim", "id"};
  headers.insert(headers.end(), kMetricHeaders.begin(), kMetricHeaders.end());
  std::vector<Row> rows;
  for (const auto& r : recs) {
    Row row = {sim, r.id};
    for (auto& cell : metric_cells(r)) row.push_back(std::move(cell));
    rows.push_back(std::move(row));
  }
  write_file_atomic(sim_dir / "results.md", markdown_table(headers, rows));
}

void write_combined(const std::filesystem::path& run_root, std::vector<SimResults> sims) {
  std::stable_sort(sims.begin(), sims.end(), [](const SimResults& a, const SimResults& b) {
    return std::tie(a.run, a.sim_dir) < std::tie(b.run, b.sim_dir);
  });

  auto runs = nlohmann::ordered_json::array();
  for (const auto& s : sims) {
    runs.push_back({{"run", s.run}, {"sim_dir", s.sim_dir}, {"sim", s.sim}, {"steps", steps_json(s.steps)}});
  }
  nlohmann::ordered_json doc = {{"runs", std::move(runs)}};
  write_file_atomic(run_root / "combined-results.json", doc.dump(2) + "\n");

  Row headers = {"run", "sim", "id"};
  headers.insert(headers.end(), kMetricHeaders.begin(), kMetricHeaders.end());
  std::vector<Row> rows;
  for (const auto& s : sims) {
    for (const auto& r : s.steps) {
      Row row = {s.run, s.sim, r.id};
      for (auto& cell : metric_cells(r)) row.push_back(std::move(cell));
      rows.push_back(std::move(row));
    }
  }
  write_file_atomic(run_root / "combined-results.md",
                    summary_md(sims) + "\n" + markdown_table(headers, rows));
}

std::string summary_table(const std::vector<SimResults>& sims) {
  std::vector<Row> rows = {{"Sim", "N", "Max Down (MB/s)", "Max Up (MB/s)"}};
  for (const auto& s : sims) {
    rows.push_back({s.sim, std::to_string(s.steps.size()), fixed(max_of(s.steps, mb_s), 2, "-"),
                    fixed(max_of(s.steps, up_mb_s), 2, "-")});
  }
  std::array<std::size_t, 4> width{};
  for (const auto& r : rows) {
    for (std::size_t c = 0; c < width.size(); ++c) width[c] = std::max(width[c], r[c].size());
  }
  rows.insert(rows.begin() + 1, Row{std::string(width[0], '-'), std::string(width[1], '-'),
                                    std::string(width[2], '-'), std::string(width[3], '-')});
  std::string out = "Run Summary:\n";
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t c = 0; c < width.size(); ++c) {
      line += r[c];
      if (c + 1 < width.size()) line += std::string(width[c] - r[c].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace patchbay::runner
