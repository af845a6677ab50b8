#include "vm/settings.hpp"

#include <cstdlib>
#include <limits>

#include "patchbay/error.hpp"

namespace patchbay::vm {

namespace fs = std::filesystem;

namespace {

unsigned number(const char* var, const std::string& v, unsigned lo, unsigned hi) {
  std::size_t used = 0;
  unsigned long n = 0;
  try {
    n = std::stoul(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size() || v[0] == '-' || n < lo || n > hi)
    throw ConfigError(std::string(var), "'" + v + "' must be a whole number from " + std::to_string(lo) +
                                            " to " + std::to_string(hi));
  return static_cast<unsigned>(n);
}

bool name_ok(const std::string& n) {
  if (n.empty() || n.size() > 32) return false;
  for (char c : n)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) return false;
  return true;
}

}  // namespace

VmSettings VmSettings::from_env(const std::function<const char*(const char*)>& getenv) {
  auto get = [&](const char* var) -> std::optional<std::string> {
    const char* v = getenv ? getenv(var) : std::getenv(var);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  };
  VmSettings s;
  if (auto v = get("QEMU_VM_NAME")) {
    if (!name_ok(*v))
      throw ConfigError("QEMU_VM_NAME", "'" + *v + "' must be 1 to 32 letters, digits, '-' or '_'");
    s.name = *v;
  }
  if (auto v = get("QEMU_VM_IMAGE_URL")) s.image_url = *v;
  if (auto v = get("QEMU_VM_MEM_MB")) s.mem_mb = number("QEMU_VM_MEM_MB", *v, 512, 1 << 20);
  if (auto v = get("QEMU_VM_CPUS")) s.cpus = number("QEMU_VM_CPUS", *v, 1, 256);
  if (auto v = get("QEMU_VM_DISK_GB")) s.disk_gb = number("QEMU_VM_DISK_GB", *v, 4, 16384);
  if (auto v = get("QEMU_VM_SSH_USER")) {
    if (!name_ok(*v)) throw ConfigError("QEMU_VM_SSH_USER", "'" + *v + "' is not a user name");
    s.ssh_user = *v;
  }
  if (auto v = get("QEMU_VM_QEMU_BIN")) s.qemu_bin = *v;
  if (auto v = get("QEMU_VM_SSH_PORT"))
    s.ssh_port = static_cast<std::uint16_t>(number("QEMU_VM_SSH_PORT", *v, 1, 65535));
  if (auto v = get("QEMU_VM_SEED_PORT"))
    s.seed_port = static_cast<std::uint16_t>(number("QEMU_VM_SEED_PORT", *v, 1, 65535));
  if (s.seed_port == s.ssh_port)
    throw ConfigError("QEMU_VM_SEED_PORT", "'" + std::to_string(s.seed_port) + "' is also the ssh port");
  return s;
}

VmPaths VmPaths::of(const VmSettings& s, const fs::path& project_root) {
  VmPaths p;
  p.project = fs::absolute(project_root).lexically_normal();
  p.dir = p.project / ".qemu-vm" / s.name;
  p.disk = p.dir / "disk.qcow2";
  p.key = p.dir / "id_ed25519";
  p.pidfile = p.dir / "qemu.pid";
  p.qmp = p.dir / "qmp.sock";
  p.serial_log = p.dir / "serial.log";
  p.work = p.dir / "work";
  fs::path data;
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x)
    data = x;
  else if (const char* h = std::getenv("HOME"); h && *h)
    data = fs::path(h) / ".local" / "share";
  else
    data = "/tmp";
  std::string base = s.image_url.substr(s.image_url.find_last_of('/') + 1);
  if (base.empty()) base = "image.qcow2";
  p.image = data / "patchbay" / "qemu-images" / base;
  return p;
}

}  // namespace patchbay::vm
