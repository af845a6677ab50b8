#include "vm/plan.hpp"

#include <fcntl.h>
#include <unistd.h>

namespace patchbay::vm {

Accel choose_accel() {
  const int fd = ::open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return Accel::Tcg;
  ::close(fd);
  return Accel::Kvm;
}

const char* accel_name(Accel a) {
  return a == Accel::Kvm ? "kvm" : "tcg";
}

std::vector<std::string> qemu_argv(const VmSettings& s, const VmPaths& p, Accel accel,
                                   const std::string& target_dir) {
  std::vector<std::string> a{
      s.qemu_bin,
      "-name",
      s.name,
      "-machine",
      std::string("q35,accel=") + accel_name(accel),
      "-cpu",
      accel == Accel::Kvm ? "host" : "max",
      "-m",
      std::to_string(s.mem_mb),
      "-smp",
      std::to_string(s.cpus),
      "-drive",
      "file=" + p.disk.string() + ",if=virtio,format=qcow2",
      "-netdev",
      "user,id=net0,hostfwd=tcp:127.0.0.1:" + std::to_string(s.ssh_port) + "-:22",
      "-device",
      "virtio-net-pci,netdev=net0",
      "-smbios",
      "type=1,serial=ds=nocloud;s=http://10.0.2.2:" + std::to_string(s.seed_port) + "/",
      "-virtfs",
      "local,path=" + p.project.string() + ",mount_tag=workspace,security_model=none,readonly=on",
      "-virtfs",
      "local,path=" + p.work.string() + ",mount_tag=work,security_model=none"};
  if (!target_dir.empty())
    a.insert(a.end(),
             {"-virtfs", "local,path=" + target_dir + ",mount_tag=target,security_model=none,readonly=on"});
  a.insert(a.end(),
           {"-serial", "file:" + p.serial_log.string(), "-display", "none", "-qmp",
            "unix:" + p.qmp.string() + ",server=on,wait=off", "-pidfile", p.pidfile.string(), "-daemonize"});
  return a;
}

std::string cloud_user_data(const VmSettings& s, const std::string& ssh_pubkey, bool has_target) {
  const std::string mount_opts = "trans=virtio,version=9p2000.L,msize=262144";
  std::string d = "#cloud-config\n";
  d += "users:\n  - name: " + s.ssh_user + "\n    shell: /bin/bash\n    sudo: ALL=(ALL) NOPASSWD:ALL\n";
  d += "    ssh_authorized_keys:\n      - " + ssh_pubkey + "\n";
  // The tools labs use, and the libraries of the patchbay executable `vm run` copies in.
  d += "package_update: true\npackages: [iproute2, nftables, iperf3, iputils-ping, curl, jq, " +
       std::string(PATCHBAY_DEB_DEPENDS) + "]\n";
  d += "mounts:\n";
  d += "  - [workspace, /app, 9p, \"" + mount_opts + ",ro\", \"0\", \"0\"]\n";
  d += "  - [work, /work, 9p, \"" + mount_opts + "\", \"0\", \"0\"]\n";
  if (has_target) d += "  - [target, /target, 9p, \"" + mount_opts + ",ro\", \"0\", \"0\"]\n";
  d += "runcmd:\n  - [sh, -c, \"modprobe sch_netem || true\"]\n";
  d += "  - [sh, -c, \"chown " + s.ssh_user + " /work || true\"]\n";
  return d;
}

std::string cloud_meta_data(const VmSettings& s) {
  return "instance-id: patchbay-" + s.name + "\nlocal-hostname: " + s.name + "\n";
}

std::vector<std::string> ssh_argv(const VmSettings& s, const VmPaths& p,
                                  const std::vector<std::string>& remote) {
  std::vector<std::string> a{"ssh",
                             "-i",
                             p.key.string(),
                             "-p",
                             std::to_string(s.ssh_port),
                             "-o",
                             "StrictHostKeyChecking=no",
                             "-o",
                             "UserKnownHostsFile=/dev/null",
                             "-o",
                             "LogLevel=ERROR",
                             "-o",
                             "BatchMode=yes",
                             "-o",
                             "ConnectTimeout=5",
                             s.ssh_user + "@127.0.0.1"};
  a.insert(a.end(), remote.begin(), remote.end());
  return a;
}

}  // namespace patchbay::vm
