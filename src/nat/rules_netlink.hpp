// The rule sets of rules.hpp as nf_tables messages (sys/nft_batch.hpp), for building and
// replacing them without libnftables.
//
// rules.cpp's text stays the readable definition of every rule set; these functions must give the
// kernel exactly what libnftables makes of that text: the same objects in the same order, each
// rule with the same expressions and registers. tests/integration/nat_netlink_test.cpp applies
// both to fresh namespaces, for every mapping, filtering, hairpin and firewall variant, and
// compares nft's listing and bytecode dump of the two.
#pragma once

#include "nat/rules.hpp"
#include "sys/nft_batch.hpp"

namespace patchbay::nat {

// Each appends to a batch of family ip (NAT, queue table) or inet (firewall).
void add_nat_ruleset(sys::NftBatch& b, const NatParams& p, bool replace);
void add_nat_queue_table(sys::NftBatch& b);
void add_nat_remove(sys::NftBatch& b);
void add_firewall_ruleset(sys::NftBatch& b, const FirewallParams& p, bool replace);
void add_firewall_remove(sys::NftBatch& b);

}  // namespace patchbay::nat
