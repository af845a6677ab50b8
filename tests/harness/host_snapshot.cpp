// `host_snapshot save FILE` / `host_snapshot check FILE`: the host's network state (links,
// addresses, IPv4/IPv6 routes, the nft ruleset, forwarding and related sysctls) written before the
// suite and compared after it (ctest fixture HostSnapshot, tests/harness/CMakeLists.txt). Exit 1
// with the differing lines when the suite changed the host. As an unprivileged user (scripts/test.sh
// --rootless) the host's nft ruleset cannot be read: the snapshot records that instead, and such a
// user cannot change it either.
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "sys/nft.hpp"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<std::string> state() {
  std::vector<std::string> out;
  auto* idx = ::if_nameindex();
  for (auto* i = idx; i && i->if_index != 0; ++i)
    out.push_back("link " + std::string(i->if_name) + " " + std::to_string(i->if_index));
  ::if_freenameindex(idx);
  ifaddrs* ifa = nullptr;
  if (::getifaddrs(&ifa) == 0) {
    for (auto* a = ifa; a; a = a->ifa_next) {
      if (!a->ifa_addr || (a->ifa_addr->sa_family != AF_INET && a->ifa_addr->sa_family != AF_INET6)) continue;
      char host[NI_MAXHOST];
      const socklen_t len = a->ifa_addr->sa_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
      if (::getnameinfo(a->ifa_addr, len, host, sizeof host, nullptr, 0, NI_NUMERICHOST) == 0)
        out.push_back("addr " + std::string(a->ifa_name) + " " + host);
    }
    ::freeifaddrs(ifa);
  }
  for (const char* table : {"/proc/net/route", "/proc/net/ipv6_route"}) {
    const bool v6 = std::string_view(table).ends_with("ipv6_route");
    std::istringstream in(slurp(table));
    std::string line;
    while (std::getline(in, line)) {
      // ipv6_route's 7th and 8th columns are the route's reference and use counters, which move
      // with traffic; the route itself is the rest.
      std::istringstream cols(line);
      std::string col, kept;
      for (int i = 0; cols >> col; ++i)
        if (!v6 || (i != 6 && i != 7)) kept += col + " ";
      out.push_back("route " + kept);
    }
  }
  for (const char* s :
       {"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv6/conf/all/forwarding",
        "/proc/sys/net/ipv4/conf/all/rp_filter", "/proc/sys/net/ipv6/conf/all/disable_ipv6",
        "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/net/ipv4/ping_group_range"}) {
    auto v = slurp(s);
    v.erase(std::remove(v.begin(), v.end(), '\n'), v.end());
    out.push_back(std::string("sysctl ") + s + " " + v);
  }
  try {
    std::istringstream in(patchbay::sys::NftContext::create().run_text("list ruleset", "host snapshot"));
    std::string line;
    while (std::getline(in, line)) out.push_back("nft " + line);
  } catch (const std::exception& e) {
    // One line: the message spans lines, and sorting would scatter them (e.g. EPERM as nobody).
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    out.push_back("nft unreadable: " + what);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc == 3 ? argv[1] : "";
  if (mode != "save" && mode != "check") {
    std::fprintf(stderr, "usage: host_snapshot save|check FILE\n");
    return 2;
  }
  const auto now = state();
  if (mode == "save") {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(argv[2]).parent_path(), ec);
    std::ofstream f(argv[2]);
    for (auto& l : now) f << l << "\n";
    f.close();
    if (!f) {
      std::fprintf(stderr, "host_snapshot: cannot write %s: %s\n", argv[2], std::strerror(errno));
      return 1;
    }
    std::printf("host_snapshot: %zu lines saved to %s\n", now.size(), argv[2]);
    return 0;
  }
  std::vector<std::string> before;
  {
    std::istringstream in(slurp(argv[2]));
    std::string line;
    while (std::getline(in, line)) before.push_back(line);
  }
  if (before.empty()) {
    std::fprintf(stderr, "host_snapshot: %s is empty or missing (did the save step run?)\n", argv[2]);
    return 1;
  }
  std::set<std::string> a(before.begin(), before.end()), b(now.begin(), now.end());
  int diffs = 0;
  for (auto& l : a)
    if (!b.count(l)) std::cout << "- " << l << "\n", ++diffs;
  for (auto& l : b)
    if (!a.count(l)) std::cout << "+ " << l << "\n", ++diffs;
  std::printf("host_snapshot: %zu lines compared, %d differ\n", now.size(), diffs);
  return diffs == 0 ? 0 : 1;
}
