// NAT, firewall and router-preset configuration values (SPEC 2.3, 4.3, 5, 6, 13.6), without
// namespaces: preset tables, builders, validation and the JSON/TOML spellings.
#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "patchbay/error.hpp"
#include "patchbay/firewall.hpp"
#include "patchbay/nat.hpp"
#include "patchbay/preset.hpp"

namespace patchbay {

// Readable failure output instead of gtest's byte dumps.
void PrintTo(const Nat& n, std::ostream* os) {
  *os << n.to_json().dump();
}
void PrintTo(const NatConfig& c, std::ostream* os) {
  *os << c.to_json().dump();
}
void PrintTo(const Firewall& f, std::ostream* os) {
  *os << f.to_json().dump();
}
void PrintTo(const FirewallConfig& c, std::ostream* os) {
  *os << c.to_json().dump();
}
void PrintTo(const PortPolicy& p, std::ostream* os) {
  *os << p.to_json().dump();
}

namespace {

using nlohmann::json;

template <class E, class Fn>
std::string message_of(Fn&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "unexpected exception type: " << e.what();
    return {};
  }
  ADD_FAILURE() << "no exception thrown";
  return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

constexpr auto kEim = NatMapping::EndpointIndependent;
constexpr auto kAdm = NatMapping::AddressDependent;
constexpr auto kApdm = NatMapping::AddressAndPortDependent;
constexpr auto kEif = NatFiltering::EndpointIndependent;
constexpr auto kAdf = NatFiltering::AddressDependent;
constexpr auto kApdf = NatFiltering::AddressAndPortDependent;

// One row of the SPEC 4.3 table, restated here independently of the implementation's table.
struct NatRow {
  NatMapping mapping;
  NatFiltering filtering;
  std::uint32_t udp, udp_stream, tcp_established;
  bool hairpin, port_preservation;
};

void expect_row(const Nat& nat, const NatRow& row) {
  ASSERT_TRUE(nat.to_config().has_value());
  const NatConfig c = *nat.to_config();
  EXPECT_EQ(c.mapping, row.mapping);
  EXPECT_EQ(c.filtering, row.filtering);
  EXPECT_EQ(c.timeouts.udp, row.udp);
  EXPECT_EQ(c.timeouts.udp_stream, row.udp_stream);
  EXPECT_EQ(c.timeouts.tcp_established, row.tcp_established);
  EXPECT_EQ(c.hairpin, row.hairpin);
  EXPECT_EQ(c.port_preservation, row.port_preservation);
  // Columns the table fixes for every preset.
  EXPECT_EQ(c.timeouts.tcp_transitory, 120u);
  EXPECT_EQ(c.timeouts.icmp, 30u);
  EXPECT_EQ(c.port_range, (PortRange{1024, 65535}));
  EXPECT_TRUE(c.inbound_refresh);
}

// A configuration that differs from NatConfig{} in every field.
NatConfig unusual_config() {
  return NatConfig::builder()
      .mapping(kAdm)
      .filtering(kAdf)
      .hairpin(true)
      .udp_timeout(11)
      .udp_stream_timeout(22)
      .tcp_established_timeout(33)
      .tcp_transitory_timeout(44)
      .icmp_timeout(55)
      .port_preservation(false)
      .port_range({20000, 20999})
      .inbound_refresh(false)
      .build();
}

// ---- Nat presets (SPEC 4.3) ----

TEST(NatNone, HasNoConfigAndIsTheDefault) {
  EXPECT_EQ(Nat::none().kind(), Nat::Kind::None);
  EXPECT_FALSE(Nat::none().to_config().has_value());
  EXPECT_EQ(Nat{}, Nat::none());
}

TEST(NatHome, IsEimApdfWithPortPreservation) {
  EXPECT_EQ(Nat::home().kind(), Nat::Kind::Home);
  expect_row(Nat::home(), {kEim, kApdf, 30, 300, 7200, false, true});
}

TEST(NatCorporate, IsApdmApdfWithoutPreservation) {
  EXPECT_EQ(Nat::corporate().kind(), Nat::Kind::Corporate);
  expect_row(Nat::corporate(), {kApdm, kApdf, 30, 120, 3600, false, false});
}

TEST(NatCloudNat, IsApdmApdfWith350sUdpStream) {
  EXPECT_EQ(Nat::cloud_nat().kind(), Nat::Kind::CloudNat);
  expect_row(Nat::cloud_nat(), {kApdm, kApdf, 30, 350, 3600, false, false});
}

TEST(NatFullCone, IsEimEifWithHairpin) {
  EXPECT_EQ(Nat::full_cone().kind(), Nat::Kind::FullCone);
  expect_row(Nat::full_cone(), {kEim, kEif, 30, 300, 7200, true, true});
}

TEST(NatCgnat, IsEimEifWithHairpin) {
  EXPECT_EQ(Nat::cgnat().kind(), Nat::Kind::Cgnat);
  expect_row(Nat::cgnat(), {kEim, kEif, 30, 300, 7200, true, true});
}

TEST(NatPresets, ListsTheSixNonCustomModesInFactoryOrder) {
  const std::vector<Nat> want = {Nat::none(),  Nat::home(),      Nat::corporate(),
                                 Nat::cgnat(), Nat::cloud_nat(), Nat::full_cone()};
  const auto got = Nat::presets();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << i;
  for (const Nat& n : got) EXPECT_NE(n.kind(), Nat::Kind::Custom);
}

TEST(NatPresets, AreDistinctValues) {
  const auto all = Nat::presets();
  for (std::size_t i = 0; i < all.size(); ++i)
    for (std::size_t j = i + 1; j < all.size(); ++j) EXPECT_NE(all[i], all[j]) << i << " vs " << j;
}

TEST(NatCustom, KeepsItsConfig) {
  const Nat n = Nat::custom(unusual_config());
  EXPECT_EQ(n.kind(), Nat::Kind::Custom);
  EXPECT_EQ(n.to_config(), unusual_config());
}

TEST(NatCustom, DiffersFromThePresetWithTheSameConfig) {
  // A custom copy of Home serialises as {"custom": ...}, so "did the mode change" must say yes.
  EXPECT_NE(Nat::custom(*Nat::home().to_config()), Nat::home());
  EXPECT_EQ(Nat::custom(*Nat::home().to_config()), Nat::custom(*Nat::home().to_config()));
}

TEST(NatCustom, RejectsAnInvalidConfigNamingTheField) {
  NatConfig bad;
  bad.timeouts.udp_stream = 0;
  const auto msg = message_of<InvalidArgument>([&] { Nat::custom(bad); });
  EXPECT_TRUE(contains(msg, "timeouts.udp_stream = 0")) << msg;
}

TEST(NatToString, IsTheJsonNameOrCustom) {
  EXPECT_EQ(Nat::none().to_string(), "none");
  EXPECT_EQ(Nat::home().to_string(), "home");
  EXPECT_EQ(Nat::corporate().to_string(), "corporate");
  EXPECT_EQ(Nat::cgnat().to_string(), "cgnat");
  EXPECT_EQ(Nat::cloud_nat().to_string(), "cloud-nat");
  EXPECT_EQ(Nat::full_cone().to_string(), "full-cone");
  EXPECT_EQ(Nat::custom(NatConfig{}).to_string(), "custom");
}

// ---- NatConfigBuilder ----

TEST(NatConfigBuilder, DefaultsAreEimApdfWithPreservationAndNoHairpin) {
  const NatConfig c = NatConfig::builder().build();
  EXPECT_EQ(c, NatConfig{});
  EXPECT_EQ(c.mapping, kEim);
  EXPECT_EQ(c.filtering, kApdf);
  EXPECT_EQ(c.timeouts, (ConntrackTimeouts{30, 300, 7200, 120, 30}));
  EXPECT_FALSE(c.hairpin);
  EXPECT_TRUE(c.port_preservation);
  EXPECT_EQ(c.port_range, (PortRange{1024, 65535}));
  EXPECT_TRUE(c.inbound_refresh);
}

TEST(NatConfigBuilder, EverySetterChangesItsField) {
  const NatConfig c = unusual_config();
  EXPECT_EQ(c.mapping, kAdm);
  EXPECT_EQ(c.filtering, kAdf);
  EXPECT_EQ(c.timeouts, (ConntrackTimeouts{11, 22, 33, 44, 55}));
  EXPECT_TRUE(c.hairpin);
  EXPECT_FALSE(c.port_preservation);
  EXPECT_EQ(c.port_range, (PortRange{20000, 20999}));
  EXPECT_FALSE(c.inbound_refresh);
}

TEST(NatConfigBuilder, RejectsEveryZeroTimeoutNamingTheField) {
  using B = NatConfigBuilder;
  const std::vector<std::pair<std::string, B& (B::*)(std::uint32_t)>> setters = {
      {"timeouts.udp", &B::udp_timeout},
      {"timeouts.udp_stream", &B::udp_stream_timeout},
      {"timeouts.tcp_established", &B::tcp_established_timeout},
      {"timeouts.tcp_transitory", &B::tcp_transitory_timeout},
      {"timeouts.icmp", &B::icmp_timeout},
  };
  for (const auto& [field, setter] : setters) {
    B b = NatConfig::builder();
    (b.*setter)(0);
    const auto msg = message_of<InvalidArgument>([&] { b.build(); });
    EXPECT_TRUE(contains(msg, field + " = 0")) << msg;
  }
}

TEST(NatConfigBuilder, RejectsAnInvertedPortRangeNamingBothEnds) {
  const auto msg = message_of<InvalidArgument>([] { NatConfig::builder().port_range({5000, 4000}).build(); });
  EXPECT_TRUE(contains(msg, "port_range = [5000, 4000]")) << msg;
}

TEST(NatConfigBuilder, RejectsAPortRangeStartingAtZero) {
  const auto msg = message_of<InvalidArgument>([] { NatConfig::builder().port_range({0, 100}).build(); });
  EXPECT_TRUE(contains(msg, "port_range = [0, 100]")) << msg;
}

TEST(NatConfigBuilder, AcceptsASinglePortRange) {
  EXPECT_EQ(NatConfig::builder().port_range({4000, 4000}).build().port_range, (PortRange{4000, 4000}));
}

// ---- Nat JSON (SPEC 13.6) ----

TEST(NatJson, EveryPresetIsWrittenAsItsSpecName) {
  EXPECT_EQ(Nat::none().to_json(), json("none"));
  EXPECT_EQ(Nat::home().to_json(), json("home"));
  EXPECT_EQ(Nat::corporate().to_json(), json("corporate"));
  EXPECT_EQ(Nat::cgnat().to_json(), json("cgnat"));
  EXPECT_EQ(Nat::cloud_nat().to_json(), json("cloud-nat"));
  EXPECT_EQ(Nat::full_cone().to_json(), json("full-cone"));
}

TEST(NatJson, EveryPresetRoundTrips) {
  for (const Nat& n : Nat::presets()) EXPECT_EQ(Nat::from_json(n.to_json()), n) << n.to_string();
}

TEST(NatJson, CustomIsWrittenWithEverySpecKey) {
  const json want = json::parse(R"({"custom": {
      "mapping": "address_dependent", "filtering": "address_dependent",
      "timeouts": {"udp": 11, "udp_stream": 22, "tcp_established": 33, "tcp_transitory": 44, "icmp": 55},
      "hairpin": true, "port_preservation": false, "port_range": [20000, 20999], "inbound_refresh": false}})");
  EXPECT_EQ(Nat::custom(unusual_config()).to_json(), want);
}

TEST(NatJson, CustomRoundTripsEveryField) {
  const Nat n = Nat::custom(unusual_config());
  EXPECT_EQ(Nat::from_json(json::parse(n.to_json().dump())), n);
  EXPECT_EQ(NatConfig::from_json(unusual_config().to_json()), unusual_config());
}

TEST(NatJson, CustomOptionalKeysDefaultPerNatConfig) {
  const Nat n = Nat::from_json(json::parse(R"({"custom": {
      "mapping": "endpoint_dependent", "filtering": "endpoint_independent",
      "timeouts": {"udp": 60, "udp_stream": 400, "tcp_established": 900}, "hairpin": true}})"));
  NatConfig want;
  want.mapping = kApdm;
  want.filtering = kEif;
  want.timeouts.udp = 60;
  want.timeouts.udp_stream = 400;
  want.timeouts.tcp_established = 900;
  want.hairpin = true;
  EXPECT_EQ(n, Nat::custom(want));
}

TEST(NatJson, CustomMissingRequiredKeyIsNamed) {
  const auto msg = message_of<InvalidArgument>([] {
    Nat::from_json(json::parse(R"({"custom": {"mapping": "endpoint_independent",
        "filtering": "endpoint_independent", "timeouts": {"udp": 1, "udp_stream": 1}, "hairpin": false}})"));
  });
  EXPECT_EQ(msg, "nat.custom.timeouts: missing key 'tcp_established'");
}

TEST(NatJson, UnknownNameThrowsNamingTheValueAndTheChoices) {
  const auto msg = message_of<InvalidArgument>([] { Nat::from_json("homee"); });
  EXPECT_EQ(msg,
            "nat: unknown value 'homee' (expected none, home, corporate, cgnat, cloud-nat, full-cone or "
            "{custom: ...})");
}

TEST(NatJson, RejectsValuesThatAreNeitherANameNorACustomObject) {
  for (const char* text : {"5", "null", "[\"home\"]", R"({"home": {}})", R"({"custom": {}, "extra": 1})",
                           R"("cloud_nat")", R"("Home")"}) {
    const auto msg = message_of<InvalidArgument>([&] { Nat::from_json(json::parse(text)); });
    EXPECT_TRUE(contains(msg, "nat: unknown value")) << text << " -> " << msg;
  }
}

TEST(NatJson, UnknownKeyInCustomIsRejectedNotIgnored) {
  json j = Nat::custom(NatConfig{}).to_json();
  j["custom"]["hairpinn"] = true;
  const auto msg = message_of<InvalidArgument>([&] { Nat::from_json(j); });
  EXPECT_TRUE(contains(msg, "nat.custom: unknown key 'hairpinn'")) << msg;
}

TEST(NatJson, BadTimeoutValuesNameTheKeyPathAndValue) {
  const std::vector<std::pair<json, std::string>> cases = {
      {0, "got 0"},
      {-5, "got -5"},
      {"30", "got '30'"},
      {1.5, "got 1.5"},
      {4294967296ull, "got 4294967296"},
      {nullptr, "got null"},
  };
  for (const auto& [value, shown] : cases) {
    json j = Nat::custom(NatConfig{}).to_json();
    j["custom"]["timeouts"]["udp"] = value;
    const auto msg = message_of<InvalidArgument>([&] { Nat::from_json(j); });
    EXPECT_TRUE(contains(msg, "nat.custom.timeouts.udp: ")) << msg;
    EXPECT_TRUE(contains(msg, shown)) << msg;
  }
}

TEST(NatJson, BadEnumAndBoolValuesNameTheKeyPath) {
  json j = Nat::custom(NatConfig{}).to_json();
  j["custom"]["mapping"] = "full_cone";
  EXPECT_EQ(
      message_of<InvalidArgument>([&] { Nat::from_json(j); }),
      "nat.custom.mapping: unknown value 'full_cone' (expected endpoint_independent, address_dependent or "
      "endpoint_dependent)");
  j = Nat::custom(NatConfig{}).to_json();
  j["custom"]["hairpin"] = "yes";
  EXPECT_EQ(message_of<InvalidArgument>([&] { Nat::from_json(j); }),
            "nat.custom.hairpin: expected true or false, got 'yes'");
}

TEST(NatJson, InvertedOrMalformedPortRangeIsRejected) {
  json j = Nat::custom(NatConfig{}).to_json();
  j["custom"]["port_range"] = {3000, 2000};
  auto msg = message_of<InvalidArgument>([&] { Nat::from_json(j); });
  EXPECT_TRUE(contains(msg, "nat.custom: port_range = [3000, 2000]")) << msg;
  j["custom"]["port_range"] = {1000};
  msg = message_of<InvalidArgument>([&] { Nat::from_json(j); });
  EXPECT_TRUE(contains(msg, "nat.custom.port_range: expected [lo, hi], got [1000]")) << msg;
  j["custom"]["port_range"] = {1000, 70000};
  msg = message_of<InvalidArgument>([&] { Nat::from_json(j); });
  EXPECT_TRUE(contains(msg, "nat.custom.port_range[1]: ")) << msg;
  EXPECT_TRUE(contains(msg, "got 70000")) << msg;
}

TEST(NatConfigJson, StandaloneErrorsAreNamedNatConfig) {
  const auto msg = message_of<InvalidArgument>([] { NatConfig::from_json(json::array()); });
  EXPECT_EQ(msg, "nat_config: expected an object, got []");
}

// ---- NatMapping / NatFiltering / NatV6Mode spellings ----

TEST(NatMappingJson, UsesSpecNames) {
  EXPECT_EQ(to_string(kEim), "endpoint_independent");
  EXPECT_EQ(to_string(kAdm), "address_dependent");
  EXPECT_EQ(to_string(kApdm), "endpoint_dependent");
  for (auto m : {kEim, kAdm, kApdm}) EXPECT_EQ(parse_nat_mapping(to_string(m)), m);
}

TEST(NatMappingJson, AcceptsTheRfcNameForApdm) {
  EXPECT_EQ(parse_nat_mapping("address_and_port_dependent"), kApdm);
  EXPECT_EQ(json("address_and_port_dependent").get<NatMapping>(), kApdm);
}

TEST(NatMappingJson, RejectsUnknownNamesNamingTheValue) {
  const auto msg = message_of<InvalidArgument>([] { parse_nat_mapping("eim"); });
  EXPECT_TRUE(contains(msg, "mapping: unknown value 'eim'")) << msg;
}

TEST(NatFilteringJson, UsesSpecNames) {
  EXPECT_EQ(to_string(kEif), "endpoint_independent");
  EXPECT_EQ(to_string(kAdf), "address_dependent");
  EXPECT_EQ(to_string(kApdf), "address_and_port_dependent");
  for (auto f : {kEif, kAdf, kApdf}) EXPECT_EQ(parse_nat_filtering(to_string(f)), f);
}

TEST(NatFilteringJson, DoesNotTakeTheMappingOnlyAlias) {
  // SPEC 13.6 lists "endpoint_dependent" for NatMapping only.
  const auto msg = message_of<InvalidArgument>([] { parse_nat_filtering("endpoint_dependent"); });
  EXPECT_TRUE(contains(msg, "filtering: unknown value 'endpoint_dependent'")) << msg;
}

TEST(NatEnumJson, HooksEncodeNamesNotIntegers) {
  EXPECT_EQ(json(kApdm), json("endpoint_dependent"));
  EXPECT_EQ(json(kAdf), json("address_dependent"));
  EXPECT_EQ(json(NatV6Mode::Nat64), json("nat64"));
  EXPECT_EQ(json("masquerade").get<NatV6Mode>(), NatV6Mode::Masquerade);
  EXPECT_THROW(json(1).get<NatMapping>(), InvalidArgument);
}

TEST(NatV6ModeJson, NamesRoundTrip) {
  const std::vector<std::pair<NatV6Mode, std::string>> names = {{NatV6Mode::None, "none"},
                                                                {NatV6Mode::Nptv6, "nptv6"},
                                                                {NatV6Mode::Masquerade, "masquerade"},
                                                                {NatV6Mode::Nat64, "nat64"}};
  for (const auto& [mode, name] : names) {
    EXPECT_EQ(to_string(mode), name);
    EXPECT_EQ(parse_nat_v6_mode(name), mode);
  }
}

TEST(NatV6ModeJson, RejectsUnknownNamesNamingTheValue) {
  const auto msg = message_of<InvalidArgument>([] { parse_nat_v6_mode("nat46"); });
  EXPECT_EQ(msg, "nat_v6: unknown value 'nat46' (expected none, nptv6, masquerade or nat64)");
}

TEST(NatBinding, IsAComparableValue) {
  const NatBinding a{Proto::Tcp, SocketAddr::parse("10.0.1.2:5000"), SocketAddr::parse("198.18.0.10:5000"),
                     SocketAddr::parse("198.18.0.11:80"), std::chrono::seconds(7200)};
  NatBinding b = a;
  EXPECT_EQ(a, b);
  b.remote.reset();
  EXPECT_NE(a, b);
}

// ---- PortPolicy ----

TEST(PortPolicy, AllowAllAllowsEveryPort) {
  const auto p = PortPolicy::allow_all();
  EXPECT_TRUE(p.is_allow_all());
  EXPECT_FALSE(p.is_block_all());
  EXPECT_TRUE(p.allows(1));
  EXPECT_TRUE(p.allows(65535));
  EXPECT_TRUE(p.ports().empty());
}

TEST(PortPolicy, BlockAllAllowsNoPort) {
  const auto p = PortPolicy::block_all();
  EXPECT_TRUE(p.is_block_all());
  EXPECT_FALSE(p.is_allow_all());
  EXPECT_FALSE(p.allows(53));
  EXPECT_FALSE(p.allows(65535));
}

TEST(PortPolicy, AllowListAllowsOnlyListedPorts) {
  const auto p = PortPolicy::allow({443, 80});
  EXPECT_FALSE(p.is_allow_all());
  EXPECT_FALSE(p.is_block_all());
  EXPECT_TRUE(p.allows(80));
  EXPECT_TRUE(p.allows(443));
  EXPECT_FALSE(p.allows(8080));  // positive control above, negative here
  EXPECT_EQ(p.ports(), (std::vector<std::uint16_t>{80, 443}));
}

TEST(PortPolicy, EmptyAllowListIsBlockAll) {
  EXPECT_EQ(PortPolicy::allow({}), PortPolicy::block_all());
  EXPECT_TRUE(PortPolicy::allow({}).is_block_all());
  EXPECT_NE(PortPolicy::allow({}), PortPolicy::allow_all());
}

TEST(PortPolicy, EqualSetsCompareEqualRegardlessOfOrderAndDuplicates) {
  EXPECT_EQ(PortPolicy::allow({443, 80, 443}), PortPolicy::allow({80, 443}));
  EXPECT_NE(PortPolicy::allow({80}), PortPolicy::allow({80, 443}));
}

TEST(PortPolicy, RejectsPortZero) {
  const auto msg = message_of<InvalidArgument>([] { PortPolicy::allow({80, 0}); });
  EXPECT_TRUE(contains(msg, "port 0")) << msg;
}

TEST(PortPolicyJson, EveryFormIsWrittenAsInSpecAndRoundTrips) {
  const std::vector<std::pair<PortPolicy, json>> forms = {
      {PortPolicy::allow_all(), "allow_all"},
      {PortPolicy::block_all(), "block_all"},
      {PortPolicy::allow({443, 80}), json::parse(R"({"allow": [80, 443]})")},
  };
  for (const auto& [policy, encoded] : forms) {
    EXPECT_EQ(policy.to_json(), encoded);
    EXPECT_EQ(PortPolicy::from_json(encoded), policy) << encoded.dump();
  }
}

TEST(PortPolicyJson, EmptyAllowListReadsAsBlockAllAndIsWrittenSo) {
  const auto p = PortPolicy::from_json(json::parse(R"({"allow": []})"));
  EXPECT_EQ(p, PortPolicy::block_all());
  EXPECT_EQ(p.to_json(), json("block_all"));
}

TEST(PortPolicyJson, BadInputsNameTheValue) {
  const std::vector<std::pair<const char*, std::string>> cases = {
      {R"("allow-all")", "port_policy: unknown value 'allow-all'"},
      {R"({"allow": [80, 0]})", "port_policy.allow[1]: expected an integer from 1 to 65535, got 0"},
      {R"({"allow": [70000]})", "port_policy.allow[0]: expected an integer from 1 to 65535, got 70000"},
      {R"({"allow": 80})", "port_policy.allow: expected a list of ports, got 80"},
      {R"({"allow": [80], "deny": [22]})", "port_policy: unknown value"},
      {"true", "port_policy: unknown value true"},
  };
  for (const auto& [text, want] : cases) {
    const auto msg = message_of<InvalidArgument>([&] { PortPolicy::from_json(json::parse(text)); });
    EXPECT_TRUE(contains(msg, want)) << text << " -> " << msg;
  }
}

// ---- Firewall presets (SPEC 5) ----

TEST(FirewallNone, FiltersNothingAndIsTheDefault) {
  EXPECT_EQ(Firewall{}, Firewall::none());
  EXPECT_EQ(Firewall::none().kind(), Firewall::Kind::None);
  EXPECT_EQ(Firewall::none().to_config(), FirewallConfig{});
  EXPECT_FALSE(FirewallConfig{}.block_inbound);
  EXPECT_TRUE(FirewallConfig{}.outbound_tcp.is_allow_all());
  EXPECT_TRUE(FirewallConfig{}.outbound_udp.is_allow_all());
}

TEST(FirewallBlockInbound, BlocksInboundAndAllowsAllOutbound) {
  const auto c = Firewall::block_inbound().to_config();
  EXPECT_EQ(Firewall::block_inbound().kind(), Firewall::Kind::BlockInbound);
  EXPECT_TRUE(c.block_inbound);
  EXPECT_TRUE(c.outbound_tcp.is_allow_all());
  EXPECT_TRUE(c.outbound_udp.is_allow_all());
}

TEST(FirewallCorporate, AllowsOnlyWebTcpAndDnsUdpOut) {
  const auto c = Firewall::corporate().to_config();
  EXPECT_EQ(Firewall::corporate().kind(), Firewall::Kind::Corporate);
  EXPECT_TRUE(c.block_inbound);
  EXPECT_EQ(c.outbound_tcp, PortPolicy::allow({80, 443}));
  EXPECT_EQ(c.outbound_udp, PortPolicy::allow({53}));
}

TEST(FirewallCaptivePortal, AllowsAllTcpButOnlyDnsUdpOut) {
  const auto c = Firewall::captive_portal().to_config();
  EXPECT_EQ(Firewall::captive_portal().kind(), Firewall::Kind::CaptivePortal);
  EXPECT_TRUE(c.block_inbound);
  EXPECT_TRUE(c.outbound_tcp.is_allow_all());
  EXPECT_EQ(c.outbound_udp, PortPolicy::allow({53}));
}

TEST(FirewallPresets, ListsTheFourNonCustomModesInFactoryOrder) {
  const std::vector<Firewall> want = {Firewall::none(), Firewall::block_inbound(), Firewall::corporate(),
                                      Firewall::captive_portal()};
  const auto got = Firewall::presets();
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << i;
}

TEST(FirewallCustom, DiffersFromThePresetWithTheSameConfig) {
  EXPECT_NE(Firewall::custom(Firewall::corporate().to_config()), Firewall::corporate());
  EXPECT_EQ(Firewall::custom(Firewall::corporate().to_config()).to_config(),
            Firewall::corporate().to_config());
}

TEST(FirewallToString, IsTheJsonNameOrCustom) {
  EXPECT_EQ(Firewall::none().to_string(), "none");
  EXPECT_EQ(Firewall::block_inbound().to_string(), "block_inbound");
  EXPECT_EQ(Firewall::corporate().to_string(), "corporate");
  EXPECT_EQ(Firewall::captive_portal().to_string(), "captive_portal");
  EXPECT_EQ(Firewall::custom({}).to_string(), "custom");
}

// ---- FirewallConfigBuilder ----

TEST(FirewallConfigBuilder, DefaultsAllowEverything) {
  EXPECT_EQ(FirewallConfig::builder().build(), FirewallConfig{});
}

TEST(FirewallConfigBuilder, BlockInboundSetsTheFlag) {
  EXPECT_TRUE(FirewallConfig::builder().block_inbound().build().block_inbound);
}

TEST(FirewallConfigBuilder, AllowReplacesAllowAllWithTheList) {
  const auto c = FirewallConfig::builder().allow_tcp({443}).allow_udp({53}).build();
  EXPECT_EQ(c.outbound_tcp, PortPolicy::allow({443}));
  EXPECT_EQ(c.outbound_udp, PortPolicy::allow({53}));
}

TEST(FirewallConfigBuilder, RepeatedAllowAccumulates) {
  const auto c = FirewallConfig::builder().allow_tcp({80}).allow_tcp({443, 80}).build();
  EXPECT_EQ(c.outbound_tcp, PortPolicy::allow({80, 443}));
  EXPECT_TRUE(c.outbound_udp.is_allow_all());
}

TEST(FirewallConfigBuilder, AllowAfterBlockOpensOnlyThosePorts) {
  const auto c = FirewallConfig::builder().block_udp().allow_udp({53}).build();
  EXPECT_EQ(c.outbound_udp, PortPolicy::allow({53}));
}

TEST(FirewallConfigBuilder, AllowWithAnEmptyListBlocks) {
  EXPECT_TRUE(FirewallConfig::builder().allow_tcp({}).build().outbound_tcp.is_block_all());
}

TEST(FirewallConfigBuilder, BlockTcpAndUdpBlockEveryPort) {
  const auto c = FirewallConfig::builder().allow_tcp({22}).block_tcp().block_udp().build();
  EXPECT_TRUE(c.outbound_tcp.is_block_all());
  EXPECT_TRUE(c.outbound_udp.is_block_all());
}

TEST(FirewallConfigBuilder, OutboundSettersTakeWholePolicies) {
  const auto c = FirewallConfig::builder()
                     .outbound_tcp(PortPolicy::block_all())
                     .outbound_udp(PortPolicy::allow({123}))
                     .outbound_tcp(PortPolicy::allow_all())
                     .build();
  EXPECT_TRUE(c.outbound_tcp.is_allow_all());
  EXPECT_EQ(c.outbound_udp, PortPolicy::allow({123}));
}

TEST(FirewallConfigBuilder, RejectsPortZero) {
  EXPECT_THROW(FirewallConfig::builder().allow_udp({0}), InvalidArgument);
}

// ---- Firewall JSON ----

TEST(FirewallJson, EveryPresetIsWrittenAsItsSpecNameAndRoundTrips) {
  const std::vector<std::pair<Firewall, std::string>> names = {
      {Firewall::none(), "none"},
      {Firewall::block_inbound(), "block_inbound"},
      {Firewall::corporate(), "corporate"},
      {Firewall::captive_portal(), "captive_portal"}};
  for (const auto& [fw, name] : names) {
    EXPECT_EQ(fw.to_json(), json(name));
    EXPECT_EQ(Firewall::from_json(json(name)), fw) << name;
  }
}

TEST(FirewallJson, CustomIsWrittenInSpecShapeAndRoundTrips) {
  const Firewall fw =
      Firewall::custom(FirewallConfig::builder().block_inbound().allow_tcp({443, 22}).block_udp().build());
  const json want = json::parse(R"({"custom": {"block_inbound": true, "outbound_tcp": {"allow": [22, 443]},
                                               "outbound_udp": "block_all"}})");
  EXPECT_EQ(fw.to_json(), want);
  EXPECT_EQ(Firewall::from_json(json::parse(want.dump())), fw);
  EXPECT_EQ(FirewallConfig::from_json(fw.to_config().to_json()), fw.to_config());
}

TEST(FirewallJson, CustomMissingKeyIsNamed) {
  const auto msg = message_of<InvalidArgument>([] {
    Firewall::from_json(json::parse(R"({"custom": {"block_inbound": true, "outbound_tcp": "allow_all"}})"));
  });
  EXPECT_EQ(msg, "firewall.custom: missing key 'outbound_udp'");
}

TEST(FirewallJson, BadPolicyInsideCustomNamesTheKeyPath) {
  const auto msg = message_of<InvalidArgument>([] {
    Firewall::from_json(json::parse(
        R"({"custom": {"block_inbound": false, "outbound_tcp": {"allow": ["https"]}, "outbound_udp": "allow_all"}})"));
  });
  EXPECT_EQ(msg, "firewall.custom.outbound_tcp.allow[0]: expected an integer from 1 to 65535, got 'https'");
}

TEST(FirewallJson, UnknownNameThrowsNamingTheValueAndTheChoices) {
  const auto msg = message_of<InvalidArgument>([] { Firewall::from_json("block-inbound"); });
  EXPECT_EQ(
      msg,
      "firewall: unknown value 'block-inbound' (expected none, block_inbound, corporate, captive_portal or "
      "{custom: ...})");
}

TEST(FirewallJson, UnknownKeyInCustomIsRejected) {
  const auto msg = message_of<InvalidArgument>([] {
    Firewall::from_json(json::parse(
        R"({"custom": {"block_inbound": true, "outbound_tcp": "allow_all", "outbound_udp": "allow_all", "icmp": 1}})"));
  });
  EXPECT_TRUE(contains(msg, "firewall.custom: unknown key 'icmp'")) << msg;
}

// ---- Router presets (SPEC 6) ----

void expect_columns(RouterPreset p, const Nat& nat, NatV6Mode v6, const Firewall& fw, IpSupport ip,
                    AddressPool pool) {
  const PresetColumns c = preset_columns(p);
  EXPECT_EQ(c.nat, nat);
  EXPECT_EQ(c.nat_v6, v6);
  EXPECT_EQ(c.firewall, fw);
  EXPECT_EQ(c.ip_support, ip);
  EXPECT_EQ(c.pool, pool);
}

TEST(RouterPresetHome, IsANattedDualStackCpeBlockingInbound) {
  expect_columns(RouterPreset::Home, Nat::home(), NatV6Mode::None, Firewall::block_inbound(),
                 IpSupport::DualStack, AddressPool::Private);
}

TEST(RouterPresetPublic, RoutesPublicDualStackWithoutNatOrFirewall) {
  expect_columns(RouterPreset::Public, Nat::none(), NatV6Mode::None, Firewall::none(), IpSupport::DualStack,
                 AddressPool::Public);
}

TEST(RouterPresetPublicV4, RoutesPublicV4Only) {
  expect_columns(RouterPreset::PublicV4, Nat::none(), NatV6Mode::None, Firewall::none(), IpSupport::V4Only,
                 AddressPool::Public);
}

TEST(RouterPresetIspCgnat, AppliesCgnatFromTheCgnatPool) {
  expect_columns(RouterPreset::IspCgnat, Nat::cgnat(), NatV6Mode::None, Firewall::none(),
                 IpSupport::DualStack, AddressPool::Cgnat);
}

TEST(RouterPresetIspV6, IsV6OnlyWithNat64AndInboundBlocked) {
  expect_columns(RouterPreset::IspV6, Nat::none(), NatV6Mode::Nat64, Firewall::block_inbound(),
                 IpSupport::V6Only, AddressPool::Public);
}

TEST(RouterPresetCorporate, CombinesCorporateNatAndFirewall) {
  expect_columns(RouterPreset::Corporate, Nat::corporate(), NatV6Mode::None, Firewall::corporate(),
                 IpSupport::DualStack, AddressPool::Private);
}

TEST(RouterPresetHotel, IsV4OnlyCorporateNatBehindACaptivePortal) {
  expect_columns(RouterPreset::Hotel, Nat::corporate(), NatV6Mode::None, Firewall::captive_portal(),
                 IpSupport::V4Only, AddressPool::Private);
}

TEST(RouterPresetCloud, IsACloudNatGateway) {
  expect_columns(RouterPreset::Cloud, Nat::cloud_nat(), NatV6Mode::None, Firewall::none(),
                 IpSupport::DualStack, AddressPool::Private);
}

const std::vector<std::pair<RouterPreset, std::string>> kPresetNames = {
    {RouterPreset::Home, "home"},          {RouterPreset::Public, "public"},
    {RouterPreset::PublicV4, "public-v4"}, {RouterPreset::IspCgnat, "isp-cgnat"},
    {RouterPreset::IspV6, "isp-v6"},       {RouterPreset::Corporate, "corporate"},
    {RouterPreset::Hotel, "hotel"},        {RouterPreset::Cloud, "cloud"},
};

TEST(RouterPreset, RecommendsRealisticIpv6ForEveryPreset) {
  for (const auto& [preset, name] : kPresetNames)
    EXPECT_EQ(recommended_ipv6_profile(preset), Ipv6Profile::Realistic) << name;
}

TEST(RouterPreset, TomlNamesRoundTrip) {
  for (const auto& [preset, name] : kPresetNames) {
    EXPECT_EQ(to_string(preset), name);
    EXPECT_EQ(parse_router_preset(name), preset);
  }
}

TEST(RouterPreset, UnknownNameThrowsNamingTheValueAndTheChoices) {
  const auto msg = message_of<InvalidArgument>([] { parse_router_preset("isp_cgnat"); });
  EXPECT_EQ(
      msg,
      "preset: unknown value 'isp_cgnat' (expected home, public, public-v4, isp-cgnat, isp-v6, corporate, "
      "hotel or cloud)");
}

}  // namespace
}  // namespace patchbay
