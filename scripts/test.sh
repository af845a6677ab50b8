#!/usr/bin/env bash
# Builds if needed and runs the whole test suite through ctest. Extra arguments go to ctest
# (e.g. `scripts/test.sh -L unit` or `-R Nat`).
#
#   scripts/test.sh                               # Release build in build/
#   scripts/test.sh --sanitize=address,undefined  # ASan + UBSan build in build-san-address-undefined/
#   scripts/test.sh --sanitize=thread             # TSan build in build-san-thread/
#   scripts/test.sh --rootless                    # as root: build, then run the suite as user nobody
#
# A sanitizer report fails the test that triggered it (halt_on_error / exitcode settings below).
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=""
rootless=0
if [[ "${1:-}" == --rootless ]]; then
  rootless=1
  shift
fi
if [[ "${1:-}" == --sanitize=* ]]; then
  sanitize="${1#--sanitize=}"
  shift
  case "$sanitize" in
    address,undefined | undefined,address | address | undefined | thread) ;;
    *) echo "scripts/test.sh: --sanitize: '$sanitize' is not one of address,undefined | thread" >&2; exit 2 ;;
  esac
fi

dir=build
args=(-DCMAKE_BUILD_TYPE=Release)
if [ -n "$sanitize" ]; then
  dir="build-san-${sanitize//,/-}"
  args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DPATCHBAY_SANITIZE=$sanitize" -DPATCHBAY_BUILD_BENCH=OFF)
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}"
  export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
  export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/tsan.supp}"
fi
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S . -B "$dir" -G Ninja "${args[@]}" >/dev/null
fi
cmake --build "$dir"
cd "$dir"
if ((rootless)) && [ "$(id -u)" -eq 0 ]; then
  # The library enters a user namespace by itself (SPEC 1.5); only what ctest and the tests write
  # into the build directory must be writable for nobody.
  mkdir -p Testing ui-screenshots ui-test-build
  chmod -R a+rwX Testing ui-screenshots ui-test-build
  exec setpriv --reuid=65534 --regid=65534 --clear-groups -- ctest --output-on-failure --timeout 600 -j2 "$@"
fi
ctest --output-on-failure --timeout 600 -j2 "$@"
