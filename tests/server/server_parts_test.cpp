// The devtools server's pure parts (SPEC 14.1): bind addresses, byte ranges, request path
// checks, the events.jsonl tail, run discovery and the shared log listing.
#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "events/run_files.hpp"
#include "server/event_stream.hpp"
#include "server/http.hpp"
#include "server/line_tail.hpp"
#include "server/paths.hpp"
#include "server/run_index.hpp"
#include "server_test_util.hpp"

namespace ps = patchbay::server;
using pbtest::TempDir;
namespace fs = std::filesystem;

TEST(ServerBind, ParsesHostPortAndBracketedIpv6) {
  auto a = ps::parse_bind("127.0.0.1:7421");
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, 7421);
  EXPECT_EQ(a.to_string(), "127.0.0.1:7421");
  auto b = ps::parse_bind("[::1]:0");
  EXPECT_EQ(b.host, "::1");
  EXPECT_EQ(b.port, 0);
  EXPECT_EQ(b.to_string(), "[::1]:0");
  EXPECT_EQ(ps::parse_bind("localhost:80").host, "localhost");
}

TEST(ServerBind, RejectsMissingPortOrHostAndBadPorts) {
  for (const char* bad : {"127.0.0.1", ":7421", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "::1:80",
                          "[::1]7421", "127.0.0.1:http"})
    EXPECT_THROW(ps::parse_bind(bad), patchbay::InvalidArgument) << bad;
}

TEST(ServerContentType, FollowsTheExtension) {
  EXPECT_EQ(ps::content_type_for("state.json"), "application/json");
  EXPECT_EQ(ps::content_type_for("events.jsonl"), "application/x-ndjson");
  EXPECT_EQ(ps::content_type_for("device.a.tracing.log"), "text/plain; charset=utf-8");
  EXPECT_EQ(ps::content_type_for("content"), "text/plain; charset=utf-8");
}

TEST(ServerRange, SuffixFromToAndOpenEnded) {
  auto a = ps::answer_range({{-1, 100}}, 1000);
  EXPECT_EQ(a.status, 206);
  EXPECT_EQ(a.offset, 900u);
  EXPECT_EQ(a.length, 100u);
  EXPECT_EQ(a.content_range, "bytes 900-999/1000");
  a = ps::answer_range({{10, 19}}, 1000);
  EXPECT_EQ(a.status, 206);
  EXPECT_EQ(a.offset, 10u);
  EXPECT_EQ(a.length, 10u);
  EXPECT_EQ(a.content_range, "bytes 10-19/1000");
  a = ps::answer_range({{990, -1}}, 1000);
  EXPECT_EQ(a.content_range, "bytes 990-999/1000");
  EXPECT_EQ(a.length, 10u);
}

TEST(ServerRange, ClampsTheEndAndTheSuffixToTheFile) {
  auto a = ps::answer_range({{500, 5000}}, 1000);
  EXPECT_EQ(a.status, 206);
  EXPECT_EQ(a.content_range, "bytes 500-999/1000");
  a = ps::answer_range({{-1, 5000}}, 1000);
  EXPECT_EQ(a.status, 206);
  EXPECT_EQ(a.offset, 0u);
  EXPECT_EQ(a.length, 1000u);
}

TEST(ServerRange, UnsatisfiableIs416AndNoRangeIsTheWholeFile) {
  EXPECT_EQ(ps::answer_range({{1000, -1}}, 1000).status, 416);
  EXPECT_EQ(ps::answer_range({{1000, -1}}, 1000).content_range, "bytes */1000");
  EXPECT_EQ(ps::answer_range({{-1, 0}}, 1000).status, 416);
  EXPECT_EQ(ps::answer_range({{-1, 10}}, 0).status, 416);
  auto whole = ps::answer_range({}, 1000);
  EXPECT_EQ(whole.status, 200);
  EXPECT_EQ(whole.length, 1000u);
  EXPECT_EQ(ps::answer_range({{0, 1}, {5, 6}}, 1000).status, 200);  // several ranges: ignored
}

TEST(ServerPaths, RefusesParentAbsoluteAndEmptyInnerComponents) {
  EXPECT_FALSE(ps::split_request_path("../x"));
  EXPECT_FALSE(ps::split_request_path("a/../b"));
  EXPECT_FALSE(ps::split_request_path("/etc/passwd"));
  EXPECT_FALSE(ps::split_request_path("files//etc/passwd"));
  auto ok = ps::split_request_path("a/./b/");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*ps::split_request_path("a..b/..c"), (std::vector<std::string>{"a..b", "..c"}));
}

TEST(ServerPaths, ResolveUnderCatchesSymlinkEscapes) {
  TempDir t;
  t.write("root/f.txt", "x");
  t.write("outside/secret", "s");
  fs::create_directory_symlink(t.dir / "outside", t.dir / "root/out");
  fs::create_symlink(t.dir / "outside/secret", t.dir / "root/link");
  fs::create_symlink("/nonexistent-target", t.dir / "root/dangling");
  fs::create_symlink("f.txt", t.dir / "root/inside");
  auto root = fs::canonical(t.dir / "root");
  EXPECT_EQ(ps::resolve_under(root, "f.txt").status, ps::PathStatus::Ok);
  EXPECT_EQ(ps::resolve_under(root, "inside").status, ps::PathStatus::Ok);
  EXPECT_EQ(ps::resolve_under(root, "out/secret").status, ps::PathStatus::Forbidden);
  EXPECT_EQ(ps::resolve_under(root, "link").status, ps::PathStatus::Forbidden);
  EXPECT_EQ(ps::resolve_under(root, "dangling").status, ps::PathStatus::Forbidden);
  EXPECT_EQ(ps::resolve_under(root, "../outside/secret").status, ps::PathStatus::Forbidden);
  EXPECT_EQ(ps::resolve_under(root, "missing").status, ps::PathStatus::NotFound);
  EXPECT_FALSE(ps::is_within(root, t.dir / "rootx"));
}

TEST(ServerLineTail, DeliversOnlyCompleteLinesOnceAcrossPolls) {
  TempDir t;
  auto file = t.write("events.jsonl", "");
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  ps::LineTail tail(file);
  std::vector<std::string> got;
  auto collect = [&](std::string_view l) { got.emplace_back(l); };
  auto append = [&](std::string_view s) { ASSERT_EQ(::write(fd, s.data(), s.size()), (ssize_t)s.size()); };
  append("one\ntw");
  EXPECT_EQ(tail.poll(collect), 1u);
  EXPECT_EQ(tail.offset(), 4u);  // after "one\n": the half line is not consumed
  append("o\nthr");
  tail.poll(collect);
  append("ee\n");
  tail.poll(collect);
  EXPECT_EQ(tail.poll(collect), 0u);
  EXPECT_EQ(got, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(tail.offset(), 14u);
  ::close(fd);
}

TEST(ServerLineTail, HandsOutAHugeHistoryInSlices) {
  TempDir t;
  std::string text;
  for (int i = 0; i < 1000; ++i) text += std::string(99, 'a' + i % 26) + "\n";
  auto file = t.write("big.jsonl", text);
  ps::LineTail tail(file, 10000);
  std::size_t total = 0, polls = 0;
  while (std::size_t n = tail.poll([](std::string_view l) { EXPECT_EQ(l.size(), 99u); })) {
    total += n;
    ++polls;
  }
  EXPECT_EQ(total, 1000u);
  EXPECT_GE(polls, 10u);
}

TEST(ServerEventStream, FiltersByAfterAndSkipsNonEvents) {
  TempDir t;
  auto file = t.write(
      "events.jsonl",
      "{\"opid\":0,\"kind\":\"a\"}\nnot json\n{\"kind\":\"no opid\"}\n{ \"opid\": 1, \"kind\": \"b\" }\n"
      "{\"opid\":2,\"kind\":\"c\"}\n");
  EXPECT_EQ(ps::event_opid(R"({"opid":17,"x":1})"), 17u);
  EXPECT_EQ(ps::event_opid(R"({"opid":-1})"), std::nullopt);
  std::string all, after;
  ps::EventStream(file, std::nullopt).read(all);
  EXPECT_EQ(all,
            "id: 0\ndata: {\"opid\":0,\"kind\":\"a\"}\n\nid: 1\ndata: { \"opid\": 1, \"kind\": \"b\" }\n\n"
            "id: 2\ndata: {\"opid\":2,\"kind\":\"c\"}\n\n");
  ps::EventStream(file, 1).read(after);
  EXPECT_EQ(after, "id: 2\ndata: {\"opid\":2,\"kind\":\"c\"}\n\n");
}

TEST(ServerDiscovery, FindsRunsToDepthThreeSkipsSymlinksSortsDescending) {
  TempDir t;
  t.run("inv-1/sim-a", 3, "e2e-test", "stopped");
  t.run("inv-1/sim-b");
  t.run("solo");
  t.run("a/b/c");
  t.run("a/b/c/d");  // depth 4
  fs::create_directory_symlink("inv-1", t.dir / "latest");
  auto runs = ps::discover_runs(t.dir);
  std::vector<std::string> names;
  for (auto& r : runs) names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{"solo", "inv-1/sim-b", "inv-1/sim-a", "a/b/c"}));
  EXPECT_EQ(runs[0].invocation, std::nullopt);
  EXPECT_EQ(runs[2].invocation, "inv-1");
  EXPECT_EQ(runs[2].label, "e2e-test");
  EXPECT_EQ(runs[2].status, "stopped");
  EXPECT_EQ(runs[1].label, std::nullopt);
}

TEST(ServerDiscovery, CacheFollowsStateChanges) {
  TempDir t;
  t.run("r", 1, "first", "running");
  ps::StateCache cache;
  EXPECT_EQ(ps::discover_runs(t.dir, &cache).at(0).label, "first");
  EXPECT_EQ(cache.size(), 1u);
  t.write("r/state.json.tmp", R"({"label": "second", "status": "stopped", "padding": "changes the size"})");
  fs::rename(t.dir / "r/state.json.tmp", t.dir / "r/state.json");
  auto runs = ps::discover_runs(t.dir, &cache);
  EXPECT_EQ(runs.at(0).label, "second");
  EXPECT_EQ(runs.at(0).status, "stopped");
  fs::remove_all(t.dir / "r");
  EXPECT_TRUE(ps::discover_runs(t.dir, &cache).empty());
  EXPECT_TRUE(cache.empty());
}

TEST(ServerDiscovery, BaseWithEventsIsTheOnlyRun) {
  TempDir t;
  auto dir = t.run("one-run", 1, "lbl");
  t.run("one-run/nested");
  auto runs = ps::discover_runs(dir);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].name, "one-run");
  EXPECT_EQ(runs[0].invocation, std::nullopt);
  EXPECT_EQ(runs[0].label, "lbl");
}

TEST(RunFiles, ListsNonEmptyTopLevelFilesWithNodeAndKind) {
  TempDir t;
  t.write("r/events.jsonl", "{\"opid\":0}\n");
  t.write("r/state.json", "{\"opid\": 0}\n");
  t.write("r/device.client.tracing.jsonl", R"({"timestamp":"t","level":"INFO","target":"x","fields":{}})"
                                           "\n");
  t.write("r/device.client.tracing.log", "\x1b[2m2026\x1b[0m  INFO x: hello\n");
  t.write("r/device.client.events.jsonl", "{\"kind\":\"A\"}\n");
  t.write("r/device.client.ping.stdout.log", "PING 1.2.3.4\n");
  t.write("r/router.home.tracing.jsonl", R"({"timestamp":"t","level":"INFO","target":"x"})"
                                         "\n");
  t.write("r/quic.qlog", "{}");
  t.write("r/trace.sqlog", "\x1e{\"file_schema\":\"urn:ietf:params:qlog:file:sequential\"}\n");
  t.write("r/notes.txt", "a\nb\n");
  t.write("r/lines.txt", "{\"a\":1}\n{\"b\":2}\n");
  t.write("r/empty.log", "");
  t.write("r/files/1/content", "nested: not listed");
  fs::create_symlink(t.dir / "r/notes.txt", t.dir / "r/link.txt");
  auto logs = patchbay::events::list_logs(t.dir / "r");
  std::vector<std::string> rows;
  for (auto& l : logs)
    rows.push_back(l["node"].get<std::string>() + " " + l["kind"].get<std::string>() + " " +
                   l["path"].get<std::string>());
  EXPECT_EQ(rows, (std::vector<std::string>{
                      "_run json state.json",
                      "_run jsonl lines.txt",
                      "_run lab_events events.jsonl",
                      "_run qlog quic.qlog",
                      "_run qlog trace.sqlog",
                      "_run text notes.txt",
                      "client ansi_text device.client.tracing.log",
                      "client jsonl device.client.events.jsonl",
                      "client text device.client.ping.stdout.log",
                      "client tracing_jsonl device.client.tracing.jsonl",
                      "home tracing_jsonl router.home.tracing.jsonl",
                  }));
}
