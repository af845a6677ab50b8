// `assert` step checks (SPEC 15.4): "<capture key> <op> <value>" against the latest capture value.
//
//   Check c = parse_check("fetch.size >= 1000");   // {lhs "fetch.size", op ">=", rhs "1000"}
//   AssertOutcome r = evaluate(c, store);
//   // r.pass; r.message == "assert: PASS 'fetch.size' (got '4096') >= '1000'"
//   //      or "assert FAILED: 'fetch.size' (got '12') >= '1000'"
//
// Operators, searched in this order (the first one found splits the check): ==, !=, contains,
// matches (RE2 partial match), >=, <=, >, <; the ordering ones compare both sides as numbers.
// Both sides are trimmed of surrounding whitespace; the right side is otherwise taken verbatim.
#pragma once

#include <string>
#include <string_view>

#include "runner/captures.hpp"

namespace patchbay::runner {

struct Check {
  std::string lhs, op, rhs;  // op without the surrounding spaces, e.g. "==" or "contains"
};

// Throws ConfigError naming the check when it has no operator, an empty left side, or (for
// `matches`) an invalid RE2 pattern.
Check parse_check(std::string_view check);

struct AssertOutcome {
  bool pass;
  std::string message;
};

// Never throws for a well-formed Check: an unknown capture, a non-number or a bad pattern fails.
AssertOutcome evaluate(const Check& c, const CaptureStore& store);

}  // namespace patchbay::runner
