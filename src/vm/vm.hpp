// `patchbay vm ...` (SPEC 16): a QEMU Linux VM for hosts that cannot run labs themselves (macOS,
// locked-down Linux). Every command returns the process exit code and prints progress on `out`
// and problems on `err`; ConfigError for bad settings (QEMU_VM_*), Error for a failed step.
//
//   patchbay vm up [--recreate]     boot (or reuse) the VM; waits until ssh answers
//   patchbay vm status              0 running, 3 not running
//   patchbay vm ssh -- CMD...       run CMD in the VM (an interactive shell without CMD)
//   patchbay vm run SIMS... [-- RUN FLAGS]   `patchbay run` in the VM on the shared project
//   patchbay vm serve               the devtools on the VM's runs (<vm dir>/work/runs)
//   patchbay vm down                SIGTERM, SIGKILL after 20 s
//   patchbay vm cleanup             stale pid file and sockets of a VM that is gone
#pragma once

#include <filesystem>
#include <iosfwd>
#include <string>
#include <vector>

namespace patchbay::vm {

struct VmOptions {
  std::filesystem::path project_root;  // shared as /app; default the current directory
  bool recreate = false;               // up: a new disk from the cached image
  std::vector<std::string> args;       // ssh: the command; run: sims and run flags
  std::string bind;                    // serve: the devtools address ("" = default)
};

int vm_up(const VmOptions& o, std::ostream& out, std::ostream& err);
int vm_down(const VmOptions& o, std::ostream& out, std::ostream& err);
int vm_status(const VmOptions& o, std::ostream& out, std::ostream& err);
int vm_cleanup(const VmOptions& o, std::ostream& out, std::ostream& err);
int vm_ssh(const VmOptions& o, std::ostream& out, std::ostream& err);
int vm_run(const VmOptions& o, std::ostream& out, std::ostream& err);
int vm_serve(const VmOptions& o, std::ostream& out, std::ostream& err);

}  // namespace patchbay::vm
