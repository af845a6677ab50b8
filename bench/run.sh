#!/usr/bin/env bash
# Benchmarks. Each prints one JSON object per line: {"bench":...,"metric":...,"value":...,"unit":...}
#   bench/run.sh lab-build [--devices N] [--routers M] [--no-baseline]
#   bench/run.sh nat-build [--routers N]
#   bench/run.sh link [--seconds S] [--devices N]
#   bench/run.sh log [--iterations N]
#   bench/run.sh netlink-build [--messages N]
#   bench/run.sh netfilter-libs [--rounds N] [--entries N]
#   bench/run.sh serve [--events N] [--rate R] [--no-lab]
#   bench/run.sh serve-ui [--devices N] [--routers M] [--loads K]   (needs ui/node_modules, chromium)
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
  log) exec build/bench/log_bench "$@" ;;
  netlink-build) exec build/bench/netlink_build "$@" ;;
  netfilter-libs) exec build/bench/netfilter_libs "$@" ;;
  serve) exec build/bench/serve_bench "$@" ;;
  serve-ui) exec node bench/serve_ui.mjs build/patchbay "$@" ;;
  *) echo "usage: bench/run.sh lab-build [--devices N] [--routers M] [--no-baseline] | nat-build [--routers N] | link [--seconds S] [--devices N] | log [--iterations N] | netlink-build [--messages N] | netfilter-libs [--rounds N] [--entries N] | serve [--events N] [--rate R] [--no-lab] | serve-ui [--devices N] [--routers M] [--loads K]" >&2
     exit 2 ;;
esac
