// Deterministic seeds and link-local addresses (SPEC 3.6, 17 item 29). Expected values were
// computed with an independent implementation of the SPEC formulas.
#include "core/ids.hpp"

#include <gtest/gtest.h>

namespace patchbay::core {
namespace {

TEST(Ids, Splitmix64MatchesSpecVectors) {
  EXPECT_EQ(splitmix64(0), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(splitmix64(1), 0x910a2dec89025cc1ULL);
  EXPECT_EQ(splitmix64(~std::uint64_t{0}), 0xe4d971771b652c20ULL);
}

TEST(Ids, LinkLocalOfOneMatchesSpec) {
  EXPECT_EQ(ll(1).to_string(), "fe80::930a:2dec:8902:5cc1");
}

TEST(Ids, LinkLocalKeepsAlreadySetLocalBit) {
  // splitmix64(0) starts with 0xe2, which already has the 0x02 bit.
  EXPECT_EQ(ll(0).to_string(), "fe80::e220:a839:7b1d:cdaf");
}

TEST(Ids, LinkLocalIsInFe80Slash64WithLocalBitSet) {
  for (std::uint64_t s = 0; s < 1000; ++s) {
    auto a = ll(s);
    EXPECT_EQ(a.hi(), 0xfe80000000000000ULL) << s;
    EXPECT_NE(a.lo() & (std::uint64_t{0x02} << 56), 0u) << s;
    EXPECT_TRUE(a.is_link_local()) << s;
  }
}

TEST(Ids, Seed2MatchesSpecFormulaAndIsOrderSensitive) {
  EXPECT_EQ(seed2(1, 2), 0xa91f7a0dd5b47782ULL);
  EXPECT_EQ(seed2(2, 1), 0xa0160f9f564677a0ULL);
}

TEST(Ids, Seed3MatchesSpecFormula) {
  EXPECT_EQ(seed3(1, 2, 0xA5A5), 0x92a2633d3e7d4fe5ULL);
}

TEST(Ids, RouterAndDeviceHelpersUseTheSpecSeeds) {
  EXPECT_EQ(device_ll(1).to_string(), "fe80::930a:2dec:8902:5cc1");
  EXPECT_EQ(router_wan_ll(5, 1).to_string(), "fe80::a60a:dbbb:1949:53fe");
  EXPECT_EQ(router_lan_ll(5, 7).to_string(), "fe80::3a64:f40:4ad2:cf70");
  EXPECT_EQ(router_wan_ll(5, 1), ll(seed2(5, 1)));
  EXPECT_EQ(router_lan_ll(5, 7), ll(seed3(5, 7, 0xA5A5)));
}

TEST(Ids, ReplugToAnotherSwitchChangesRouterWanAddress) {
  EXPECT_NE(router_wan_ll(5, 1), router_wan_ll(5, 2));
}

}  // namespace
}  // namespace patchbay::core
