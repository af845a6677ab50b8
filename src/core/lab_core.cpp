#include "core/lab_core.hpp"
#include "core/macs.hpp"

#include <unistd.h>

#include <iostream>
#include <random>
#include <regex>

#include "core/ids.hpp"
#include "patchbay/consts.hpp"
#include "patchbay/log.hpp"
#include "sys/spelling.hpp"
#include "sys/sysctl.hpp"

namespace patchbay::detail {

namespace {

std::atomic<std::uint64_t> g_lab_seq{0};

}  // namespace

// ---- LabCore ----

LabCore::LabCore(LabOpts opts)
    : opts_(std::move(opts)), seq_(++g_lab_seq), plan_([&] {
        core::AddressPlan::Options o;
        o.extended_public_v4 = opts_.extended_public_v4();
        return o;
      }()) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "lab-p%d%llx", static_cast<int>(::getpid() % 9999 + 1),
                static_cast<unsigned long long>(seq_));
  prefix_ = buf;
  dns_ = std::make_unique<DnsOverlay>(prefix_);
  if (opts_.seed()) {
    seed_ = *opts_.seed();
  } else if (const char* env = std::getenv("PATCHBAY_SEED"); env != nullptr && *env != '\0') {
    try {
      seed_ = std::stoull(env, nullptr, 0);
    } catch (const std::exception&) {
      throw InvalidArgument("PATCHBAY_SEED", std::string("not an unsigned integer: '") + env + "'");
    }
  } else {
    std::random_device rd;
    seed_ = (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }
  if (!opts_.link_engine()) {
    std::string e = std::getenv("PATCHBAY_LINK_ENGINE") ? std::getenv("PATCHBAY_LINK_ENGINE") : "";
    if (e.empty() || e == "userspace")
      opts_.link_engine(LinkEngine::Userspace);
    else
      throw InvalidArgument("PATCHBAY_LINK_ENGINE",
                            "expected 'userspace' (the only link engine), got '" + e + "'");
  }
  // The filter of the per-node files, parsed once here: enabled() on a hot path only compares.
  // A bad LabOpts::log_filter is the caller's error (also without an outdir, so it shows at once);
  // a bad environment variable must not stop the lab.
  std::shared_ptr<const log::detail::Filter> log_filter;
  if (opts_.outdir() || opts_.log_filter()) {
    std::vector<std::string> errors;
    const std::string spec = opts_.log_filter().value_or(log::detail::filter_from_env());
    log_filter = std::make_shared<const log::detail::Filter>(log::detail::Filter::parse(spec, &errors));
    if (!errors.empty() && opts_.log_filter())
      throw InvalidArgument("lab '" + prefix_ + "': log_filter", "invalid directive " + errors.front());
    for (const auto& e : errors)
      std::cerr << "patchbay: lab '" << prefix_ << "': log filter: ignoring directive " << e << "\n";
  }
  // Before the first event (lab_created, in create_root) so events.jsonl starts at opid 0; a
  // directory that cannot be created fails the constructor here, before any namespace exists.
  if (opts_.outdir())
    writer_ = std::make_unique<events::OutputWriter>(
        *opts_.outdir(), opts_.label() && !opts_.label()->empty() ? *opts_.label() : prefix_,
        "lab '" + prefix_ + "'");
  logs_ = std::make_unique<NodeLogs>(writer_ ? std::optional(writer_->dir()) : std::nullopt,
                                     std::move(log_filter));
  bus_.set_sink([this](const LabEvent& ev) {
    {
      std::lock_guard lk(state_mu_);
      state_.apply(ev);
    }
    if (writer_) writer_->enqueue(ev);  // unbounded queue, no I/O: safe under the bus lock
  });
  setup_ = std::make_unique<sys::SetupThread>(lab_sysctls());
  wiring_ = std::make_unique<NodeWiring>(*setup_);
  wire_ = std::make_unique<WireNamespace>(*setup_);
  regions_ = std::make_unique<Regions>(*this);
  // The callbacks run on service threads, which stop() joins in shutdown(), before any member
  // they reach is destroyed.
  services_ = std::make_unique<LabServices>(
      prefix_, seed_, *setup_,
      [this](const std::string& service, const std::string& what, const std::string& message) {
        service_error(service, what, message);
      },
      [this](const ChildState& c) {
        nlohmann::json f{{"node", c.node_name}, {"pid", c.pid}, {"exit_code", nullptr}};
        if (c.status && c.status->code) f["exit_code"] = *c.status->code;
        if (c.status && c.status->signal) f["signal"] = *c.status->signal;
        emit("command_exited", std::move(f));
      });
  links_ = std::make_unique<LinkControl>(*services_, nodes_, plan_mu_, emitter());
  nat_ = std::make_unique<NatControl>(*setup_, *services_, *wire_, seed_, emitter());
  ra_ = std::make_unique<RaControl>(*setup_, *services_, nodes_, opts_.provisioning_mode(), emitter());
  create_root();
}

LabCore::~LabCore() {
  shutdown();
}

std::vector<sys::Sysctl> LabCore::lab_sysctls() const {
  // No automatic link-local addresses: IPv6-capable interfaces get the deterministic one (SPEC
  // 3.6) and IPv4-only nodes stay silent on IPv6 (no DAD, MLD or RS floods on shared bridges).
  std::vector<sys::Sysctl> s{{"net/ipv6/conf/default/addr_gen_mode", "1"},
                             // Only RA-driven interfaces listen to RAs (RaControl::provision turns it on).
                             {"net/ipv6/conf/all/accept_ra", "0"},
                             {"net/ipv6/conf/default/accept_ra", "0"}};
  if (opts_.dad_mode() == Ipv6DadMode::Disabled) {
    for (const char* scope : {"all", "default"}) {
      s.push_back({std::string("net/ipv6/conf/") + scope + "/accept_dad", "0"});
      s.push_back({std::string("net/ipv6/conf/") + scope + "/dad_transmits", "0"});
    }
  }
  return s;
}

void LabCore::emit(const std::string& kind, nlohmann::json fields) {
  bus_.publish(kind, std::move(fields));
}

void LabCore::service_error(const std::string& service, const std::string& what, const std::string& message) {
  service_errors_.fetch_add(1);
  log::error("patchbay::service", service + ": " + what + " failed: " + message,
             {{"lab", prefix_}, {"service", service}, {"what", what}});
  emit("service_error", {{"service", service}, {"what", what}, {"message", message}});
}

void LabCore::create_root() {
  auto ix = std::make_shared<IxRec>(NodeKind::Ix, NodeId{1}, "ix");
  nodes_.set_ix(ix);
  ix->ns_label = "lab" + std::to_string(seq_) + "-root";
  auto p = setup_->create_home();
  ix->ns = std::make_shared<Netns>();
  ix->ns->fd = std::move(p.fd);
  ix->ns->nl = std::move(p.nl);
  setup_->in_netns(ix->ns->fd.get(), [] {
    sys::write_sysctls({{"net/ipv4/ip_forward", "1"},
                        {"net/ipv6/conf/all/forwarding", "1"},
                        {"net/ipv4/conf/all/send_redirects", "0"},
                        {"net/ipv4/conf/default/send_redirects", "0"},
                        {"net/ipv4/conf/all/rp_filter", "0"},
                        {"net/ipv4/conf/default/rp_filter", "0"}});
    sys::write_sysctls(NodeWiring::bridge_sysctls());
  });
  sys::NlBatch b("lab '" + prefix_ + "': create IX");
  ix->bridge_ifindex = ix->ns->alloc_ifindex();
  sys::add_bridge(b, ix->bridge, ix->bridge_ifindex, mac_for(NodeId{1}, kIxBridge), 0);
  sys::add_addr(b, ix->bridge_ifindex, core::AddressPlan::ix_gw(), core::AddressPlan::ix_cidr().prefix_len());
  sys::add_addr(b, ix->bridge_ifindex, core::AddressPlan::ix_gw_v6(),
                core::AddressPlan::ix_cidr_v6().prefix_len());
  // Kernel link-locals are off lab-wide, but a forwarding interface needs one: neighbour
  // solicitations for forwarded packets are sent from a link-local source or not at all.
  sys::add_addr(b, ix->bridge_ifindex, core::ll(1), 64);
  ix->ns->commit(b);
  ix->alive = true;

  nlohmann::json created{{"lab_prefix", prefix_},
                         {"label", opts_.label() ? nlohmann::json(*opts_.label()) : nlohmann::json(nullptr)},
                         {"seed", seed_},
                         {"version", PATCHBAY_VERSION},
                         {"engine", "userspace"}};
  emit("lab_created", std::move(created));
  emit("ix_created", {{"bridge", ix->bridge},
                      {"cidr", core::AddressPlan::ix_cidr().to_string()},
                      {"gw", core::AddressPlan::ix_gw().to_string()},
                      {"cidr_v6", core::AddressPlan::ix_cidr_v6().to_string()},
                      {"gw_v6", core::AddressPlan::ix_gw_v6().to_string()}});
}

namespace {

// This thread's operation depth per lab (a thread rarely works on more than one or two labs).
thread_local std::vector<std::pair<const LabCore*, int>> t_op_depth;

int depth_if_any(const LabCore* c) {
  for (auto& [lab, n] : t_op_depth)
    if (lab == c) return n;
  return 0;
}

int& depth_of(const LabCore* c) {
  for (auto& [lab, n] : t_op_depth)
    if (lab == c) return n;
  return t_op_depth.emplace_back(c, 0).second;
}

}  // namespace

void LabCore::enter_op(const std::string& what) {
  {
    std::lock_guard lk(op_mu_);
    if (closing_) throw Removed(what, "the lab has been shut down");
    ++ops_;
  }
  ++depth_of(this);
}

void LabCore::leave_op() {
  int& d = depth_of(this);
  if (--d == 0) std::erase_if(t_op_depth, [this](auto& e) { return e.first == this; });
  std::lock_guard lk(op_mu_);
  if (--ops_ == 0 || closing_) op_cv_.notify_all();
}

LabRef::LabRef(std::shared_ptr<LabCore> core, const std::string& what) : core_(std::move(core)) {
  if (!core_) throw Removed(what, "the lab has been shut down");
  core_->enter_op(what);
  held_ = true;
}

void LabCore::shutdown() {
  {
    std::lock_guard lk(op_mu_);
    if (closing_) return;
    closing_ = true;  // under op_mu_: no operation starts after this
  }
  std::shared_ptr<Spawner> sp = services_->close();
  if (sp) sp->terminate(std::nullopt, opts_.child_grace());
  // Operations in flight finish before anything goes. One may still be starting a child through
  // the spawner it already held, or waiting for one: keep killing them meanwhile.
  {
    std::unique_lock lk(op_mu_);
    const int mine = depth_if_any(this);
    while (ops_ > mine) {
      if (op_cv_.wait_for(lk, std::chrono::milliseconds(100), [&] { return ops_ <= mine; })) break;
      if (sp) {
        lk.unlock();
        sp->terminate(std::nullopt, std::chrono::milliseconds(0));
        lk.lock();
      }
    }
  }
  sp.reset();
  std::vector<std::shared_ptr<NodeRec>> nodes = nodes_.take_all();
  if (ix()) nodes.push_back(ix());
  logs_->clear();
  for (auto& n : nodes) {
    n->alive = false;
    n->stop_workers();
  }
  services_->stop();
  setup_->stop();
  // Every event of the teardown (command_exited of the children above) is published by now: the
  // writer drains them and writes the final state.json ("stopped") before the namespaces go.
  if (writer_) writer_->stop();
  // Then the per-node log files: a record racing with this is written before or dropped after.
  for (auto& n : nodes)
    if (n->log) n->log->close();
  // Closing the namespace fds lets the kernel destroy every interface, route and table in them.
  for (auto& n : nodes) {
    std::lock_guard lk(n->mu);
    n->ns.reset();
  }
  dns_->shutdown();       // after the workers and children: nothing of ours is left in the overlays
  graveyard::join_all();  // workers that were destroyed from their own threads
}

void LabCore::terminate_children(NodeId id) {
  services_->terminate_children(id, opts_.child_grace());
}

Netns& LabCore::ns_of(NodeId owner) {
  if (owner.value <= 1) return *ix()->ns;
  auto r = nodes_.router(owner);
  if (!r || !r->ns)
    throw Removed("router " + std::to_string(owner.value), "removed while routes were updated");
  return *r->ns;
}

// ---- routes toward a router's prefixes ----

std::vector<AncestorRoute> LabCore::routes_for(const RouterRec& r) const {
  // Prefixes this router exposes: its LANs, unless a NAT hides them.
  std::vector<std::pair<IpAddr, std::uint8_t>> v4, v6;
  if (r.lan4 && r.nat.kind() == Nat::Kind::None) v4.emplace_back(r.lan4->addr(), r.lan4->prefix_len());
  // IPv6: the LAN itself, or the NPTv6 external prefix; masquerade hides it.
  if (r.lan6 && (r.nat_v6 == NatV6Mode::None || r.nat_v6 == NatV6Mode::Nat64))
    v6.emplace_back(r.lan6->addr(), r.lan6->prefix_len());
  if (r.npt_ext && r.nat_v6 == NatV6Mode::Nptv6) v6.emplace_back(r.npt_ext->addr(), r.npt_ext->prefix_len());
  std::vector<AncestorRoute> out;
  // Walk up: at each ancestor the next hop is the WAN address of the child on the path.
  const RouterRec* child = &r;
  for (;;) {
    NodeId owner{1};
    const RouterRec* parent = nullptr;
    if (child->upstream) {
      // Records stay alive while registered, and registration changes only under the plan lock.
      parent = nodes_.router(*child->upstream).get();
      if (!parent) break;
      owner = parent->id;
    }
    for (auto& [dst, len] : v4) {
      if (!child->wan_ip) break;
      sys::Route rt;
      rt.family = AF_INET;
      rt.dst = dst;
      rt.dst_len = len;
      rt.gateway = *child->wan_ip;
      out.push_back({owner, rt});
    }
    for (auto& [dst, len] : v6) {
      if (!child->wan_ip6) break;
      sys::Route rt;
      rt.family = AF_INET6;
      rt.dst = dst;
      rt.dst_len = len;
      rt.gateway = *child->wan_ip6;
      out.push_back({owner, rt});
    }
    if (!parent) break;
    child = parent;
  }
  return out;
}

void LabCore::install_routes(const std::vector<AncestorRoute>& routes) {
  std::map<std::uint64_t, sys::NlBatch> batches;
  for (const auto& ar : routes) {
    auto& b = batches[ar.owner.value];
    sys::add_route(b, ar.route, true);
  }
  for (auto& [owner, b] : batches) ns_of(NodeId{owner}).commit(b);
}

void LabCore::remove_routes(const std::vector<AncestorRoute>& routes) {
  for (const auto& ar : routes) {
    try {
      sys::NlBatch b;
      sys::del_route(b, ar.route);
      ns_of(ar.owner).commit(b);
    } catch (const Error&) {
      // The ancestor may be going away too; its routes vanish with its namespace.
    }
  }
}

}  // namespace patchbay::detail
