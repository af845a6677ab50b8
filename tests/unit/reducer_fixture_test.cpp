// The shared reducer fixture (tests/fixtures/reducer): events.jsonl reduced by LabState::apply
// must give state.json. ui/test/reducer_fixture.test.ts replays the same file through the page's
// reducer, so the two implementations of SPEC 13.3 cannot drift apart unnoticed.
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "patchbay/error.hpp"
#include "patchbay/events.hpp"

namespace patchbay {
namespace {

using nlohmann::json;

const std::string kDir = std::string(PATCHBAY_TEST_FIXTURES) + "/reducer/";

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// What a reader of events.jsonl does with each line: parse, LabEvent::from_json, or skip.
struct Replay {
  LabState state;
  std::vector<LabEvent> applied;
  std::vector<std::string> skipped;
};

Replay replay(const std::vector<std::string>& lines) {
  Replay r;
  for (const auto& line : lines) {
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    try {
      if (j.is_discarded()) throw InvalidArgument("line", "not JSON");
      LabEvent ev = LabEvent::from_json(j);
      r.state.apply(ev);
      r.applied.push_back(std::move(ev));
    } catch (const InvalidArgument&) {
      r.skipped.push_back(line);
    }
  }
  return r;
}

TEST(ReducerFixture, EventsReduceToTheExpectedState) {
  Replay r = replay(read_lines(kDir + "events.jsonl"));
  std::ifstream in(kDir + "state.json");
  ASSERT_TRUE(in) << "cannot open " << kDir << "state.json";
  json expected = json::parse(in);
  json actual = r.state.to_json();
  EXPECT_EQ(actual, expected) << "diff (expected -> actual): " << json::diff(expected, actual).dump(2)
                              << "\nactual state:\n"
                              << actual.dump(2);
}

TEST(ReducerFixture, MalformedLinesAreSkippedAndTheRestApplied) {
  Replay r = replay(read_lines(kDir + "events.jsonl"));
  // Every rejected line names a "ghost-*" router, the empty line, or the shadowed timestamp.
  EXPECT_EQ(r.skipped.size(), 17u);
  for (const auto& line : r.skipped) {
    EXPECT_TRUE(line.empty() || line.find("ghost") != std::string::npos ||
                line.find("\"shadowed\"") != std::string::npos || line == "not json at all" ||
                line == "[1,2,3]")
        << line;
  }
  EXPECT_EQ(r.applied.size(), 68u);
}

TEST(ReducerFixture, CoversEveryEventKind) {
  namespace k = event_kind;
  Replay r = replay(read_lines(kDir + "events.jsonl"));
  std::set<std::string_view> seen;
  for (const auto& ev : r.applied) seen.insert(ev.kind);
  for (std::string_view kind : {k::kLabCreated,
                                k::kIxCreated,
                                k::kRouterAdded,
                                k::kRouterRemoved,
                                k::kDeviceAdded,
                                k::kDeviceRemoved,
                                k::kRegionAdded,
                                k::kRegionLinkAdded,
                                k::kRegionLinkBroken,
                                k::kRegionLinkRestored,
                                k::kNatChanged,
                                k::kNatV6Changed,
                                k::kNatStateFlushed,
                                k::kFirewallChanged,
                                k::kLinkConditionChanged,
                                k::kDownlinkConditionChanged,
                                k::kLinkUp,
                                k::kLinkDown,
                                k::kInterfaceAdded,
                                k::kInterfaceRemoved,
                                k::kInterfaceReplugged,
                                k::kDeviceIpChanged,
                                k::kCommandSpawned,
                                k::kCommandExited,
                                k::kPacketCounters,
                                k::kInitialState,
                                k::kDefaultRouteChanged,
                                k::kIpAdded,
                                k::kUplinkConditionChanged,
                                k::kRaChanged,
                                k::kDnsChanged,
                                k::kBlockIcmpFragNeededChanged,
                                k::kServiceError}) {
    EXPECT_TRUE(seen.count(kind)) << "the fixture has no applied " << kind << " event";
  }
}

}  // namespace
}  // namespace patchbay
