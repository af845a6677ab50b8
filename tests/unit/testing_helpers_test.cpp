// Argument checks of the blocking test helpers (patchbay::testing) that need no namespace.
#include <gtest/gtest.h>

#include "patchbay/error.hpp"
#include "patchbay/testing.hpp"

namespace {

TEST(TestingHelpers, MedianOfNoRoundTripsIsAnErrorNotAnOutOfBoundsRead) {
  patchbay::SocketAddr nowhere(patchbay::Ipv4Addr(127, 0, 0, 1), 9);
  EXPECT_THROW(patchbay::testing::udp_rtt_median(nowhere, 0, 0), patchbay::InvalidArgument);
  EXPECT_THROW(patchbay::testing::udp_rtt_median(nowhere, -3, 0), patchbay::InvalidArgument);
}

}  // namespace
