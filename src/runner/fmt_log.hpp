// `patchbay fmt-log` (SPEC 15.10): .tracing.jsonl lines as the ANSI text of SPEC 13.4, the same
// bytes the lab writes to .tracing.log (both use log::render_line).
//
//   FmtLogOptions o;  o.input = "run/device.client.tracing.jsonl";  o.follow = true;
//   return fmt_log_command(o);   // prints, then prints every line appended later (until killed)
#pragma once

#include <string>

namespace patchbay::runner {

struct FmtLogOptions {
  std::string input;       // a file, a directory (with recursive) or "" / "-" for stdin
  bool follow = false;     // keep printing lines appended to the file
  bool recursive = false;  // write X.tracing.log next to every X.tracing.jsonl below `input`
  bool no_color = false;   // plain text without escape codes
};

// Lines that are not tracing records (not JSON, or JSON without "timestamp" and "level") are
// printed unchanged. Returns the exit code: 0, 1 (a file cannot be read or written), 2 (usage:
// a directory without -r, -r on stdin, -r with -f, -r on a file that is no *.tracing.jsonl).
int fmt_log_command(const FmtLogOptions& opts);

}  // namespace patchbay::runner
