// Enum spellings as constexpr name tables, looked up both ways, and the "a, b or c" text of the
// "expected ..." part of an error message. One table per enum keeps a name and its parser from
// drifting apart.
//
//   constexpr sys::Spelling<Proto> kProtoNames[] = {{Proto::Udp, "udp"}, {Proto::Tcp, "tcp"}};
//   sys::name_of(kProtoNames, Proto::Tcp);      // "tcp"
//   sys::value_named(kProtoNames, "udp");       // Proto::Udp; nullopt for an unknown name
//   sys::expected_names(kProtoNames);           // "udp or tcp"
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace patchbay::sys {

template <class E>
struct Spelling {
  E value;
  std::string_view name;
};

template <class E, std::size_t N>
constexpr std::optional<E> value_named(const Spelling<E> (&table)[N], std::string_view name) {
  for (const auto& s : table)
    if (s.name == name) return s.value;
  return std::nullopt;
}

// `fallback` for a value the table does not list (an enum holding a number outside its names).
template <class E, std::size_t N>
constexpr std::string_view name_of(const Spelling<E> (&table)[N], E value, std::string_view fallback = "?") {
  for (const auto& s : table)
    if (s.value == value) return s.name;
  return fallback;
}

// "a", "a or b", "a, b or c".
inline std::string one_of(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

// The table's names for "expected ...", with `extra` (another accepted form) last.
template <class E, std::size_t N>
std::string expected_names(const Spelling<E> (&table)[N], std::string_view extra = {}) {
  std::vector<std::string_view> names;
  for (const auto& s : table) names.push_back(s.name);
  if (!extra.empty()) names.push_back(extra);
  return one_of(names);
}

}  // namespace patchbay::sys
