#include "server/run_index.hpp"

#include <pthread.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "patchbay/consts.hpp"

namespace patchbay::server {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// Picks the top-level "label" and "status" strings out of state.json without building the
// document: a running lab rewrites state.json with every change, it holds every node, and the
// index reads it again each time. Stops as soon as both were seen.
class LabelStatus : public nlohmann::json_sax<json> {
 public:
  std::optional<std::string> label, status;

  bool key(string_t& k) override {
    want_ = depth_ == 1 ? (k == "label" ? &label : k == "status" ? &status : nullptr) : nullptr;
    return true;
  }
  bool string(string_t& v) override {
    if (want_ && depth_ == 1) *want_ = v;
    return value();
  }
  bool null() override { return value(); }
  bool boolean(bool) override { return value(); }
  bool number_integer(number_integer_t) override { return value(); }
  bool number_unsigned(number_unsigned_t) override { return value(); }
  bool number_float(number_float_t, const string_t&) override { return value(); }
  bool binary(binary_t&) override { return value(); }
  bool start_object(std::size_t) override {
    if (depth_ == 0) top_object_ = true;
    return open();
  }
  bool end_object() override { return close(); }
  bool start_array(std::size_t) override { return open(); }
  bool end_array() override { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    top_object_ = false;
    return false;
  }
  // A document that is no object has neither field.
  bool ok() const { return top_object_; }

 private:
  bool value() {
    want_ = nullptr;
    return !(label && status);
  }
  bool open() {
    want_ = nullptr;
    ++depth_;
    return true;
  }
  bool close() {
    --depth_;
    return !(label && status);
  }

  std::optional<std::string>* want_ = nullptr;
  int depth_ = 0;
  bool top_object_ = false;
};

void read_state(const fs::path& file, std::optional<std::string>& label, std::optional<std::string>& status) {
  std::ifstream f(file, std::ios::binary);
  if (!f) return;
  LabelStatus sax;
  json::sax_parse(f, &sax);
  if (!sax.ok()) return;
  label = std::move(sax.label);
  status = std::move(sax.status);
}

// `old` holds the previous scan's entries, `fresh` receives this scan's: runs that vanished drop out.
struct Caches {
  const StateCache* old = nullptr;
  StateCache* fresh = nullptr;
};

// state.json is replaced by rename, so a read sees one whole version; a run whose writer has not
// produced it yet simply has no label or status.
RunInfo read_run(std::string name, const fs::path& dir, Caches cache) {
  RunInfo r;
  auto slash = name.find('/');
  if (slash != std::string::npos) r.invocation = name.substr(0, slash);
  r.name = std::move(name);
  r.dir = dir;
  const fs::path file = dir / consts::kStateJson;
  struct stat st {};
  if (::stat(file.c_str(), &st) != 0) return r;
  const std::int64_t mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  const StateCacheEntry key{st.st_ino, static_cast<std::uint64_t>(st.st_size), mtime, {}, {}};
  const StateCacheEntry* hit = nullptr;
  if (cache.old) {
    auto it = cache.old->find(file);
    if (it != cache.old->end() && it->second.ino == key.ino && it->second.size == key.size &&
        it->second.mtime_ns == key.mtime_ns)
      hit = &it->second;
  }
  if (hit) {
    r.label = hit->label;
    r.status = hit->status;
  } else {
    read_state(file, r.label, r.status);
  }
  if (cache.fresh) (*cache.fresh)[file] = {key.ino, key.size, key.mtime_ns, r.label, r.status};
  return r;
}

bool has_events(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / consts::kEventsJsonl, ec);
}

void walk(const fs::path& dir, const std::string& rel, int depth, std::vector<RunInfo>& out, Caches cache) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::error_code se;
    // symlink_status: a symlink (such as `latest`) is not a directory here, so it is never entered.
    if (!fs::is_directory(it->symlink_status(se)) || se) continue;
    const std::string name = it->path().filename().string();
    const std::string child = rel.empty() ? name : rel + "/" + name;
    if (has_events(it->path())) out.push_back(read_run(child, it->path(), cache));
    if (depth < kMaxRunDepth) walk(it->path(), child, depth + 1, out, cache);
  }
}

}  // namespace

std::vector<RunInfo> discover_runs(const fs::path& base, StateCache* cache) {
  StateCache fresh;
  const Caches caches{cache, cache ? &fresh : nullptr};
  std::vector<RunInfo> runs;
  if (has_events(base)) {
    std::error_code ec;
    auto canon = fs::weakly_canonical(base, ec);
    std::string name = (ec ? base : canon).filename().string();
    runs.push_back(read_run(name.empty() ? "run" : name, base, caches));
    runs.front().invocation.reset();  // a single run is never nested, whatever its name
    if (cache) *cache = std::move(fresh);
    return runs;
  }
  walk(base, "", 1, runs, caches);
  if (cache) *cache = std::move(fresh);
  std::sort(runs.begin(), runs.end(), [](const RunInfo& a, const RunInfo& b) { return a.name > b.name; });
  return runs;
}

nlohmann::ordered_json runs_json(const std::vector<RunInfo>& runs) {
  using ojson = nlohmann::ordered_json;
  auto opt = [](const std::optional<std::string>& s) { return s ? ojson(*s) : ojson(nullptr); };
  ojson out = ojson::array();
  for (auto& r : runs)
    out.push_back({{"name", r.name},
                   {"label", opt(r.label)},
                   {"status", opt(r.status)},
                   {"invocation", opt(r.invocation)}});
  return out;
}

RunIndex::RunIndex(fs::path base, std::chrono::milliseconds interval)
    : base_(std::move(base)), interval_(interval) {}

RunIndex::~RunIndex() {
  stop();
}

void RunIndex::start() {
  scan();
  std::lock_guard lk(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "patchbay:runs");
    loop();
  });
}

void RunIndex::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void RunIndex::loop() {
  std::unique_lock lk(mu_);
  while (!stopping_) {
    cv_.wait_for(lk, interval_, [&] { return stopping_; });
    if (stopping_) break;
    lk.unlock();
    scan();
    lk.lock();
  }
}

std::vector<RunInfo> RunIndex::scan() {
  std::lock_guard scan_lk(scan_mu_);
  auto runs = discover_runs(base_, &cache_);
  std::lock_guard lk(mu_);
  if (runs != runs_) {
    runs_ = runs;
    ++generation_;
    cv_.notify_all();
  }
  return runs;
}

std::optional<RunInfo> RunIndex::find(const std::string& name) const {
  std::lock_guard lk(mu_);
  for (auto& r : runs_)
    if (r.name == name) return r;
  return std::nullopt;
}

std::uint64_t RunIndex::generation() const {
  std::lock_guard lk(mu_);
  return generation_;
}

std::uint64_t RunIndex::wait_change(std::uint64_t seen, std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  cv_.wait_for(lk, timeout, [&] { return generation_ != seen || stopping_; });
  return generation_;
}

}  // namespace patchbay::server
