// `patchbay vm` end to end against stand-ins (SPEC 16, issue 13's stub-image test): fake
// qemu-system, qemu-img, ssh-keygen and ssh on PATH record their command lines, so the lifecycle
// (up, status, ssh, run, down, cleanup) and what each step asks of QEMU and ssh are checked here
// without QEMU or an image download. docs/vm.md describes the manual check with a real VM.
#include <signal.h>

#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "cli_scratch.hpp"

using namespace cli_test;

namespace {

void script(const fs::path& p, const std::string& body) {
  std::ofstream(p) << "#!/bin/bash\n" << body;
  fs::permissions(p, static_cast<fs::perms>(0755));
}

// The stand-ins, first on PATH, and the environment `patchbay vm` reads.
struct FakeVm {
  const Scratch& s;
  fs::path bin, log;
  explicit FakeVm(const Scratch& scratch)
      : s(scratch), bin(scratch.dir / "fakebin"), log(scratch.dir / "calls") {
    fs::create_directories(bin);
    fs::create_directories(log);
    // qemu: records its arguments, "boots" a sleep whose pid goes into -pidfile, and returns as
    // -daemonize does.
    script(bin / "fake-qemu", "echo \"$*\" > '" + (log / "qemu").string() +
                                  "'\nwhile [ $# -gt 0 ]; do [ \"$1\" = -pidfile ] && pf=$2; shift; done\n"
                                  "sleep 120 </dev/null >/dev/null 2>&1 &\necho $! > \"$pf\"\n");
    script(bin / "qemu-img", "echo \"$*\" >> '" + (log / "qemu-img").string() + "'\ntouch \"${@: -2:1}\"\n");
    script(bin / "ssh-keygen",
           "while [ $# -gt 0 ]; do [ \"$1\" = -f ] && f=$2; shift; done\n"
           "echo private > \"$f\"; echo 'ssh-ed25519 AAAAfake patchbay-vm' > \"$f.pub\"\n");
    // ssh: records every call; the first one also fetches the cloud-init seed the way the guest
    // would, from the host's seed server.
    script(
        bin / "ssh",
        "echo \"$*\" >> '" + (log / "ssh").string() + "'\n" + "if [ ! -f '" + (log / "seed").string() +
            "' ]; then exec 3<>/dev/tcp/127.0.0.1/18555 && printf 'GET /user-data HTTP/1.0\\r\\n\\r\\n' >&3 "
            "&& cat <&3 > '" +
            (log / "seed").string() + "'; fi\nexit 0\n");
    std::ofstream(s.dir / "base.qcow2") << "qcow";
  }
  std::string env() const {
    return "env PATH=" + quote(bin.string()) +
           ":/usr/bin:/bin XDG_DATA_HOME=" + quote((s.dir / "data").string()) +
           " QEMU_VM_QEMU_BIN=" + quote((bin / "fake-qemu").string()) + " QEMU_VM_IMAGE_URL=file://" +
           quote((s.dir / "base.qcow2").string()) +
           " QEMU_VM_MEM_MB=1024 QEMU_VM_CPUS=2 QEMU_VM_SSH_PORT=12222 QEMU_VM_SEED_PORT=18555";
  }
  std::string calls(const std::string& tool) const { return slurp(log / tool); }
};

}  // namespace

TEST(VmCli, LifecycleUpStatusSshRunDownAgainstStandIns) {
  Scratch s;
  FakeVm vm(s);
  s.write("sims/ping.toml", topo());
  const fs::path dir = s.dir / ".qemu-vm" / "patchbay";

  auto r = s.run("vm status", vm.env());
  EXPECT_EQ(r.code, 3) << r.out << r.err;
  EXPECT_NE(r.out.find("vm 'patchbay': not running"), std::string::npos) << r.out;

  r = s.run("vm up", vm.env());
  ASSERT_EQ(r.code, 0) << r.out << "\n" << r.err;
  // The image is cached, a copy-on-write disk made over it, a key generated.
  const fs::path image = s.dir / "data/patchbay/qemu-images/base.qcow2";
  EXPECT_EQ(slurp(image), "qcow");
  EXPECT_EQ(vm.calls("qemu-img"), "create -q -f qcow2 -F qcow2 -b " + image.string() + " " +
                                      (dir / "disk.qcow2").string() + " 40G\n");
  const std::string q = vm.calls("qemu");
  for (const std::string& want :
       {std::string("-m 1024 -smp 2 "), std::string("hostfwd=tcp:127.0.0.1:12222-:22"),
        std::string("ds=nocloud;s=http://10.0.2.2:18555/"),
        "local,path=" + s.dir.string() + ",mount_tag=workspace,security_model=none,readonly=on",
        "-pidfile " + (dir / "qemu.pid").string(), std::string("-daemonize")})
    EXPECT_NE(q.find(want), std::string::npos) << want << " in " << q;
  // The guest's seed carried the generated key.
  EXPECT_NE(vm.calls("seed").find("      - ssh-ed25519 AAAAfake patchbay-vm"), std::string::npos)
      << vm.calls("seed");
  EXPECT_NE(vm.calls("ssh").find("-p 12222"), std::string::npos);
  EXPECT_NE(vm.calls("ssh").find("dev@127.0.0.1 true"), std::string::npos);

  r = s.run("vm status", vm.env());
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("running (pid "), std::string::npos) << r.out;
  const pid_t pid = std::stoi(slurp(dir / "qemu.pid"));
  r = s.run("vm up", vm.env());
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("already running (pid " + std::to_string(pid) + ")"), std::string::npos) << r.out;

  r = s.run("vm ssh -- uname -a", vm.env());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(vm.calls("ssh").find("-i " + (dir / "id_ed25519").string()), std::string::npos);
  EXPECT_NE(vm.calls("ssh").find("dev@127.0.0.1 uname -a\n"), std::string::npos) << vm.calls("ssh");

  // run: this very binary goes to the shared work dir; sims are named as the guest sees them.
  r = s.run("vm run sims/ping.toml --timeout 10s", vm.env());
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(::access((dir / "work/.bin/patchbay").c_str(), X_OK), 0);
  EXPECT_NE(vm.calls("ssh").find("cd /app && NETSIM_IN_VM=1 /work/.bin/patchbay run --work-dir /work/runs "
                                 "'/app/sims/ping.toml' '--timeout' '10s'"),
            std::string::npos)
      << vm.calls("ssh");
  s.write("../outside.toml", topo());
  r = s.run("vm run ../outside.toml", vm.env());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is outside the project root"), std::string::npos) << r.err;
  fs::remove(s.dir.parent_path() / "outside.toml");

  r = s.run("vm down", vm.env());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("vm 'patchbay': stopped"), std::string::npos) << r.out;
  EXPECT_NE(::kill(pid, 0), 0) << "the stand-in qemu still runs";
  EXPECT_FALSE(fs::exists(dir / "qemu.pid"));
  EXPECT_TRUE(fs::exists(dir / "disk.qcow2"));  // kept for the next `up`
  r = s.run("vm status", vm.env());
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.out.find("disk kept"), std::string::npos) << r.out;
}

TEST(VmCli, CleanupRemovesStaleFilesAndBadSettingsNameTheVariable) {
  Scratch s;
  FakeVm vm(s);
  const fs::path dir = s.dir / ".qemu-vm" / "patchbay";
  fs::create_directories(dir);
  std::ofstream(dir / "qemu.pid") << "999999\n";  // no such process
  std::ofstream(dir / "qmp.sock") << "";
  auto r = s.run("vm cleanup", vm.env());
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("removed stale " + (dir / "qemu.pid").string()), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(dir / "qmp.sock"));
  r = s.run("vm ssh -- true", vm.env());
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("is not running"), std::string::npos) << r.err;
  r = s.run("vm status", vm.env() + " QEMU_VM_CPUS=0");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("QEMU_VM_CPUS: '0' must be a whole number from 1 to 256"), std::string::npos) << r.err;
  r = s.run("vm up", vm.env() + " QEMU_VM_QEMU_BIN=/nonexistent/qemu");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("'/nonexistent/qemu' is not installed"), std::string::npos) << r.err;
}
