// Sim files (SPEC 15.2): reading, [[extends]] merging and topology resolution.
//
// The file is kept close to its TOML form: step-like tables become JSON and are interpreted later
// (expand.cpp, the executor), so this file only checks the shape of the top-level tables. The
// phase of each error tells the runner how far loading got (SPEC 15.7).
#include "runner/sim_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "config/toml_json.hpp"

namespace patchbay::runner {

namespace fs = std::filesystem;
using config::toml_to_json;
using nlohmann::json;

namespace {

const std::set<std::string> kSimKeys = {"sim",           "extends",    "binary", "prepare",
                                        "step-template", "step-group", "step"};
const std::set<std::string> kLabKeys = {"router", "device", "region"};

constexpr const char* kReadSim = "read-sim";
constexpr const char* kParseSim = "parse-sim";
constexpr const char* kLoadExtends = "load-extends";
constexpr const char* kLoadTopology = "load-topology";

// "file:line:col" when toml++ knows where the node came from, else just the file.
std::string at(const std::string& file, const toml::node& n) {
  const auto& src = n.source();
  if (src.begin.line == 0) return file;
  return file + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
}

std::string read_text(const fs::path& path, const std::string& shown, const char* phase) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw PhaseError(phase, shown + ": cannot be read: is a directory");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw PhaseError(phase, shown + ": cannot be read: " + std::strerror(errno));
  std::stringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw PhaseError(phase, shown + ": cannot be read: " + std::strerror(errno));
  return ss.str();
}

toml::table parse_text(const std::string& text, const std::string& shown, const char* phase) {
  try {
    return toml::parse(text, shown);
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << shown << ":" << e.source().begin.line << ":" << e.source().begin.column << ": " << e.description();
    throw PhaseError(phase, os.str());
  }
}

// Templates, groups, binaries and prepare entries: what both sims and extends files contribute.
struct Defs {
  std::vector<json> binaries;
  std::vector<json> prepare;
  std::map<std::string, json> templates;
  std::map<std::string, json> groups;
};

// Reads an array of tables (`[[key]]`); `allow_single` also accepts one plain table (`[key]`).
std::vector<const toml::table*> tables_of(const toml::table& root, const std::string& key,
                                          const std::string& file, const char* phase,
                                          bool allow_single = false) {
  std::vector<const toml::table*> out;
  const toml::node* n = root.get(key);
  if (!n) return out;
  if (auto t = n->as_table(); t && allow_single) {
    out.push_back(t);
    return out;
  }
  auto a = n->as_array();
  if (!a)
    throw PhaseError(phase, at(file, *n) + ": " + key + " must be an array of tables ([[" + key + "]])");
  std::size_t idx = 0;
  for (auto& e : *a) {
    ++idx;
    auto t = e.as_table();
    if (!t)
      throw PhaseError(phase,
                       at(file, e) + ": [[" + key + "]] #" + std::to_string(idx) + ": expected a table");
    out.push_back(t);
  }
  return out;
}

std::string name_of(const toml::table& t, const std::string& key, std::size_t idx, const std::string& file,
                    const char* phase) {
  const std::string what = at(file, t) + ": [[" + key + "]] #" + std::to_string(idx);
  auto n = t.get("name");
  if (!n) throw PhaseError(phase, what + ": name: missing");
  auto s = n->as_string();
  if (!s || s->get().empty()) throw PhaseError(phase, what + ": name: expected a non-empty string");
  return s->get();
}

// Within one file a name defined twice is a mistake; across files it is the override mechanism.
void add_named(std::map<std::string, json>& into, const toml::table& root, const std::string& key,
               const std::string& file, const char* phase) {
  std::size_t idx = 0;
  for (auto* t : tables_of(root, key, file, phase)) {
    std::string name = name_of(*t, key, ++idx, file, phase);
    const toml::node* st = key == "step-group" ? t->get("step") : nullptr;
    if (st && !(st->is_array_of_tables() || (st->is_array() && st->as_array()->empty())))
      throw PhaseError(phase, at(file, *st) + ": [[step-group]] '" + name +
                                  "': step: expected an array of tables ([[step-group.step]])");
    if (!into.emplace(name, toml_to_json(*t)).second)
      throw PhaseError(phase, at(file, *t) + ": [[" + key + "]] '" + name + "' is defined twice");
  }
}

Defs read_defs(const toml::table& root, const std::string& file, const char* phase) {
  Defs d;
  std::set<std::string> seen;
  std::size_t idx = 0;
  for (auto* t : tables_of(root, "binary", file, phase)) {
    std::string name = name_of(*t, "binary", ++idx, file, phase);
    if (!seen.insert(name).second)
      throw PhaseError(phase, at(file, *t) + ": [[binary]] '" + name + "' is defined twice");
    d.binaries.push_back(toml_to_json(*t));
  }
  for (auto* t : tables_of(root, "prepare", file, phase, true)) d.prepare.push_back(toml_to_json(*t));
  add_named(d.templates, root, "step-template", file, phase);
  add_named(d.groups, root, "step-group", file, phase);
  return d;
}

// Extends files are merged first-wins among themselves; the sim's own Defs are applied last and
// replace by name.
void merge_first_wins(Defs& into, Defs&& from) {
  for (auto& b : from.binaries) {
    bool known = false;
    for (auto& have : into.binaries) known = known || have["name"] == b["name"];
    if (!known) into.binaries.push_back(std::move(b));
  }
  for (auto& p : from.prepare) into.prepare.push_back(std::move(p));
  for (auto& [k, v] : from.templates) into.templates.emplace(k, std::move(v));
  for (auto& [k, v] : from.groups) into.groups.emplace(k, std::move(v));
}

void merge_override(Defs& into, Defs&& from) {
  for (auto& b : from.binaries) {
    auto it = into.binaries.begin();
    while (it != into.binaries.end() && (*it)["name"] != b["name"]) ++it;
    if (it != into.binaries.end())
      *it = std::move(b);
    else
      into.binaries.push_back(std::move(b));
  }
  for (auto& p : from.prepare) into.prepare.push_back(std::move(p));
  for (auto& [k, v] : from.templates) into.templates[k] = std::move(v);
  for (auto& [k, v] : from.groups) into.groups[k] = std::move(v);
}

std::string join_paths(const std::vector<fs::path>& ps) {
  std::string out;
  for (auto& p : ps) out += (out.empty() ? "" : ", ") + p.string();
  return out;
}

std::optional<fs::path> first_file(const std::vector<fs::path>& candidates) {
  for (auto& c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec)) return c;
  }
  return std::nullopt;
}

Defs load_extends(const toml::table& root, const fs::path& sim_dir, const fs::path& cwd,
                  const std::string& file, std::vector<std::string>& warnings) {
  Defs merged;
  std::size_t idx = 0;
  for (auto* t : tables_of(root, "extends", file, kLoadExtends, true)) {
    const std::string what = at(file, *t) + ": [[extends]] #" + std::to_string(++idx);
    auto fnode = t->get("file");
    if (!fnode) throw PhaseError(kLoadExtends, what + ": file: missing");
    auto fstr = fnode->as_string();
    if (!fstr || fstr->get().empty())
      throw PhaseError(kLoadExtends, what + ": file: expected a non-empty string");
    const fs::path rel(fstr->get());
    std::vector<fs::path> candidates;
    if (rel.is_absolute())
      candidates = {rel};
    else
      candidates = {(sim_dir / rel).lexically_normal(), (sim_dir.parent_path() / rel).lexically_normal(),
                    (cwd / rel).lexically_normal()};
    auto found = first_file(candidates);
    if (!found)
      throw PhaseError(kLoadExtends,
                       what + ": file '" + rel.string() + "' not found; looked in " + join_paths(candidates));
    const std::string shown = found->string();
    toml::table ext = parse_text(read_text(*found, shown, kLoadExtends), shown, kLoadExtends);
    for (auto& [k, v] : ext) {
      std::string key(k.str());
      if (key == "binary" || key == "prepare" || key == "step-template" || key == "step-group") continue;
      warnings.push_back(
          shown + ": key '" + key +
          "' ignored (extends files contribute only binary, prepare, step-template and step-group)");
    }
    merge_first_wins(merged, read_defs(ext, shown, kLoadExtends));
  }
  return merged;
}

void read_sim_table(const toml::table& root, const std::string& file, SimFile& sim) {
  auto n = root.get("sim");
  if (!n) return;
  auto t = n->as_table();
  if (!t) throw PhaseError(kParseSim, at(file, *n) + ": [sim] must be a table");
  for (auto& [k, v] : *t) {
    std::string key(k.str());
    if (key == "name") {
      auto s = v.as_string();
      if (!s) throw PhaseError(kParseSim, at(file, v) + ": [sim] name: expected a string");
      // As in the original runner, an empty name means "not given": the sim keeps the file stem.
      if (!s->get().empty()) sim.name = s->get();
    } else if (key == "topology") {
      auto s = v.as_string();
      if (!s || s->get().empty())
        throw PhaseError(kParseSim, at(file, v) + ": [sim] topology: expected a non-empty string");
      sim.topology_ref = s->get();
    } else {
      sim.warnings.push_back(file + ": [sim] unknown key '" + key + "' ignored");
    }
  }
}

void resolve_topology(const toml::table& root, const fs::path& sim_dir, const fs::path& cwd,
                      const std::string& file, SimFile& sim) {
  if (!sim.topology_ref) {
    auto topo = std::make_shared<toml::table>();
    for (auto& [k, v] : root)
      if (kLabKeys.count(std::string(k.str()))) topo->insert(k, v);
    sim.topology = std::move(topo);
    return;
  }
  const std::string& name = *sim.topology_ref;
  if (sim.inline_topology)
    throw PhaseError(kLoadTopology, file + ": [sim] topology = '" + name +
                                        "' cannot be combined with inline router/device/region tables");
  const std::string leaf = name.ends_with(".toml") ? name : name + ".toml";
  std::vector<fs::path> candidates = {(sim_dir / ".." / "topos" / leaf).lexically_normal(),
                                      (cwd / "topos" / leaf).lexically_normal()};
  auto found = first_file(candidates);
  if (!found)
    throw PhaseError(kLoadTopology, file + ": [sim] topology: '" + name + "' not found in " +
                                        candidates[0].string() + " or " + candidates[1].string());
  const std::string shown = found->string();
  sim.topology_path = *found;
  sim.topology = std::make_shared<toml::table>(
      parse_text(read_text(*found, shown, kLoadTopology), shown, kLoadTopology));
}

}  // namespace

SimFile load_sim(const fs::path& path, const fs::path& cwd) {
  SimFile sim;
  sim.path = path;
  const fs::path abs = (path.is_absolute() ? path : cwd / path).lexically_normal();
  const fs::path sim_dir = abs.parent_path();
  const std::string file = path.string();

  toml::table root = parse_text(read_text(abs, file, kReadSim), file, kParseSim);
  sim.name = path.stem().string();
  read_sim_table(root, file, sim);
  for (auto& [k, v] : root) {
    std::string key(k.str());
    if (kLabKeys.count(key))
      sim.inline_topology = true;
    else if (!kSimKeys.count(key))
      sim.warnings.push_back(file + ": unknown top-level key '" + key + "' ignored");
  }

  Defs own = read_defs(root, file, kParseSim);
  for (auto* t : tables_of(root, "step", file, kParseSim)) sim.steps.push_back(toml_to_json(*t));

  Defs merged = load_extends(root, sim_dir, cwd, file, sim.warnings);
  merge_override(merged, std::move(own));
  sim.binaries = std::move(merged.binaries);
  sim.prepare = std::move(merged.prepare);
  sim.templates = std::move(merged.templates);
  sim.groups = std::move(merged.groups);

  resolve_topology(root, sim_dir, cwd, file, sim);
  return sim;
}

bool looks_like_sim(const toml::table& root) {
  return root.contains("sim") || root.contains("step") || root.contains("binary");
}

std::map<std::string, int> counted_devices(const toml::table& topology) {
  std::map<std::string, int> out;
  auto devs = topology.get_as<toml::table>("device");
  if (!devs) return out;
  for (auto& [k, v] : *devs) {
    auto t = v.as_table();
    if (!t) continue;  // the lab builder reports malformed device tables (configure-lab)
    auto c = t->get("count");
    if (!c) continue;
    const std::string name(k.str());
    auto i = c->as_integer();
    // Same bounds as the lab builder, so a count accepted here is one the lab can build.
    if (!i || i->get() < 1 || i->get() > 100000)
      throw PhaseError(kLoadTopology, "[device." + name + "] count = " + toml_to_json(*c).dump() +
                                          ": device '" + name + "' needs an integer count in 1..100000");
    out[name] = static_cast<int>(i->get());
  }
  return out;
}

}  // namespace patchbay::runner
