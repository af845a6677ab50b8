// `patchbay inspect` and `patchbay run-in` (SPEC 15.10): keep a lab alive for interactive work and
// run commands inside its nodes from other shells.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include <toml++/toml.h>

#include "config/lab_toml.hpp"
#include "patchbay/lab.hpp"
#include "runner/commands.hpp"
#include "runner/reports.hpp"
#include "runner/sim_file.hpp"

namespace patchbay::runner {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

Command keeper() {
  return Command("sh").args({"-c", "while :; do sleep 3600; done"}).std_out(Stdio::null());
}

std::string ns_path(pid_t pid) {
  return "/proc/" + std::to_string(pid) + "/ns/net";
}

}  // namespace

int inspect_command(const InspectOptions& o) {
  // Signals are taken by sigwait below; every lab thread inherits the mask.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  fs::path session;
  try {
    std::shared_ptr<toml::table> topo;
    std::string source = o.input.string();
    toml::table root;
    try {
      root = toml::parse_file(o.input.string());
    } catch (const toml::parse_error& e) {
      std::ostringstream os;
      os << source << ":" << e.source().begin.line << ":" << e.source().begin.column;
      throw ConfigError(os.str(), std::string(e.description()));
    }
    std::string label = o.input.stem().string();
    if (looks_like_sim(root)) {
      auto sim = load_sim(o.input, fs::current_path());
      topo = sim.topology;
      label = sim.name;
      if (sim.topology_path) source = sim.topology_path->string();
    } else {
      topo = std::make_shared<toml::table>(std::move(root));
    }
    Lab lab(LabOpts{}.label(label));
    config::build_lab(lab, *topo, source);

    std::vector<Child> keepers;
    json namespaces = json::object(), ips = json::object(), pids = json::object();
    auto keep = [&](Node& n, const std::string& name) {
      keepers.push_back(n.spawn_command(keeper()));
      pid_t pid = keepers.back().pid();
      namespaces[name] = ns_path(pid);
      pids[name] = pid;
    };
    auto ix = lab.ix();
    keepers.push_back(ix.spawn_command(keeper()));
    pid_t root_pid = keepers.back().pid();
    for (auto& r : lab.routers()) {
      keep(r, r.name());
      if (auto ip = r.uplink_ip()) ips[r.name()] = ip->to_string();
    }
    for (auto& d : lab.devices()) {
      keep(d, d.name());
      if (auto ip = d.ip()) ips[d.name()] = ip->to_string();
    }
    fs::create_directories(o.work_dir / "inspect");
    session = fs::absolute(o.work_dir / "inspect" / (lab.prefix() + ".json"));
    json j = {{"prefix", lab.prefix()},
              {"root_ns", ns_path(root_pid)},
              {"node_namespaces", namespaces},
              {"node_ips_v4", ips},
              {"node_keeper_pids", pids}};
    write_json_atomic(session, j);
    std::cout << "export NETSIM_INSPECT=" << lab.prefix() << "\n";
    std::cout << "export NETSIM_INSPECT_FILE=" << session.string() << "\n";
    for (auto& [name, ns] : namespaces.items())
      std::cout << "export NETSIM_NS_" << sanitize_for_env_key(name) << "=" << ns.get<std::string>() << "\n";
    for (auto& [name, ip] : ips.items())
      std::cout << "export NETSIM_IP_" << sanitize_for_env_key(name) << "=" << ip.get<std::string>() << "\n";
    std::cout << "# lab " << lab.prefix() << " is up; `patchbay run-in <node> -- <cmd>`; Ctrl-C ends it"
              << std::endl;
    int sig = 0;
    sigwait(&set, &sig);
    std::cerr << "patchbay: inspect: tearing down " << lab.prefix() << "\n";
    for (auto& k : keepers) k.kill();
    lab.shutdown();
    fs::remove(session);
    return 0;
  } catch (const std::exception& e) {
    if (!session.empty()) fs::remove(session);
    std::cerr << "patchbay: inspect: " << e.what() << "\n";
    return dynamic_cast<const ConfigError*>(&e) != nullptr ? 2 : 1;  // a bad input file is a usage error
  }
}

namespace {

fs::path session_file(const RunInOptions& o) {
  std::optional<std::string> id = o.inspect;
  if (!id) {
    if (const char* f = std::getenv("NETSIM_INSPECT_FILE"); f && *f) return f;
    if (const char* e = std::getenv("NETSIM_INSPECT"); e && *e) id = e;
  }
  if (!id) throw InvalidArgument("run-in", "no lab given: pass --inspect ID|FILE.json or set NETSIM_INSPECT");
  fs::path p(*id);
  if (p.extension() == ".json" || id->find('/') != std::string::npos) return p;
  return o.work_dir / "inspect" / (*id + ".json");
}

void join(int fd, int nstype, const char* what, const std::string& node) {
  if (::setns(fd, nstype) != 0)
    throw SystemError("run-in " + node, std::string("cannot join the ") + what + " namespace", errno);
}

bool same_ns(pid_t pid, const char* ns) {
  struct stat a {
  }, b{};
  std::string theirs = "/proc/" + std::to_string(pid) + "/ns/" + ns;
  std::string ours = std::string("/proc/self/ns/") + ns;
  return ::stat(theirs.c_str(), &a) == 0 && ::stat(ours.c_str(), &b) == 0 && a.st_ino == b.st_ino &&
         a.st_dev == b.st_dev;
}

}  // namespace

int run_in_command(const RunInOptions& o) {
  try {
    if (o.argv.empty()) throw InvalidArgument("run-in", "no command given (patchbay run-in NODE -- CMD...)");
    auto file = session_file(o);
    std::ifstream f(file);
    if (!f)
      throw NotFound("run-in",
                     "session file " + file.string() + " not found (is `patchbay inspect` running?)");
    json j = json::parse(f);
    auto& pids = j.at("node_keeper_pids");
    if (!pids.contains(o.node)) {
      std::string known;
      for (auto& [k, v] : pids.items()) known += (known.empty() ? "" : ", ") + k;
      throw NotFound("run-in", "unknown node '" + o.node + "' (known nodes: " + known + ")");
    }
    pid_t pid = pids.at(o.node).get<pid_t>();
    // Open all namespace files first: after joining the user namespace /proc may refuse us.
    auto open_ns = [&](const char* ns) {
      std::string p = "/proc/" + std::to_string(pid) + "/ns/" + ns;
      int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        throw SystemError("run-in " + o.node, "cannot open " + p + " (is the lab still up?)", errno);
      return fd;
    };
    bool join_user = !same_ns(pid, "user"), join_mnt = !same_ns(pid, "mnt");
    int user = join_user ? open_ns("user") : -1;
    int mnt = join_mnt ? open_ns("mnt") : -1;
    int net = open_ns("net");
    std::error_code ec;
    auto cwd = fs::current_path(ec);
    if (join_user) join(user, CLONE_NEWUSER, "user", o.node);
    if (join_mnt) join(mnt, CLONE_NEWNS, "mount", o.node);
    join(net, CLONE_NEWNET, "network", o.node);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) (void)::chdir("/");
    std::vector<char*> args;
    for (auto& a : o.argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execvp(args[0], args.data());
    std::cerr << "patchbay: run-in: cannot run '" << o.argv[0] << "': " << std::strerror(errno) << "\n";
    return 127;
  } catch (const std::exception& e) {
    std::cerr << "patchbay: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace patchbay::runner
