#!/usr/bin/env bash
# The reliability harness (tests/harness/README.md) at full size, on the Release build in build/.
#   scripts/harness.sh churn [CYCLES]   create/destroy a 20-node lab CYCLES times (default 1000)
#   scripts/harness.sh faults           SIGKILL during a build, a transfer and a sim
#   scripts/harness.sh parallel         16 labs in one process, then the lab suite with ctest -j8
#   scripts/harness.sh all              all of the above
# The normal suite runs the same tests smaller (20 churn cycles).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/CMakeCache.txt ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null

churn() {
  PATCHBAY_CHURN_CYCLES="${1:-1000}" build/tests/harness/harness_tests --gtest_filter='Churn.*'
}
faults() {
  build/tests/harness/harness_tests --gtest_filter='Faults.*'
}
parallel() {
  build/tests/harness/harness_tests --gtest_filter='Parallel.*'
  # Eight test processes at once, each building its own labs. The timing-sensitive tests (label
  # link) and the browser tests stay out: on a small machine their tolerance bands, not the
  # labs, would be what eight parallel processes break.
  (cd build && ctest -j8 -L lab -LE 'link|harness' --timeout 600 --output-on-failure)
}

what="${1:-}"
shift || true
case "$what" in
  churn) churn "$@" ;;
  faults) faults ;;
  parallel) parallel ;;
  all) churn "$@" && faults && parallel ;;
  *) sed -n '2,6p' "$0" >&2; exit 2 ;;
esac
