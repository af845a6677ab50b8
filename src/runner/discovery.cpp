// Sim discovery (SPEC 15.8): explicit inputs, and `simulations` globs from patchbay.toml.
#include "runner/discovery.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "patchbay/error.hpp"

namespace patchbay::runner {

namespace fs = std::filesystem;

namespace {

using Paths = std::vector<fs::path>;

bool is_hidden(const fs::path& p) {
  std::string name = p.filename().string();
  return !name.empty() && name[0] == '.';
}

bool is_toml(const fs::path& p) {
  return p.extension() == ".toml";
}

fs::path normal(const fs::path& p) {
  return fs::absolute(p).lexically_normal();
}

void search_dir(const fs::path& dir, Paths& out) {
  std::error_code ec;
  auto opts = fs::directory_options::skip_permission_denied;
  for (auto it = fs::recursive_directory_iterator(dir, opts, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    std::error_code entry_ec;
    if (is_hidden(it->path())) {
      if (it->is_directory(entry_ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(entry_ec) && is_toml(it->path())) out.push_back(normal(it->path()));
  }
  if (ec) throw SystemError("search '" + dir.string() + "'", ec.message(), ec.value());
}

void sort_unique(Paths& paths) {
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    auto slash = path.find('/');
    auto seg = path.substr(0, slash);
    if (!seg.empty() && seg != ".") out.push_back(seg);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool has_glob_chars(std::string_view s) {
  return s.find_first_of("*?[") != std::string_view::npos;
}

// Matches one pattern element at p[pi] ('?', a bracket class, an escape or a literal) against c;
// sets next to the index after the element.
bool match_one(std::string_view p, std::size_t pi, char c, std::size_t& next) {
  if (p[pi] == '?') {
    next = pi + 1;
    return true;
  }
  if (p[pi] == '\\' && pi + 1 < p.size()) {
    next = pi + 2;
    return p[pi + 1] == c;
  }
  if (p[pi] == '[') {
    std::size_t i = pi + 1;
    bool negate = i < p.size() && (p[i] == '!' || p[i] == '^');
    if (negate) ++i;
    std::size_t first = i;
    bool hit = false;
    // A ']' right after the opening bracket is a member, as in POSIX fnmatch.
    for (; i < p.size() && (p[i] != ']' || i == first); ++i) {
      if (i + 2 < p.size() && p[i + 1] == '-' && p[i + 2] != ']') {
        hit = hit || (c >= p[i] && c <= p[i + 2]);
        i += 2;
      } else {
        hit = hit || c == p[i];
      }
    }
    if (i < p.size()) {
      next = i + 1;
      return hit != negate;
    }
    // Unterminated: the '[' is an ordinary character.
  }
  next = pi + 1;
  return p[pi] == c;
}

// Classic single-star backtracking within one path segment.
bool match_segment(std::string_view p, std::string_view s) {
  std::size_t pi = 0, si = 0, star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    std::size_t next = 0;
    if (pi < p.size() && p[pi] == '*') {
      star_p = ++pi;
      star_s = si;
    } else if (pi < p.size() && match_one(p, pi, s[si], next)) {
      pi = next;
      ++si;
    } else if (star_p != std::string_view::npos) {
      pi = star_p;
      si = ++star_s;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

bool match_segments(const std::vector<std::string_view>& p, std::size_t pi,
                    const std::vector<std::string_view>& s, std::size_t si) {
  if (pi == p.size()) return si == s.size();
  if (p[pi] == "**") {
    for (std::size_t k = si; k <= s.size(); ++k)
      if (match_segments(p, pi + 1, s, k)) return true;
    return false;
  }
  return si < s.size() && match_segment(p[pi], s[si]) && match_segments(p, pi + 1, s, si + 1);
}

// Walks from the pattern's literal prefix (so "sims/**" never visits the rest of the project) and
// collects what the glob matches. Hidden entries are skipped, as `*` does not match a leading dot
// in shells either.
void expand_glob(const fs::path& root, const std::string& pattern, Paths& out) {
  auto segs = segments(pattern);
  std::string prefix = pattern.starts_with('/') ? "/" : "";
  std::size_t literal = 0;
  for (; literal < segs.size() && !has_glob_chars(segs[literal]); ++literal)
    prefix += std::string(segs[literal]) + "/";
  bool deep = std::find(segs.begin(), segs.end(), "**") != segs.end();
  fs::path base = root / (prefix.empty() ? "." : prefix);
  std::error_code ec;
  if (!fs::is_directory(base, ec)) return;
  auto take = [&](const fs::path& p, const std::string& rel) {
    if (!glob_match(pattern, rel)) return;
    std::error_code dir_ec;
    if (fs::is_directory(p, dir_ec))
      search_dir(p, out);
    else if (is_toml(p))
      out.push_back(normal(p));
  };
  take(base, prefix);
  auto opts = fs::directory_options::skip_permission_denied;
  for (auto it = fs::recursive_directory_iterator(base, opts, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    std::error_code entry_ec;
    bool dir = it->is_directory(entry_ec);
    if (is_hidden(it->path())) {
      if (dir) it.disable_recursion_pending();
      continue;
    }
    // Without `**` nothing below the pattern's own depth can match.
    if (dir && !deep && literal + it.depth() + 1 >= segs.size()) it.disable_recursion_pending();
    take(it->path(), prefix + it->path().lexically_relative(base).generic_string());
  }
}

std::vector<std::string> read_patterns(const fs::path& config) {
  toml::table root;
  try {
    root = toml::parse_file(config.string());
  } catch (const toml::parse_error& e) {
    std::ostringstream os;
    os << config.string() << ":" << e.source().begin.line << ":" << e.source().begin.column;
    throw ConfigError(os.str(), std::string(e.description()));
  }
  const toml::node* node = root.get("simulations");
  std::vector<std::string> out;
  if (!node) return out;
  auto bad = [&] {
    throw ConfigError(config.string() + ": simulations", "expected a string or an array of strings");
  };
  if (auto s = node->as_string()) {
    out.push_back(s->get());
  } else if (auto a = node->as_array()) {
    for (auto& e : *a) {
      if (!e.as_string()) bad();
      out.push_back(e.as_string()->get());
    }
  } else {
    bad();
  }
  return out;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view relative_path) {
  return match_segments(segments(pattern), 0, segments(relative_path), 0);
}

std::vector<fs::path> expand_inputs(const std::vector<std::string>& inputs) {
  Paths out;
  for (const auto& input : inputs) {
    std::error_code ec;
    fs::path p = normal(input);
    if (fs::is_directory(p, ec))
      search_dir(p, out);
    else if (fs::exists(p, ec))
      out.push_back(p);
    else
      throw ConfigError("sim input '" + input + "'", "no such file or directory");
  }
  sort_unique(out);
  return out;
}

std::vector<fs::path> discover_sims(const fs::path& project_root,
                                    const std::function<void(const std::string&)>& log) {
  fs::path root = normal(project_root);
  fs::path config = root / "patchbay.toml";
  std::error_code ec;
  if (!fs::is_regular_file(config, ec)) config = root / ".patchbay.toml";
  if (!fs::is_regular_file(config, ec))
    throw ConfigError(
        "no sim files found (pass sim files or directories, or list them under `simulations` in " +
        (root / "patchbay.toml").string() + ")");
  auto patterns = read_patterns(config);
  if (patterns.empty())
    throw ConfigError("no sim files found (" + config.string() + " has no `simulations`)");
  Paths out;
  for (const auto& pattern : patterns) {
    if (log) log("patchbay: using simulations from " + pattern);
    Paths found;
    if (has_glob_chars(pattern)) {
      expand_glob(root, pattern, found);
    } else {
      fs::path p = normal(root / pattern);
      if (fs::is_directory(p, ec))
        search_dir(p, found);
      else if (fs::exists(p, ec))
        found.push_back(p);
    }
    if (found.empty())
      throw ConfigError(config.string() + ": simulations pattern '" + pattern + "'", "matched no sim files");
    out.insert(out.end(), found.begin(), found.end());
  }
  sort_unique(out);
  return out;
}

}  // namespace patchbay::runner
