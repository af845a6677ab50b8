// Reflectors and echo servers on a node's io thread.
#include <netinet/in.h>
#include <sys/socket.h>

#include <future>
#include <list>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ip/udp.hpp>
#include <asio/write.hpp>

#include "core/lab_core.hpp"
#include "patchbay/testing.hpp"
#include "sys/errno.hpp"

namespace patchbay {

namespace detail {

enum class ReflectorMode { UdpObserved, TcpObserved, TcpEcho };

struct Reflector : std::enable_shared_from_this<Reflector> {
  ReflectorMode mode;
  SocketAddr local;
  std::shared_ptr<IoGate> gate;
  // The coroutines own the sockets, so they die with the io_context even if a guard outlives the
  // lab; the reflector only points at them.
  std::weak_ptr<asio::ip::udp::socket> udp;
  std::weak_ptr<asio::ip::tcp::acceptor> acceptor;
  std::list<std::weak_ptr<asio::ip::tcp::socket>> sessions;  // io thread only
  std::atomic<bool> stopped{false};

  void close_all() {
    asio::error_code ec;
    if (auto u = udp.lock()) u->close(ec);
    if (auto a = acceptor.lock()) a->close(ec);
    for (auto& w : sessions)
      if (auto s = w.lock()) s->close(ec);
    sessions.clear();
  }

  void stop() {
    if (stopped.exchange(true)) return;
    auto done = std::make_shared<std::promise<void>>();
    auto fut = done->get_future();
    auto self = shared_from_this();
    if (!gate || !gate->post([self, done] {
          self->close_all();
          done->set_value();
        }))
      return;  // the io thread is gone, and the sockets with it
    fut.wait_for(std::chrono::seconds(2));
  }
};

// Node internals the reflectors need (rec() is protected).
struct ReflectorAccess {
  static std::shared_ptr<IoGate> gate(Node& n, const std::shared_ptr<NodeRec>& r) {
    n.executor();  // make sure the io thread exists
    std::lock_guard lk(r->exec_mu);
    return r->aw ? r->aw->gate() : nullptr;
  }
  static std::shared_ptr<NodeRec> rec(Node& n) { return n.rec(); }
};

namespace {

std::string observed(const SocketAddr& peer) {
  return "OBSERVED " + peer.to_string();
}

template <class Endpoint>
SocketAddr to_socket_addr(const Endpoint& ep) {
  return SocketAddr::from_sockaddr(ep.data(), static_cast<socklen_t>(ep.size()));
}

asio::awaitable<void> udp_loop(std::shared_ptr<asio::ip::udp::socket> sock) {
  std::vector<char> buf(65536);
  asio::ip::udp::endpoint peer;
  for (;;) {
    auto [ec, n] = co_await sock->async_receive_from(asio::buffer(buf), peer,
                                                     asio::experimental::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !sock->is_open()) co_return;
    if (ec) continue;
    std::string reply = observed(to_socket_addr(peer));
    co_await sock->async_send_to(asio::buffer(reply), peer,
                                 asio::experimental::as_tuple(asio::use_awaitable));
  }
}

asio::awaitable<void> echo_session(std::shared_ptr<asio::ip::tcp::socket> s) {
  char buf[16384];
  for (;;) {
    auto [ec, n] =
        co_await s->async_read_some(asio::buffer(buf), asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    auto [wec, w] = co_await asio::async_write(*s, asio::buffer(buf, n),
                                               asio::experimental::as_tuple(asio::use_awaitable));
    if (wec) co_return;
  }
}

asio::awaitable<void> tcp_loop(std::shared_ptr<Reflector> self,
                               std::shared_ptr<asio::ip::tcp::acceptor> acc) {
  for (;;) {
    auto [ec, sock] = co_await acc->async_accept(asio::experimental::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acc->is_open()) co_return;
    if (ec) continue;
    auto s = std::make_shared<asio::ip::tcp::socket>(std::move(sock));
    if (self->mode == ReflectorMode::TcpObserved) {
      asio::error_code pec;
      auto peer = s->remote_endpoint(pec);
      if (pec) continue;
      std::string reply = observed(to_socket_addr(peer));
      co_await asio::async_write(*s, asio::buffer(reply), asio::experimental::as_tuple(asio::use_awaitable));
      asio::error_code ignore;
      s->shutdown(asio::ip::tcp::socket::shutdown_both, ignore);
      s->close(ignore);
    } else {
      std::erase_if(self->sessions, [](auto& w) { return w.expired(); });
      self->sessions.push_back(s);
      asio::co_spawn(s->get_executor(), echo_session(s), asio::detached);
    }
  }
}

}  // namespace

ReflectorGuard start_reflector(Node& node, SocketAddr bind, ReflectorMode mode) {
  auto r = ReflectorAccess::rec(node);
  const bool tcp = mode != ReflectorMode::UdpObserved;
  const std::string ctx = r->describe() + ": reflector on " + bind.to_string();
  UniqueFd fd = node.socket(bind.family(), tcp ? SOCK_STREAM : SOCK_DGRAM);
  int one = 1;
  if (bind.ip().is_v6()) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (tcp) ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_storage ss;
  socklen_t len = bind.to_sockaddr(ss);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) sys::throw_errno(ctx, "bind");
  if (tcp && ::listen(fd.get(), 128) != 0) sys::throw_errno(ctx, "listen");
  len = sizeof ss;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);

  auto refl = std::make_shared<Reflector>();
  refl->mode = mode;
  refl->local = SocketAddr::from_sockaddr(reinterpret_cast<sockaddr*>(&ss), len);
  auto ex = node.executor();
  refl->gate = ReflectorAccess::gate(node, r);
  if (tcp) {
    auto proto = bind.ip().is_v4() ? asio::ip::tcp::v4() : asio::ip::tcp::v6();
    auto acc = std::make_shared<asio::ip::tcp::acceptor>(ex);
    acc->assign(proto, fd.release());
    refl->acceptor = acc;
    asio::co_spawn(ex, tcp_loop(refl, acc), asio::detached);
  } else {
    auto proto = bind.ip().is_v4() ? asio::ip::udp::v4() : asio::ip::udp::v6();
    auto sock = std::make_shared<asio::ip::udp::socket>(ex);
    sock->assign(proto, fd.release());
    refl->udp = sock;
    asio::co_spawn(ex, udp_loop(sock), asio::detached);
  }
  return ReflectorGuard(refl);
}

}  // namespace detail

ReflectorGuard::ReflectorGuard(std::shared_ptr<detail::Reflector> r) : r_(std::move(r)) {}
ReflectorGuard::ReflectorGuard(ReflectorGuard&&) noexcept = default;
ReflectorGuard& ReflectorGuard::operator=(ReflectorGuard&& o) noexcept {
  if (this != &o) {
    stop();
    r_ = std::move(o.r_);
  }
  return *this;
}
ReflectorGuard::~ReflectorGuard() {
  stop();
}

void ReflectorGuard::stop() {
  if (r_) r_->stop();
}

SocketAddr ReflectorGuard::local_addr() const {
  if (!r_) throw InvalidArgument("ReflectorGuard: empty guard");
  return r_->local;
}

ReflectorGuard Node::spawn_reflector(SocketAddr bind, Proto proto) {
  return detail::start_reflector(
      *this, bind,
      proto == Proto::Udp ? detail::ReflectorMode::UdpObserved : detail::ReflectorMode::TcpObserved);
}

namespace testing {

ReflectorGuard spawn_tcp_echo_server(Node& node, SocketAddr bind) {
  return detail::start_reflector(node, bind, detail::ReflectorMode::TcpEcho);
}

ReflectorGuard spawn_tcp_reflector(Node& node, SocketAddr bind) {
  return detail::start_reflector(node, bind, detail::ReflectorMode::TcpObserved);
}

}  // namespace testing

}  // namespace patchbay
