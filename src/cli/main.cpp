// The `patchbay` command line (SPEC 15.10). Placeholder until the runner lands.
#include <cstdio>

int main() {
  std::puts("patchbay " PATCHBAY_VERSION);
  return 0;
}
