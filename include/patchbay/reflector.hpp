// patchbay/reflector.hpp: ReflectorGuard, the owner of a running reflector or echo server.
//
//   auto guard = dc.spawn_reflector(SocketAddr{*dc_ip, 3478});           // UDP, "OBSERVED <peer>"
//   auto tcp   = dc.spawn_reflector(SocketAddr{*dc_ip, 3479}, Proto::Tcp);
//   guard.stop();   // or let it go out of scope; lab teardown stops it too
#pragma once

#include <memory>

#include "patchbay/net.hpp"

namespace patchbay {

namespace detail {
struct Reflector;
}

class ReflectorGuard {
 public:
  ReflectorGuard() = default;
  explicit ReflectorGuard(std::shared_ptr<detail::Reflector> r);
  ReflectorGuard(ReflectorGuard&&) noexcept;
  ReflectorGuard& operator=(ReflectorGuard&&) noexcept;
  ReflectorGuard(const ReflectorGuard&) = delete;
  ReflectorGuard& operator=(const ReflectorGuard&) = delete;
  ~ReflectorGuard();

  // Closes the socket(s); returns once the port is free. Idempotent.
  void stop();
  SocketAddr local_addr() const;

 private:
  std::shared_ptr<detail::Reflector> r_;
};

}  // namespace patchbay
