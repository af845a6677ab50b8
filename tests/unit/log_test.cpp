// SPEC 13.4 / 13.5 without a lab: the filter, the JSON and ANSI line formats, the per-node files
// and concurrent writers (items 133 and the filter rules).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "log/filter.hpp"
#include "log/sink.hpp"
#include "patchbay/consts.hpp"
#include "patchbay/log.hpp"

using namespace patchbay;
using log::Level;
using log::detail::Filter;
namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/pb-log-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

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

// Gives the calling thread a node context for one scope.
class ScopedSink {
 public:
  explicit ScopedSink(std::shared_ptr<log::detail::NodeSink> s) {
    log::detail::set_thread_sink(std::move(s));
  }
  ~ScopedSink() { log::detail::set_thread_sink(nullptr); }
};

std::shared_ptr<log::detail::NodeSink> make_sink(const fs::path& dir, const std::string& filter,
                                                 const std::string& name = "client") {
  return std::make_shared<log::detail::NodeSink>(dir, "device", name,
                                                 std::make_shared<const Filter>(Filter::parse(filter)));
}

std::vector<std::string> lines_of(const fs::path& p) {
  std::ifstream f(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> keys(const ojson& j) {
  std::vector<std::string> out;
  for (const auto& [k, v] : j.items()) out.push_back(k);
  return out;
}

const std::string kTs = "2026-03-05T12:00:00.000000Z";

}  // namespace

// ---- filter ----

// Each ctest case runs in its own process, so the process-wide ceiling starts at "nothing".
TEST(LogCeiling, RisesWithEverySinkAndDropsWhatNoFilterWantsBeforeAnyLookup) {
  if (!std::string(GTEST_FLAG_GET(filter)).starts_with("LogCeiling"))
    GTEST_SKIP() << "needs a fresh process (run by ctest, or with --gtest_filter=LogCeiling.*)";
  EXPECT_FALSE(log::detail::below_ceiling(Level::Error));  // no sink, no console
  TempDir dir;
  auto warn = make_sink(dir.path(), "warn");
  EXPECT_TRUE(log::detail::below_ceiling(Level::Info));  // timeline events are written at info
  EXPECT_FALSE(log::detail::below_ceiling(Level::Debug));
  auto debug = make_sink(dir.path(), "app=debug", "server");
  EXPECT_TRUE(log::detail::below_ceiling(Level::Debug));
  EXPECT_FALSE(log::detail::below_ceiling(Level::Trace));
}

TEST(LogFilter, BareLevelAppliesToEveryTarget) {
  auto f = Filter::parse("warn");
  EXPECT_TRUE(f.enabled(Level::Error, "a"));
  EXPECT_TRUE(f.enabled(Level::Warn, "a::b"));
  EXPECT_FALSE(f.enabled(Level::Info, "a"));
  EXPECT_FALSE(f.enabled(Level::Trace, ""));
}

TEST(LogFilter, LongestTargetPrefixWins) {
  auto f = Filter::parse("info,patchbay=warn,patchbay::nat=debug");
  EXPECT_TRUE(f.enabled(Level::Debug, "patchbay::nat"));
  EXPECT_TRUE(f.enabled(Level::Debug, "patchbay::nat::ctl"));
  EXPECT_FALSE(f.enabled(Level::Trace, "patchbay::nat"));
  EXPECT_FALSE(f.enabled(Level::Info, "patchbay::link"));  // "patchbay" beats the bare level
  EXPECT_TRUE(f.enabled(Level::Warn, "patchbay::link"));
  EXPECT_TRUE(f.enabled(Level::Info, "other"));
  EXPECT_FALSE(f.enabled(Level::Debug, "other"));
  // Order does not matter, only the prefix length.
  auto g = Filter::parse("patchbay::nat=debug,patchbay=warn");
  EXPECT_TRUE(g.enabled(Level::Debug, "patchbay::nat"));
  EXPECT_FALSE(g.enabled(Level::Info, "patchbay::dns"));
}

TEST(LogFilter, UnmatchedTargetsAreOffWithoutABareLevel) {
  auto f = Filter::parse("foo=info");
  EXPECT_TRUE(f.enabled(Level::Info, "foo::bar"));
  EXPECT_FALSE(f.enabled(Level::Error, "bar"));
}

TEST(LogFilter, BareTargetMeansTraceAndOffSilences) {
  auto f = Filter::parse("error,app,app::noisy=off");
  EXPECT_TRUE(f.enabled(Level::Trace, "app::x"));
  EXPECT_FALSE(f.enabled(Level::Error, "app::noisy::y"));
  EXPECT_TRUE(f.enabled(Level::Error, "elsewhere"));
}

TEST(LogFilter, LaterDuplicateWinsAndLevelsIgnoreCase) {
  auto f = Filter::parse(" x = INFO , x=Trace ");
  EXPECT_TRUE(f.enabled(Level::Trace, "x"));
  EXPECT_FALSE(Filter::parse("x=trace,x=warn").enabled(Level::Info, "x"));
}

TEST(LogFilter, BadDirectivesAreSkippedAndReported) {
  std::vector<std::string> errors;
  auto f = Filter::parse("info,foo=loud,bar[span]=debug,,baz=debug", &errors);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_NE(errors[0].find("foo=loud"), std::string::npos);
  EXPECT_NE(errors[1].find("bar[span]"), std::string::npos);
  EXPECT_TRUE(f.enabled(Level::Debug, "baz"));
  EXPECT_FALSE(f.enabled(Level::Debug, "foo"));
  EXPECT_TRUE(f.enabled(Level::Info, "foo"));
}

TEST(LogFilter, EmptySpecEnablesNothing) {
  auto f = Filter::parse("");
  EXPECT_FALSE(f.enabled(Level::Error, "x"));
}

TEST(LogFilter, EnvironmentPrecedence) {
  {
    ScopedEnv a("PATCHBAY_LOG", "debug"), b("RUST_LOG", "trace");
    EXPECT_EQ(log::detail::filter_from_env(), "debug");
  }
  {
    ScopedEnv a("PATCHBAY_LOG", std::nullopt), b("RUST_LOG", "foo=trace");
    EXPECT_EQ(log::detail::filter_from_env(), "foo=trace");
  }
  {
    ScopedEnv a("PATCHBAY_LOG", ""), b("RUST_LOG", "warn");  // empty counts as unset
    EXPECT_EQ(log::detail::filter_from_env(), "warn");
  }
  {
    ScopedEnv a("PATCHBAY_LOG", std::nullopt), b("RUST_LOG", std::nullopt);
    EXPECT_EQ(log::detail::filter_from_env(), "info");
  }
}

// ---- rendering (item 133) ----

TEST(LogRender, AnsiLineIsByteIdenticalToTheSpec) {
  const std::string line = R"({"timestamp":")" + kTs +
                           R"(","level":"INFO","fields":{"message":"hello world","count":42},)"
                           R"("target":"my_crate::mod","span":{"name":"inner","y":"hi"},)"
                           R"("spans":[{"name":"outer","x":1},{"name":"inner","y":"hi"}]})";
  const std::string expected =
      "\x1b[2m" + kTs + "\x1b[0m \x1b[32m INFO\x1b[0m " +
      "\x1b[1mouter\x1b[0m\x1b[1m{\x1b[0m\x1b[3mx\x1b[0m\x1b[2m=\x1b[0m1\x1b[1m}\x1b[0m\x1b[2m:\x1b[0m"
      "\x1b[1minner\x1b[0m\x1b[1m{\x1b[0m\x1b[3my\x1b[0m\x1b[2m=\x1b[0m\"hi\"\x1b[1m}\x1b[0m\x1b[2m:\x1b[0m"
      " \x1b[2mmy_crate::mod\x1b[0m\x1b[2m:\x1b[0m hello world \x1b[3mcount\x1b[0m\x1b[2m=\x1b[0m42\n";
  EXPECT_EQ(log::render_line(line).value(), expected);
  EXPECT_EQ(log::render_line(line, false).value(),
            kTs + "  INFO outer{x=1}:inner{y=\"hi\"}: my_crate::mod: hello world count=42\n");
}

TEST(LogRender, LevelsAreRightAlignedInTheirColours) {
  const std::pair<const char*, const char*> cases[] = {{"ERROR", "\x1b[31mERROR"},
                                                       {"WARN", "\x1b[33m WARN"},
                                                       {"DEBUG", "\x1b[34mDEBUG"},
                                                       {"TRACE", "\x1b[35mTRACE"}};
  for (auto [level, coloured] : cases) {
    auto out = log::render_line(R"({"timestamp":"t","level":")" + std::string(level) + R"(","fields":{}})");
    ASSERT_TRUE(out);
    EXPECT_EQ(*out, "\x1b[2mt\x1b[0m " + std::string(coloured) + "\x1b[0m\n") << level;
  }
}

TEST(LogRender, MessageLessRecordMatchesTheSpecExample) {
  auto out =
      log::render_line(R"({"timestamp":"T","level":"INFO","fields":{"x":1},"target":"foo",)"
                       R"("span":{"name":"s2","y":2},"spans":[{"name":"s1","z":3},{"name":"s2","y":2}]})",
                       false);
  EXPECT_EQ(out.value(), "T  INFO s1{z=3}:s2{y=2}: foo: x=1\n");
}

TEST(LogRender, NonRecordsAreNotRendered) {
  EXPECT_FALSE(log::render_line("plain text"));
  EXPECT_FALSE(log::render_line(""));
  EXPECT_FALSE(log::render_line("[1,2]"));
  EXPECT_FALSE(log::render_line(R"({"opid":0,"kind":"lab_created"})"));  // events.jsonl line
  EXPECT_FALSE(log::render_line(R"({"timestamp":"t","level":1})"));
}

// ---- files ----

TEST(LogSink, RecordLineShapeWithSpans) {
  TempDir dir;
  auto sink = make_sink(dir.path(), "info");
  {
    ScopedSink ctx(sink);
    log::Span outer("outer", {{"x", 1}});
    log::Span inner("inner", {{"y", "hi"}});
    log::info("my_crate::mod", "hello world", {{"count", 42}, {"ok", true}, {"ratio", 0.5}});
  }
  auto lines = lines_of(sink->path(consts::kTracingJsonlExt));
  ASSERT_EQ(lines.size(), 1u);
  auto j = ojson::parse(lines[0]);
  EXPECT_EQ(keys(j), (std::vector<std::string>{"timestamp", "level", "fields", "target", "span", "spans"}));
  const std::string ts = j["timestamp"];
  ASSERT_EQ(ts.size(), kTs.size()) << ts;  // six fractional digits
  EXPECT_EQ(ts[19], '.');
  EXPECT_EQ(ts.back(), 'Z');
  EXPECT_EQ(j["level"], "INFO");
  EXPECT_EQ(keys(j["fields"]), (std::vector<std::string>{"message", "count", "ok", "ratio"}));
  EXPECT_EQ(j["fields"]["message"], "hello world");
  EXPECT_EQ(j["fields"]["count"], 42);
  EXPECT_EQ(j["fields"]["ok"], true);
  EXPECT_EQ(j["fields"]["ratio"], 0.5);
  EXPECT_EQ(j["target"], "my_crate::mod");
  EXPECT_EQ(j["span"].dump(), R"({"name":"inner","y":"hi"})");
  EXPECT_EQ(j["spans"].dump(), R"([{"name":"outer","x":1},{"name":"inner","y":"hi"}])");
  // The text file is the rendering of the JSON line, byte for byte.
  EXPECT_EQ(slurp(sink->path(consts::kTracingLogExt)), log::render_line(lines[0]).value());
  EXPECT_FALSE(fs::exists(sink->path(consts::kEventsJsonlExt)));
}

// Review item 6: the text is rendered from the record's tree, not from the line parsed back; it
// must still be byte-identical to what fmt-log (render_line) prints for each .tracing.jsonl line.
TEST(LogSink, TextFromTheTreeEqualsRenderingTheLine) {
  TempDir dir;
  auto sink = make_sink(dir.path(), "trace");
  {
    ScopedSink ctx(sink);
    log::Span outer("outer", {{"name", "shadowed"}, {"d", 1e300}});
    log::info("t", "plain");
    log::warn("t::x", "", {{"neg", -7}, {"big", std::uint64_t{18446744073709551615ULL}}, {"f", 0.1}});
    log::error("t", "msg", {{"message", "field wins"}, {"q", "quo\"te\n\ttab"}, {"e", 1.5e-7}});
    log::debug("t", "non-ascii", {{"u", "\xc3\xa9\xe2\x82\xac"}, {"nan", std::nan("")}});
    log::trace("t", "bad utf8 \xff\xfe", {{"bad", "\xc3"}});
    log::info("t", "\xef\xbf\xbd literal replacement char",
              {{"inf", std::numeric_limits<double>::infinity()}});
  }
  auto lines = lines_of(sink->path(consts::kTracingJsonlExt));
  ASSERT_EQ(lines.size(), 6u);
  std::string expected;
  for (const auto& l : lines) expected += log::render_line(l).value();
  EXPECT_EQ(slurp(sink->path(consts::kTracingLogExt)), expected);
}

TEST(LogSink, NoSpansNoSpanKeysAndEmptyMessageIsOmitted) {
  TempDir dir;
  auto sink = make_sink(dir.path(), "info");
  {
    ScopedSink ctx(sink);
    log::warn("t", "", {{"n", -3}});
  }
  auto j = ojson::parse(lines_of(sink->path(consts::kTracingJsonlExt)).at(0));
  EXPECT_EQ(keys(j), (std::vector<std::string>{"timestamp", "level", "fields", "target"}));
  EXPECT_EQ(j["fields"].dump(), R"({"n":-3})");
}

TEST(LogSink, TimelineEventLine) {
  TempDir dir;
  auto sink = make_sink(dir.path(), "off");  // events are written whatever the filter says
  {
    ScopedSink ctx(sink);
    emit_event("TcpRoundtripComplete", {{"bytes", 5}});
    emit_event("my::app", "Custom", {{"peer", "relay"}});
  }
  auto ev = lines_of(sink->path(consts::kEventsJsonlExt));
  ASSERT_EQ(ev.size(), 2u);
  auto e0 = ojson::parse(ev[0]);
  EXPECT_EQ(keys(e0), (std::vector<std::string>{"bytes", "kind", "timestamp"}));
  EXPECT_EQ(e0["bytes"], 5);
  EXPECT_EQ(e0["kind"], "TcpRoundtripComplete");
  auto e1 = ojson::parse(ev[1]);
  EXPECT_EQ(e1["kind"], "Custom");
  EXPECT_EQ(e1["peer"], "relay");
  // Also in the tracing files, with the same timestamp.
  auto tr = lines_of(sink->path(consts::kTracingJsonlExt));
  ASSERT_EQ(tr.size(), 2u);
  auto t0 = ojson::parse(tr[0]);
  EXPECT_EQ(t0["target"], "patchbay::_events::TcpRoundtripComplete");
  EXPECT_EQ(t0["timestamp"], e0["timestamp"]);
  EXPECT_EQ(ojson::parse(tr[1])["target"], "my::app::_events::Custom");
}

TEST(LogSink, KindIsTheSuffixAfterTheLastEventsMarker) {
  TempDir dir;
  auto sink = make_sink(dir.path(), "info");
  {
    ScopedSink ctx(sink);
    log::debug("a::_events::b::_events::Last", "ignored message", {{"message", "x"}, {"k", 1}});
  }
  auto e = ojson::parse(lines_of(sink->path(consts::kEventsJsonlExt)).at(0));
  EXPECT_EQ(e.dump().find("message"), std::string::npos);
  EXPECT_EQ(e["kind"], "Last");
  EXPECT_EQ(e["k"], 1);
}

TEST(LogSink, FilterDecidesAndNothingIsCreatedBeforeTheFirstRecord) {
  TempDir dir;
  auto sink = make_sink(dir.path(), "warn,app=debug");
  ScopedSink ctx(sink);
  log::info("other", "dropped");
  log::trace("app", "dropped");
  EXPECT_FALSE(log::enabled(Level::Info, "other"));
  EXPECT_TRUE(log::enabled(Level::Debug, "app::x"));
  EXPECT_TRUE(log::enabled(Level::Trace, "x::_events::K"));
  EXPECT_TRUE(fs::is_empty(dir.path()));  // no file, no descriptor for a silent node
  log::debug("app::x", "kept");
  log::warn("other", "kept");
  auto lines = lines_of(sink->path(consts::kTracingJsonlExt));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(ojson::parse(lines[0])["fields"]["message"], "kept");
}

TEST(LogSink, WithoutContextOrConsoleNothingIsEnabled) {
  EXPECT_FALSE(log::enabled(Level::Error, "x"));
  EXPECT_FALSE(log::enabled(Level::Info, "x::_events::K"));
  log::error("x", "goes nowhere");  // must not crash
}

TEST(LogSink, ClosedSinkDropsRecords) {
  TempDir dir;
  auto sink = make_sink(dir.path(), "info");
  ScopedSink ctx(sink);
  log::info("t", "one");
  sink->close();
  log::info("t", "two");
  emit_event("Late");
  EXPECT_EQ(lines_of(sink->path(consts::kTracingJsonlExt)).size(), 1u);
  EXPECT_FALSE(fs::exists(sink->path(consts::kEventsJsonlExt)));
}

TEST(LogSink, NamesAreSanitised) {
  TempDir dir;
  auto sink = make_sink(dir.path(), "info", "../evil name");
  EXPECT_EQ(sink->path(consts::kTracingLogExt), dir.path() / "device.___evil_name.tracing.log");
  EXPECT_EQ(util::sanitize_for_path_component("a-b_C9.x/y"), "a-b_C9_x_y");
  EXPECT_EQ(consts::node_file("router", "home", "events.jsonl"), "router.home.events.jsonl");
}

TEST(LogSink, ConcurrentWritersNeverTearLines) {
  TempDir dir;
  auto sink = make_sink(dir.path(), "info");
  constexpr int kThreads = 8, kEach = 400;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      ScopedSink ctx(sink);
      log::Span s("worker", {{"t", t}});
      const std::string pad(200 + t * 37, static_cast<char>('a' + t));  // lines of different lengths
      for (int i = 0; i < kEach; ++i) {
        log::info("stress", pad, {{"i", i}});
        if (i % 50 == 0) emit_event("Tick", {{"t", t}, {"i", i}});
      }
    });
  for (auto& th : threads) th.join();
  auto json = lines_of(sink->path(consts::kTracingJsonlExt));
  ASSERT_EQ(json.size(), static_cast<std::size_t>(kThreads * (kEach + kEach / 50)));
  std::vector<int> per_thread(kThreads, 0);
  for (const auto& l : json) {
    auto j = ojson::parse(l);  // throws on a torn line
    int t = j["span"]["t"];
    if (j["target"] == "stress") {
      EXPECT_EQ(j["fields"]["message"].get<std::string>(),
                std::string(200 + t * 37, static_cast<char>('a' + t)));
      ++per_thread[t];
    }
  }
  for (int n : per_thread) EXPECT_EQ(n, kEach);
  // The text file has the same records in the same order.
  std::string expected;
  for (const auto& l : json) expected += log::render_line(l).value();
  EXPECT_EQ(slurp(sink->path(consts::kTracingLogExt)), expected);
  EXPECT_EQ(lines_of(sink->path(consts::kEventsJsonlExt)).size(),
            static_cast<std::size_t>(kThreads * kEach / 50));
}

TEST(LogSink, SpansAreThreadLocalAndEndInAnyOrder) {
  TempDir dir;
  auto sink = make_sink(dir.path(), "info");
  ScopedSink ctx(sink);
  auto a = std::make_unique<log::Span>("a");
  auto b = std::make_unique<log::Span>("b");
  std::thread([&] {
    ScopedSink inner(sink);
    log::info("other-thread", "m");  // sees none of this thread's spans
  }).join();
  a.reset();  // destroyed out of order
  log::info("t", "m");
  b.reset();
  log::info("t", "m");
  auto lines = lines_of(sink->path(consts::kTracingJsonlExt));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_FALSE(ojson::parse(lines[0]).contains("spans"));
  EXPECT_EQ(ojson::parse(lines[1])["spans"].dump(), R"([{"name":"b"}])");
  EXPECT_FALSE(ojson::parse(lines[2]).contains("span"));
}

// The console sink is process-wide, so it is checked in a child process.
TEST(LogConsole, RecordsWithoutNodeContextReachStderr) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    log::init_console("info,quiet=off");
    log::info("app", "to console", {{"k", "v"}});
    log::info("quiet", "filtered");
    log::debug("app", "filtered");
    ::_exit(log::enabled(Level::Info, "app") && !log::enabled(Level::Debug, "app") ? 0 : 3);
  }
  ::close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fds[0]);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
  // Not a terminal: plain text.
  EXPECT_NE(out.find("  INFO app: to console k=\"v\"\n"), std::string::npos) << out;
  EXPECT_EQ(out.find("filtered"), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos);
}
