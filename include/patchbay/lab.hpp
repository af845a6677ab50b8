// patchbay/lab.hpp: the Lab, one emulated internet, and its options.
//
//   patchbay::init_userns();                       // only needed without root
//   patchbay::Lab lab{LabOpts{}.label("demo")};
//   auto dc   = lab.add_router("dc").build();                        // public, on the IX
//   auto home = lab.add_router("home").downstream_pool(AddressPool::Private).build();
//   auto dev  = lab.add_device("laptop").iface("eth0", home.id()).build();
//   auto out  = dev.output(Command("ping").args({"-c1", dc.uplink_ip()->to_string()}));
//
// Guarantees:
// - The Lab is the single owner (move-only) of every namespace, interface, worker thread and child
//   process it created. Destroying it (or shutdown()) terminates and reaps children, joins
//   threads and closes every namespace; nothing is left behind, nothing is written outside the
//   lab's namespaces, temporary directory and outdir. With an outdir (LabOpts::outdir or
//   $PATCHBAY_OUTDIR) every event reaches events.jsonl; the final state.json says "stopped".
// - Many labs can live in one process; they share nothing.
// - All methods are thread-safe. Topology-wide allocation is serialised by a lab lock that is
//   never held while waiting on the kernel.
// - The same sequence of builder calls gives the same addresses, ids and interface names.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "patchbay/device.hpp"
#include "patchbay/events.hpp"
#include "patchbay/net.hpp"
#include "patchbay/node.hpp"
#include "patchbay/router.hpp"
#include "patchbay/types.hpp"

namespace patchbay {

class OutDir {
 public:
  static OutDir nested(std::filesystem::path base) { return OutDir(std::move(base), true); }
  static OutDir exact(std::filesystem::path dir) { return OutDir(std::move(dir), false); }
  const std::filesystem::path& path() const { return path_; }
  bool is_nested() const { return nested_; }

 private:
  OutDir(std::filesystem::path p, bool nested) : path_(std::move(p)), nested_(nested) {}
  std::filesystem::path path_;
  bool nested_;
};

class LabOpts {
 public:
  LabOpts& label(std::string l) {
    label_ = std::move(l);
    return *this;
  }
  LabOpts& outdir(OutDir d) {
    outdir_ = std::move(d);
    return *this;
  }
  LabOpts& outdir_from_env();  // Nested($PATCHBAY_OUTDIR) when set
  LabOpts& seed(std::uint64_t s) {
    seed_ = s;
    return *this;
  }
  LabOpts& ipv6_dad_mode(Ipv6DadMode m) {
    dad_ = m;
    return *this;
  }
  LabOpts& ipv6_provisioning_mode(Ipv6ProvisioningMode m) {
    provisioning_ = m;
    return *this;
  }
  LabOpts& ipv6_profile(Ipv6Profile p);
  LabOpts& child_grace(std::chrono::milliseconds g) {
    child_grace_ = g;
    return *this;
  }
  LabOpts& extended_public_v4(Ipv4Net n) {
    extended_public_v4_ = n;
    return *this;
  }
  // Userspace, the default and only engine ($PATCHBAY_LINK_ENGINE may say "userspace"; anything
  // else throws InvalidArgument at lab creation).
  LabOpts& link_engine(LinkEngine e) {
    link_engine_ = e;
    return *this;
  }
  // The filter of the per-node log files (log.hpp); default $PATCHBAY_LOG, else $RUST_LOG, else
  // "info", read when the lab is created.
  LabOpts& log_filter(std::string f) {
    log_filter_ = std::move(f);
    return *this;
  }

  const std::optional<std::string>& label() const { return label_; }
  const std::optional<OutDir>& outdir() const { return outdir_; }
  std::optional<std::uint64_t> seed() const { return seed_; }  // nullopt = $PATCHBAY_SEED or random
  Ipv6DadMode dad_mode() const { return dad_; }
  Ipv6ProvisioningMode provisioning_mode() const { return provisioning_; }
  std::chrono::milliseconds child_grace() const { return child_grace_; }
  const Ipv4Net& extended_public_v4() const { return extended_public_v4_; }
  std::optional<LinkEngine> link_engine() const { return link_engine_; }
  const std::optional<std::string>& log_filter() const { return log_filter_; }

 private:
  std::optional<std::string> label_;
  std::optional<OutDir> outdir_;
  std::optional<std::uint64_t> seed_;
  Ipv6DadMode dad_ = Ipv6DadMode::Disabled;
  Ipv6ProvisioningMode provisioning_ = Ipv6ProvisioningMode::Static;
  std::chrono::milliseconds child_grace_{1000};
  Ipv4Net extended_public_v4_ = Ipv4Net::parse("11.0.0.0/8");
  std::optional<LinkEngine> link_engine_;
  std::optional<std::string> log_filter_;
};

// The lab root namespace and its IX bridge (198.18.0.0/24, 2001:db8::/64).
class Ix : public Node {
 public:
  Ipv4Addr gw() const;
  Ipv6Addr gw_v6() const;
  Ipv4Net cidr() const;
  Ipv6Net cidr_v6() const;
  std::string bridge() const;

  template <class F>
  auto spawn(F&& f) {
    return spawn_impl(*this, std::forward<F>(f));
  }

 private:
  friend class Lab;
  using Node::Node;
};

class Lab {
 public:
  // Creates the lab root namespace and the IX; emits lab_created and ix_created. An outdir that
  // cannot be created throws SystemError naming the path.
  explicit Lab(LabOpts opts = LabOpts{}.outdir_from_env());
  // A lab from a TOML lab file (SPEC 15.1: [[router]], [device.NAME] with one sub-table per
  // interface, [region.NAME] latencies), built in the SPEC's deterministic order. ConfigError names
  // the file, the table and the key; unknown keys are warnings on stderr.
  static Lab load(const std::filesystem::path& toml, std::optional<LabOpts> opts = std::nullopt);
  static Lab from_toml(std::string_view text, std::optional<LabOpts> opts = std::nullopt);
  Lab(Lab&&) noexcept;
  Lab& operator=(Lab&&) noexcept;
  ~Lab();  // == shutdown(), errors are logged
  void shutdown();

  std::string prefix() const;  // "lab-p<pid%9999+1><seq hex>"
  std::optional<std::string> label() const;
  std::uint64_t seed() const;
  // How often a lab service (event loop handler, NAT controller) failed on one item and carried
  // on; each failure is also a `service_error` event and an error log record (patchbay::service).
  std::uint64_t service_errors() const;
  // Run directory of events.jsonl/state.json (SPEC 13.1), nullopt without output; valid after shutdown().
  std::optional<std::filesystem::path> outdir() const;

  RouterBuilder add_router(std::string name);  // nothing is registered before build()
  DeviceBuilder add_device(std::string name);
  void remove_device(NodeId id);  // kills its processes, emits device_removed
  void remove_router(NodeId id);  // InUse while devices or sub-routers are attached
  // The condition of the link between a device and a router it is attached to (either order:
  // Up = leaving the device), or between a router and its parent (either order: Up = from the
  // child towards the parent). nullopt clears `dir`. NotFound / InvalidArgument when the two
  // nodes are not directly linked.
  void set_link_condition(NodeId a, NodeId b, std::optional<LinkCondition> cond,
                          LinkDirection dir = LinkDirection::Up);

  // Regions (region.hpp, SPEC 8). Names match [A-Za-z0-9_-]{1,32}.
  Region add_region(std::string name);  // InvalidArgument / AlreadyExists
  // Links two regions with `link` in both directions and routes every prefix of each region over
  // it. AlreadyExists if the pair is linked.
  void link_regions(const Region& a, const Region& b, RegionLink link);
  // Reroutes a <-> b through the region m with unbroken links to both that minimises
  // latency(a,m) + latency(m,b) (ties: lowest index). NotFound if none; InvalidArgument if broken.
  void break_region_link(const Region& a, const Region& b);
  void restore_region_link(const Region& a, const Region& b);  // InvalidArgument unless broken
  DefaultRegions add_default_regions();  // us, eu, asia; us-eu 40, us-asia 95, eu-asia 120 ms
  std::optional<Region> region(std::string_view name) const;
  std::vector<Region> regions() const;

  Ix ix() const;
  std::optional<Device> device(NodeId id) const;
  std::optional<Router> router(NodeId id) const;
  std::optional<Device> device_by_name(std::string_view name) const;
  std::optional<Router> router_by_name(std::string_view name) const;
  std::vector<Device> devices() const;  // ascending NodeId
  std::vector<Router> routers() const;

  // NETSIM_IP_<DEV>, NETSIM_IP_<DEV>_<IFACE>, NETSIM_IP6_... (SPEC 12.6)
  std::map<std::string, std::string> env_vars() const;

  // DNS overlays (SPEC 10). Every thread and child process of a device sees its own /etc/hosts
  // (localhost, lab-wide entries, then the device's entries) and /etc/resolv.conf; changes are
  // visible at once (files rewritten in place). Routers and the IX have no overlay. Names must
  // hold no whitespace, control character or '#' (InvalidArgument); a name added again gets the
  // new address. Each change emits dns_changed.
  void dns_entry(std::string name, IpAddr ip);                 // on every device
  std::optional<IpAddr> resolve(std::string_view name) const;  // lab-wide entries only
  void set_nameserver(IpAddr ip);  // resolv.conf: one "nameserver <ip>" line (default 127.0.0.53)

  EventSubscription subscribe(std::size_t capacity = 4096) const;
  LabState state() const;  // the reduced event stream (== state.json content)

 private:
  std::shared_ptr<detail::LabCore> core_;
};

}  // namespace patchbay
