// `patchbay serve` and the pieces `patchbay run --open/--bind` shares with it (SPEC 15.10).
//
// Exit codes of serve_command: 0 stopped by SIGINT/SIGTERM, 2 usage error (missing directory,
// --testdir without $PATCHBAY_OUTDIR, OUTDIR together with --testdir, a bad --bind), 3 the
// address cannot be bound (port in use, address not local): the machine, not the command line,
// is what has to change, as with the other environment errors.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <ostream>
#include <string>

#include "server/server.hpp"

namespace patchbay::server {

struct ServeOptions {
  std::optional<std::filesystem::path> outdir;  // default .patchbay-work
  bool testdir = false;                         // serve $PATCHBAY_OUTDIR
  std::string bind = std::string(kDefaultBind);
  bool open = false;  // launch a browser
};

// Prints "patchbay: serving <dir> at http://<bind>/" and serves until SIGINT or SIGTERM.
int serve_command(const ServeOptions& opts);

// A server on `dir` (created if missing) for the duration of a run. Throws InvalidArgument for
// a bad bind address and BindError when it cannot listen.
std::unique_ptr<Server> serve_in_background(const std::filesystem::path& dir, const std::string& bind);

// Starts `xdg-open <url>` in its own process group (Ctrl-C in the terminal must not reach the
// browser it starts) and does not wait for it. When xdg-open is not installed it says so on
// `err` and returns false; the server keeps running either way.
bool open_in_browser(const std::string& url, std::ostream& err);

}  // namespace patchbay::server
