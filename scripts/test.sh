#!/usr/bin/env bash
# Builds if needed and runs the whole test suite through ctest. Extra arguments go to ctest
# (e.g. `scripts/test.sh -L unit` or `-R Nat`).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build
cd build
ctest --output-on-failure --timeout 600 -j2 "$@"
