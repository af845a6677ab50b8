// `patchbay vm` settings (SPEC 16): the QEMU_VM_* environment overrides, checked, and the files
// of one VM under <project>/.qemu-vm/<name>/.
//
//   auto s = vm::VmSettings::from_env();        // ConfigError naming the variable and its value
//   auto p = vm::VmPaths::of(s, project_root);  // p.dir, p.disk, p.pidfile, p.work, ...
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace patchbay::vm {

// Debian 12 ("bookworm") by default, not SPEC's Debian 13: `vm run` copies the host's own patchbay
// into the guest, and it is built against Debian 12's libraries (docs/vm.md).
inline constexpr const char* kDefaultImageUrl =
    "https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2";

struct VmSettings {
  std::string name = "patchbay";
  std::string image_url = kDefaultImageUrl;
  unsigned mem_mb = 4096;
  unsigned cpus = 4;
  unsigned disk_gb = 40;
  std::string ssh_user = "dev";
  std::string qemu_bin = "qemu-system-x86_64";
  std::uint16_t ssh_port = 2222;
  std::uint16_t seed_port = 8555;

  // Reads QEMU_VM_NAME, _IMAGE_URL, _MEM_MB, _CPUS, _DISK_GB, _SSH_USER, _QEMU_BIN, _SSH_PORT and
  // _SEED_PORT through `getenv` (std::getenv by default); unset or empty keeps the default.
  static VmSettings from_env(const std::function<const char*(const char*)>& getenv = {});
};

struct VmPaths {
  std::filesystem::path project;  // shared read-only as /app
  std::filesystem::path dir;      // <project>/.qemu-vm/<name>
  std::filesystem::path disk;     // copy-on-write overlay of the cached image
  std::filesystem::path key;      // ssh private key (key.pub beside it)
  std::filesystem::path pidfile, qmp, serial_log;
  std::filesystem::path work;   // shared read-write as /work
  std::filesystem::path image;  // the cached base image

  // The image cache is $XDG_DATA_HOME/patchbay/qemu-images (default ~/.local/share/...).
  static VmPaths of(const VmSettings& s, const std::filesystem::path& project_root);
};

}  // namespace patchbay::vm
