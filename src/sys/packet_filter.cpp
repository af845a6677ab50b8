#include "sys/packet_filter.hpp"

#include <pcap/pcap.h>
#include <sys/socket.h>

#include <memory>

#include "patchbay/error.hpp"
#include "sys/errno.hpp"

namespace patchbay::sys {

std::vector<sock_filter> compile_packet_filter(const std::string& expr, std::uint32_t snaplen) {
  if (expr.empty()) return {};
  // The compiler needs a handle for the link type; a "dead" one opens no device and costs
  // microseconds, and one per call keeps concurrent compiles apart.
  std::unique_ptr<pcap_t, decltype(&pcap_close)> dead(pcap_open_dead(DLT_EN10MB, static_cast<int>(snaplen)),
                                                      &pcap_close);
  if (!dead) throw Error("filter '" + expr + "'", "libpcap could not make a compiler handle");
  bpf_program prog{};
  if (pcap_compile(dead.get(), &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0)
    throw InvalidArgument("filter '" + expr + "'", pcap_geterr(dead.get()));
  std::vector<sock_filter> out(prog.bf_len);
  for (unsigned i = 0; i < prog.bf_len; ++i) {
    const bpf_insn& in = prog.bf_insns[i];
    out[i] = sock_filter{in.code, in.jt, in.jf, in.k};
  }
  pcap_freecode(&prog);
  return out;
}

void attach_packet_filter(int fd, const std::vector<sock_filter>& prog, const std::string& what) {
  if (prog.empty()) return;
  sock_fprog fp{static_cast<unsigned short>(prog.size()), const_cast<sock_filter*>(prog.data())};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fp, sizeof(fp)) != 0)
    throw_errno(what, "attach the capture filter");
}

}  // namespace patchbay::sys
