// SPEC 13.1-13.3: the lab's output directory (events.jsonl, state.json).
#include <dirent.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "patchbay/patchbay.hpp"
#include "util.hpp"

using namespace patchbay;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// "<YYYYmmdd>_<HHMMSS>-<suffix>" (std::regex trips a GCC 12 warning under the sanitizers).
bool stamped(const std::string& name, const std::string& suffix) {
  if (name.size() != 16 + suffix.size() || name[8] != '_' || name[15] != '-') return false;
  for (std::size_t i = 0; i < 15; ++i)
    if (i != 8 && !std::isdigit(static_cast<unsigned char>(name[i]))) return false;
  return name.compare(16, std::string::npos, suffix) == 0;
}

// A fresh directory under /tmp, removed with everything in it.
class TempDir : public pbtest::TempDir {
 public:
  TempDir() : pbtest::TempDir("pb-outdir") {}
};

// Sets (or unsets, with nullopt) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value->c_str(), 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::vector<std::string> read_lines(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> out;
  for (std::string line; std::getline(f, line);) out.push_back(line);
  return out;
}

std::optional<json> read_json(const fs::path& p) {
  std::ifstream f(p);
  if (!f) return std::nullopt;
  json j = json::parse(f, nullptr, false);
  if (j.is_discarded()) return std::nullopt;
  return j;
}

bool has_thread(const std::string& name) {
  bool found = false;
  DIR* d = ::opendir("/proc/self/task");
  while (auto* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string comm;
    std::getline(f, comm);
    if (comm == name) found = true;
  }
  ::closedir(d);
  return found;
}

template <class Pred>
bool eventually(std::chrono::milliseconds bound, Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + bound;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return pred();
}

std::set<std::string> entries(const fs::path& dir) {
  std::set<std::string> out;
  for (auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

void build_small_topology(Lab& lab) {
  auto dc = lab.add_router("dc").build();
  auto home = lab.add_router("home").preset(RouterPreset::Home).build();
  lab.add_device("server").iface("eth0", dc.id()).build();
  lab.add_device("laptop").iface("eth0", home.id()).build();
}

// Seconds between a "YYYYmmdd_HHMMSS" stamp read as local time and now.
double stamp_age_seconds(const std::string& stamp) {
  std::tm tm{};
  if (::strptime(stamp.c_str(), "%Y%m%d_%H%M%S", &tm) == nullptr) return 1e9;
  tm.tm_isdst = -1;
  return std::difftime(std::time(nullptr), std::mktime(&tm));
}

}  // namespace

TEST(OutputDir, ExactDirHoldsEveryEventAndTheStoppedState) {
  TempDir tmp;
  const fs::path dir = tmp.path() / "run";  // missing: the lab creates it
  {
    Lab lab{LabOpts{}.label("exact").outdir(OutDir::exact(dir))};
    EXPECT_EQ(lab.outdir(), dir);
    build_small_topology(lab);
  }
  auto lines = read_lines(dir / "events.jsonl");
  ASSERT_GE(lines.size(), 6u);
  std::set<std::string> kinds;
  std::string last_ts;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    json j = json::parse(lines[i], nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "line " << i << ": " << lines[i];
    ASSERT_TRUE(j.contains("opid") && j.contains("timestamp") && j.contains("kind")) << lines[i];
    EXPECT_EQ(j["opid"].get<std::uint64_t>(), i) << "opids must be 0..N-1 without gaps";
    auto ts = j["timestamp"].get<std::string>();
    EXPECT_TRUE(parse_rfc3339(ts)) << ts;
    EXPECT_GE(ts, last_ts);  // same fixed-width format: string order is time order
    last_ts = ts;
    kinds.insert(j["kind"].get<std::string>());
  }
  EXPECT_EQ(json::parse(lines[0])["kind"], "lab_created");
  EXPECT_EQ(json::parse(lines[1])["kind"], "ix_created");
  for (const char* k : {"lab_created", "ix_created", "router_added", "device_added"})
    EXPECT_TRUE(kinds.count(k)) << "missing kind " << k;

  auto state = read_json(dir / "state.json");
  ASSERT_TRUE(state);
  EXPECT_EQ((*state)["status"], "stopped");
  EXPECT_EQ((*state)["label"], "exact");
  EXPECT_EQ((*state)["opid"].get<std::uint64_t>(), lines.size() - 1);
  for (const char* r : {"dc", "home"}) EXPECT_TRUE((*state)["routers"].contains(r)) << r;
  for (const char* d : {"server", "laptop"}) EXPECT_TRUE((*state)["devices"].contains(d)) << d;
  EXPECT_EQ(entries(dir), (std::set<std::string>{"events.jsonl", "state.json"}));  // no .tmp left
  EXPECT_FALSE(has_thread("patchbay:out"));
}

TEST(OutputDir, LiveLabWritesEventsPromptlyAndStateWithinSeconds) {
  TempDir tmp;
  Lab lab{LabOpts{}.outdir(OutDir::exact(tmp.path()))};
  const fs::path events = tmp.path() / "events.jsonl", state = tmp.path() / "state.json";
  ASSERT_TRUE(eventually(2s, [&] { return read_json(state).has_value(); })) << "no state.json";
  EXPECT_EQ((*read_json(state))["status"], "running");
  const auto late_added = [&] {
    for (const auto& line : read_lines(events)) {
      json j = json::parse(line, nullptr, false);
      if (!j.is_discarded() && j["kind"] == "router_added" && j["name"] == "late") return true;
    }
    return false;
  };
  EXPECT_FALSE(late_added());  // control: the check below does not match something older

  lab.add_router("late").build();
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually(1s, late_added)) << "router_added not on disk within 1 s";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  // Rate-limited to once a second, so the new router is in state.json within about two.
  EXPECT_TRUE(eventually(2500ms, [&] {
    auto j = read_json(state);
    return j && (*j)["routers"].contains("late");
  }));
}

TEST(OutputDir, NestedCreatesOneTimestampedDirPerLabNamedAfterTheLabel) {
  TempDir base;
  std::optional<fs::path> first, second;
  {
    Lab a{LabOpts{}.label("nest-test").outdir(OutDir::nested(base.path()))};
    Lab b{LabOpts{}.label("nest-test").outdir(OutDir::nested(base.path()))};
    first = a.outdir();
    second = b.outdir();
  }
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->parent_path(), base.path());
  EXPECT_EQ(second->parent_path(), base.path());
  const std::string n1 = first->filename().string(), n2 = second->filename().string();
  EXPECT_TRUE(stamped(n1, "nest-test")) << n1;
  EXPECT_LT(std::abs(stamp_age_seconds(n1.substr(0, 15))), 30.0) << "stamp is not local time: " << n1;
  if (n2.substr(0, 15) == n1.substr(0, 15))
    EXPECT_EQ(n2, n1 + "-1");
  else
    EXPECT_TRUE(stamped(n2, "nest-test")) << n2;
  EXPECT_EQ(entries(base.path()), (std::set<std::string>{n1, n2}));
  for (const auto& d : {*first, *second}) {
    EXPECT_TRUE(fs::exists(d / "events.jsonl")) << d;
    EXPECT_TRUE(fs::exists(d / "state.json")) << d;
  }
}

TEST(OutputDir, PatchbayOutdirEnvGivesDefaultLabsANestedDirNamedAfterThePrefix) {
  TempDir base;
  ScopedEnv env("PATCHBAY_OUTDIR", base.path().string());
  std::string prefix;
  std::optional<fs::path> dir;
  {
    Lab lab;
    prefix = lab.prefix();
    dir = lab.outdir();
  }
  ASSERT_TRUE(dir);
  EXPECT_EQ(dir->parent_path(), base.path());
  EXPECT_TRUE(stamped(dir->filename().string(), prefix)) << dir->filename();
  EXPECT_EQ(entries(base.path()).size(), 1u);
  auto state = read_json(*dir / "state.json");
  ASSERT_TRUE(state);
  EXPECT_EQ((*state)["lab_prefix"], prefix);
  EXPECT_EQ((*state)["status"], "stopped");
}

TEST(OutputDir, WithoutOutdirNothingIsWrittenAndNoWriterThreadRuns) {
  ScopedEnv env("PATCHBAY_OUTDIR", std::nullopt);
  TempDir cwd;
  const fs::path old_cwd = fs::current_path();
  fs::current_path(cwd.path());  // a stray relative write would land here
  {
    Lab lab;
    EXPECT_FALSE(lab.outdir());
    lab.add_router("r").build();
    EXPECT_FALSE(has_thread("patchbay:out"));
  }
  fs::current_path(old_cwd);
  EXPECT_TRUE(entries(cwd.path()).empty());

  // Positive control: the same check sees the writer of a lab that has an outdir, and only while
  // that lab lives.
  TempDir out;
  {
    Lab lab{LabOpts{}.outdir(OutDir::exact(out.path()))};
    EXPECT_TRUE(has_thread("patchbay:out"));
  }
  EXPECT_FALSE(has_thread("patchbay:out"));
}

TEST(OutputDir, UncreatableOutdirFailsLabCreationNamingThePath) {
  try {
    Lab lab{LabOpts{}.outdir(OutDir::exact("/proc/nope"))};
    FAIL() << "the lab was created";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/proc/nope"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Lab(LabOpts{}.outdir(OutDir::nested("/proc/nope"))), SystemError);
  EXPECT_FALSE(has_thread("patchbay:out"));
}

TEST(OutputDir, ExistingEventsFileIsAppendedTo) {
  TempDir tmp;
  const std::string old_line =
      R"({"opid":0,"timestamp":"2026-01-01T00:00:00.000000000Z","kind":"lab_created"})";
  std::ofstream(tmp.path() / "events.jsonl") << old_line << "\n";
  { Lab lab{LabOpts{}.outdir(OutDir::exact(tmp.path()))}; }
  auto lines = read_lines(tmp.path() / "events.jsonl");
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0], old_line);
  EXPECT_EQ(json::parse(lines[1])["opid"], 0);
  EXPECT_EQ(json::parse(lines[1])["kind"], "lab_created");
}

TEST(OutputDir, WriteFailureIsReportedOnceAndTheLabCarriesOn) {
  TempDir tmp;
  // Every write to /dev/full fails with ENOSPC while opening it succeeds.
  fs::create_symlink("/dev/full", tmp.path() / "events.jsonl");
  ::testing::internal::CaptureStderr();
  {
    Lab lab{LabOpts{}.outdir(OutDir::exact(tmp.path()))};
    build_small_topology(lab);
  }
  std::string err = ::testing::internal::GetCapturedStderr();
  std::size_t reports = 0;
  for (auto pos = err.find("further output errors"); pos != std::string::npos;
       pos = err.find("further output errors", pos + 1))
    ++reports;
  EXPECT_EQ(reports, 1u) << err;
  EXPECT_NE(err.find("events.jsonl"), std::string::npos) << err;
  // state.json does not go through the failing file and still records the whole lab.
  auto state = read_json(tmp.path() / "state.json");
  ASSERT_TRUE(state);
  EXPECT_EQ((*state)["status"], "stopped");
  EXPECT_TRUE((*state)["devices"].contains("laptop"));
}
