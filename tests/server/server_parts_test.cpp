// The devtools server's pure parts (SPEC 14.1): bind addresses, byte ranges, request path
// checks, the events.jsonl tail, run discovery and the shared log listing.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "events/run_files.hpp"
#include "server/event_stream.hpp"
#include "server/http.hpp"
#include "server/paths.hpp"
#include "server/run_index.hpp"
#include "server_test_util.hpp"
#include "sys/line_tail.hpp"

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

TEST(ServerHost, AllowsOnlyLoopbackNamesAndTheBindHostWithTheBoundPort) {
  const ps::BindAddress v4{"127.0.0.1", 7421}, lan{"192.168.1.5", 8080}, v6{"::1", 9000};
  for (auto h : {"localhost:7421", "LocalHost:7421", "127.0.0.1:7421", "[::1]:7421"})
    EXPECT_TRUE(ps::host_allowed(h, v4)) << h;
  for (auto h :
       {"", "evil.example:7421", "evil.example", "localhost", "localhost:7422", "127.0.0.1:74210",
        "localhost.evil.example:7421", "127.0.0.1.nip.io:7421", ":7421", "[::2]:7421", "192.168.1.5:7421"})
    EXPECT_FALSE(ps::host_allowed(h, v4)) << h;
  EXPECT_TRUE(ps::host_allowed("192.168.1.5:8080", lan));
  EXPECT_TRUE(ps::host_allowed("localhost:8080", lan));
  EXPECT_FALSE(ps::host_allowed("192.168.1.6:8080", lan));
  EXPECT_TRUE(ps::host_allowed("[::1]:9000", v6));
  EXPECT_FALSE(ps::host_allowed("[::1]", v6));
  EXPECT_TRUE(ps::host_allowed("localhost", {"127.0.0.1", 80}));  // no port means 80
  // A wildcard bind is reached through the machine's addresses: literals pass, names do not.
  const ps::BindAddress any4{"0.0.0.0", 7421}, any6{"::", 7421};
  EXPECT_TRUE(ps::host_allowed("10.1.2.3:7421", any4));
  EXPECT_TRUE(ps::host_allowed("[fd00::5]:7421", any6));
  EXPECT_FALSE(ps::host_allowed("10.1.2.3:7422", any4));
  EXPECT_FALSE(ps::host_allowed("evil.example:7421", any4));
  EXPECT_FALSE(ps::host_allowed("10.1.2.3:7421", v4));
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

// Review item 13: the open itself stays beneath the root, whatever changed since the check.
TEST(ServerPaths, OpenBeneathRefusesEscapesThatAppearAfterTheCheck) {
  TempDir t, outside("-outside");
  outside.write("secret.txt", "secret");
  auto file = t.write("run/files/x.txt", "x");
  const auto root = fs::canonical(t.dir / "run");
  auto ok = ps::open_beneath(root, fs::canonical(file));
  ASSERT_EQ(ok.status, ps::PathStatus::Ok);
  char c = 0;
  EXPECT_EQ(::read(ok.fd.get(), &c, 1), 1);
  EXPECT_EQ(c, 'x');
  // What resolve_under() saw as a directory or a file is a symlink to elsewhere by now.
  fs::remove_all(root / "files");
  fs::create_directory_symlink(outside.dir, root / "files");
  EXPECT_EQ(ps::open_beneath(root, root / "files/secret.txt").status, ps::PathStatus::Forbidden);
  fs::create_symlink(outside.dir / "secret.txt", root / "swapped.txt");
  EXPECT_EQ(ps::open_beneath(root, root / "swapped.txt").status, ps::PathStatus::Forbidden);
  EXPECT_EQ(ps::open_beneath(root, outside.dir / "secret.txt").status, ps::PathStatus::Forbidden);
  EXPECT_EQ(ps::open_beneath(root, root / "missing.txt").status, ps::PathStatus::NotFound);
  fs::create_directory(root / "adir");
  EXPECT_EQ(ps::open_beneath(root, root / "adir").status, ps::PathStatus::NotFound);
}

TEST(ServerLineTail, DeliversOnlyCompleteLinesOnceAcrossPolls) {
  TempDir t;
  auto file = t.write("events.jsonl", "");
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  patchbay::sys::LineTail tail(file);
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
  patchbay::sys::LineTail tail(file, 10000);
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

// A second lab in a reused output directory appends opids from 0 again; a client that resumed
// with an opid of the first lab must get every line of the second, live or in the history.
TEST(ServerEventStream, ANewLabInTheSameFileClearsAfter) {
  TempDir t;
  auto file = t.write("events.jsonl", "{\"opid\":0}\n{\"opid\":1}\n{\"opid\":2}\n{\"opid\":3}\n");
  ps::EventStream s(file, 2);
  std::string out;
  EXPECT_EQ(s.read(out), 1u);
  EXPECT_EQ(out, "id: 3\ndata: {\"opid\":3}\n\n");
  {
    std::ofstream f(file, std::ios::app);
    f << "{\"opid\":0,\"kind\":\"lab_created\"}\n{\"opid\":1}\n{\"opid\":2}\n{\"opid\":3}\n";
  }
  out.clear();
  EXPECT_EQ(s.read(out), 4u);
  EXPECT_EQ(out.substr(0, out.find("\n")), "id: 0");
  // The same file read as history with the newest lab's opid 1: the old lab's opids above 1, then
  // all of the new lab (the client resets at its lab_created).
  out.clear();
  EXPECT_EQ(ps::EventStream(file, 1).read(out), 6u);
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

// Review item 12: label and status come from the top level only, read without building the
// document (nested "label"/"status" keys of nodes must not be taken for them).
TEST(ServerDiscovery, ReadsOnlyTopLevelLabelAndStatus) {
  TempDir t;
  t.run("a", 1);
  t.write("a/state.json",
          R"({"devices": {"d": {"label": "nested", "status": "nested", "x": [1, {"status": "n"}]}},)"
          R"( "label": "top", "opid": 3, "routers": [], "status": "running"})");
  t.run("b", 1);
  t.write("b/state.json", R"({"label": null, "status": 7, "devices": {"label": "nested"}})");
  t.run("c", 1);
  t.write("c/state.json", R"([{"label": "in an array", "status": "x"}])");
  t.run("d", 1);
  t.write("d/state.json", R"({"label": "cut", "status": )");
  auto runs = ps::discover_runs(t.dir, nullptr);
  ASSERT_EQ(runs.size(), 4u);  // sorted descending: d c b a
  EXPECT_EQ(runs[3].label, "top");
  EXPECT_EQ(runs[3].status, "running");
  EXPECT_EQ(runs[2].label, std::nullopt);
  EXPECT_EQ(runs[2].status, std::nullopt);
  EXPECT_EQ(runs[1].label, std::nullopt);
  EXPECT_EQ(runs[1].status, std::nullopt);
  EXPECT_EQ(runs[0].label, std::nullopt);  // not a whole document: nothing
  EXPECT_EQ(runs[0].status, std::nullopt);
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
  t.write("r/device.client.eth0.pcapng", std::string("\x0a\x0d\x0d\x0a{\"a\":1}\n", 12));
  t.write("r/old.pcap", "{\"a\":1}\n");  // by name: packet captures are never sniffed as text
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
                      "_run pcapng old.pcap",
                      "_run qlog quic.qlog",
                      "_run qlog trace.sqlog",
                      "_run text notes.txt",
                      "client ansi_text device.client.tracing.log",
                      "client jsonl device.client.events.jsonl",
                      "client pcapng device.client.eth0.pcapng",
                      "client text device.client.ping.stdout.log",
                      "client tracing_jsonl device.client.tracing.jsonl",
                      "home tracing_jsonl router.home.tracing.jsonl",
                  }));
}

// Review item 12: a file's sniffed kind is remembered while its inode, size and mtime stay the
// same (shown by changing the bytes but restoring the mtime), and found again once they change.
TEST(RunFiles, LogKindIsCachedByInodeSizeAndMtime) {
  TempDir t;
  auto file = t.write("r/notes.out", "hello there!\n");
  EXPECT_EQ(patchbay::events::log_kind(file), "text");
  struct stat before {};
  ASSERT_EQ(::stat(file.c_str(), &before), 0);
  {
    int fd = ::open(file.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const std::string json_line = "{\"a\":12345}\n";  // pwrite keeps the size: now valid JSON
    ASSERT_EQ(::pwrite(fd, json_line.data(), json_line.size(), 0), static_cast<ssize_t>(json_line.size()));
    const timespec times[2] = {before.st_atim, before.st_mtim};
    ASSERT_EQ(::futimens(fd, times), 0);
    ::close(fd);
  }
  EXPECT_EQ(patchbay::events::log_kind(file), "text");  // same identity: not read again
  t.write("r/notes.out", "{\"a\":1}\n{\"b\":2}\n");
  EXPECT_EQ(patchbay::events::log_kind(file), "jsonl");  // size changed: sniffed again
}
