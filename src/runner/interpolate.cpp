#include "runner/interpolate.hpp"

#include <cctype>
#include <cstdlib>
#include <optional>

#include "patchbay/error.hpp"

namespace patchbay::runner {
namespace {

constexpr std::string_view kNetsim = "NETSIM_";
constexpr std::string_view kBinary = "binary.";
constexpr std::size_t kListedNames = 5;

bool is_name_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

bool is_lab_var_name(std::string_view s) {
  if (!s.starts_with(kNetsim)) return false;
  for (char c : s) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

[[noreturn]] void fail(std::string_view s, const std::string& why) {
  throw ConfigError("interpolate '" + std::string(s) + "'", why);
}

std::string known_names(const std::map<std::string, std::string>* m) {
  if (m == nullptr || m->empty()) return "none";
  std::string out;
  std::size_t n = 0;
  for (const auto& [k, v] : *m) {
    if (n == kListedNames) {
      out += ", ...";
      break;
    }
    out += (n++ ? ", " : "") + k;
  }
  return out;
}

std::string binary(std::string_view s, std::string_view name, const InterpContext& ctx) {
  if (ctx.binaries != nullptr) {
    auto it = ctx.binaries->find(std::string(name));
    if (it != ctx.binaries->end()) return it->second;
  }
  fail(s, "unknown binary '" + std::string(name) + "' (known: " + known_names(ctx.binaries) + ")");
}

// Lab variable names carry node names as written in the lab file (NETSIM_IP_provider) or upper-cased
// (NETSIM_IP_PROVIDER), depending on who generated them, so both spellings are accepted.
std::optional<std::string> find_lab_var(std::string_view name, const InterpContext& ctx) {
  if (ctx.lab_vars != nullptr) {
    auto it = ctx.lab_vars->find(std::string(name));
    if (it != ctx.lab_vars->end()) return it->second;
    std::string upper(name);
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    it = ctx.lab_vars->find(upper);
    if (it != ctx.lab_vars->end()) return it->second;
  }
  // Runner settings such as NETSIM_RUST_LOG or NETSIM_TARGET_DIR come from the environment.
  if (const char* env = std::getenv(std::string(name).c_str())) return env;
  return std::nullopt;
}

std::string unknown_lab_var(std::string_view name, const InterpContext& ctx) {
  return "unknown lab variable '" + std::string(name) + "' (known: " + known_names(ctx.lab_vars) + ")";
}

// ${NETSIM_X}: braces say "substitute this", so an unknown name is an error.
std::string lab_var(std::string_view s, std::string_view name, const InterpContext& ctx) {
  if (auto v = find_lab_var(name, ctx)) return *v;
  fail(s, unknown_lab_var(name, ctx));
}

// $NETSIM_X: as in the original runner an unknown name stays as written (the program or a shell
// may expand it), with a warning, since it is usually a device name the lab does not have.
std::string bare_lab_var(std::string_view s, std::string_view name, const InterpContext& ctx) {
  if (auto v = find_lab_var(name, ctx)) return *v;
  if (ctx.warn)
    ctx.warn("interpolate '" + std::string(s) + "': " + unknown_lab_var(name, ctx) + " left as is");
  return "$" + std::string(name);
}

std::string capture(std::string_view s, const std::string& key, const InterpContext& ctx) {
  if (ctx.captures == nullptr) fail(s, "capture '" + key + "' referenced but no captures are available");
  if (auto v = ctx.captures->wait_for(key, ctx.deadline)) return *v;
  throw TimeoutError("interpolate '" + std::string(s) + "'", "timed out waiting for capture '" + key + "'");
}

std::string braced(std::string_view s, std::string_view inner, const InterpContext& ctx) {
  if (inner.starts_with(kBinary)) return binary(s, inner.substr(kBinary.size()), ctx);
  if (is_lab_var_name(inner)) return lab_var(s, inner, ctx);
  if (inner.find('.') != std::string_view::npos) return capture(s, std::string(inner), ctx);
  fail(s, "unknown variable '${" + std::string(inner) + "}'");
}

}  // namespace

std::string interpolate(std::string_view s, const InterpContext& ctx) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t dollar = s.find('$', i);
    if (dollar == std::string_view::npos) {
      out.append(s.substr(i));
      break;
    }
    out.append(s.substr(i, dollar - i));
    const std::string_view rest = s.substr(dollar + 1);
    if (rest.starts_with('{')) {
      const std::size_t close = rest.find('}');
      // An unterminated "${" is almost always a typo in a reference, so it is not passed through.
      if (close == std::string_view::npos) fail(s, "unterminated '${' at offset " + std::to_string(dollar));
      out += braced(s, rest.substr(1, close - 1), ctx);
      i = dollar + 1 + close + 1;
    } else if (rest.starts_with(kNetsim)) {
      std::size_t len = kNetsim.size();
      while (len < rest.size() && is_name_char(rest[len])) ++len;
      out += bare_lab_var(s, rest.substr(0, len), ctx);
      i = dollar + 1 + len;
    } else {
      out.push_back('$');
      i = dollar + 1;
    }
  }
  return out;
}

std::vector<std::string> interpolate_args(const std::vector<std::string>& args, const InterpContext& ctx) {
  std::vector<std::string> expanded;
  expanded.reserve(args.size());
  for (const auto& a : args) expanded.push_back(interpolate(a, ctx));

  std::vector<std::string> out;
  out.reserve(expanded.size());
  for (std::size_t i = 0; i < expanded.size(); ++i) {
    const std::string& tok = expanded[i];
    const bool is_flag = tok.size() > 2 && tok.starts_with("--") && tok.find('=') == std::string::npos;
    if (is_flag && i + 1 < expanded.size() && expanded[i + 1].empty()) {
      ++i;
      continue;
    }
    out.push_back(tok);
  }
  return out;
}

}  // namespace patchbay::runner
