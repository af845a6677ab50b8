// `patchbay vm` settings and plans (src/vm): QEMU_VM_* parsing, paths, the qemu command line, the
// cloud-init seed and ssh options, without QEMU.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include "patchbay/error.hpp"
#include "vm/plan.hpp"
#include "vm/settings.hpp"

using namespace patchbay;
using namespace patchbay::vm;

namespace {

VmSettings with(std::map<std::string, std::string> env) {
  return VmSettings::from_env([env = std::move(env)](const char* k) -> const char* {
    auto it = env.find(k);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

bool has_pair(const std::vector<std::string>& a, const std::string& flag, const std::string& value) {
  for (std::size_t i = 0; i + 1 < a.size(); ++i)
    if (a[i] == flag && a[i + 1] == value) return true;
  return false;
}

}  // namespace

TEST(VmSettings, DefaultsAndOverridesFromTheEnvironment) {
  auto d = with({});
  EXPECT_EQ(d.name, "patchbay");
  EXPECT_EQ(d.mem_mb, 4096u);
  EXPECT_EQ(d.cpus, 4u);
  EXPECT_EQ(d.disk_gb, 40u);
  EXPECT_EQ(d.ssh_user, "dev");
  EXPECT_EQ(d.ssh_port, 2222);
  EXPECT_EQ(d.seed_port, 8555);
  auto s = with({{"QEMU_VM_NAME", "ci-1"},
                 {"QEMU_VM_MEM_MB", "2048"},
                 {"QEMU_VM_CPUS", "2"},
                 {"QEMU_VM_DISK_GB", "8"},
                 {"QEMU_VM_SSH_USER", "tester"},
                 {"QEMU_VM_QEMU_BIN", "/opt/q"},
                 {"QEMU_VM_SSH_PORT", "2300"},
                 {"QEMU_VM_SEED_PORT", "8600"},
                 {"QEMU_VM_IMAGE_URL", "file:///img/base.qcow2"}});
  EXPECT_EQ(s.name, "ci-1");
  EXPECT_EQ(s.mem_mb, 2048u);
  EXPECT_EQ(s.cpus, 2u);
  EXPECT_EQ(s.disk_gb, 8u);
  EXPECT_EQ(s.ssh_user, "tester");
  EXPECT_EQ(s.qemu_bin, "/opt/q");
  EXPECT_EQ(s.ssh_port, 2300);
  EXPECT_EQ(s.seed_port, 8600);
  EXPECT_EQ(s.image_url, "file:///img/base.qcow2");
}

TEST(VmSettings, BadValuesNameTheVariableAndTheValue) {
  auto error = [](std::map<std::string, std::string> env) {
    try {
      with(std::move(env));
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error({{"QEMU_VM_CPUS", "0"}}), "QEMU_VM_CPUS: '0' must be a whole number from 1 to 256");
  EXPECT_EQ(error({{"QEMU_VM_MEM_MB", "4g"}}),
            "QEMU_VM_MEM_MB: '4g' must be a whole number from 512 to 1048576");
  EXPECT_EQ(error({{"QEMU_VM_SSH_PORT", "-1"}}),
            "QEMU_VM_SSH_PORT: '-1' must be a whole number from 1 to 65535");
  EXPECT_EQ(error({{"QEMU_VM_NAME", "../x"}}),
            "QEMU_VM_NAME: '../x' must be 1 to 32 letters, digits, '-' or '_'");
  EXPECT_EQ(error({{"QEMU_VM_SEED_PORT", "2222"}}), "QEMU_VM_SEED_PORT: '2222' is also the ssh port");
}

TEST(VmPlan, QemuCommandLineCarriesTheSettingsSharesAndLifecycleFiles) {
  auto s = with({{"QEMU_VM_MEM_MB", "1024"}, {"QEMU_VM_CPUS", "2"}, {"QEMU_VM_SSH_PORT", "2299"}});
  auto p = VmPaths::of(s, "/proj");
  EXPECT_EQ(p.dir, "/proj/.qemu-vm/patchbay");
  EXPECT_EQ(p.image.filename(), "debian-12-genericcloud-amd64.qcow2");
  auto tcg = qemu_argv(s, p, Accel::Tcg, "");
  EXPECT_EQ(tcg.front(), "qemu-system-x86_64");
  EXPECT_TRUE(has_pair(tcg, "-machine", "q35,accel=tcg"));
  EXPECT_TRUE(has_pair(tcg, "-cpu", "max"));
  EXPECT_TRUE(has_pair(tcg, "-m", "1024"));
  EXPECT_TRUE(has_pair(tcg, "-smp", "2"));
  EXPECT_TRUE(has_pair(tcg, "-drive", "file=/proj/.qemu-vm/patchbay/disk.qcow2,if=virtio,format=qcow2"));
  EXPECT_TRUE(has_pair(tcg, "-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:2299-:22"));
  EXPECT_TRUE(has_pair(tcg, "-smbios", "type=1,serial=ds=nocloud;s=http://10.0.2.2:8555/"));
  EXPECT_TRUE(
      has_pair(tcg, "-virtfs", "local,path=/proj,mount_tag=workspace,security_model=none,readonly=on"));
  EXPECT_TRUE(
      has_pair(tcg, "-virtfs", "local,path=/proj/.qemu-vm/patchbay/work,mount_tag=work,security_model=none"));
  EXPECT_TRUE(has_pair(tcg, "-pidfile", "/proj/.qemu-vm/patchbay/qemu.pid"));
  EXPECT_TRUE(has_pair(tcg, "-serial", "file:/proj/.qemu-vm/patchbay/serial.log"));
  EXPECT_EQ(tcg.back(), "-daemonize");
  EXPECT_EQ(std::count(tcg.begin(), tcg.end(), "-virtfs"), 2);
  auto kvm = qemu_argv(s, p, Accel::Kvm, "/proj/target");
  EXPECT_TRUE(has_pair(kvm, "-machine", "q35,accel=kvm"));
  EXPECT_TRUE(has_pair(kvm, "-cpu", "host"));
  EXPECT_TRUE(
      has_pair(kvm, "-virtfs", "local,path=/proj/target,mount_tag=target,security_model=none,readonly=on"));
}

TEST(VmPlan, CloudInitMakesTheUserMountsTheSharesAndInstallsTheTools) {
  auto s = with({{"QEMU_VM_SSH_USER", "tester"}});
  const std::string u = cloud_user_data(s, "ssh-ed25519 AAAAkey patchbay-vm", false);
  EXPECT_EQ(u.rfind("#cloud-config\n", 0), 0u);
  EXPECT_NE(u.find("  - name: tester\n"), std::string::npos) << u;
  EXPECT_NE(u.find("      - ssh-ed25519 AAAAkey patchbay-vm\n"), std::string::npos) << u;
  EXPECT_NE(u.find("sudo: ALL=(ALL) NOPASSWD:ALL"), std::string::npos);
  EXPECT_NE(u.find("packages: [iproute2, nftables, iperf3, iputils-ping, curl, jq, libc6, "),
            std::string::npos)
      << u;
  EXPECT_NE(u.find(" libnftables1, "), std::string::npos) << u;  // what the copied CLI links
  EXPECT_NE(u.find(" libcpp-httplib0.11]"), std::string::npos) << u;
  EXPECT_NE(u.find("[workspace, /app, 9p,"), std::string::npos);
  EXPECT_NE(u.find("[work, /work, 9p,"), std::string::npos);
  EXPECT_EQ(u.find("/target"), std::string::npos);
  EXPECT_NE(cloud_user_data(s, "k", true).find("[target, /target, 9p,"), std::string::npos);
  EXPECT_NE(u.find("modprobe sch_netem"), std::string::npos);
  EXPECT_EQ(cloud_meta_data(s), "instance-id: patchbay-patchbay\nlocal-hostname: patchbay\n");
  auto ssh = ssh_argv(s, VmPaths::of(s, "/proj"), {"uname", "-a"});
  EXPECT_TRUE(has_pair(ssh, "-i", "/proj/.qemu-vm/patchbay/id_ed25519"));
  EXPECT_TRUE(has_pair(ssh, "-p", "2222"));
  EXPECT_TRUE(has_pair(ssh, "-o", "BatchMode=yes"));
  EXPECT_EQ(std::vector<std::string>(ssh.end() - 3, ssh.end()),
            (std::vector<std::string>{"tester@127.0.0.1", "uname", "-a"}));
}
