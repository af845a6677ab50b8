// pb-holepunch: UDP hole punching between two peers behind NATs, via a rendezvous server.
//
// Deliberately plain C++ and POSIX sockets (no patchbay library): sims run it inside devices as
// the stand-in for a third-party peer-to-peer program, so it must not know it is in a lab.
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace {

constexpr const char* kUsage = R"(usage:
  pb-holepunch server [--bind IP:PORT]
  pb-holepunch peer --server HOST:PORT --session S --name N
                    [--timeout DUR] [--bind IP:PORT] [--messages N]
  pb-holepunch --help

server    rendezvous server (default --bind 0.0.0.0:3478). Answers "REGISTER <session> <name>"
          with "YOU <ip:port>" and, once two names share a session, sends each "PEER <ip:port>"
          of the other. JSON lines on stdout: listening, register (new or moved address),
          paired, rejected (third name in a session). Runs until SIGTERM/SIGINT (exit 0).
peer      registers every 200 ms until PEER arrives, punches every 100 ms, counts as connected
          once it heard the peer and the peer acknowledged one of its punches, then measures
          --messages ping round trips (default 5) and answers the peer for one more second.
          JSON lines on stdout: registered, peer, connected (exit 0) or failed (exit 1).
          --timeout (default 10s) bounds everything before connected; --bind default 0.0.0.0:0.

DUR is <int>ms, <int>s or <int>m. IPv4 only. Bad arguments exit 2.
)";

using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ---- Addresses and output ----

std::string to_string(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return std::string(ip) + ":" + std::to_string(ntohs(a.sin_port));
}

bool same(const sockaddr_in& a, const sockaddr_in& b) {
  return a.sin_addr.s_addr == b.sin_addr.s_addr && a.sin_port == b.sin_port;
}

// HOST:PORT; the host goes through getaddrinfo so sims may name the server via the lab's /etc/hosts.
sockaddr_in parse_addr(const std::string& flag, const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw UsageError(flag + ": expected IP:PORT, got '" + text + "'");
  std::string host = text.substr(0, colon), port = text.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoi(port) > 65535)
    throw UsageError(flag + ": bad port in '" + text + "'");
  addrinfo hints{};
  hints.ai_family = AF_INET;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0)
    throw UsageError(flag + ": cannot resolve '" + host + "': " + ::gai_strerror(rc));
  sockaddr_in out;
  std::memcpy(&out, res->ai_addr, sizeof out);
  ::freeaddrinfo(res);
  return out;
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// One line per event, flushed at once: sims tail the output while the program runs.
void emit(const std::string& json) {
  std::fputs((json + "\n").c_str(), stdout);
  std::fflush(stdout);
}

// ---- The socket ----

struct Datagram {
  sockaddr_in from;
  std::string verb, arg;  // "VERB rest"
};

class UdpSocket {
 public:
  explicit UdpSocket(const sockaddr_in& bind_to) : fd_(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&bind_to), sizeof bind_to) != 0)
      throw std::runtime_error("bind " + to_string(bind_to) + ": " + std::strerror(errno));
  }
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;
  ~UdpSocket() { ::close(fd_); }

  sockaddr_in local() const {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    return a;
  }
  // Losing a datagram is what the protocol's retries are for, so send errors are not fatal.
  void send(const sockaddr_in& to, const std::string& msg) const {
    ::sendto(fd_, msg.data(), msg.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  }
  // Waits up to `timeout` (with `mask` installed during the wait when given) for one datagram.
  std::optional<Datagram> recv(Ms timeout, const sigset_t* mask = nullptr) const {
    pollfd p{fd_, POLLIN, 0};
    timespec ts{static_cast<time_t>(timeout.count() / 1000),
                static_cast<long>(timeout.count() % 1000) * 1000000};
    if (::ppoll(&p, 1, &ts, mask) <= 0) return std::nullopt;
    char buf[1500];
    Datagram d{};
    socklen_t len = sizeof d.from;
    ssize_t n = ::recvfrom(fd_, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&d.from), &len);
    if (n < 0 || d.from.sin_family != AF_INET) return std::nullopt;
    std::string_view text(buf, static_cast<std::size_t>(n));
    auto sp = text.find(' ');
    d.verb = std::string(text.substr(0, sp));
    if (sp != std::string_view::npos) d.arg = std::string(text.substr(sp + 1));
    return d;
  }

 private:
  int fd_;
};

// ---- Arguments ----

Ms parse_duration(const std::string& flag, const std::string& text) {
  std::size_t digits = text.find_first_not_of("0123456789");
  std::string unit = digits == std::string::npos ? "" : text.substr(digits);
  long mult = unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60000 : 0;
  if (digits == 0 || digits == std::string::npos || digits > 7 || mult == 0 || std::stol(text) == 0)
    throw UsageError(flag + ": expected a positive <int>ms|s|m, got '" + text + "'");
  return Ms(std::stol(text) * mult);
}

int parse_count(const std::string& flag, const std::string& text, int lo, int hi) {
  if (text.empty() || text.size() > 6 || text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(text) < lo || std::stoi(text) > hi)
    throw UsageError(flag + ": expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                     ", got '" + text + "'");
  return std::stoi(text);
}

// A session or peer name travels as one space-separated token.
std::string parse_token(const std::string& flag, const std::string& text) {
  if (text.empty() || text.size() > 64 ||
      std::any_of(text.begin(), text.end(), [](unsigned char c) { return c <= ' ' || c == 0x7f; }))
    throw UsageError(flag + ": expected 1-64 printable characters without spaces, got '" + text + "'");
  return text;
}

// --flag value / --flag=value, each allowed flag at most once.
std::map<std::string, std::string> parse_flags(int argc, char** argv, const std::vector<std::string>& known) {
  std::map<std::string, std::string> out;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i], value;
    auto eq = a.find('=');
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
      a.resize(eq);
    } else if (std::find(known.begin(), known.end(), a) != known.end()) {
      if (i + 1 >= argc) throw UsageError(a + ": missing value");
      value = argv[++i];
    }
    if (std::find(known.begin(), known.end(), a) == known.end())
      throw UsageError(std::string("unknown option '") + argv[i] + "' for " + argv[1]);
    if (!out.emplace(a, value).second) throw UsageError(a + ": given twice");
  }
  return out;
}

// ---- Server ----

struct Registration {
  std::string name;
  sockaddr_in addr;
};

class Server {
 public:
  explicit Server(const sockaddr_in& bind) : sock_(bind) {}

  int run() {
    // SIGTERM is how sims stop the server; it is only delivered inside ppoll, so a request is
    // never cut in half and the exit status is a clean 0.
    sigset_t block, during_wait;
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &during_wait);
    struct sigaction sa {};
    sa.sa_handler = [](int) { stop_ = 1; };
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    emit(R"({"event":"listening","addr":)" + quoted(to_string(sock_.local())) + "}");
    while (!stop_) {
      auto d = sock_.recv(Ms(60000), &during_wait);
      if (d && d->verb == "REGISTER") on_register(*d);
    }
    return 0;
  }

 private:
  void on_register(const Datagram& d) {
    auto sp = d.arg.find(' ');
    if (sp == std::string::npos || sp == 0 || d.arg.find(' ', sp + 1) != std::string::npos) return;
    std::string session = d.arg.substr(0, sp), name = d.arg.substr(sp + 1), addr = to_string(d.from);
    auto& regs = sessions_[session];
    auto it = std::find_if(regs.begin(), regs.end(), [&](const auto& r) { return r.name == name; });
    if (it == regs.end() && regs.size() == 2) {
      sock_.send(d.from, "ERROR session " + session + " already has two peers");
      emit(R"({"event":"rejected","session":)" + quoted(session) + R"(,"name":)" + quoted(name) +
           R"(,"addr":)" + quoted(addr) + R"(,"reason":"session full"})");
      return;
    }
    // Repeated REGISTERs only refresh; an event is a new name or a moved address (a NAT rebinding).
    bool changed = it == regs.end() || !same(it->addr, d.from);
    if (it == regs.end()) it = regs.insert(regs.end(), Registration{name, d.from});
    it->addr = d.from;
    if (changed)
      emit(R"({"event":"register","session":)" + quoted(session) + R"(,"name":)" + quoted(name) +
           R"(,"addr":)" + quoted(addr) + "}");
    sock_.send(d.from, "YOU " + addr);
    if (regs.size() < 2) return;
    const Registration& other = regs[it == regs.begin() ? 1 : 0];
    // Every REGISTER gets the PEER answer again, so a lost PEER costs one retry interval.
    sock_.send(d.from, "PEER " + to_string(other.addr));
    if (!changed) return;
    sock_.send(other.addr, "PEER " + addr);
    emit(R"({"event":"paired","session":)" + quoted(session) + R"(,"peers":{)" + quoted(regs[0].name) + ":" +
         quoted(to_string(regs[0].addr)) + "," + quoted(regs[1].name) + ":" +
         quoted(to_string(regs[1].addr)) + "}}");
  }

  static inline volatile sig_atomic_t stop_ = 0;
  UdpSocket sock_;
  std::map<std::string, std::vector<Registration>> sessions_;
};

// ---- Peer ----

struct PeerOpts {
  sockaddr_in server, bind;
  std::string session, name;
  Ms timeout{10000};
  int messages = 5;
};

class Peer {
 public:
  explicit Peer(PeerOpts o) : o_(std::move(o)), sock_(o_.bind) {}

  int run() {
    const auto deadline = start_ + o_.timeout;
    for (;;) {
      auto now = Clock::now();
      if (phase_ == Phase::Linger && now >= linger_end_) return 0;
      if (!reason_.empty() || (phase_ != Phase::Linger && now >= deadline)) return fail();
      if (now >= next_send_) send_periodic(now);
      auto until = std::min({next_send_, phase_ == Phase::Linger ? linger_end_ : deadline});
      auto wait = std::chrono::ceil<Ms>(until - now);
      if (auto d = sock_.recv(std::max(wait, Ms(0)))) on_datagram(*d);
    }
  }

 private:
  enum class Phase { Register, Punch, Ping, Linger };

  void send_periodic(Clock::time_point now) {
    switch (phase_) {
      case Phase::Register:
        sock_.send(o_.server, "REGISTER " + o_.session + " " + o_.name);
        next_send_ = now + Ms(200);
        break;
      case Phase::Punch:
        sock_.send(*peer_, "PUNCH " + o_.name);
        next_send_ = now + Ms(100);
        break;
      case Phase::Ping:  // a new sequence number per try, so a late PONG is never mistaken for this one
        ping_sent_ = now;
        sock_.send(*peer_, "PING " + std::to_string(++ping_seq_));
        next_send_ = now + Ms(250);
        break;
      case Phase::Linger:
        next_send_ = Clock::time_point::max();
        break;
    }
  }

  void on_datagram(const Datagram& d) {
    if (same(d.from, o_.server)) return on_server(d);
    if (d.verb == "PUNCH") sock_.send(d.from, "ACK " + o_.name);
    if (d.verb == "PING") sock_.send(d.from, "PONG " + d.arg);
    // Before PEER we only help the other side along; its address is not ours to trust yet.
    if (!peer_ || (d.verb != "PUNCH" && d.verb != "ACK" && d.verb != "PING" && d.verb != "PONG")) return;
    // Peer-reflexive learning (as in ICE): the source the peer's NAT really uses wins over what
    // the server saw, which only differs when that NAT maps per destination.
    peer_ = d.from;
    heard_peer_ = true;
    if (d.verb == "ACK") acked_ = true;
    if (phase_ == Phase::Punch && heard_peer_ && acked_) {
      punch_ms_ = std::chrono::duration_cast<Ms>(Clock::now() - peer_at_).count();
      enter(Phase::Ping);
    }
    if (phase_ == Phase::Ping && d.verb == "PONG" && d.arg == std::to_string(ping_seq_)) on_pong();
  }

  void on_server(const Datagram& d) {
    if (d.verb == "ERROR" && phase_ == Phase::Register) {
      reason_ = "server: " + d.arg;
    } else if (d.verb == "YOU" && !reflexive_) {
      reflexive_ = d.arg;
      emit(R"({"event":"registered","reflexive":)" + quoted(d.arg) + "}");
    } else if (d.verb == "PEER" && !peer_) {
      try {
        peer_ = parse_addr("PEER", d.arg);
      } catch (const UsageError&) {
        return;
      }
      peer_at_ = Clock::now();
      emit(R"({"event":"peer","addr":)" + quoted(d.arg) + "}");
    }
    // YOU and PEER may arrive in either order or be lost; keep registering until both are known.
    if (phase_ == Phase::Register && reflexive_ && peer_) enter(Phase::Punch);
  }

  void on_pong() {
    rtts_.push_back(std::chrono::duration<double, std::milli>(Clock::now() - ping_sent_).count());
    if (static_cast<int>(rtts_.size()) < o_.messages) return enter(Phase::Ping);
    std::sort(rtts_.begin(), rtts_.end());
    std::size_t n = rtts_.size();
    double median = n % 2 ? rtts_[n / 2] : (rtts_[n / 2 - 1] + rtts_[n / 2]) / 2;
    char rtt[32];
    std::snprintf(rtt, sizeof rtt, "%.3f", median);
    emit(R"({"event":"connected","peer":)" + quoted(to_string(*peer_)) + R"(,"punch_ms":)" +
         std::to_string(punch_ms_) + R"(,"rtt_ms":)" + rtt + R"(,"messages":)" + std::to_string(n) + "}");
    // The peer may still be waiting for our ACK or PONG; leaving at once would strand it.
    linger_end_ = Clock::now() + Ms(1000);
    enter(Phase::Linger);
  }

  void enter(Phase p) {
    phase_ = p;
    next_send_ = Clock::now();  // send the first packet of the new phase without waiting
  }

  int fail() {
    if (reason_.empty()) {
      reason_ =
          !reflexive_ ? "no answer from the server " + to_string(o_.server)
          : !peer_ ? "the server sent no PEER (is the other peer registered in session " + o_.session + "?)"
          : phase_ == Phase::Punch
              ? std::string("hole punching to ") + to_string(*peer_) +
                    " failed: " + (heard_peer_ ? "no ACK for our punches" : "nothing received from the peer")
              : "only " + std::to_string(rtts_.size()) + " of " + std::to_string(o_.messages) +
                    " pings answered";
    }
    emit(R"({"event":"failed","reason":)" + quoted(reason_) + "}");
    std::fprintf(stderr, "pb-holepunch: error: %s\n", reason_.c_str());
    return 1;
  }

  PeerOpts o_;
  UdpSocket sock_;
  Phase phase_ = Phase::Register;
  Clock::time_point start_ = Clock::now(), next_send_ = start_, peer_at_, ping_sent_, linger_end_;
  std::optional<std::string> reflexive_;
  std::optional<sockaddr_in> peer_;
  bool heard_peer_ = false, acked_ = false;
  long punch_ms_ = 0;
  unsigned ping_seq_ = 0;
  std::vector<double> rtts_;
  std::string reason_;
};

int run(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string_view(argv[i]) == "--help" || std::string_view(argv[i]) == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
  if (argc < 2) throw UsageError("missing mode (server or peer)");
  std::string mode = argv[1];
  if (mode == "server") {
    auto f = parse_flags(argc, argv, {"--bind"});
    return Server(parse_addr("--bind", f.count("--bind") ? f["--bind"] : "0.0.0.0:3478")).run();
  }
  if (mode != "peer") throw UsageError("unknown mode '" + mode + "' (expected server or peer)");
  auto f = parse_flags(argc, argv, {"--server", "--session", "--name", "--timeout", "--bind", "--messages"});
  for (const char* required : {"--server", "--session", "--name"})
    if (!f.count(required)) throw UsageError(std::string(required) + ": required for peer");
  PeerOpts o;
  o.server = parse_addr("--server", f["--server"]);
  o.session = parse_token("--session", f["--session"]);
  o.name = parse_token("--name", f["--name"]);
  o.bind = parse_addr("--bind", f.count("--bind") ? f["--bind"] : "0.0.0.0:0");
  if (f.count("--timeout")) o.timeout = parse_duration("--timeout", f["--timeout"]);
  if (f.count("--messages")) o.messages = parse_count("--messages", f["--messages"], 1, 10000);
  return Peer(std::move(o)).run();
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "pb-holepunch: %s\n\n%s", e.what(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pb-holepunch: error: %s\n", e.what());
    return 1;
  }
}
