// Server-sent events (SPEC 14.1): /api/runs/{run}/events with history, `after`, Last-Event-ID and
// a live tail that neither loses nor repeats an event while a writer appends in odd-sized
// chunks; /api/runs/subscribe announces new runs and keeps idle streams alive.
#include <fcntl.h>
#include <unistd.h>

#include <future>
#include <random>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "server_test_util.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;
using pbtest::SseEvent;
using pbtest::SseParser;
using pbtest::TempDir;

namespace {

std::string event_line(int opid, std::mt19937& rng) {
  std::uniform_int_distribution<int> pad(0, 200);
  return R"({"opid":)" + std::to_string(opid) +
         R"(,"timestamp":"2026-03-05T12:00:00.000000000Z","kind":"tick","pad":")" +
         std::string(static_cast<std::size_t>(pad(rng)), 'x') + "\"}";
}

std::function<bool(const SseParser&)> until_events(std::size_t n) {
  return [n](const SseParser& p) { return p.events.size() >= n; };
}

}  // namespace

TEST(ServerEvents, WithoutAfterDeliversEveryEventFromOpidZero) {
  TempDir t;
  t.run("r", 5);
  auto srv = pbtest::start_server(t.dir);
  auto c = pbtest::client(*srv);
  SseParser p;
  std::string type;
  EXPECT_EQ(pbtest::read_sse(*c, "/api/runs/r/events", {}, p, until_events(5), &type), 200);
  EXPECT_EQ(type, "text/event-stream");
  ASSERT_EQ(p.events.size(), 5u);
  EXPECT_EQ(p.events[0].id, 0u);
  EXPECT_EQ(json::parse(p.events[0].data)["kind"], "k0");
  EXPECT_EQ(p.events[4].id, 4u);
}

TEST(ServerEvents, AfterSkipsEventsUpToN) {
  TempDir t;
  t.run("r", 5);
  auto srv = pbtest::start_server(t.dir);
  auto c = pbtest::client(*srv);
  SseParser p;
  pbtest::read_sse(*c, "/api/runs/r/events?after=2", {}, p, until_events(2));
  ASSERT_EQ(p.events.size(), 2u);
  EXPECT_EQ(p.events[0].id, 3u);
  EXPECT_EQ(p.events[1].id, 4u);
  auto bad = c->Get("/api/runs/r/events?after=x");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

TEST(ServerEvents, LastEventIdResumesAndWinsOverAfter) {
  TempDir t;
  t.run("r", 5);
  auto srv = pbtest::start_server(t.dir);
  auto c = pbtest::client(*srv);
  SseParser p;
  pbtest::read_sse(*c, "/api/runs/r/events?after=0", {{"Last-Event-ID", "3"}}, p, until_events(1));
  ASSERT_EQ(p.events.size(), 1u);
  EXPECT_EQ(p.events[0].id, 4u);
}

TEST(ServerEvents, LiveTailWaitsForCompleteLines) {
  TempDir t;
  auto file = t.run("r", 1) / "events.jsonl";
  auto srv = pbtest::start_server(t.dir);
  auto c = pbtest::client(*srv);
  std::promise<void> history;
  auto reader = std::async(std::launch::async, [&] {
    SseParser p;
    bool told = false;
    pbtest::read_sse(*c, "/api/runs/r/events", {}, p, [&](const SseParser& q) {
      if (!told && q.events.size() == 1) {
        told = true;
        history.set_value();
      }
      return q.events.size() >= 2;
    });
    return p;
  });
  ASSERT_EQ(history.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  int fd = ::open(file.c_str(), O_WRONLY | O_APPEND);
  ASSERT_GE(fd, 0);
  const std::string line = R"({"opid":1,"kind":"late","x":"0123456789"})";
  ASSERT_EQ(::write(fd, line.data(), 20), 20);  // half a line: must not be sent yet
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  ASSERT_EQ(::write(fd, line.data() + 20, line.size() - 20), static_cast<ssize_t>(line.size() - 20));
  ASSERT_EQ(::write(fd, "\n", 1), 1);
  ::close(fd);
  ASSERT_EQ(reader.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto p = reader.get();
  ASSERT_EQ(p.events.size(), 2u);
  EXPECT_EQ(p.events[1].id, 1u);
  EXPECT_EQ(p.events[1].data, line);
}

// 5,000 events appended in random-sized chunks (lines split anywhere) while a client reads a
// while, disconnects, and resumes with Last-Event-ID, several times: every event arrives exactly
// once, in order, byte for byte.
TEST(ServerEvents, ResumeLosesAndRepeatsNothingWhileAWriterAppends) {
  TempDir t;
  auto file = t.write("run/events.jsonl", "");
  auto srv = pbtest::start_server(t.dir);
  constexpr int kEvents = 5000;
  std::mt19937 rng(1234);
  std::vector<std::string> lines;
  std::string all;
  for (int i = 0; i < kEvents; ++i) {
    lines.push_back(event_line(i, rng));
    all += lines.back() + "\n";
  }

  auto writer = std::async(std::launch::async, [&] {
    std::mt19937 wrng(99);
    std::uniform_int_distribution<std::size_t> chunk(1, 700);
    int fd = ::open(file.c_str(), O_WRONLY | O_APPEND);
    std::size_t pos = 0, writes = 0;
    while (pos < all.size()) {
      std::size_t n = std::min(chunk(wrng), all.size() - pos);
      if (::write(fd, all.data() + pos, n) != static_cast<ssize_t>(n)) break;
      pos += n;
      if (++writes % 16 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::close(fd);
    return pos;
  });

  std::vector<SseEvent> got;
  std::mt19937 crng(7);
  std::uniform_int_distribution<std::size_t> per_connection(150, 1500);
  int connections = 0;
  while (got.size() < static_cast<std::size_t>(kEvents) && connections < 100) {
    ++connections;
    auto c = pbtest::client(*srv);
    httplib::Headers h;
    if (!got.empty()) h.emplace("Last-Event-ID", std::to_string(*got.back().id));
    SseParser p;
    const std::size_t want = std::min(per_connection(crng), kEvents - got.size());
    pbtest::read_sse(*c, "/api/runs/run/events", h, p, until_events(want));
    ASSERT_GE(p.events.size(), want) << "connection " << connections << " ended early";
    got.insert(got.end(), p.events.begin(), p.events.begin() + static_cast<std::ptrdiff_t>(want));
  }
  EXPECT_EQ(writer.get(), all.size());
  EXPECT_GE(connections, 4);
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) {
    ASSERT_EQ(got[i].id, static_cast<std::uint64_t>(i)) << "event " << i;
    ASSERT_EQ(got[i].data, lines[i]) << "event " << i;
  }
}

TEST(ServerSubscribe, SendsUpdateWhenARunAppears) {
  TempDir t;
  t.run("inv/first");
  auto srv = pbtest::start_server(t.dir);
  auto c = pbtest::client(*srv);
  std::atomic<bool> created{false};
  SseParser p;
  auto reader = std::async(std::launch::async, [&] {
    return pbtest::read_sse(*c, "/api/runs/subscribe", {}, p, [&](const SseParser& q) {
      // The greeting comment says the stream is live; only then is the run created.
      if (!q.comments.empty() && !created.exchange(true)) t.run("inv/second");
      return !q.events.empty();
    });
  });
  ASSERT_EQ(reader.wait_for(std::chrono::seconds(15)), std::future_status::ready);
  reader.get();
  ASSERT_TRUE(created);
  ASSERT_EQ(p.events.size(), 1u);
  EXPECT_EQ(p.events[0].data, "update");
  EXPECT_EQ(p.events[0].id, std::nullopt);
}

TEST(ServerSubscribe, IdleStreamsGetKeepAliveComments) {
  TempDir t;
  t.run("r");
  auto srv =
      pbtest::start_server(t.dir, [](auto& o) { o.keepalive_interval = std::chrono::milliseconds(100); });
  auto c = pbtest::client(*srv);
  SseParser runs, events;
  auto has_keepalive = [](const SseParser& q) {
    return std::count(q.comments.begin(), q.comments.end(), "keep-alive") >= 2;
  };
  pbtest::read_sse(*c, "/api/runs/subscribe", {}, runs, has_keepalive);
  EXPECT_TRUE(has_keepalive(runs));
  EXPECT_TRUE(runs.events.empty());
  pbtest::read_sse(*c, "/api/runs/r/events?after=100", {}, events, has_keepalive);
  EXPECT_TRUE(has_keepalive(events));
  EXPECT_TRUE(events.events.empty());
}

// Review item 5: after events.jsonl is truncated or replaced, the stream must not send the new
// file's old opids again: it ends, and the client reconnects with Last-Event-ID.
TEST(ServerEvents, StreamEndsWhenTheFileIsTruncatedOrReplaced) {
  for (const bool replace : {false, true}) {
    TempDir t;
    auto file = t.run("r", 2) / "events.jsonl";  // opids 0 and 1
    auto srv = pbtest::start_server(t.dir);
    auto c = pbtest::client(*srv);
    std::promise<void> history;
    auto reader = std::async(std::launch::async, [&] {
      SseParser p;
      bool told = false;
      pbtest::read_sse(*c, "/api/runs/r/events", {}, p, [&](const SseParser& q) {
        if (!told && q.events.size() == 2) {
          told = true;
          history.set_value();
        }
        return q.events.size() >= 10;  // never: only the end of the response stops the read
      });
      return p;
    });
    ASSERT_EQ(history.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
    const std::string fresh =
        "{\"opid\":0,\"kind\":\"a\"}\n{\"opid\":1,\"kind\":\"b\"}\n{\"opid\":2,\"kind\":\"c\"}\n";
    if (replace) {
      t.write("r/events.jsonl.new", fresh);
      fs::rename(t.dir / "r/events.jsonl.new", file);
    } else {
      std::ofstream(file, std::ios::binary | std::ios::trunc) << fresh.substr(0, fresh.find('\n') + 1);
    }
    ASSERT_EQ(reader.wait_for(std::chrono::seconds(10)), std::future_status::ready) << "replace=" << replace;
    auto p = reader.get();
    ASSERT_EQ(p.events.size(), 2u) << "replace=" << replace;
    EXPECT_EQ(p.events[1].id, 1u);
    if (replace) {
      // The reconnect resumes after the last opid the client has.
      SseParser q;
      pbtest::read_sse(*c, "/api/runs/r/events", {{"Last-Event-ID", "1"}}, q, until_events(1));
      ASSERT_EQ(q.events.size(), 1u);
      EXPECT_EQ(q.events[0].id, 2u);
    }
  }
}
