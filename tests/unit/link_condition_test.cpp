// Link-condition values (SPEC 2.2, 7.1, 7.2, 8.2, 13.6): preset numbers, validation, the JSON/TOML
// spellings and region links. No namespaces or engine involved.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "patchbay/error.hpp"
#include "patchbay/link.hpp"

namespace patchbay {
// Readable failure output instead of gtest's byte dumps; static so no other test file can clash.
static void PrintTo(const LinkCondition& c, std::ostream* os) {
  *os << c.to_string() << " " << limits_to_json(c.to_limits()).dump();
}
static void PrintTo(const LinkLimits& l, std::ostream* os) {
  *os << limits_to_json(l).dump();
}
}  // namespace patchbay

namespace {

using nlohmann::json;
using Kind = patchbay::LinkCondition::Kind;

template <class Fn>
std::string invalid_argument_message(Fn&& f) {
  try {
    f();
  } catch (const patchbay::InvalidArgument& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception thrown";
  return {};
}

struct PresetCase {
  patchbay::LinkCondition condition;
  Kind kind;
  std::string name;
  std::uint32_t latency_ms, jitter_ms;
  float loss_pct;
  std::uint32_t rate_kbit;
};

std::vector<PresetCase> preset_cases() {
  using C = patchbay::LinkCondition;
  return {
      {C::lan(), Kind::Lan, "lan", 0, 0, 0.0f, 0},
      {C::wifi(), Kind::Wifi, "wifi", 5, 2, 0.1f, 0},
      {C::wifi_bad(), Kind::WifiBad, "wifi-bad", 40, 15, 2.0f, 20000},
      {C::mobile_4g(), Kind::Mobile4G, "mobile-4g", 25, 8, 0.5f, 0},
      {C::mobile_3g(), Kind::Mobile3G, "mobile-3g", 100, 30, 2.0f, 2000},
      {C::satellite(), Kind::Satellite, "satellite", 40, 7, 1.0f, 0},
      {C::satellite_geo(), Kind::SatelliteGeo, "satellite-geo", 300, 20, 0.5f, 25000},
  };
}

// A manual condition using every LinkLimits key with a non-default value.
patchbay::LinkLimits every_key() {
  patchbay::LinkLimits l;
  l.rate_kbit = 12000;
  l.latency_ms = 35;
  l.jitter_ms = 4;
  l.reorder_pct = 0.3f;
  l.duplicate_pct = 1.1f;
  l.corrupt_pct = 0.05f;
  l.distribution = patchbay::DelayDistribution::ParetoNormal;
  l.burst_loss =
      patchbay::GilbertElliott{.p_pct = 1.5, .r_pct = 30, .loss_bad_pct = 80, .loss_good_pct = 0.1};
  l.queue_limit_pkts = 256;
  l.rate_trace = "/traces/lte.down";
  l.jitter_reorders = false;
  return l;
}

TEST(LinkConditionPreset, ExactNumbersAndStringRoundTrip) {
  for (const PresetCase& p : preset_cases()) {
    SCOPED_TRACE(p.name);
    const patchbay::LinkLimits l = p.condition.to_limits();
    EXPECT_EQ(p.condition.kind(), p.kind);
    EXPECT_EQ(l.latency_ms, p.latency_ms);
    EXPECT_EQ(l.jitter_ms, p.jitter_ms);
    EXPECT_EQ(l.loss_pct, p.loss_pct);
    EXPECT_EQ(l.rate_kbit, p.rate_kbit);
    // Everything else stays at its default: presets have no reorder/duplicate/corrupt.
    patchbay::LinkLimits expected;
    expected.latency_ms = p.latency_ms;
    expected.jitter_ms = p.jitter_ms;
    expected.loss_pct = p.loss_pct;
    expected.rate_kbit = p.rate_kbit;
    EXPECT_EQ(l, expected);

    EXPECT_EQ(p.condition.to_string(), p.name);
    EXPECT_EQ(p.condition.to_json(), json(p.name));
    EXPECT_EQ(patchbay::LinkCondition::parse(p.name), p.condition);
    EXPECT_EQ(patchbay::LinkCondition::from_json(json(p.name)), p.condition);
  }
}

TEST(LinkConditionPreset, LanIsNoImpairment) {
  EXPECT_TRUE(patchbay::LinkCondition::lan().to_limits().is_zero());
  EXPECT_EQ(patchbay::LinkCondition::lan().to_limits(), patchbay::LinkLimits{});
  EXPECT_FALSE(patchbay::LinkCondition::wifi().to_limits().is_zero());
}

TEST(LinkConditionPreset, NoPresetHasNaNAndAllValidate) {
  for (const PresetCase& p : preset_cases()) {
    SCOPED_TRACE(p.name);
    const patchbay::LinkLimits l = p.condition.to_limits();
    for (float v : {l.loss_pct, l.reorder_pct, l.duplicate_pct, l.corrupt_pct}) EXPECT_FALSE(std::isnan(v));
    EXPECT_NO_THROW(l.validate());
  }
}

TEST(LinkConditionParse, AliasAndLegacySpellings) {
  using C = patchbay::LinkCondition;
  EXPECT_EQ(C::parse("mobile"), C::mobile_4g());
  EXPECT_EQ(C::parse("wifi_bad"), C::wifi_bad());
  EXPECT_EQ(C::parse("mobile4_g"), C::mobile_4g());
  EXPECT_EQ(C::parse("mobile3_g"), C::mobile_3g());
  EXPECT_EQ(C::parse("satellite_geo"), C::satellite_geo());
  EXPECT_EQ(C::from_json(json("mobile")).kind(), Kind::Mobile4G);
  EXPECT_EQ(C::from_json(json("satellite_geo")).kind(), Kind::SatelliteGeo);
  // Writers only ever emit the canonical name.
  EXPECT_EQ(C::parse("mobile").to_json(), json("mobile-4g"));
  EXPECT_EQ(C::parse("wifi_bad").to_string(), "wifi-bad");
}

TEST(LinkConditionParse, UnknownPresetNamesTheString) {
  using C = patchbay::LinkCondition;
  EXPECT_NE(invalid_argument_message([] {
              C::parse("wifi-great");
            }).find("unknown link condition preset 'wifi-great'"),
            std::string::npos);
  EXPECT_NE(
      invalid_argument_message([] { C::parse("manual"); }).find("unknown link condition preset 'manual'"),
      std::string::npos);
  EXPECT_NE(invalid_argument_message([] {
              C::from_json(json("WIFI"));
            }).find("unknown link condition preset 'WIFI'"),
            std::string::npos);
}

TEST(LinkConditionManual, ToLimitsIsIdentityAndValidates) {
  const patchbay::LinkLimits l = every_key();
  const patchbay::LinkCondition c = patchbay::LinkCondition::manual(l);
  EXPECT_EQ(c.kind(), Kind::Manual);
  EXPECT_EQ(c.to_string(), "manual");
  EXPECT_EQ(c.to_limits(), l);

  patchbay::LinkLimits bad;
  bad.loss_pct = 101;
  EXPECT_THROW(patchbay::LinkCondition::manual(bad), patchbay::InvalidArgument);
}

TEST(LinkConditionJson, ManualRoundTripKeepsEveryKey) {
  const auto c = patchbay::LinkCondition::manual(every_key());
  const json j = c.to_json();
  const json expected = json::parse(R"({
    "rate_kbit": 12000, "latency_ms": 35, "jitter_ms": 4,
    "reorder_pct": 0.3, "duplicate_pct": 1.1, "corrupt_pct": 0.05,
    "distribution": "paretonormal",
    "burst_loss": {"p_pct": 1.5, "r_pct": 30.0, "loss_bad_pct": 80.0, "loss_good_pct": 0.1},
    "queue_limit_pkts": 256, "rate_trace": "/traces/lte.down", "jitter_reorders": false})");
  EXPECT_EQ(j, expected) << j.dump();
  EXPECT_EQ(patchbay::LinkCondition::from_json(j), c);
  EXPECT_EQ(patchbay::LinkCondition::from_json(json::parse(j.dump())), c);
  EXPECT_EQ(patchbay::limits_from_json(patchbay::limits_to_json(every_key())), every_key());
}

TEST(LinkConditionJson, OnlyNonDefaultKeysAreWritten) {
  EXPECT_EQ(patchbay::limits_to_json(patchbay::LinkLimits{}), json::object());
  patchbay::LinkLimits l;
  l.jitter_reorders = true;
  l.latency_ms = 7;
  EXPECT_EQ(patchbay::limits_to_json(l), json::parse(R"({"latency_ms": 7})"));
  // An all-default manual condition still reads back as manual, not as lan.
  const auto zero = patchbay::LinkCondition::from_json(json::object());
  EXPECT_EQ(zero.kind(), Kind::Manual);
  EXPECT_TRUE(zero.to_limits().is_zero());
}

TEST(LinkConditionJson, FloatsKeepTheirShortestDecimal) {
  patchbay::LinkLimits l;
  l.loss_pct = 1.5f;
  l.reorder_pct = 0.1f;
  const json j = patchbay::limits_to_json(l);
  EXPECT_EQ(j["loss_pct"].get<double>(), 1.5);
  EXPECT_EQ(j["reorder_pct"].get<double>(), 0.1);
  EXPECT_EQ(j.dump(), R"({"loss_pct":1.5,"reorder_pct":0.1})");
}

TEST(LinkConditionJson, TomlLikeObjectIsManualWithExactValues) {
  const auto c =
      patchbay::LinkCondition::from_json(json{{"rate_kbit", 5000}, {"loss_pct", 1.5}, {"latency_ms", 40}});
  EXPECT_EQ(c.kind(), Kind::Manual);
  patchbay::LinkLimits expected;
  expected.rate_kbit = 5000;
  expected.loss_pct = 1.5f;
  expected.latency_ms = 40;
  EXPECT_EQ(c.to_limits(), expected);
  // Integers are accepted where percentages are expected.
  EXPECT_EQ(patchbay::limits_from_json(json{{"loss_pct", 2}}).loss_pct, 2.0f);
}

TEST(LinkConditionJson, PresetNumbersWrittenOutStayManual) {
  const auto c = patchbay::LinkCondition::from_json(
      json::parse(R"({"latency_ms": 5, "jitter_ms": 2, "loss_pct": 0.1})"));
  EXPECT_EQ(c.kind(), Kind::Manual);
  EXPECT_EQ(c.to_limits(), patchbay::LinkCondition::wifi().to_limits());
  EXPECT_NE(c, patchbay::LinkCondition::wifi());
}

TEST(LinkConditionJson, LegacyManualWrapper) {
  const auto c =
      patchbay::LinkCondition::from_json(json::parse(R"({"manual": {"latency_ms": 40, "loss_pct": 1.5}})"));
  EXPECT_EQ(c.kind(), Kind::Manual);
  EXPECT_EQ(c.to_limits().latency_ms, 40u);
  EXPECT_EQ(c.to_limits().loss_pct, 1.5f);
  // Re-written in the canonical flat form.
  EXPECT_EQ(c.to_json(), json::parse(R"({"latency_ms": 40, "loss_pct": 1.5})"));
  // "manual" with a non-object value is not the wrapper, just an unknown key.
  EXPECT_NE(invalid_argument_message([] {
              patchbay::LinkCondition::from_json(json{{"manual", 5}});
            }).find("unknown key 'manual'"),
            std::string::npos);
}

TEST(LinkConditionJson, BadInputNamesKeyAndValue) {
  using C = patchbay::LinkCondition;
  EXPECT_EQ(invalid_argument_message([] {
              C::from_json(json{{"latency_ms", "abc"}});
            }),
            "link condition: latency_ms must be a non-negative integer, got \"abc\"");
  EXPECT_EQ(invalid_argument_message([] {
              C::from_json(json{{"rate_kbit", -5}});
            }),
            "link condition: rate_kbit must be a non-negative integer, got -5");
  EXPECT_EQ(invalid_argument_message([] {
              C::from_json(json{{"jitter_ms", 1.5}});
            }),
            "link condition: jitter_ms must be a non-negative integer, got 1.5");
  EXPECT_EQ(invalid_argument_message([] {
              C::from_json(json{{"loss_pct", "1"}});
            }),
            "link condition: loss_pct must be a number, got \"1\"");
  EXPECT_EQ(invalid_argument_message([] {
              C::from_json(json{{"loss_pct", 250}});
            }),
            "link condition: loss_pct = 250 is outside 0..100");
  EXPECT_EQ(invalid_argument_message([] {
              C::from_json(json{{"jitter_reorders", 0}});
            }),
            "link condition: jitter_reorders must be true or false, got 0");
  EXPECT_EQ(invalid_argument_message([] {
              C::from_json(json{{"rate_trace", 3}});
            }),
            "link condition: rate_trace must be a path string, got 3");
  EXPECT_EQ(invalid_argument_message([] {
              C::from_json(json{{"queue_limit_pkts", 5000000000}});
            }),
            "link condition: queue_limit_pkts = 5000000000 is too large (at most 4294967295)");
  EXPECT_NE(invalid_argument_message([] {
              C::from_json(json{{"latency", 40}});
            }).find("unknown key 'latency'"),
            std::string::npos);
  EXPECT_NE(invalid_argument_message([] {
              C::from_json(json{{"burst_loss", {{"p_pct", 1}, {"x", 1}}}});
            }).find("unknown key 'burst_loss.x'"),
            std::string::npos);
  EXPECT_NE(invalid_argument_message([] {
              C::from_json(json{{"burst_loss", {{"p_pct", 1}}}});
            }).find("burst_loss is missing key 'r_pct'"),
            std::string::npos);
  EXPECT_EQ(
      invalid_argument_message([] {
        C::from_json(json{{"distribution", "gauss"}});
      }),
      "link condition: distribution: unknown delay distribution 'gauss' (expected uniform, normal, pareto or "
      "paretonormal)");
  EXPECT_NE(invalid_argument_message([] { C::from_json(json(42)); }).find("got 42"), std::string::npos);
  // Validation runs after reading, so cross-field rules apply to JSON too.
  EXPECT_NE(invalid_argument_message([] {
              C::from_json(json{{"loss_pct", 1}, {"burst_loss", {{"p_pct", 1}, {"r_pct", 10}}}});
            }).find("burst_loss and loss_pct = 1"),
            std::string::npos);
}

TEST(LinkLimitsValidate, NamesFieldAndValue) {
  auto message = [](auto mutate) {
    patchbay::LinkLimits l;
    mutate(l);
    return invalid_argument_message([&] { l.validate(); });
  };
  EXPECT_EQ(message([](auto& l) { l.loss_pct = 120; }), "link condition: loss_pct = 120 is outside 0..100");
  EXPECT_EQ(message([](auto& l) { l.reorder_pct = -1; }),
            "link condition: reorder_pct = -1 is outside 0..100");
  EXPECT_EQ(message([](auto& l) { l.duplicate_pct = std::numeric_limits<float>::quiet_NaN(); }),
            "link condition: duplicate_pct = nan is outside 0..100");
  EXPECT_EQ(message([](auto& l) { l.corrupt_pct = 100.5f; }),
            "link condition: corrupt_pct = 100.5 is outside 0..100");
  EXPECT_EQ(message([](auto& l) { l.burst_loss = patchbay::GilbertElliott{.p_pct = 1, .r_pct = 101}; }),
            "link condition: burst_loss.r_pct = 101 is outside 0..100");
  EXPECT_EQ(message([](auto& l) { l.burst_loss = patchbay::GilbertElliott{.p_pct = -0.5, .r_pct = 1}; }),
            "link condition: burst_loss.p_pct = -0.5 is outside 0..100");
  EXPECT_EQ(message([](auto& l) {
              l.burst_loss = patchbay::GilbertElliott{.p_pct = 1, .r_pct = 1, .loss_bad_pct = 200};
            }),
            "link condition: burst_loss.loss_bad_pct = 200 is outside 0..100");
  EXPECT_EQ(message([](auto& l) {
              l.burst_loss = patchbay::GilbertElliott{.p_pct = 1, .r_pct = 1, .loss_good_pct = -2};
            }),
            "link condition: burst_loss.loss_good_pct = -2 is outside 0..100");

  const std::string both = message([](auto& l) {
    l.loss_pct = 2.5f;
    l.burst_loss = patchbay::GilbertElliott{.p_pct = 1, .r_pct = 10};
  });
  EXPECT_NE(both.find("burst_loss"), std::string::npos) << both;
  EXPECT_NE(both.find("loss_pct = 2.5"), std::string::npos) << both;

  EXPECT_EQ(message([](auto& l) { l.latency_ms = 3'600'001; }),
            "link condition: latency_ms = 3600001 exceeds 3600000 (one hour)");
  EXPECT_EQ(message([](auto& l) { l.jitter_ms = 4'000'000; }),
            "link condition: jitter_ms = 4000000 exceeds 3600000 (one hour)");
  EXPECT_EQ(message([](auto& l) { l.rate_trace = std::filesystem::path(); }),
            "link condition: rate_trace is an empty path");
}

TEST(LinkLimitsValidate, AcceptsBoundariesAndDoesNotOpenTheTrace) {
  patchbay::LinkLimits l;
  l.loss_pct = 100;
  l.latency_ms = 3'600'000;
  l.jitter_ms = 3'600'000;
  l.rate_trace = "/nonexistent/patchbay/trace.down";
  EXPECT_NO_THROW(l.validate());
  patchbay::LinkLimits burst;
  burst.burst_loss =
      patchbay::GilbertElliott{.p_pct = 0, .r_pct = 100, .loss_bad_pct = 100, .loss_good_pct = 0};
  EXPECT_NO_THROW(burst.validate());
}

TEST(LinkDelayDistribution, SpellingsRoundTrip) {
  using D = patchbay::DelayDistribution;
  for (auto [d, name] : {std::pair{D::Uniform, "uniform"}, std::pair{D::Normal, "normal"},
                         std::pair{D::Pareto, "pareto"}, std::pair{D::ParetoNormal, "paretonormal"}}) {
    EXPECT_EQ(patchbay::to_string(d), name);
    EXPECT_EQ(patchbay::parse_delay_distribution(name), d);
  }
  EXPECT_NE(invalid_argument_message([] {
              patchbay::parse_delay_distribution("Normal");
            }).find("unknown delay distribution 'Normal'"),
            std::string::npos);
}

TEST(LinkRegionLink, GoodDegradedAndLimits) {
  EXPECT_EQ(patchbay::RegionLink::good(40), (patchbay::RegionLink{.latency_ms = 40}));
  const auto d = patchbay::RegionLink::degraded(95);
  EXPECT_EQ(d.latency_ms, 95u);
  EXPECT_EQ(d.jitter_ms, 9u);  // 95 / 10, rounded down
  EXPECT_EQ(d.loss_pct, 0.5);
  EXPECT_EQ(d.rate_mbit, 0u);

  patchbay::LinkLimits expected;
  expected.latency_ms = 95;
  expected.jitter_ms = 9;
  expected.loss_pct = 0.5f;
  EXPECT_EQ(d.to_limits(), expected);

  const patchbay::RegionLink fast{.latency_ms = 10, .jitter_ms = 1, .loss_pct = 0.25, .rate_mbit = 100};
  const patchbay::LinkLimits l = fast.to_limits();
  EXPECT_EQ(l.rate_kbit, 100'000u);
  EXPECT_EQ(l.loss_pct, 0.25f);
  EXPECT_EQ(l.latency_ms, 10u);
  EXPECT_EQ(l.jitter_ms, 1u);
  EXPECT_TRUE(patchbay::RegionLink::good(0).to_limits().is_zero());
}

}  // namespace
