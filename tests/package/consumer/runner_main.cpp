// A sim run from an installed patchbay::runner: argv[1] = sim file, argv[2] = work directory.
#include <cstdio>

#include <patchbay/runner.hpp>
#include <patchbay/userns.hpp>

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  patchbay::init_userns();
  patchbay::SimRunOptions o;
  o.inputs = {argv[1]};
  o.work_dir = argv[2];
  patchbay::SimRunResult r = patchbay::run_sims(o);
  for (const auto& s : r.sims)
    std::printf("sim %s ok=%d dir=%s\n", s.name.c_str(), s.ok ? 1 : 0, s.dir.c_str());
  std::printf("exit %d\n", r.exit_code);
  return r.exit_code;
}
