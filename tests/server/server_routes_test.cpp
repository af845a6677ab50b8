// The devtools server's routes over real HTTP (SPEC 14.1, acceptance 156): a server on a free
// port over a scratch directory of hand-made runs, queried with httplib::Client.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server/ui_asset.hpp"
#include "server_test_util.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using pbtest::TempDir;

namespace {

// inv-1/{sim-a,sim-b}, solo, a/b/c (depth 3), a/b/c/d (depth 4), latest -> inv-1.
struct Runs : ::testing::Test {
  TempDir t;
  std::unique_ptr<patchbay::server::Server> srv;
  std::unique_ptr<httplib::Client> cli;
  std::string sim_a = "/api/runs/inv-1/sim-a";
  void SetUp() override {
    t.run("inv-1/sim-a", 3, "e2e-test", "stopped");
    t.run("inv-1/sim-b", 1, "other");
    t.run("solo");
    t.run("a/b/c");
    t.run("a/b/c/d");
    fs::create_directory_symlink("inv-1", t.dir / "latest");
    t.write("inv-1/combined-results.json", R"({"runs": [{"run": "inv-1", "sim": "sim-a", "steps": []}]})");
    t.write("inv-1/sim-a/device.client.ping.stdout.log", "0123456789abcdefghij\n");
    std::string big;
    for (int i = 0; i < 1000; ++i) big += static_cast<char>('a' + i % 26);
    t.write("inv-1/sim-a/files/blob/content", big);
    srv = pbtest::start_server(t.dir);
    cli = pbtest::client(*srv);
  }
  httplib::Result get(const std::string& path, const httplib::Headers& h = {}) { return cli->Get(path, h); }
};

std::vector<std::string> names(const json& runs) {
  std::vector<std::string> out;
  for (auto& r : runs) out.push_back(r["name"]);
  return out;
}

}  // namespace

TEST_F(Runs, ListsRunsToDepthThreeWithoutFollowingSymlinks) {
  auto r = get("/api/runs");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  auto runs = json::parse(r->body);
  EXPECT_EQ(names(runs), (std::vector<std::string>{"solo", "inv-1/sim-b", "inv-1/sim-a", "a/b/c"}));
  EXPECT_EQ(
      runs[2],
      json({{"name", "inv-1/sim-a"}, {"label", "e2e-test"}, {"status", "stopped"}, {"invocation", "inv-1"}}));
  EXPECT_EQ(runs[0],
            json({{"name", "solo"}, {"label", nullptr}, {"status", nullptr}, {"invocation", nullptr}}));
  EXPECT_EQ(runs[3]["invocation"], "a");
}

TEST_F(Runs, BaseWithEventsIsServedAsTheOnlyRun) {
  auto one = pbtest::start_server(t.dir / "inv-1/sim-a");
  auto c = pbtest::client(*one);
  auto r = c->Get("/api/runs");
  ASSERT_TRUE(r);
  EXPECT_EQ(json::parse(r->body),
            json::parse(R"([{"name":"sim-a","label":"e2e-test","status":"stopped","invocation":null}])"));
  auto st = c->Get("/api/runs/sim-a/state");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, 200);
  EXPECT_EQ(json::parse(st->body)["label"], "e2e-test");
}

TEST_F(Runs, StateIsServedVerbatim) {
  auto r = get(sim_a + "/state");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_EQ(r->body, pbtest::slurp(t.dir / "inv-1/sim-a/state.json"));
}

TEST_F(Runs, UnknownRunsAndMissingFilesAre404) {
  for (const char* path : {"/api/runs/nope/state", "/api/runs/inv-1/nope/events", "/api/runs/a/b/c/d/state",
                           "/api/runs/latest/sim-a/state", "/api/nothing", "/api/runs/solo/unknown-route"}) {
    auto r = get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
    EXPECT_TRUE(json::parse(r->body).contains("error")) << path << ": " << r->body;
  }
  auto st = get("/api/runs/solo/state");  // a run without state.json
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, 404);
  EXPECT_EQ(json::parse(st->body), json({{"error", "state.json not found"}}));
  auto f = get(sim_a + "/files/nothing/here");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->status, 404);
}

// Review item 1 (DNS rebinding): a foreign Host, or none, is refused before any route runs.
TEST_F(Runs, ForeignOrMissingHostHeaderIs403) {
  const std::string port = std::to_string(srv->port());
  for (const std::string& host :
       std::vector<std::string>{"evil.example:" + port, "evil.example", "localhost:1"}) {
    for (const std::string& path : std::vector<std::string>{sim_a + "/state", "/api/runs", "/"}) {
      auto r = get(path, {{"Host", host}});
      ASSERT_TRUE(r) << host << " " << path;
      EXPECT_EQ(r->status, 403) << host << " " << path;
      EXPECT_EQ(json::parse(r->body), json({{"error", "forbidden host"}})) << r->body;
    }
  }
  for (const std::string& host :
       std::vector<std::string>{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port}) {
    auto r = get(sim_a + "/state", {{"Host", host}});
    ASSERT_TRUE(r) << host;
    EXPECT_EQ(r->status, 200) << host;
  }
  // No Host at all (HTTP/1.0 style): httplib's client always adds one, so speak raw HTTP.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(srv->port()));
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  const std::string req = "GET " + sim_a + "/state HTTP/1.0\r\n\r\n";
  ASSERT_EQ(::write(fd, req.data(), req.size()), static_cast<ssize_t>(req.size()));
  std::string resp;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) resp.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 403")) << resp;
  EXPECT_NE(resp.find("forbidden host"), std::string::npos) << resp;
}

TEST_F(Runs, TraversalAbsoluteAndSymlinkEscapesAre403) {
  TempDir outside("-outside");
  outside.write("secret.txt", "secret");
  outside.run("run");
  fs::create_symlink(outside.dir / "secret.txt", t.dir / "inv-1/sim-a/escape.log");
  fs::create_directory_symlink(outside.dir, t.dir / "inv-1/sim-a/outdir");
  fs::create_directory_symlink(outside.dir / "run", t.dir / "inv-1/escaped-run");

  for (const std::string& path : std::vector<std::string>{
           sim_a + "/files/../../../etc/passwd",
           sim_a + "/logs/..%2F..%2Fsolo%2Fevents.jsonl",
           sim_a + "/files/files/../state.json",
           std::string("/api/runs/../inv-1/sim-a/state"),
           std::string("/api/runs/%2Fetc/state"),
           std::string("/api/runs//etc/state"),
           sim_a + "/files//etc/passwd",
           sim_a + "/files/%2Fetc%2Fpasswd",
           sim_a + "/logs/escape.log",
           sim_a + "/files/escape.log",
           sim_a + "/files/outdir/secret.txt",
           std::string("/api/runs/inv-1/escaped-run/state"),
           std::string("/api/runs/inv-1/escaped-run/events"),
           std::string("/api/invocations/..%2F..%2Fetc/combined-results"),
           std::string("/api/invocations/%2Fetc/combined-results"),
       }) {
    auto r = get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 403) << path << ": " << r->body;
    EXPECT_EQ(r->body, R"({"error":"forbidden"})") << path;
  }
  // Positive control: the same run serves its own files.
  auto ok = get(sim_a + "/files/device.client.ping.stdout.log");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
}

TEST_F(Runs, LogsListsFilesWithNodeAndKind) {
  auto r = get(sim_a + "/logs");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(json::parse(r->body), json::parse(R"([
    {"node":"_run","kind":"json","path":"state.json"},
    {"node":"_run","kind":"lab_events","path":"events.jsonl"},
    {"node":"client","kind":"text","path":"device.client.ping.stdout.log"}])"));
}

TEST_F(Runs, LogContentFromAByteOffset) {
  const std::string log = sim_a + "/logs/device.client.ping.stdout.log";
  auto all = get(log);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->status, 200);
  EXPECT_EQ(all->body, "0123456789abcdefghij\n");
  EXPECT_EQ(all->get_header_value("Content-Type"), "text/plain; charset=utf-8");
  auto tail = get(log + "?after=10");
  ASSERT_TRUE(tail);
  EXPECT_EQ(tail->body, "abcdefghij\n");
  auto past = get(log + "?after=1000");
  ASSERT_TRUE(past);
  EXPECT_EQ(past->status, 200);
  EXPECT_EQ(past->body, "");
  auto bad = get(log + "?after=-3");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  auto events = get(sim_a + "/logs/events.jsonl");
  ASSERT_TRUE(events);
  EXPECT_EQ(events->get_header_value("Content-Type"), "application/x-ndjson");
  EXPECT_EQ(events->body, pbtest::slurp(t.dir / "inv-1/sim-a/events.jsonl"));
}

TEST_F(Runs, FilesHonourRanges) {
  const std::string blob = sim_a + "/files/files/blob/content";
  const std::string whole = pbtest::slurp(t.dir / "inv-1/sim-a/files/blob/content");
  auto last = get(blob, {{"Range", "bytes=-100"}});
  ASSERT_TRUE(last);
  EXPECT_EQ(last->status, 206);
  EXPECT_EQ(last->body, whole.substr(900));
  EXPECT_EQ(last->get_header_value("Content-Range"), "bytes 900-999/1000");
  auto mid = get(blob, {{"Range", "bytes=10-19"}});
  ASSERT_TRUE(mid);
  EXPECT_EQ(mid->status, 206);
  EXPECT_EQ(mid->body, whole.substr(10, 10));
  EXPECT_EQ(mid->get_header_value("Content-Range"), "bytes 10-19/1000");
  auto clamped = get(blob, {{"Range", "bytes=995-5000"}});
  ASSERT_TRUE(clamped);
  EXPECT_EQ(clamped->status, 206);
  EXPECT_EQ(clamped->body, whole.substr(995));
  auto beyond = get(blob, {{"Range", "bytes=1000-"}});
  ASSERT_TRUE(beyond);
  EXPECT_EQ(beyond->status, 416);
  EXPECT_EQ(beyond->get_header_value("Content-Range"), "bytes */1000");
  auto full = get(blob);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->status, 200);
  EXPECT_EQ(full->body, whole);
  EXPECT_EQ(full->get_header_value("Accept-Ranges"), "bytes");
  // Routes other than /files ignore Range: a JSON list is never cut.
  auto runs = get("/api/runs", {{"Range", "bytes=0-3"}});
  ASSERT_TRUE(runs);
  EXPECT_EQ(runs->status, 200);
  EXPECT_EQ(json::parse(runs->body).size(), 4u);
}

TEST_F(Runs, ContentTypesFollowTheSpec) {
  struct Case {
    std::string path, type;
  };
  for (const auto& c : std::vector<Case>{
           {sim_a + "/files/state.json", "application/json"},
           {sim_a + "/files/events.jsonl", "application/x-ndjson"},
           {sim_a + "/files/files/blob/content", "text/plain; charset=utf-8"},
           {"/api/invocations/inv-1/combined-results", "application/json"},
           {"/", "text/html; charset=utf-8"},
       }) {
    auto r = get(c.path);
    ASSERT_TRUE(r) << c.path;
    EXPECT_EQ(r->status, 200) << c.path;
    EXPECT_EQ(r->get_header_value("Content-Type"), c.type) << c.path;
  }
  auto ui = get("/");
  ASSERT_TRUE(ui);
  EXPECT_EQ(ui->body, std::string(patchbay::server::ui_index_html()));
  EXPECT_NE(ui->body.find("patchbay"), std::string::npos);
}

// httplib would answer a browser (gzip, deflate, br) with brotli at quality 11: hundreds of ms for
// the page. The server narrows the offer to gzip.
TEST_F(Runs, BrowsersGetGzipNotBrotli) {
  cli->set_decompress(false);
  auto r = get("/", {{"Accept-Encoding", "gzip, deflate, br"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Encoding"), "gzip");
  r = get(sim_a + "/files/files/blob/content", {{"Accept-Encoding", "br"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->get_header_value("Content-Encoding"), "");
  EXPECT_EQ(r->body.size(), 1000u);
}

TEST_F(Runs, CombinedResultsOrEmptyRuns404) {
  auto ok = get("/api/invocations/inv-1/combined-results");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, pbtest::slurp(t.dir / "inv-1/combined-results.json"));
  auto none = get("/api/invocations/solo/combined-results");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404);
  EXPECT_EQ(json::parse(none->body), json({{"runs", json::array()}}));
}

TEST_F(Runs, NewRunIsFoundByTheNextRequest) {
  t.run("inv-2/fresh", 1, "fresh");
  auto r = get("/api/runs/inv-2/fresh/state");  // before the periodic rescan could see it
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  auto list = get("/api/runs");
  ASSERT_TRUE(list);
  EXPECT_EQ(json::parse(list->body).size(), 5u);
}

TEST_F(Runs, ManyOpenStreamsDoNotStarvePlainRequests) {
  // Ten event streams held open, more than httplib's default pool of 8 threads.
  std::vector<std::unique_ptr<httplib::Client>> clients;
  std::vector<std::future<int>> streams;
  std::atomic<bool> release{false};
  for (int i = 0; i < 10; ++i) {
    clients.push_back(pbtest::client(*srv));
    auto* c = clients.back().get();
    streams.push_back(std::async(std::launch::async, [c, &release, this] {
      pbtest::SseParser p;
      return pbtest::read_sse(*c, sim_a + "/events", {}, p,
                              [&](const pbtest::SseParser&) { return release.load(); });
    }));
  }
  for (int i = 0; i < 1000 && srv->open_streams() < 10; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(srv->open_streams(), 10u);
  auto r = get("/api/runs");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  srv->stop();  // ends every stream
  release = true;
  for (auto& s : streams) EXPECT_EQ(s.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_EQ(srv->open_streams(), 0u);
}

TEST_F(Runs, StreamsBeyondTheCapGet503) {
  auto capped = pbtest::start_server(t.dir, [](auto& o) { o.max_streams = 1; });
  auto c1 = pbtest::client(*capped);
  std::atomic<bool> release{false};
  auto first = std::async(std::launch::async, [&] {
    pbtest::SseParser p;
    return pbtest::read_sse(*c1, "/api/runs/subscribe", {}, p,
                            [&](const pbtest::SseParser&) { return release.load(); });
  });
  for (int i = 0; i < 1000 && capped->open_streams() < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(capped->open_streams(), 1u);
  auto c2 = pbtest::client(*capped);
  auto second = c2->Get("/api/runs/subscribe");
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 503);
  auto plain = c2->Get("/api/runs");
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->status, 200);
  capped->stop();
  release = true;
  EXPECT_EQ(first.wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

TEST_F(Runs, StopEndsOpenStreamsAndRefusesNewConnections) {
  auto c = pbtest::client(*srv);
  auto stream = std::async(std::launch::async, [&] {
    pbtest::SseParser p;
    pbtest::read_sse(*c, "/api/runs/subscribe", {}, p, [](const pbtest::SseParser&) { return false; });
    return p.comments.size();
  });
  for (int i = 0; i < 1000 && srv->open_streams() < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(srv->open_streams(), 1u);
  auto stopped = std::async(std::launch::async, [&] { srv->stop(); });
  // Generous bound: this checks that stop() does not wait for the client, not how fast it is.
  ASSERT_EQ(stopped.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_EQ(stream.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_GE(stream.get(), 1u);  // the stream was live (greeting comment) before it ended
  auto after = pbtest::client(*srv)->Get("/api/runs");
  EXPECT_FALSE(after);
}

TEST_F(Runs, StopDoesNotWaitForIdleKeepAliveConnections) {
  auto c = pbtest::client(*srv);
  c->set_keep_alive(true);  // like a browser: the connection stays open after the response
  auto r = c->Get("/api/runs");
  ASSERT_TRUE(r);
  EXPECT_NE(r->get_header_value("Keep-Alive").find("timeout=1"), std::string::npos);
  auto stopped = std::async(std::launch::async, [&] { srv->stop(); });
  ASSERT_EQ(stopped.wait_for(std::chrono::seconds(10)), std::future_status::ready);
}
