// patchbay/userns.hpp: running labs without root.
//
//   int main() {
//     patchbay::init_userns();        // first thing, before any thread exists
//     patchbay::Lab lab;              // now works for an unprivileged user
//   }
//
// init_userns() maps the caller's uid/gid to 0 inside a new user namespace so all namespace,
// netlink, nftables and sysctl work runs as "root" there. It is a no-op when the effective uid is
// already 0 and idempotent. Linking the object library `patchbay_autoinit` does the same from an
// ELF constructor, so test binaries need no code.
#pragma once

namespace patchbay {

// Throws CapabilityError if the process already has more than one thread or the kernel refuses
// (the message lists the sysctls to check).
void init_userns();
// Same, but never throws; returns false on failure (for ELF constructors).
bool init_userns_early() noexcept;
// Succeeds when euid is 0 or CapEff holds CAP_NET_ADMIN, CAP_NET_RAW and CAP_SYS_ADMIN;
// otherwise throws CapabilityError naming the missing ones.
void check_caps();

}  // namespace patchbay
