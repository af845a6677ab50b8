// The netlink message buffer: attribute layout and the 16-bit length limits (no namespaces).
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "patchbay/error.hpp"
#include "sys/netlink.hpp"
#include "sys/nfnl.hpp"

namespace {

using patchbay::InvalidArgument;
using patchbay::NetlinkError;
using patchbay::sys::NetlinkSocket;
using patchbay::sys::NfMsgBuffer;
using patchbay::sys::NlBatch;

TEST(NlMessageBuffer, AttributesArePaddedAndCountedInTheMessageLength) {
  NlBatch b("test");
  b.begin(RTM_NEWLINK, 0, "add link");
  b.header<ifinfomsg>();
  b.put_u8(1, 7);
  b.put_str(2, "eth0");
  auto* h = b.msg(0);
  EXPECT_EQ(h->nlmsg_flags & (NLM_F_REQUEST | NLM_F_ACK), NLM_F_REQUEST | NLM_F_ACK);
  // header 16 + ifinfomsg 16 + (4 + 1 -> 8) + (4 + 5 -> 12)
  EXPECT_EQ(h->nlmsg_len, 16u + 16u + 8u + 12u);
  std::vector<std::pair<std::uint16_t, std::size_t>> seen;
  patchbay::sys::for_each_attr(
      h, sizeof(ifinfomsg),
      [&](std::uint16_t t, const std::uint8_t*, std::size_t n) { seen.emplace_back(t, n); });
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], (std::pair<std::uint16_t, std::size_t>{1, 1}));
  EXPECT_EQ(seen[1], (std::pair<std::uint16_t, std::size_t>{2, 5}));
}

TEST(NlMessageBuffer, OversizedAttributeThrowsInsteadOfWrappingItsLength) {
  NlBatch b("test");
  b.begin(RTM_NEWLINK, 0, "add link");
  std::vector<char> big(65532, 'x');
  try {
    b.put(9, big.data(), big.size());
    FAIL() << "no exception";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("netlink attribute 9"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("65532 bytes"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(b.put(9, big.data(), big.size() - 1));  // 65531 is the largest that fits
}

TEST(NlMessageBuffer, OversizedNestThrows) {
  NfMsgBuffer b;
  b.begin(0, 0, 2);
  auto nest = b.nest_begin(3);
  std::vector<char> chunk(40000, 'y');
  b.put(1, chunk.data(), chunk.size());
  b.put(1, chunk.data(), chunk.size());
  EXPECT_THROW(b.nest_end(nest), InvalidArgument);
}

TEST(NetlinkSocket, AReplyThatNeverComesTimesOutWithTheRequestNamed) {
  auto s = NetlinkSocket::open();
  timeval tv{0, 100000};  // the default is kReplyTimeout; shorten it for the test
  ASSERT_EQ(::setsockopt(s.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
  patchbay::sys::RxBuffer rx(4096);
  try {
    patchbay::sys::recv_reply(s.fd(), rx, "router 'r': add link");
    FAIL() << "no exception";
  } catch (const NetlinkError& e) {
    EXPECT_EQ(e.errnum(), ETIMEDOUT);
    EXPECT_NE(std::string(e.what()).find("router 'r': add link: no reply from the kernel within 10 s"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
