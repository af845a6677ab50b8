#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz, each for a fixed number of executions or seconds.
# Builds them with clang (ASan + UBSan; warnings not fatal: clang 14 and g++ 12 differ) into build-fuzz/. A crash stops that target, leaves the
# input in build-fuzz/artifacts/<target>/ and makes the script exit 1; copy the input into
# tests/fuzz/corpus/<target>/ to keep it as a regression (the normal suite replays the corpora).
#
#   scripts/fuzz.sh                      # every target, 1,000,000 executions each
#   scripts/fuzz.sh --runs 100000 sim    # one target, fewer executions
#   scripts/fuzz.sh --seconds 60         # every target for 60 s each
set -euo pipefail
cd "$(dirname "$0")/.."

runs=1000000
seconds=""
targets=()
while (($#)); do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --seconds) seconds="$2"; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "scripts/fuzz.sh: unknown option '$1'" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
all=(nat64 frame nfqueue sim interpolate lab_toml)
((${#targets[@]})) || targets=("${all[@]}")
for t in "${targets[@]}"; do
  [[ " ${all[*]} " == *" $t "* ]] || { echo "scripts/fuzz.sh: unknown target '$t' (one of: ${all[*]})" >&2; exit 2; }
done
command -v clang++ >/dev/null || { echo "scripts/fuzz.sh: clang++ not found (apt-get install clang)" >&2; exit 2; }

dir=build-fuzz
if [ ! -f "$dir/CMakeCache.txt" ]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_COMPILER=clang -DPATCHBAY_WERROR=OFF -DPATCHBAY_FUZZ=ON -DPATCHBAY_BUILD_TESTS=OFF -DPATCHBAY_BUILD_BENCH=OFF >/dev/null
fi
cmake --build "$dir" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=()
for t in "${targets[@]}"; do
  work="$dir/corpus/$t"
  art="$dir/artifacts/$t/"
  mkdir -p "$work" "$art"
  limit=(-runs="$runs")
  [ -n "$seconds" ] && limit=(-max_total_time="$seconds")
  echo "fuzz: $t (${limit[*]})"
  # The checked-in corpus seeds the run; new interesting inputs go to build-fuzz/corpus only.
  if "$dir/tests/fuzz/fuzz_$t" "${limit[@]}" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
      -artifact_prefix="$art" -print_final_stats=1 "$work" "tests/fuzz/corpus/$t" 2>"$dir/fuzz_$t.log"; then
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$dir/fuzz_$t.log" | sed "s/^/fuzz: $t: /"
  else
    failed+=("$t")
    tail -40 "$dir/fuzz_$t.log"
    echo "fuzz: $t FAILED; input in $art (log: $dir/fuzz_$t.log)"
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no crash in ${targets[*]}"
