// Capture filters in the pcap-filter language of tcpdump and Wireshark ("icmp", "udp port 53",
// "host 10.0.1.2 and not arp"), compiled in-process by libpcap into a classic BPF program that the
// kernel runs on an AF_PACKET socket, so unwanted frames never reach user space.
//
//   auto prog = sys::compile_packet_filter("udp port 3478", 262144);   // InvalidArgument if bad
//   sys::attach_packet_filter(fd, prog, "capture on client eth0");
#pragma once

#include <linux/filter.h>

#include <cstdint>
#include <string>
#include <vector>

namespace patchbay::sys {

// Compiles `expr` for Ethernet frames of up to `snaplen` bytes. An empty expression accepts
// everything (an empty program). Throws InvalidArgument naming the filter and libpcap's message.
std::vector<sock_filter> compile_packet_filter(const std::string& expr, std::uint32_t snaplen);

// SO_ATTACH_FILTER; a no-op for an empty program. Throws SystemError naming `what`.
void attach_packet_filter(int fd, const std::vector<sock_filter>& prog, const std::string& what);

}  // namespace patchbay::sys
