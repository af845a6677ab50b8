// What `patchbay vm up` asks of QEMU and cloud-init, as data: the qemu command line, the
// accelerator choice and the NoCloud seed documents. Pure functions, unit-tested without QEMU.
#pragma once

#include <string>
#include <vector>

#include "vm/settings.hpp"

namespace patchbay::vm {

enum class Accel { Kvm, Tcg };

// KVM when /dev/kvm can be opened read-write, else TCG (software emulation, several times slower).
Accel choose_accel();
const char* accel_name(Accel a);

// qemu-system-* -daemonize with a pid file, a QMP socket, the serial console in a file, user
// networking with ssh on 127.0.0.1:<ssh_port>, the NoCloud seed fetched from the host over HTTP
// (10.0.2.2:<seed_port>) and three 9p shares: the project (tag workspace, read-only), the work
// dir (tag work, read-write) and the cargo target dir when there is one (tag target, read-only).
std::vector<std::string> qemu_argv(const VmSettings& s, const VmPaths& p, Accel accel,
                                   const std::string& target_dir);

// cloud-init user-data: user `ssh_user` with the key and passwordless sudo, the packages labs
// use and the libraries the patchbay executable needs (the .deb's Depends), the shares mounted at /app, /work and /target, and sch_netem loaded when the kernel has it.
std::string cloud_user_data(const VmSettings& s, const std::string& ssh_pubkey, bool has_target);
std::string cloud_meta_data(const VmSettings& s);

// ssh options for the VM: its key, no host key checks (the VM is recreated at will), batch mode.
std::vector<std::string> ssh_argv(const VmSettings& s, const VmPaths& p,
                                  const std::vector<std::string>& remote);

}  // namespace patchbay::vm
