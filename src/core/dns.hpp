// DNS overlays (SPEC 10): a device's own /etc/hosts and /etc/resolv.conf, seen only inside it.
//
// The lab's files live in a private tmpfs that is mounted nowhere (fsopen + fsmount, made on first
// need and reached as /proc/self/fd/<fd>): one hosts file per device (`hosts-<id>`), the lab-wide
// `resolv.conf` and a `resolv-<id>.conf` for a device whose nameserver was overridden. Nothing of
// it is on a disk, so a lab that dies by SIGKILL leaves no file behind: the tmpfs goes with the
// last fd and mount that refers to it. Where the new mount API is refused (kernels before 5.2),
// the files go to a directory $TMPDIR/patchbay-<prefix>-XXXXXX removed at shutdown instead.
//
// Each device gets one mount namespace, made on first need (its first thread or child process:
// an idle device costs nothing), in which its files are bind-mounted over /etc/hosts and
// /etc/resolv.conf; every thread of the device joins it (join()) and children enter it between
// fork and exec. Routers and the IX have none.
//
// Files are rewritten in place (O_TRUNC + write on the same inode): a bind mount pins the inode,
// so a new file renamed over the old one would never be seen inside.
//
// A host file that does not exist (no /etc/resolv.conf, or a dangling symlink to a stopped
// resolver's stub file) cannot be covered without writing to the host: that file gets no
// overlay (a warning is printed once); Device::resolve still answers.
//
// Thread-safe; one mutex serialises the records, the file writes and namespace creation.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "patchbay/fd.hpp"
#include "patchbay/net.hpp"
#include "patchbay/types.hpp"

namespace patchbay::detail {

class DnsOverlay {
 public:
  explicit DnsOverlay(std::string lab_prefix);
  ~DnsOverlay();  // == shutdown()
  DnsOverlay(const DnsOverlay&) = delete;
  DnsOverlay& operator=(const DnsOverlay&) = delete;

  // A name every device resolves (lab-wide) or one device resolves; the same name again replaces
  // the address in place. InvalidArgument for a name a hosts file cannot hold.
  void add_lab_entry(const std::string& name, IpAddr ip);
  void add_device_entry(NodeId dev, const std::string& name, IpAddr ip);
  std::optional<IpAddr> resolve_lab(std::string_view name) const;
  // The device's own entry first, then the lab-wide one.
  std::optional<IpAddr> resolve_device(NodeId dev, std::string_view name) const;
  void set_lab_nameserver(IpAddr ip);
  void set_device_nameserver(NodeId dev, std::optional<IpAddr> ip);  // nullopt = the lab's

  // The device's mount namespace, made on first call. The fd stays open while a holder keeps it.
  std::shared_ptr<const UniqueFd> mount_ns(NodeId dev);
  // Moves the calling thread into `mntns_fd` for good, keeping its working directory (setns
  // would move it to the namespace's root).
  static void join(int mntns_fd);

  void forget_device(NodeId dev);                    // the device was removed: its files and namespace go
  void shutdown();                                   // every namespace fd closed, the directory removed
  std::optional<std::filesystem::path> dir() const;  // nullopt until first needed

 private:
  using Entry = std::pair<std::string, IpAddr>;  // name, address
  struct DeviceDns {
    std::vector<Entry> entries;
    std::optional<IpAddr> nameserver;
    std::shared_ptr<const UniqueFd> mnt;
    bool own_resolv = false;    // resolv-<id>.conf is bind-mounted (not the lab's resolv.conf)
    bool resolv_bound = false;  // /etc/resolv.conf is covered in the namespace
  };

  void ensure_dir();  // mu_ held
  std::filesystem::path hosts_path(std::uint64_t dev) const;
  std::filesystem::path resolv_path(std::uint64_t dev) const;
  std::filesystem::path lab_resolv_path() const;
  std::string hosts_text(const DeviceDns& d) const;
  std::string resolv_text(const DeviceDns& d) const;
  void write_hosts(std::uint64_t id, const DeviceDns& d, bool create);  // mu_ held
  void write_own_resolv(std::uint64_t id, const DeviceDns& d, bool create);
  void make_namespace(std::uint64_t id, DeviceDns& d);  // mu_ held
  std::string ctx() const;

  const std::string prefix_;
  mutable std::mutex mu_;
  bool closed_ = false;
  std::optional<std::filesystem::path> dir_;
  UniqueFd tmpfs_;  // the detached tmpfs dir_ points into (/proc/self/fd/N); empty: dir_ is on disk
  std::vector<Entry> lab_entries_;
  IpAddr lab_nameserver_;
  std::map<std::uint64_t, DeviceDns> devices_;
};

}  // namespace patchbay::detail
