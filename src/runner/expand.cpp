// Step expansion (SPEC 15.3).
//
// Two passes: the first turns every [[step]] into zero or more concrete steps (use/group/template,
// kind -> action, id defaults, `.` results); the second clones per counted-device instance and
// checks wait-for ids. Cloning needs the whole list because a wait-for is cloned when any step's id
// was cloned, and that step may come later in the file.
#include "runner/expand.hpp"

#include <set>

namespace patchbay::runner {

using nlohmann::json;

namespace {

constexpr const char* kPhase = "expand-steps";

[[noreturn]] void fail(const std::string& where, const std::string& key, const std::string& what) {
  throw PhaseError(kPhase, where + (key.empty() ? "" : ": " + key) + ": " + what);
}

std::string keys_of(const json& obj) {
  std::string out;
  if (obj.is_object())
    for (auto& [k, v] : obj.items()) out += (out.empty() ? "" : ", ") + k;
  return out.empty() ? "none" : out;
}

std::string substitute_string(const std::string& s, const json& vars, const std::string& where) {
  static const std::string kOpen = "${group.";
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    std::size_t i = s.find(kOpen, pos);
    std::size_t j = i == std::string::npos ? i : s.find('}', i + kOpen.size());
    if (j == std::string::npos) break;  // an unterminated reference is left for the executor to report
    const std::string k = s.substr(i + kOpen.size(), j - i - kOpen.size());
    if (!vars.is_object() || !vars.contains(k))
      fail(where, "${group." + k + "}",
           "unknown group variable '" + k + "' (vars given: " + keys_of(vars) + ")");
    const json& v = vars[k];
    out.append(s, pos, i - pos);
    out += v.is_string() ? v.get<std::string>() : v.dump();
    pos = j + 1;
  }
  out.append(s, pos);
  return out;
}

// A step as the first pass produces it, with the place it came from for later error messages.
struct Located {
  json step;
  std::string where;
};

class Expander {
 public:
  Expander(const SimFile& sim, std::vector<std::string>* warnings) : sim_(sim), warnings_(warnings) {}

  std::vector<Located> run() {
    std::vector<Located> out;
    std::size_t idx = 0;
    for (auto& raw : sim_.steps)
      expand_top(raw, sim_.path.string() + ": [[step]] #" + std::to_string(++idx), out);
    return out;
  }

 private:
  void warn(const std::string& where, const std::string& key, const std::string& why) {
    if (warnings_) warnings_->push_back(where + ": " + key + ": " + why);
  }

  static std::string use_name(const json& step, const std::string& where) {
    const json& u = step["use"];
    if (!u.is_string() || u.get<std::string>().empty()) fail(where, "use", "expected a non-empty string");
    return u.get<std::string>();
  }

  void expand_top(const json& raw, const std::string& where, std::vector<Located>& out) {
    if (!raw.is_object()) fail(where, "", "expected a table");
    if (!raw.contains("use")) {
      out.push_back({finalize(raw, where), where});
      return;
    }
    const std::string name = use_name(raw, where);
    if (auto g = sim_.groups.find(name); g != sim_.groups.end()) {
      expand_group(name, g->second, raw, where, out);
      return;
    }
    auto t = sim_.templates.find(name);
    if (t == sim_.templates.end()) fail(where, "use", "unknown step-group or step-template '" + name + "'");
    out.push_back({finalize(merge_template(t->second, raw, where), where), where});
  }

  void expand_group(const std::string& name, const json& group, const json& call, const std::string& where,
                    std::vector<Located>& out) {
    json vars = call.value("vars", json::object());
    if (!vars.is_object()) fail(where, "vars", "expected a table of group variables");
    for (auto& [k, v] : call.items())
      if (k != "use" && k != "vars") warn(where, k, "ignored: a step-group call takes only `vars`");
    const json steps = group.value("step", json::array());
    std::size_t idx = 0;
    for (auto& gs : steps) {
      const std::string gwhere = where + " (step-group '" + name + "' step #" + std::to_string(++idx) + ")";
      if (!gs.is_object()) fail(gwhere, "", "expected a table");
      json s = substitute_group_vars(gs, vars, gwhere);
      if (s.contains("use")) {
        const std::string tname = use_name(s, gwhere);
        if (sim_.groups.count(tname))
          fail(gwhere, "use", "'" + tname + "' is a step-group; groups do not nest");
        auto t = sim_.templates.find(tname);
        if (t == sim_.templates.end()) fail(gwhere, "use", "unknown step-template '" + tname + "'");
        // The template is substituted too, so a template written for a group can use its vars.
        s = merge_template(substitute_group_vars(t->second, vars, gwhere), s, gwhere);
      }
      out.push_back({finalize(s, gwhere), gwhere});
    }
  }

  static json& object_member(json& step, const std::string& key, const std::string& where) {
    json& m = step[key];
    if (m.is_null()) m = json::object();
    if (!m.is_object()) fail(where, key, "the template's " + key + " is not a table");
    return m;
  }

  static json& array_member(json& step, const std::string& key, const std::string& where) {
    json& m = step[key];
    if (m.is_null()) m = json::array();
    if (!m.is_array()) fail(where, key, "the template's " + key + " is not an array");
    return m;
  }

  json merge_template(const json& tpl, const json& call, const std::string& where) {
    json merged = tpl;
    merged.erase("name");
    for (auto& [k, v] : call.items()) {
      if (k == "use" || k == "vars") continue;  // vars only mean something to a step-group
      if (k == "id" || k == "device" || k == "timeout" || k == "results") {
        merged[k] = v;
      } else if (k == "env" || k == "captures") {
        if (!v.is_object()) fail(where, k, "expected a table");
        json& into = object_member(merged, k, where);
        for (auto& [kk, vv] : v.items()) into[kk] = vv;
      } else if (k == "args" || k == "requires") {
        if (!v.is_array()) fail(where, k, "expected an array");
        json& into = array_member(merged, k == "args" ? "cmd" : k, where);
        for (auto& e : v) into.push_back(e);
      } else {
        warn(where, k,
             "ignored: not a call-site key of `use` (vars, id, device, env, args, requires, "
             "results, timeout, captures)");
      }
    }
    return merged;
  }

  static json finalize(json s, const std::string& where) {
    if (!s.contains("action") && s.contains("kind")) {
      s["action"] = s["kind"];
      s.erase("kind");
    }
    if (!s.contains("action")) fail(where, "action", "missing (there is no default action)");
    if (!s["action"].is_string()) fail(where, "action", "expected a string");
    const std::string action = s["action"];
    const bool has_id = s.contains("id"), has_device = s.contains("device");
    if ((action == "run" || action == "spawn" || action == "gen-certs") && !has_id && has_device)
      s["id"] = s["device"];
    if (action == "gen-certs" && has_id && !has_device) s["device"] = s["id"];
    if (s.contains("results")) {
      json& r = s["results"];
      if (!r.is_object()) fail(where, "results", "expected a table");
      for (auto& [k, v] : r.items()) {
        if (!v.is_string() || !v.get<std::string>().starts_with(".")) continue;
        if (!s.contains("id") || !s["id"].is_string())
          fail(where, "results." + k,
               "'" + v.get<std::string>() + "' is relative to the step id, but the step has none");
        v = s["id"].get<std::string>() + v.get<std::string>();
      }
    }
    return s;
  }

  const SimFile& sim_;
  std::vector<std::string>* warnings_;
};

std::string str_or_empty(const json& s, const char* key) {
  auto it = s.find(key);
  return it != s.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The longest `<prefix>.` a check's left side starts with: step ids may themselves contain dots.
const std::pair<const std::string, int>* counted_prefix(const std::string& check,
                                                        const std::map<std::string, int>& prefixes) {
  const std::pair<const std::string, int>* best = nullptr;
  const std::size_t start = check.find_first_not_of(" \t");
  if (start == std::string::npos) return nullptr;
  for (auto& p : prefixes)
    if (check.compare(start, p.first.size() + 1, p.first + ".") == 0 &&
        (!best || p.first.size() > best->first.size()))
      best = &p;
  return best;
}

std::vector<json> clone_check(const json& check, const std::map<std::string, int>& prefixes) {
  if (!check.is_string()) return {check};
  const std::string c = check;
  auto p = counted_prefix(c, prefixes);
  if (!p) return {check};
  const std::size_t at = c.find_first_not_of(" \t");
  std::vector<json> out;
  for (int i = 0; i < p->second; ++i)
    out.push_back(c.substr(0, at) + p->first + "-" + std::to_string(i) + c.substr(at + p->first.size()));
  return out;
}

json clone_assert(json s, const std::map<std::string, int>& prefixes, const std::string& where) {
  json checks = json::array();
  if (s.contains("check")) {
    auto c = clone_check(s["check"], prefixes);
    // An untouched `check` stays where the user put it; clones go to `checks`.
    if (c.size() != 1 || c[0] != s["check"]) {
      for (auto& e : c) checks.push_back(std::move(e));
      s.erase("check");
    }
  }
  if (s.contains("checks")) {
    if (!s["checks"].is_array()) fail(where, "checks", "expected an array of strings");
    for (auto& e : s["checks"])
      for (auto& c : clone_check(e, prefixes)) checks.push_back(std::move(c));
  }
  if (!checks.empty()) s["checks"] = std::move(checks);
  return s;
}

json instance(const json& s, const std::string& device, int i) {
  json c = s;
  c["device"] = device + "-" + std::to_string(i);
  if (s.contains("id") && s["id"].is_string()) {
    const std::string id = s["id"], id_i = id + "-" + std::to_string(i);
    c["id"] = id_i;
    // Results written as "<id>.<capture>" (or expanded from ".<capture>") follow the clone.
    if (c.contains("results") && c["results"].is_object())
      for (auto& [k, v] : c["results"].items())
        if (v.is_string() && v.get<std::string>().starts_with(id + "."))
          v = id_i + v.get<std::string>().substr(id.size());
  }
  return c;
}

}  // namespace

json substitute_group_vars(const json& value, const json& vars, const std::string& where) {
  if (value.is_string()) return substitute_string(value.get<std::string>(), vars, where);
  if (value.is_array()) {
    json out = json::array();
    for (auto& e : value) out.push_back(substitute_group_vars(e, vars, where));
    return out;
  }
  if (value.is_object()) {
    json out = json::object();
    for (auto& [k, v] : value.items()) out[k] = substitute_group_vars(v, vars, where);
    return out;
  }
  return value;
}

std::vector<json> expand_steps(const SimFile& sim, const std::map<std::string, int>& counted,
                               std::vector<std::string>* warnings) {
  std::vector<Located> steps = Expander(sim, warnings).run();

  // Ids of steps that will be cloned; a wait-for on one of them (or on a counted base name) is
  // cloned too, and assert checks on their captures are cloned like those on the base name.
  std::map<std::string, int> cloned_ids;
  for (auto& l : steps) {
    auto dev = counted.find(str_or_empty(l.step, "device"));
    const std::string id = str_or_empty(l.step, "id");
    if (l.step["action"] != "wait-for" && dev != counted.end() && !id.empty()) cloned_ids[id] = dev->second;
  }
  std::map<std::string, int> prefixes = counted;
  prefixes.insert(cloned_ids.begin(), cloned_ids.end());

  std::vector<Located> out;
  for (auto& l : steps) {
    const std::string action = l.step["action"];
    if (action == "wait-for") {
      const std::string id = str_or_empty(l.step, "id");
      if (id.empty()) fail(l.where, "id", "missing: wait-for needs the id of a step");
      int n = 0;
      if (auto c = cloned_ids.find(id); c != cloned_ids.end())
        n = c->second;
      else if (auto b = counted.find(id); b != counted.end())
        n = b->second;
      if (n == 0) {
        out.push_back(l);
        continue;
      }
      for (int i = 0; i < n; ++i) {
        json c = l.step;
        c["id"] = id + "-" + std::to_string(i);
        out.push_back({std::move(c), l.where});
      }
      continue;
    }
    if (action == "assert") {
      out.push_back({clone_assert(l.step, prefixes, l.where), l.where});
      continue;
    }
    const std::string device = str_or_empty(l.step, "device");
    auto dev = counted.find(device);
    if (dev == counted.end()) {
      out.push_back(l);
      continue;
    }
    for (int i = 0; i < dev->second; ++i) out.push_back({instance(l.step, device, i), l.where});
  }

  std::set<std::string> ids;
  for (auto& l : out)
    if (l.step["action"] != "wait-for" && l.step.contains("id") && l.step["id"].is_string())
      ids.insert(l.step["id"].get<std::string>());
  std::vector<json> result;
  for (auto& l : out) {
    // The original runner takes a wait-for on an unknown id for a step that already completed and
    // does nothing; a typo then only costs the wait, so it is reported, not refused.
    if (l.step["action"] == "wait-for" && !ids.count(l.step["id"].get<std::string>()) && warnings)
      warnings->push_back(l.where + ": id: wait-for '" + l.step["id"].get<std::string>() +
                          "' names no step of the sim; it will not wait");
    result.push_back(std::move(l.step));
  }
  return result;
}

}  // namespace patchbay::runner
