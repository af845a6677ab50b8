// Fuzz target: the sim loader and step expansion (SPEC 15.2/15.3) on arbitrary sim text:
// load_sim (TOML parse, [sim], extends/topology resolution, binaries, templates, groups, steps),
// counted_devices and expand_steps. A bad sim must end in patchbay::Error (PhaseError naming the
// phase); anything else (a JSON type_error, a crash, a hang) is a bug.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "patchbay/error.hpp"
#include "runner/expand.hpp"
#include "runner/sim_file.hpp"

using namespace patchbay;

namespace {

// The input becomes a file without touching the disk: a memfd read through /proc/self/fd. The
// working directory is an empty directory, so relative extends/topology names find nothing.
struct Scratch {
  int fd = ::memfd_create("fuzz-sim.toml", MFD_CLOEXEC);
  std::filesystem::path cwd;
  Scratch() {
    char tmpl[] = "/tmp/pb-fuzz-sim-XXXXXX";
    if (fd < 0 || !::mkdtemp(tmpl)) std::abort();
    cwd = tmpl;
  }
  ~Scratch() { std::filesystem::remove_all(cwd); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Scratch s;
  if (::ftruncate(s.fd, 0) != 0 || ::pwrite(s.fd, data, size, 0) != static_cast<ssize_t>(size)) std::abort();
  const std::filesystem::path file = "/proc/self/fd/" + std::to_string(s.fd);
  try {
    auto sim = runner::load_sim(file, s.cwd);
    auto counted = runner::counted_devices(*sim.topology);
    std::vector<std::string> warnings;
    auto steps = runner::expand_steps(sim, counted, &warnings);
    for (auto& st : steps)
      if (!st.is_object() || !st.contains("action") || !st["action"].is_string()) __builtin_trap();
  } catch (const patchbay::Error&) {
  }
  return 0;
}
