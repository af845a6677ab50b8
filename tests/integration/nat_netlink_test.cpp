// The NAT and firewall rule sets built as netlink messages (nat/rules_netlink.cpp) against their
// definition as nft text (nat/rules.cpp): both are applied to fresh namespaces, for every variant,
// and nft's bytecode dump and listing of the two must be identical.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "nat/rules.hpp"
#include "nat/rules_netlink.hpp"
#include "netns_thread.hpp"
#include "patchbay/error.hpp"
#include "sys/nfnl.hpp"
#include "sys/nft.hpp"
#include "sys/nft_batch.hpp"

namespace {

using namespace patchbay;
using patchbay::testing::NetnsThread;

// One namespace configured from text, one from messages.
struct Pair {
  NetnsThread text_ns, nl_ns;
  sys::NftContext text = text_ns.run([] { return sys::NftContext::create(); });
  sys::NftContext nl_list = nl_ns.run([] { return sys::NftContext::create(); });
  sys::NfnlSocket nl = nl_ns.run([] { return sys::NfnlSocket::open("netlink ns"); });

  // The bytecode dump and listing of `what` ("table ip pb_nat") in both namespaces.
  void expect_same(const std::string& what, const std::string& variant) {
    auto a = text.run_bytecode("list " + what, "text ns");
    auto b = nl_list.run_bytecode("list " + what, "netlink ns");
    EXPECT_EQ(a, b) << variant;
    EXPECT_NE(a.find("[ "), std::string::npos) << "no bytecode in the dump: " << a;
  }
};

std::string describe(const NatConfig& c) {
  return "mapping " + to_string(c.mapping) + ", filtering " + to_string(c.filtering) + ", hairpin " +
         std::to_string(c.hairpin) + ", inbound_refresh " + std::to_string(c.inbound_refresh);
}

TEST(NatNetlink, EveryNatVariantGivesTheKernelWhatTheTextGives) {
  Pair p;
  bool installed = false;
  int variants = 0;
  for (auto m :
       {NatMapping::EndpointIndependent, NatMapping::AddressDependent, NatMapping::AddressAndPortDependent})
    for (auto f : {NatFiltering::EndpointIndependent, NatFiltering::AddressDependent,
                   NatFiltering::AddressAndPortDependent})
      for (bool hairpin : {false, true})
        for (bool refresh : {false, true}) {
          auto cfg = NatConfig::builder()
                         .mapping(m)
                         .filtering(f)
                         .hairpin(hairpin)
                         .inbound_refresh(refresh)
                         .udp_timeout(31)
                         .tcp_established_timeout(7201)
                         .build();
          nat::NatParams params{"ix", "br-lan", Ipv4Addr(198, 18, 0, 11), cfg};
          // The first variant creates (with the queue table), every later one replaces.
          std::string script = nat::nat_ruleset(params, installed);
          if (!installed) script = nat::nat_queue_table() + script;
          p.text.run(script, "text ns");
          sys::NftBatch b(NFPROTO_IPV4);
          if (!installed) nat::add_nat_queue_table(b);
          nat::add_nat_ruleset(b, params, installed);
          p.nl.apply({&b}, "netlink ns");
          installed = true;
          p.expect_same("table ip pb_nat", describe(cfg));
          ++variants;
        }
  EXPECT_EQ(variants, 36);
  p.expect_same("table ip pb_natq", "queue table");
}

TEST(NatNetlink, FirewallVariantsGiveTheKernelWhatTheTextGives) {
  Pair p;
  std::vector<std::pair<std::string, FirewallConfig>> variants{
      {"block_inbound", Firewall::block_inbound().to_config()},
      {"corporate", Firewall::corporate().to_config()},
      {"captive portal", Firewall::captive_portal().to_config()},
      {"block tcp", FirewallConfig::builder().block_tcp().build()},
      {"one udp port", FirewallConfig::builder().allow_udp({53}).build()},
      {"many ports",
       FirewallConfig::builder().block_inbound().allow_tcp({22, 80, 443, 8080}).allow_udp({53, 123}).build()},
      {"allow all", FirewallConfig{}},
  };
  bool installed = false;
  for (const auto& [name, cfg] : variants) {
    nat::FirewallParams params{"wan", cfg};
    p.text.run(nat::firewall_ruleset(params, installed), "text ns");
    sys::NftBatch b(NFPROTO_INET);
    nat::add_firewall_ruleset(b, params, installed);
    p.nl.apply({&b}, "netlink ns");
    installed = true;
    p.expect_same("table inet pb_fw", name);
  }
}

TEST(NatNetlink, RemovalLeavesNoTableAndToleratesAMissingOne) {
  NetnsThread ns;
  auto nl = ns.run([] { return sys::NfnlSocket::open("ns"); });
  auto list = ns.run([] { return sys::NftContext::create(); });
  for (int round = 0; round < 2; ++round) {  // the second round removes what is already gone
    sys::NftBatch ip(NFPROTO_IPV4), inet(NFPROTO_INET);
    if (round == 0) {
      nat::add_nat_ruleset(
          ip, nat::NatParams{"ix", "br-lan", Ipv4Addr(198, 18, 0, 11), *Nat::home().to_config()}, false);
      nat::add_firewall_ruleset(inet, nat::FirewallParams{"ix", Firewall::block_inbound().to_config()},
                                false);
      nl.apply({&ip, &inet}, "build");
      ASSERT_NE(list.run_text("list tables", "ns").find("pb_fw"), std::string::npos);
      ip = sys::NftBatch(NFPROTO_IPV4);
      inet = sys::NftBatch(NFPROTO_INET);
    }
    nat::add_nat_remove(ip);
    nat::add_firewall_remove(inet);
    nl.apply({&ip, &inet}, "remove");
    EXPECT_EQ(list.run_text("list tables", "ns"), "") << "round " << round;
  }
}

TEST(NatNetlink, AKernelRefusalNamesTheStepAndTheReason) {
  NetnsThread ns;
  auto nl = ns.run([] { return sys::NfnlSocket::open("router 'home'"); });
  sys::NftBatch b(NFPROTO_IPV4);
  b.add_chain("no_such_table", "c");
  try {
    nl.apply({&b}, "set_nat_mode(home)");
    FAIL() << "no exception";
  } catch (const NetlinkError& e) {
    EXPECT_EQ(e.errnum(), ENOENT);
    EXPECT_NE(std::string(e.what()).find("router 'home': set_nat_mode(home): No such file or directory"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
