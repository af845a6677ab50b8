#!/usr/bin/env bash
# Installs the build into a scratch prefix and uses it as an outside project would: every public
# header compiles on its own, a CMake project finds patchbay::patchbay and patchbay::runner and its
# programs run a lab and a sim, and a one-line g++ build links through pkg-config.
#   check_install.sh <build dir> <source dir>
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/patchbay-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
prefix="$tmp/prefix"
fail() { echo "check_install: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/patchbay include/patchbay/lab.hpp include/patchbay/runner.hpp share/patchbay/ui/index.html; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
libdir=$(dirname "$(find "$prefix" -name libpatchbay.a | head -1)")
[ -n "$libdir" ] || fail "libpatchbay.a not installed"
[ -f "$libdir/libpatchbay_runner.a" ] || fail "libpatchbay_runner.a not installed"
[ -f "$libdir/cmake/patchbay/patchbayConfig.cmake" ] || fail "no patchbayConfig.cmake in $libdir/cmake/patchbay"
grep -q "<html" "$prefix/share/patchbay/ui/index.html" || fail "the installed UI page is not HTML"
# Nothing from src/ may leak into an installed header.
if grep -l '#include "\(core\|sys\|runner\|link\|nat\|events\|exec\|config\)/' "$prefix"/include/patchbay/*.hpp; then
  fail "an installed header includes a private one"
fi

n=0
for h in "$prefix"/include/patchbay/*.hpp; do
  echo "#include <patchbay/$(basename "$h")>" >"$tmp/one.cpp"
  g++ -std=c++20 -fsyntax-only -Wall -Wextra -Werror -I"$prefix/include" "$tmp/one.cpp" ||
    fail "$(basename "$h") does not compile on its own"
  n=$((n + 1))
done
echo "check_install: $n installed headers compile on their own"

cmake -S "$src/tests/package/consumer" -B "$tmp/consumer" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" >"$tmp/configure.log" || { cat "$tmp/configure.log"; fail "find_package(patchbay) failed"; }
cmake --build "$tmp/consumer" >"$tmp/build.log" || { cat "$tmp/build.log"; fail "the consumer does not build"; }
out=$("$tmp/consumer/consumer")
echo "$out"
[[ "$out" =~ ^consumer\ ok\ a=10\.[0-9.]+\ b=10\.[0-9.]+\ rtt_us=[0-9]+$ ]] || fail "unexpected consumer output: $out"

cat >"$tmp/hello.toml" <<'SIM'
[sim]
name = "hello"

[[router]]
name = "dc"

[device.server.eth0]
gateway = "dc"

[[step]]
action = "run"
device = "server"
cmd = ["echo", "hello"]
SIM
out=$("$tmp/consumer/consumer_runner" "$tmp/hello.toml" "$tmp/work" 2>"$tmp/runner.err") ||
  { cat "$tmp/runner.err"; fail "consumer_runner failed: $out"; }
echo "$out"
grep -q "^sim hello ok=1 dir=$tmp/work/" <<<"$out" || fail "the sim did not pass through patchbay::run_sims"
grep -q "^exit 0$" <<<"$out" || fail "run_sims did not return 0"
[ -f "$tmp/work/latest/manifest.json" ] || fail "no manifest.json in the run directory"

PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --exists patchbay patchbay-runner || fail "pkg-config does not find patchbay"
g++ -std=c++20 "$src/tests/package/consumer/lab_main.cpp" -o "$tmp/pc-consumer" \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs patchbay) || fail "the pkg-config build failed"
out=$("$tmp/pc-consumer")
[[ "$out" =~ ^consumer\ ok ]] || fail "the pkg-config consumer printed: $out"
echo "check_install: CMake and pkg-config consumers built and ran"
