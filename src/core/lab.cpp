// Lab, its options and the builders.
#include "patchbay/lab.hpp"

#include <cstdlib>
#include <iostream>

#include "core/lab_core.hpp"

namespace patchbay {

// ---- LabOpts ----

LabOpts& LabOpts::outdir_from_env() {
  if (const char* env = std::getenv("PATCHBAY_OUTDIR"); env != nullptr && *env != '\0')
    outdir_ = OutDir::nested(env);
  return *this;
}

LabOpts& LabOpts::ipv6_profile(Ipv6Profile p) {
  if (p == Ipv6Profile::Deterministic) {
    dad_ = Ipv6DadMode::Disabled;
    provisioning_ = Ipv6ProvisioningMode::Static;
  } else {
    dad_ = Ipv6DadMode::Enabled;
    provisioning_ = Ipv6ProvisioningMode::RaDriven;
  }
  return *this;
}

// ---- Lab ----

Lab::Lab(LabOpts opts) : core_(std::make_shared<detail::LabCore>(std::move(opts))) {}
Lab::Lab(Lab&&) noexcept = default;
Lab& Lab::operator=(Lab&& o) noexcept {
  if (this != &o) {
    if (core_) core_->shutdown();
    core_ = std::move(o.core_);
  }
  return *this;
}

Lab::~Lab() {
  if (!core_) return;
  try {
    core_->shutdown();
  } catch (const std::exception& e) {
    std::cerr << "patchbay: lab " << core_->prefix() << " teardown: " << e.what() << "\n";
  }
}

void Lab::shutdown() {
  if (core_) core_->shutdown();
}

namespace {
// An operation on the lab (detail::LabRef): Removed once it is shut down.
detail::LabRef live(const std::shared_ptr<detail::LabCore>& c) {
  return detail::LabRef(c, "lab");
}
}  // namespace

std::string Lab::prefix() const {
  return live(core_)->prefix();
}
std::optional<std::string> Lab::label() const {
  return live(core_)->opts().label();
}
std::uint64_t Lab::seed() const {
  return live(core_)->seed();
}
std::uint64_t Lab::service_errors() const {
  return live(core_)->service_errors();
}
std::optional<std::filesystem::path> Lab::outdir() const {
  // Not live(): the files are most interesting once the lab has stopped writing them.
  if (!core_) throw Removed("lab", "moved from");
  return core_->run_dir();
}

RouterBuilder Lab::add_router(std::string name) {
  live(core_);
  return RouterBuilder(core_, std::move(name));
}

DeviceBuilder Lab::add_device(std::string name) {
  live(core_);
  return DeviceBuilder(core_, std::move(name));
}

void Lab::remove_device(NodeId id) {
  live(core_)->remove_device(id);
}
void Lab::remove_router(NodeId id) {
  live(core_)->remove_router(id);
}

Region Lab::add_region(std::string name) {
  auto v = live(core_)->regions().add(name);
  return Region(v.name, v.router, v.index);
}

void Lab::link_regions(const Region& a, const Region& b, RegionLink link) {
  live(core_)->regions().link(a.index(), b.index(), link);
}

void Lab::break_region_link(const Region& a, const Region& b) {
  live(core_)->regions().break_link(a.index(), b.index());
}

void Lab::restore_region_link(const Region& a, const Region& b) {
  live(core_)->regions().restore_link(a.index(), b.index());
}

DefaultRegions Lab::add_default_regions() {
  auto us = add_region("us"), eu = add_region("eu"), asia = add_region("asia");
  link_regions(us, eu, RegionLink::good(40));
  link_regions(us, asia, RegionLink::good(95));
  link_regions(eu, asia, RegionLink::good(120));
  return DefaultRegions{us, eu, asia};
}

std::optional<Region> Lab::region(std::string_view name) const {
  for (auto& r : regions())
    if (r.name() == name) return r;
  return std::nullopt;
}

std::vector<Region> Lab::regions() const {
  std::vector<Region> out;
  for (auto& v : live(core_)->regions().list()) out.push_back(Region(v.name, v.router, v.index));
  return out;
}

void Lab::set_link_condition(NodeId a, NodeId b, std::optional<LinkCondition> cond, LinkDirection dir) {
  auto ref = live(core_);
  auto& c = *ref;
  auto context = "set_link_condition(" + std::to_string(a.value) + ", " + std::to_string(b.value) + ")";
  // device <-> router: the device's interface(s) on that router.
  for (auto [dev, rt] : {std::pair{a, b}, std::pair{b, a}}) {
    if (auto d = c.nodes().device(dev)) {
      if (!c.nodes().router(rt))
        throw NotFound(context, "node " + std::to_string(rt.value) + " is not a router");
      std::lock_guard lk(d->mu);
      bool any = false;
      for (auto& i : d->ifaces)
        if (i.router == rt) {
          c.links().set_iface_condition(*d, i, cond, dir);
          any = true;
        }
      if (!any)
        throw InvalidArgument(context,
                              d->describe() + " has no interface on router " + std::to_string(rt.value));
      return;
    }
  }
  // parent <-> child router (or the IX, id 1).
  for (auto [child, parent] : {std::pair{a, b}, std::pair{b, a}}) {
    auto r = c.nodes().router(child);
    if (!r) continue;
    std::lock_guard lk(r->mu);
    NodeId up = r->upstream.value_or(NodeId{1});
    if (up != parent) continue;
    c.links().set_uplink_condition(*r, cond, dir);
    return;
  }
  if (!c.nodes().node(a)) throw NotFound(context, "node " + std::to_string(a.value) + " does not exist");
  if (!c.nodes().node(b)) throw NotFound(context, "node " + std::to_string(b.value) + " does not exist");
  throw InvalidArgument(context, "nodes " + std::to_string(a.value) + " and " + std::to_string(b.value) +
                                     " are not directly linked");
}

Ix Lab::ix() const {
  return Ix(live(core_)->weak_from_this(), NodeId{1}, "ix");
}

std::optional<Device> Lab::device(NodeId id) const {
  auto d = live(core_)->nodes().device(id);
  if (!d || !d->alive) return std::nullopt;
  return Device(core_, d->id, d->name);
}

std::optional<Router> Lab::router(NodeId id) const {
  auto r = live(core_)->nodes().router(id);
  if (!r || !r->alive) return std::nullopt;
  return Router(core_, r->id, r->name);
}

std::optional<Device> Lab::device_by_name(std::string_view name) const {
  auto n = live(core_)->nodes().by_name(name);
  if (!n || !n->alive || n->kind != detail::NodeKind::Device) return std::nullopt;
  return Device(core_, n->id, n->name);
}

std::optional<Router> Lab::router_by_name(std::string_view name) const {
  auto n = live(core_)->nodes().by_name(name);
  if (!n || !n->alive || n->kind != detail::NodeKind::Router) return std::nullopt;
  return Router(core_, n->id, n->name);
}

std::vector<Device> Lab::devices() const {
  std::vector<Device> out;
  for (auto& d : live(core_)->nodes().devices()) out.push_back(Device(core_, d->id, d->name));
  return out;
}

std::vector<Router> Lab::routers() const {
  std::vector<Router> out;
  for (auto& r : live(core_)->nodes().routers()) out.push_back(Router(core_, r->id, r->name));
  return out;
}

namespace {
std::string env_key(std::string_view s) {
  std::string out;
  for (char c : s)
    out += (std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_');
  return out;
}
}  // namespace

std::map<std::string, std::string> Lab::env_vars() const {
  std::map<std::string, std::string> out;
  for (auto& d : live(core_)->nodes().devices()) {
    std::lock_guard lk(d->mu);
    auto key = env_key(d->name);
    for (auto& i : d->ifaces) {
      if (i.ip) {
        out["NETSIM_IP_" + key + "_" + env_key(i.name)] = i.ip->to_string();
        if (i.name == d->default_if) out["NETSIM_IP_" + key] = i.ip->to_string();
      }
      if (i.ip6) {
        out["NETSIM_IP6_" + key + "_" + env_key(i.name)] = i.ip6->to_string();
        if (i.name == d->default_if) out["NETSIM_IP6_" + key] = i.ip6->to_string();
      }
    }
  }
  return out;
}

EventSubscription Lab::subscribe(std::size_t capacity) const {
  return live(core_)->bus().subscribe(capacity);
}

LabState Lab::state() const {
  return live(core_)->state();
}

// ---- RouterBuilder ----

RouterBuilder::RouterBuilder(std::weak_ptr<detail::LabCore> lab, std::string name)
    : lab_(std::move(lab)), cfg_(std::make_unique<detail::RouterConfig>()) {
  cfg_->name = std::move(name);
}
RouterBuilder::RouterBuilder(RouterBuilder&&) noexcept = default;
RouterBuilder& RouterBuilder::operator=(RouterBuilder&&) noexcept = default;
RouterBuilder::~RouterBuilder() = default;

RouterBuilder& RouterBuilder::preset(RouterPreset p) {
  auto cols = preset_columns(p);
  cfg_->preset = p;
  cfg_->nat = cols.nat;
  cfg_->nat_v6 = cols.nat_v6;
  cfg_->firewall = cols.firewall;
  cfg_->ip_support = cols.ip_support;
  cfg_->pool = cols.pool;
  return *this;
}
RouterBuilder& RouterBuilder::nat(Nat n) {
  cfg_->nat = std::move(n);
  return *this;
}
RouterBuilder& RouterBuilder::nat_v6(NatV6Mode m) {
  cfg_->nat_v6 = m;
  return *this;
}
RouterBuilder& RouterBuilder::firewall(Firewall fw) {
  cfg_->firewall = std::move(fw);
  return *this;
}
RouterBuilder& RouterBuilder::firewall_custom(const std::function<void(FirewallConfigBuilder&)>& fill) {
  auto b = FirewallConfig::builder();
  fill(b);
  cfg_->firewall = Firewall::custom(b.build());
  return *this;
}
RouterBuilder& RouterBuilder::upstream(NodeId parent) {
  if (cfg_->region)
    throw InvalidArgument("router '" + cfg_->name + "'",
                          "upstream and region are exclusive (region already set)");
  cfg_->upstream = parent;
  return *this;
}
RouterBuilder& RouterBuilder::region(const Region& r) {
  if (cfg_->upstream && !cfg_->region)
    throw InvalidArgument("router '" + cfg_->name + "'",
                          "upstream and region are exclusive (upstream already set)");
  cfg_->upstream = r.router_id();
  cfg_->region = r.index();
  return *this;
}
RouterBuilder& RouterBuilder::ip_support(IpSupport s) {
  cfg_->ip_support = s;
  return *this;
}
RouterBuilder& RouterBuilder::downstream_pool(AddressPool p) {
  cfg_->pool = p;
  return *this;
}
RouterBuilder& RouterBuilder::downstream_cidr(Ipv4Net net) {
  if (net.prefix_len() > 30)
    throw InvalidArgument("router '" + cfg_->name + "'",
                          "downstream_cidr " + net.to_string() + ": prefix longer than /30 leaves no host");
  cfg_->cidr = net;
  return *this;
}
RouterBuilder& RouterBuilder::downstream_cidr_v6(Ipv6Net net) {
  if (net.prefix_len() > 126)
    throw InvalidArgument("router '" + cfg_->name + "'", "downstream_cidr_v6 " + net.to_string() +
                                                             ": prefix longer than /126 leaves no host");
  cfg_->cidr6 = net;
  return *this;
}
RouterBuilder& RouterBuilder::ra_enabled(bool on) {
  cfg_->ra_enabled = on;
  return *this;
}
RouterBuilder& RouterBuilder::ra_interval_secs(std::uint64_t s) {
  cfg_->ra_interval = std::max<std::uint64_t>(1, s);
  return *this;
}
RouterBuilder& RouterBuilder::ra_lifetime_secs(std::uint64_t s) {
  cfg_->ra_lifetime = s;
  return *this;
}

RouterBuilder& RouterBuilder::block_icmp_frag_needed(bool on) {
  cfg_->block_frag_needed = on;
  return *this;
}

RouterBuilder& RouterBuilder::downlink_condition(LinkCondition cond) {
  cond.to_limits().validate();
  cfg_->downlink = std::move(cond);
  return *this;
}
RouterBuilder& RouterBuilder::uplink_condition(LinkCondition cond, LinkDirection dir) {
  cond.to_limits().validate();
  if (dir != LinkDirection::Down) cfg_->uplink_up = cond;
  if (dir != LinkDirection::Up) cfg_->uplink_down = cond;
  return *this;
}

RouterBuilder& RouterBuilder::mtu(std::uint32_t mtu) {
  if (mtu < 68 || mtu > 65535)
    throw InvalidArgument("router '" + cfg_->name + "'", "mtu " + std::to_string(mtu) + " outside 68..65535");
  cfg_->mtu = mtu;
  return *this;
}
DeviceBuilder& DeviceBuilder::ipv6_provisioning_mode(Ipv6ProvisioningMode m) {
  cfg_->provisioning = m;
  return *this;
}

Router RouterBuilder::build() {
  if (cfg_->built)
    throw InvalidArgument("router '" + cfg_->name + "'", "build() called twice on one builder");
  detail::LabRef core(lab_, "router '" + cfg_->name + "'");
  cfg_->built = true;
  auto r = core->build_router(*cfg_);
  return Router(core.shared(), r->id, r->name);
}

// ---- DeviceBuilder ----

DeviceBuilder::DeviceBuilder(std::weak_ptr<detail::LabCore> lab, std::string name)
    : lab_(std::move(lab)), cfg_(std::make_unique<detail::DeviceConfig>()) {
  cfg_->name = std::move(name);
}
DeviceBuilder::DeviceBuilder(DeviceBuilder&&) noexcept = default;
DeviceBuilder& DeviceBuilder::operator=(DeviceBuilder&&) noexcept = default;
DeviceBuilder::~DeviceBuilder() = default;

DeviceBuilder& DeviceBuilder::iface(std::string ifname, NodeId router, std::optional<LinkCondition> cond,
                                    LinkDirection dir) {
  detail::validate_ifname(cfg_->name, ifname);  // early, so the caller's context names the interface
  if (cond) {
    cond->to_limits().validate();
    auto& [up, down] = cfg_->conditions[ifname];
    if (dir != LinkDirection::Down) up = cond;
    if (dir != LinkDirection::Up) down = cond;
  }
  cfg_->ifaces.emplace_back(std::move(ifname), router);
  return *this;
}
DeviceBuilder& DeviceBuilder::uplink(NodeId router) {
  return iface("eth" + std::to_string(cfg_->ifaces.size()), router);
}
DeviceBuilder& DeviceBuilder::default_via(std::string ifname) {
  cfg_->default_via = std::move(ifname);
  return *this;
}
DeviceBuilder& DeviceBuilder::mtu(std::uint32_t mtu) {
  if (mtu < 68 || mtu > 65535)
    throw InvalidArgument("device '" + cfg_->name + "'", "mtu " + std::to_string(mtu) + " outside 68..65535");
  cfg_->mtu = mtu;
  return *this;
}

Device DeviceBuilder::build() {
  if (cfg_->built)
    throw InvalidArgument("device '" + cfg_->name + "'", "build() called twice on one builder");
  detail::LabRef core(lab_, "device '" + cfg_->name + "'");
  cfg_->built = true;
  auto d = core->build_device(*cfg_);
  return Device(core.shared(), d->id, d->name);
}

}  // namespace patchbay
