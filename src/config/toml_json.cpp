#include "config/toml_json.hpp"

#include <sstream>

namespace patchbay::config {

namespace {

// toml++ prints dates and times in the RFC 3339 form TOML itself uses.
template <class T>
std::string rfc3339(const T& value) {
  std::ostringstream os;
  os << value;
  return os.str();
}

}  // namespace

nlohmann::json toml_to_json(const toml::node& n) {
  if (auto s = n.as_string()) return s->get();
  if (auto i = n.as_integer()) return i->get();
  if (auto f = n.as_floating_point()) return f->get();
  if (auto b = n.as_boolean()) return b->get();
  if (auto a = n.as_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (auto& e : *a) out.push_back(toml_to_json(e));
    return out;
  }
  if (auto t = n.as_table()) {
    nlohmann::json out = nlohmann::json::object();
    for (auto& [k, v] : *t) out[std::string(k.str())] = toml_to_json(v);
    return out;
  }
  if (auto d = n.as_date()) return rfc3339(d->get());
  if (auto tm = n.as_time()) return rfc3339(tm->get());
  if (auto dt = n.as_date_time()) return rfc3339(dt->get());
  return nullptr;  // unreachable: toml++ has no other node type
}

}  // namespace patchbay::config
