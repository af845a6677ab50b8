#!/usr/bin/env bash
# Benchmarks. Each prints one JSON object per line: {"bench":...,"metric":...,"value":...,"unit":...}
#   bench/run.sh lab-build [--devices N] [--routers M] [--no-baseline]
#   bench/run.sh nat-build [--routers N]
#   bench/run.sh link [--seconds S] [--devices N]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f build/CMakeCache.txt ] || cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build >/dev/null
what="${1:-}"
shift || true
case "$what" in
  lab-build) exec build/bench/lab_build "$@" ;;
  nat-build) exec build/bench/nat_build "$@" ;;
  link) exec build/bench/link_bench "$@" ;;
  *) echo "usage: bench/run.sh lab-build [--devices N] [--routers M] [--no-baseline] | nat-build [--routers N] | link [--seconds S] [--devices N]" >&2
     exit 2 ;;
esac
