// The runner's building blocks (SPEC 15.4, 15.5, 15.9; 17.16 items 144, 145, 148): durations,
// captures, interpolation, asserts and result reports.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "patchbay/error.hpp"
#include "runner/asserts.hpp"
#include "runner/captures.hpp"
#include "runner/duration.hpp"
#include "runner/interpolate.hpp"
#include "runner/results.hpp"
#include "runner_test_util.hpp"

namespace patchbay::runner {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

// ---- durations ----

TEST(RunnerDuration, ParsesMillisecondsSecondsAndMinutes) {
  EXPECT_EQ(parse_duration("200ms", "t"), 200ms);
  EXPECT_EQ(parse_duration("2s", "t"), 2000ms);
  EXPECT_EQ(parse_duration("3m", "t"), 180000ms);
  EXPECT_EQ(parse_duration("0s", "t"), 0ms);
}

TEST(RunnerDuration, RejectsOtherUnitsAndShapesNamingFieldAndValue) {
  EXPECT_THROW(parse_duration("3h", "--timeout"), ConfigError);
  const std::string msg = error_of([] { parse_duration("3h", "--timeout"); });
  EXPECT_NE(msg.find("--timeout"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'3h'"), std::string::npos) << msg;
  for (const char* bad : {"", "1.5s", "s", "10", "-1s", " 2s", "2 s", "2S", "99999999999999999999m"}) {
    EXPECT_THROW(parse_duration(bad, "t"), ConfigError) << bad;
  }
}

// ---- capture specs ----

TEST(RunnerCapture, ParsesSpecFields) {
  const json captures = {
      {"addr", {{"pipe", "stderr"}, {"regex", "addr=(\\S+)"}}},
      {"bytes", {{"match", {{"kind", "done"}, {"n", 5}, {"ok", true}}}, {"pick", ".end.bytes"}}},
  };
  auto specs = parse_captures(captures, "step 'x'");
  ASSERT_EQ(specs.size(), 2u);
  EXPECT_EQ(specs[0].name, "addr");
  EXPECT_EQ(specs[0].pipe, Pipe::Stderr);
  EXPECT_EQ(specs[0].regex, "addr=(\\S+)");
  EXPECT_EQ(specs[1].pipe, Pipe::Stdout);
  EXPECT_EQ(specs[1].pick, ".end.bytes");
  ASSERT_EQ(specs[1].match.size(), 3u);
  EXPECT_EQ(specs[1].match[0], (std::pair<std::string, std::string>{"kind", "done"}));
  EXPECT_EQ(specs[1].match[1], (std::pair<std::string, std::string>{"n", "5"}));
  EXPECT_EQ(specs[1].match[2], (std::pair<std::string, std::string>{"ok", "true"}));
  EXPECT_TRUE(parse_captures(json(), "s").empty());
}

TEST(RunnerCapture, BadSpecsNameStepCaptureAndKey) {
  auto msg = error_of([] { parse_captures(json::parse(R"({"c": {"pipe": "stdin"}})"), "step 'x'"); });
  EXPECT_NE(msg.find("step 'x'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("capture 'c'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'pipe'"), std::string::npos) << msg;
  msg = error_of([] { parse_captures(json::parse(R"({"c": {"regex": "(unclosed"}})"), "step 'x'"); });
  EXPECT_NE(msg.find("'regex'"), std::string::npos) << msg;
  EXPECT_THROW(parse_captures(json::parse(R"({"c": {"pick": 3}})"), "s"), ConfigError);
  EXPECT_THROW(parse_captures(json::parse(R"({"c": {"pick": "a..b"}})"), "s"), ConfigError);
  EXPECT_THROW(parse_captures(json::parse(R"({"c": {"match": {"k": [1]}}})"), "s"), ConfigError);
  EXPECT_THROW(parse_captures(json::parse(R"({"c": 1})"), "s"), ConfigError);
  EXPECT_THROW(parse_captures(json::parse(R"([1])"), "s"), ConfigError);
  EXPECT_EQ(parse_parser("ndjson", "p"), Parser::Ndjson);
  EXPECT_EQ(parse_parser("json", "p"), Parser::Json);
  EXPECT_EQ(parse_parser("text", "p"), Parser::Text);
  EXPECT_THROW(parse_parser("yaml", "p"), ConfigError);
}

CaptureSpec regex_spec(std::string name, std::string re, Pipe pipe = Pipe::Stdout) {
  CaptureSpec s;
  s.name = std::move(name);
  s.regex = std::move(re);
  s.pipe = pipe;
  return s;
}

CaptureSpec json_spec(std::string name, std::vector<std::pair<std::string, std::string>> match,
                      std::optional<std::string> pick, Pipe pipe = Pipe::Stdout) {
  CaptureSpec s;
  s.name = std::move(name);
  s.match = std::move(match);
  s.pick = std::move(pick);
  s.pipe = pipe;
  return s;
}

// ---- text parser ----

TEST(RunnerCapture, TextRegexTakesGroupOneElseWholeMatchAndKeepsHistory) {
  CaptureStore store;
  StreamCapturer cap("srv", Parser::Text, {regex_spec("port", "port=(\\d+)"), regex_spec("word", "re[a-z]+")},
                     store);
  cap.line(Pipe::Stdout, "listening port=4433");
  cap.line(Pipe::Stdout, "nothing here");
  cap.line(Pipe::Stdout, "port=5555 ready");
  cap.finish();
  EXPECT_EQ(store.history("srv.port"), (std::vector<std::string>{"4433", "5555"}));
  EXPECT_EQ(store.latest("srv.port"), "5555");
  EXPECT_EQ(store.latest("srv.word"), "ready");
}

TEST(RunnerCapture, TextIgnoresCapturesWithoutRegex) {
  CaptureStore store;
  StreamCapturer cap("s", Parser::Text, {json_spec("k", {}, "a"), regex_spec("ctl", "a")}, store);
  cap.line(Pipe::Stdout, R"({"a": 1})");
  cap.finish();
  EXPECT_FALSE(store.contains("s.k"));
  EXPECT_EQ(store.latest("s.ctl"), "a");  // positive control: the line was seen
}

// Which lines the captures read follows the original runner: per step, not per capture.

TEST(RunnerCapture, RunStepWithOnlyStdoutCapturesIgnoresStderr) {
  const std::vector<CaptureSpec> specs{regex_spec("id", "id=(\\w+)")};
  ASSERT_EQ(capture_input(/*spawn=*/false, specs), CaptureInput::Stdout);
  CaptureStore store;
  StreamCapturer cap("p", Parser::Text, specs, store, capture_input(false, specs));
  cap.line(Pipe::Stderr, "id=from_stderr");
  EXPECT_FALSE(store.contains("p.id"));
  cap.line(Pipe::Stdout, "id=from_stdout");  // positive control
  EXPECT_EQ(store.history("p.id"), (std::vector<std::string>{"from_stdout"}));
}

TEST(RunnerCapture, RunStepWithAStderrCaptureFeedsBothPipesToEveryCapture) {
  const std::vector<CaptureSpec> specs{regex_spec("err", "id=(\\w+)", Pipe::Stderr),
                                       regex_spec("out", "id=(\\w+)", Pipe::Stdout)};
  ASSERT_EQ(capture_input(/*spawn=*/false, specs), CaptureInput::StdoutAndStderr);
  CaptureStore store;
  StreamCapturer cap("p", Parser::Text, specs, store, capture_input(false, specs));
  cap.line(Pipe::Stdout, "id=from_stdout");
  cap.line(Pipe::Stderr, "id=from_stderr");
  EXPECT_EQ(store.history("p.err"), (std::vector<std::string>{"from_stdout", "from_stderr"}));
  EXPECT_EQ(store.history("p.out"), (std::vector<std::string>{"from_stdout", "from_stderr"}));
}

TEST(RunnerCapture, SpawnStepDefaultStdoutCaptureReadsStderrLines) {
  const std::vector<CaptureSpec> specs{regex_spec("ready", "listening on (\\S+)"),
                                       json_spec("ev", {{"kind", "up"}}, ".port")};
  ASSERT_EQ(capture_input(/*spawn=*/true, specs), CaptureInput::StdoutAndStderr);
  CaptureStore store;
  StreamCapturer cap("srv", Parser::Ndjson, specs, store, capture_input(true, specs));
  cap.line(Pipe::Stderr, "listening on 10.0.0.1:4433");
  cap.line(Pipe::Stderr, R"({"kind": "up", "port": 4433})");
  EXPECT_EQ(store.latest("srv.ready"), "10.0.0.1:4433");
  EXPECT_EQ(store.latest("srv.ev"), "4433");
}

TEST(RunnerCapture, JsonParserOnASpawnParsesBothPipesAsOneDocument) {
  const std::vector<CaptureSpec> specs{json_spec("bytes", {}, ".end.bytes")};
  CaptureStore store;
  StreamCapturer cap("iperf", Parser::Json, specs, store, capture_input(true, specs));
  cap.line(Pipe::Stdout, R"({"end": {)");
  cap.line(Pipe::Stderr, R"("bytes": 1000})");
  cap.line(Pipe::Stdout, "}");
  cap.finish();
  EXPECT_EQ(store.latest("iperf.bytes"), "1000");
  // As in the original, a stray stderr line in a spawn's output spoils the document.
  CaptureStore noisy;
  StreamCapturer cap2("iperf", Parser::Json, specs, noisy, capture_input(true, specs));
  cap2.line(Pipe::Stdout, R"({"end": {"bytes": 1000}})");
  cap2.line(Pipe::Stderr, "warning: something");
  cap2.finish();
  EXPECT_FALSE(noisy.contains("iperf.bytes"));
}

TEST(RunnerCapture, JsonParserOnARunWithoutStderrCapturesIgnoresStderr) {
  const std::vector<CaptureSpec> specs{json_spec("bytes", {}, ".end.bytes")};
  CaptureStore store;
  StreamCapturer cap("iperf", Parser::Json, specs, store, capture_input(false, specs));
  cap.line(Pipe::Stdout, R"({"end": {"bytes": 1000}})");
  cap.line(Pipe::Stderr, "warning: something");
  cap.finish();
  EXPECT_EQ(store.latest("iperf.bytes"), "1000");
}

// ---- ndjson parser ----

TEST(RunnerCapture, NdjsonMatchThenPickSkippingNonJsonLines) {
  CaptureStore store;
  StreamCapturer cap("relay", Parser::Ndjson, {json_spec("addr", {{"kind", "ready"}}, ".addr")}, store);
  cap.line(Pipe::Stdout, "starting relay (not json)");
  cap.line(Pipe::Stdout, R"({"kind": "booting", "addr": "wrong"})");
  cap.line(Pipe::Stdout, R"({"kind": "ready", "addr": "10.0.0.1:3340"})");
  cap.line(Pipe::Stdout, "{broken json");
  EXPECT_EQ(store.history("relay.addr"), (std::vector<std::string>{"10.0.0.1:3340"}));
}

TEST(RunnerCapture, NdjsonMatchComparesStringFormOfScalars) {
  CaptureStore store;
  StreamCapturer cap(
      "s", Parser::Ndjson,
      {json_spec("num", {{"n", "5"}}, "tag"), json_spec("flag", {{"ok", "true"}}, "tag"),
       json_spec("nested", {{"a.b", "x"}}, "tag"), json_spec("dotted", {{"log.target", "t"}}, "tag")},
      store);
  cap.line(Pipe::Stdout, R"({"n": 5, "tag": "num5"})");
  cap.line(Pipe::Stdout, R"({"n": "5", "tag": "str5"})");
  cap.line(Pipe::Stdout, R"({"n": 6, "tag": "num6"})");
  cap.line(Pipe::Stdout, R"({"ok": true, "tag": "t1"})");
  cap.line(Pipe::Stdout, R"({"ok": "yes", "tag": "t2"})");
  cap.line(Pipe::Stdout, R"({"a": {"b": "x"}, "tag": "n1"})");
  cap.line(Pipe::Stdout, R"({"log.target": "t", "tag": "d1"})");
  EXPECT_EQ(store.history("s.num"), (std::vector<std::string>{"num5", "str5"}));
  EXPECT_EQ(store.history("s.flag"), (std::vector<std::string>{"t1"}));
  EXPECT_EQ(store.history("s.nested"), (std::vector<std::string>{"n1"}));
  EXPECT_EQ(store.history("s.dotted"), (std::vector<std::string>{"d1"}));
}

TEST(RunnerCapture, NdjsonPickFormsAndArrayIndexes) {
  CaptureStore store;
  StreamCapturer cap("s", Parser::Ndjson,
                     {json_spec("str", {}, "a.s"), json_spec("num", {}, ".a.n"), json_spec("obj", {}, "a.o"),
                      json_spec("idx", {}, "list.1.name"), json_spec("missing", {}, "a.nope"),
                      json_spec("oob", {}, "list.7")},
                     store);
  cap.line(
      Pipe::Stdout,
      R"({"a": {"s": "text", "n": 1.5, "o": {"x": [1, 2]}}, "list": [{"name": "zero"}, {"name": "one"}]})");
  EXPECT_EQ(store.latest("s.str"), "text");
  EXPECT_EQ(store.latest("s.num"), "1.5");
  EXPECT_EQ(store.latest("s.obj"), R"({"x":[1,2]})");
  EXPECT_EQ(store.latest("s.idx"), "one");
  EXPECT_EQ(store.latest("s.missing"), "");  // match ok + missing path records ""
  EXPECT_EQ(store.latest("s.oob"), "");
}

TEST(RunnerCapture, NdjsonMatchWithoutPickRecordsWholeValueCompact) {
  CaptureStore store;
  StreamCapturer cap("s", Parser::Ndjson, {json_spec("ev", {{"kind", "conn"}}, std::nullopt)}, store);
  cap.line(Pipe::Stdout, R"({ "kind" : "conn",  "peer": 7 })");
  cap.line(Pipe::Stdout, R"({"kind": "other"})");
  EXPECT_EQ(store.history("s.ev"), (std::vector<std::string>{R"({"kind":"conn","peer":7})"}));
}

TEST(RunnerCapture, NdjsonRegexCapturesStillApplyPerLine) {
  CaptureStore store;
  StreamCapturer cap("s", Parser::Ndjson, {regex_spec("r", "id=(\\d+)"), json_spec("j", {}, "id")}, store);
  cap.line(Pipe::Stdout, "plain id=42");
  cap.line(Pipe::Stdout, R"({"id": 43})");
  EXPECT_EQ(store.history("s.r"), (std::vector<std::string>{"42"}));
  EXPECT_EQ(store.history("s.j"), (std::vector<std::string>{"43"}));
}

// ---- json parser ----

TEST(RunnerCapture, JsonAppliesPicksToWholeDocumentAtFinish) {
  CaptureStore store;
  StreamCapturer cap(
      "iperf", Parser::Json,
      {json_spec("bytes", {}, "end.sum_received.bytes"), json_spec("secs", {}, "end.sum_received.seconds"),
       json_spec("gated", {{"title", "nope"}}, "end"), regex_spec("streaming", "\"title\": \"(\\w+)\"")},
      store);
  cap.line(Pipe::Stdout, "{");
  cap.line(Pipe::Stdout, R"(  "title": "iperf3",)");
  EXPECT_EQ(store.latest("iperf.streaming"), "iperf3");  // regex captures do not wait for exit
  cap.line(Pipe::Stdout, R"(  "end": {"sum_received": {"bytes": 1000000, "seconds": 2.5}})");
  EXPECT_FALSE(store.contains("iperf.bytes"));
  cap.line(Pipe::Stdout, "}");
  cap.line(Pipe::Stderr, "warning: not part of the document");
  cap.finish();
  cap.finish();  // idempotent
  EXPECT_EQ(store.history("iperf.bytes"), (std::vector<std::string>{"1000000"}));
  EXPECT_EQ(store.latest("iperf.secs"), "2.5");
  EXPECT_FALSE(store.contains("iperf.gated"));
}

TEST(RunnerCapture, JsonInvalidDocumentRecordsNothing) {
  CaptureStore store;
  StreamCapturer cap("s", Parser::Json, {json_spec("v", {}, "a")}, store);
  cap.line(Pipe::Stdout, R"({"a": 1})");
  cap.line(Pipe::Stdout, R"({"a": 2})");  // two documents: not one JSON document
  cap.finish();
  EXPECT_FALSE(store.contains("s.v"));
}

TEST(RunnerCapture, ConcurrentReadersRecordEveryLine) {
  CaptureStore store;
  StreamCapturer cap("s", Parser::Text,
                     {regex_spec("o", "o(\\d+)", Pipe::Stdout), regex_spec("e", "e(\\d+)", Pipe::Stderr)},
                     store);
  auto feed = [&](Pipe p, char c) {
    for (int i = 0; i < 500; ++i) cap.line(p, std::string(1, c) + std::to_string(i));
  };
  std::thread t1(feed, Pipe::Stdout, 'o'), t2(feed, Pipe::Stderr, 'e');
  t1.join();
  t2.join();
  EXPECT_EQ(store.history("s.o").size(), 500u);
  EXPECT_EQ(store.history("s.e").size(), 500u);
  EXPECT_EQ(store.latest("s.e"), "499");
}

// ---- CaptureStore ----

TEST(RunnerCapture, WaitForTimesOutWithoutValue) {
  CaptureStore store;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(store.wait_for("a.b", t0 + 100ms), std::nullopt);
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, 90ms);
  EXPECT_LT(waited, 2s);
  store.record("a.b", "v");
  EXPECT_EQ(store.wait_for("a.b", t0), "v");  // present: returns even with a past deadline
}

TEST(RunnerCapture, WaitForWakesOnRecordFromAnotherThread) {
  CaptureStore store;
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    store.record("srv.id", "abc");
  });
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(store.wait_for("srv.id", t0 + 10s), "abc");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  writer.join();
}

TEST(RunnerCapture, CancelWakesWaiterAndLaterWaits) {
  CaptureStore store;
  std::optional<std::string> got = "unset";
  const auto t0 = std::chrono::steady_clock::now();
  std::thread waiter([&] { got = store.wait_for("never.set", t0 + 30s); });
  std::this_thread::sleep_for(50ms);
  store.cancel();
  waiter.join();
  EXPECT_EQ(got, std::nullopt);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(store.wait_for("never.set", std::chrono::steady_clock::now() + 30s), std::nullopt);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  store.record("x.y", "1");  // values still recorded and readable after cancel
  EXPECT_EQ(store.wait_for("x.y", std::chrono::steady_clock::now() + 30s), "1");
}

TEST(RunnerCapture, SnapshotHoldsAllHistories) {
  CaptureStore store;
  store.record("a.x", "1");
  store.record("a.x", "2");
  store.record("b.y", "3");
  auto snap = store.snapshot();
  EXPECT_EQ(snap.size(), 2u);
  EXPECT_EQ(snap["a.x"], (std::vector<std::string>{"1", "2"}));
  EXPECT_FALSE(store.contains("c.z"));
  EXPECT_EQ(store.latest("c.z"), std::nullopt);
}

// ---- interpolation ----

struct InterpFixture {
  std::map<std::string, std::string> bins{{"transfer", "./bin/transfer"}};
  std::map<std::string, std::string> vars{
      {"NETSIM_IP_NODE", "10.0.0.2"}, {"NETSIM_IP_PROVIDER", "10.0.0.9"}, {"NETSIM_IP_relay", "10.0.0.3"}};
  CaptureStore store;
  InterpContext ctx(std::chrono::milliseconds wait = 100ms) {
    return InterpContext{&bins, &vars, &store, std::chrono::steady_clock::now() + wait};
  }
};

TEST(RunnerInterp, SpecExample) {
  InterpFixture f;
  f.store.record("srv.endpoint_id", "abc123");
  EXPECT_EQ(interpolate("${binary.transfer} fetch ${srv.endpoint_id} $NETSIM_IP_NODE", f.ctx()),
            "./bin/transfer fetch abc123 10.0.0.2");
  EXPECT_EQ(interpolate("$UNSET_VAR and $HOME/x $1 $ ${NETSIM_IP_NODE}:80", f.ctx()),
            "$UNSET_VAR and $HOME/x $1 $ 10.0.0.2:80");
}

TEST(RunnerInterp, LabVariableFallsBackToUpperCase) {
  InterpFixture f;
  EXPECT_EQ(interpolate("$NETSIM_IP_provider", f.ctx()), "10.0.0.9");
  EXPECT_EQ(interpolate("${NETSIM_IP_provider}", f.ctx()), "10.0.0.9");
  EXPECT_EQ(interpolate("$NETSIM_IP_relay/x", f.ctx()), "10.0.0.3/x");  // exact name first
}

// As in the original runner: $NETSIM_IP_<unknown device> stays in the command as written, and the
// runner is told; with braces it is an error naming the variable and the known ones.
TEST(RunnerInterp, UnknownBareLabVariableStaysLiteralWithAWarning) {
  InterpFixture f;
  std::vector<std::string> warnings;
  auto ctx = f.ctx();
  ctx.warn = [&](const std::string& w) { warnings.push_back(w); };
  EXPECT_EQ(interpolate("ping -c1 $NETSIM_IP_nobody:80", ctx), "ping -c1 $NETSIM_IP_nobody:80");
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("unknown lab variable 'NETSIM_IP_nobody'"), std::string::npos) << warnings[0];
  EXPECT_NE(warnings[0].find("NETSIM_IP_NODE"), std::string::npos) << warnings[0];  // lists known names
  EXPECT_EQ(interpolate_args({"ping", "$NETSIM_IP_nobody"}, f.ctx()),
            (std::vector<std::string>{"ping", "$NETSIM_IP_nobody"}));  // no warn callback: still literal
  const auto msg = error_of([&] { interpolate("${NETSIM_IP_nobody}", ctx); });
  EXPECT_NE(msg.find("unknown lab variable 'NETSIM_IP_nobody'"), std::string::npos) << msg;
  EXPECT_EQ(warnings.size(), 1u);
}

TEST(RunnerInterp, UnknownNamesAreConfigErrors) {
  InterpFixture f;
  EXPECT_THROW(interpolate("${binary.missing}", f.ctx()), ConfigError);
  auto msg = error_of([&] { interpolate("${binary.missing}", f.ctx()); });
  EXPECT_NE(msg.find("unknown binary 'missing'"), std::string::npos) << msg;
  msg = error_of([&] { interpolate("x ${HOME} y", f.ctx()); });
  EXPECT_NE(msg.find("unknown variable '${HOME}'"), std::string::npos) << msg;
  EXPECT_THROW(interpolate("${srv.id", f.ctx()), ConfigError);
}

TEST(RunnerInterp, CaptureWaitTimesOut) {
  InterpFixture f;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_THROW(interpolate("${srv.never}", f.ctx(100ms)), TimeoutError);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 90ms);
  const auto msg = error_of([&] { interpolate("${srv.never}", f.ctx(10ms)); });
  EXPECT_NE(msg.find("timed out waiting for capture 'srv.never'"), std::string::npos) << msg;
}

TEST(RunnerInterp, CaptureWaitSatisfiedByAnotherThread) {
  InterpFixture f;
  std::thread writer([&] {
    std::this_thread::sleep_for(50ms);
    f.store.record("srv.endpoint_id", "late");
  });
  EXPECT_EQ(interpolate("id=${srv.endpoint_id}", f.ctx(10s)), "id=late");
  writer.join();
}

TEST(RunnerInterp, CaptureUsesLatestAndIsNotRescanned) {
  InterpFixture f;
  f.store.record("a.b", "old");
  f.store.record("a.b", "${binary.missing}");
  EXPECT_EQ(interpolate("${a.b}", f.ctx()), "${binary.missing}");
}

TEST(RunnerInterp, ArgsDropFlagsWithEmptyValues) {
  InterpFixture f;
  f.store.record("relay.url", "");
  f.store.record("srv.id", "abc");
  const std::vector<std::string> args = {
      "${binary.transfer}", "--relay", "${relay.url}", "--id", "${srv.id}", "--x=1", "", "--", ""};
  EXPECT_EQ(interpolate_args(args, f.ctx()),
            (std::vector<std::string>{"./bin/transfer", "--id", "abc", "--x=1", "", "--", ""}));
}

// ---- asserts ----

TEST(RunnerAssert, ParsesOperatorsInSpecOrder) {
  auto c = parse_check("fetch.size >= 1000");
  EXPECT_EQ(c.lhs, "fetch.size");
  EXPECT_EQ(c.op, ">=");
  EXPECT_EQ(c.rhs, "1000");
  c = parse_check("x.msg == a < b");
  EXPECT_EQ(c.op, "==");
  EXPECT_EQ(c.rhs, "a < b");
  c = parse_check("x.msg contains hello world");
  EXPECT_EQ(c.op, "contains");
  EXPECT_EQ(c.rhs, "hello world");
}

TEST(RunnerAssert, CheckWithoutOperatorIsConfigError) {
  EXPECT_THROW(parse_check("x.y=3"), ConfigError);
  const auto msg = error_of([] { parse_check("x.y=3"); });
  EXPECT_NE(msg.find("x.y=3"), std::string::npos) << msg;
  EXPECT_THROW(parse_check(" == 3"), ConfigError);
  EXPECT_THROW(parse_check("x.y matches (bad"), ConfigError);
}

TEST(RunnerAssert, AllOperatorsPassAndFail) {
  CaptureStore store;
  store.record("s.v", "hello-42");
  store.record("s.n", "10.5");
  struct Case {
    const char* check;
    bool pass;
  };
  const Case cases[] = {
      {"s.v == hello-42", true},
      {"s.v == hello", false},
      {"s.v != hello", true},
      {"s.v != hello-42", false},
      {"s.v contains lo-4", true},
      {"s.v contains xyz", false},
      {"s.v matches [0-9]+$", true},
      {"s.v matches ^[0-9]+$", false},
      {"s.n >= 10.5", true},
      {"s.n >= 11", false},
      {"s.n <= 10.5", true},
      {"s.n <= 10", false},
      {"s.n > 10", true},
      {"s.n > 10.5", false},
      {"s.n < 11", true},
      {"s.n < 10.5", false},
  };
  for (const auto& tc : cases) {
    const auto r = evaluate(parse_check(tc.check), store);
    EXPECT_EQ(r.pass, tc.pass) << tc.check << ": " << r.message;
  }
}

TEST(RunnerAssert, ExactMessages) {
  CaptureStore store;
  store.record("fetch.size", "12");
  auto r = evaluate(parse_check("fetch.size >= 1000"), store);
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.message, "assert FAILED: 'fetch.size' (got '12') >= '1000'");
  r = evaluate(parse_check("fetch.size == 12"), store);
  EXPECT_TRUE(r.pass);
  EXPECT_EQ(r.message, "assert: PASS 'fetch.size' (got '12') == '12'");
  r = evaluate(parse_check("nope.x == 1"), store);
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.message, "assert FAILED: cannot resolve 'nope.x'");
}

TEST(RunnerAssert, UsesLatestValueAndReportsNonNumbers) {
  CaptureStore store;
  store.record("s.v", "1");
  store.record("s.v", "abc");
  auto r = evaluate(parse_check("s.v > 0"), store);
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.message.find("left side is not a number"), std::string::npos) << r.message;
  store.record("s.v", "5");
  r = evaluate(parse_check("s.v > zero"), store);
  EXPECT_FALSE(r.pass);
  EXPECT_NE(r.message.find("right side is not a number"), std::string::npos) << r.message;
  EXPECT_TRUE(evaluate(parse_check("s.v > 0"), store).pass);
}

// ---- results ----

using runner_test::TempDir;

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

StepResultRecord xfer(std::string id, std::string duration, std::string down) {
  StepResultRecord r;
  r.id = std::move(id);
  r.duration = std::move(duration);
  r.down_bytes = std::move(down);
  return r;
}

TEST(RunnerResults, MathFromMicrosecondsAndFloatSeconds) {
  auto r = xfer("x", "2000000", "1000000");
  EXPECT_DOUBLE_EQ(elapsed_s(r).value(), 2.0);
  EXPECT_DOUBLE_EQ(mb_s(r).value(), 0.5);
  EXPECT_EQ(up_mb_s(r), std::nullopt);
  r.duration = "1.5";
  EXPECT_DOUBLE_EQ(elapsed_s(r).value(), 1.5);
  r.up_bytes = "3000000";
  EXPECT_DOUBLE_EQ(up_mb_s(r).value(), 2.0);
  r.duration = "0";
  EXPECT_EQ(mb_s(r), std::nullopt);
  r.duration = "soon";
  EXPECT_EQ(elapsed_s(r), std::nullopt);
  r.latency_ms = "12.25";
  EXPECT_DOUBLE_EQ(latency(r).value(), 12.25);
}

TEST(RunnerResults, CollectTakesLatestValuesAndRejectsUnknownFields) {
  CaptureStore store;
  EXPECT_EQ(collect_results("xfer", {{"duration", "xfer.d"}}, store), std::nullopt);
  store.record("xfer.d", "1");
  store.record("xfer.d", "2000000");
  auto rec = collect_results("xfer", {{"duration", "xfer.d"}, {"down_bytes", "xfer.b"}}, store);
  ASSERT_TRUE(rec);
  EXPECT_EQ(rec->id, "xfer");
  EXPECT_EQ(rec->duration, "2000000");
  EXPECT_EQ(rec->down_bytes, std::nullopt);
  EXPECT_THROW(collect_results("xfer", {{"speed", "xfer.d"}}, store), ConfigError);
}

TEST(RunnerResults, SimResultsFilesHoldSimAndIdAndPruneColumns) {
  TempDir dir;
  write_sim_results(dir.path, "sim-a", {});
  EXPECT_FALSE(std::filesystem::exists(dir.path / "results.json"));
  EXPECT_FALSE(std::filesystem::exists(dir.path / "results.md"));

  write_sim_results(dir.path, "sim-a", {xfer("xfer", "2000000", "1000000")});
  const auto j = json::parse(read_file(dir.path / "results.json"));
  EXPECT_EQ(j["sim"], "sim-a");
  ASSERT_EQ(j["steps"].size(), 1u);
  EXPECT_EQ(j["steps"][0]["id"], "xfer");
  EXPECT_EQ(j["steps"][0]["duration"], "2000000");
  EXPECT_EQ(j["steps"][0]["down_bytes"], "1000000");
  EXPECT_TRUE(j["steps"][0]["up_bytes"].is_null());
  EXPECT_TRUE(j["steps"][0]["latency_ms"].is_null());
  EXPECT_EQ(read_file(dir.path / "results.md"),
            "| sim | id | down_bytes | elapsed_s | mb_s |\n"
            "| --- | -- | ---------- | --------- | ---- |\n"
            "| sim-a | xfer | 1000000 | 2.000 | 0.50 |\n");
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }
}

TEST(RunnerResults, LatencyOnlyRecordKeepsLatencyColumn) {
  TempDir dir;
  StepResultRecord r;
  r.id = "ping";
  r.latency_ms = "100.04";
  write_sim_results(dir.path, "ping-e2e", {r});
  EXPECT_EQ(read_file(dir.path / "results.md"),
            "| sim | id | latency_ms |\n| --- | -- | ---------- |\n| ping-e2e | ping | 100.0 |\n");
}

TEST(RunnerResults, CombinedIsSortedAndHoldsOnlyGivenSims) {
  TempDir dir;
  std::vector<SimResults> sims = {
      {"sim-250102-000000", "b", "sim-b", {xfer("xb", "2000000", "4000000")}},
      {"sim-250101-000000", "a-1", "sim-a", {xfer("xa2", "1000000", "3000000")}},
      {"sim-250101-000000", "a", "sim-a", {xfer("xa1", "1000000", "1000000")}},
  };
  write_combined(dir.path, sims);
  const auto j = json::parse(read_file(dir.path / "combined-results.json"));
  ASSERT_EQ(j["runs"].size(), 3u);
  EXPECT_EQ(j["runs"][0]["sim_dir"], "a");
  EXPECT_EQ(j["runs"][1]["sim_dir"], "a-1");
  EXPECT_EQ(j["runs"][2]["sim_dir"], "b");
  EXPECT_EQ(j["runs"][2]["run"], "sim-250102-000000");
  EXPECT_EQ(j["runs"][0]["sim"], "sim-a");
  EXPECT_EQ(j["runs"][0]["steps"][0]["id"], "xa1");

  EXPECT_EQ(read_file(dir.path / "combined-results.md"),
            "| Sim | N | Max Down (MB/s) | Max Up (MB/s) |\n"
            "| --- | - | --------------- | ------------- |\n"
            "| sim-a | 2 | 3.00 | - |\n"
            "| sim-b | 1 | 2.00 | - |\n"
            "\n"
            "| run | sim | id | down_bytes | elapsed_s | mb_s |\n"
            "| --- | --- | -- | ---------- | --------- | ---- |\n"
            "| sim-250101-000000 | sim-a | xa1 | 1000000 | 1.000 | 1.00 |\n"
            "| sim-250101-000000 | sim-a | xa2 | 3000000 | 1.000 | 3.00 |\n"
            "| sim-250102-000000 | sim-b | xb | 4000000 | 2.000 | 2.00 |\n");

  write_combined(dir.path, {sims[0]});  // rewritten: only the given sim remains
  const auto j2 = json::parse(read_file(dir.path / "combined-results.json"));
  ASSERT_EQ(j2["runs"].size(), 1u);
  EXPECT_EQ(j2["runs"][0]["sim"], "sim-b");
  EXPECT_EQ(read_file(dir.path / "combined-results.md").find("sim-a"), std::string::npos);
}

TEST(RunnerResults, SummaryTableIsAligned) {
  StepResultRecord up;
  up.id = "u";
  up.duration = "1.0";  // float seconds; a bare "1" would be one microsecond
  up.up_bytes = "2500000";
  const std::vector<SimResults> sims = {
      {"r", "iperf", "iperf", {xfer("x", "2000000", "1000000"), up}},
      {"r", "ping", "ping-long-name", {}},
  };
  EXPECT_EQ(summary_table(sims),
            "Run Summary:\n"
            "Sim             N  Max Down (MB/s)  Max Up (MB/s)\n"
            "--------------  -  ---------------  -------------\n"
            "iperf           2  0.50             2.50\n"
            "ping-long-name  0  -                -\n");
}

}  // namespace
}  // namespace patchbay::runner
