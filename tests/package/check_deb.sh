#!/usr/bin/env bash
# `cpack -G DEB` from a finished build: the package holds the CLI, both libraries, the headers,
# the CMake and pkg-config files and the devtools page; its Depends name the runtime libraries;
# its pkg-config file points into wherever the package was unpacked.
#   check_deb.sh <build dir>
set -euo pipefail
build=$1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/patchbay-deb.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "check_deb: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$tmp/out" >"$tmp/cpack.log") || { cat "$tmp/cpack.log"; fail "cpack failed"; }
deb=$(ls "$tmp"/out/patchbay_*_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no patchbay_<version>_<arch>.deb in $(ls "$tmp/out")"
echo "check_deb: $(basename "$deb") $(du -h "$deb" | cut -f1)"
contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/patchbay ./usr/include/patchbay/lab.hpp ./usr/include/patchbay/runner.hpp \
  ./usr/share/patchbay/ui/index.html; do
  grep -q " $f\$" <<<"$contents" || fail "$f is not in the package"
done
for f in libpatchbay.a libpatchbay_runner.a pkgconfig/patchbay.pc pkgconfig/patchbay-runner.pc \
  cmake/patchbay/patchbayConfig.cmake cmake/patchbay/patchbayTargets.cmake; do
  grep -q "/usr/lib/\(.*/\)\?$f\$" <<<"$contents" || fail "$f is not under /usr/lib in the package"
done
[ "$(dpkg-deb -f "$deb" Package)" = patchbay ] || fail "package name is $(dpkg-deb -f "$deb" Package)"
depends=$(dpkg-deb -f "$deb" Depends)
for d in libnftables1 libnftnl11 libmnl0 libnetfilter-queue1 libpcap0.8 libtomlplusplus3 libcpp-httplib0.11; do
  grep -q "\b$d\b" <<<"$depends" || fail "Depends lacks $d: $depends"
done
# Every shared library the CLI needs must come from a package the Depends line names (or from
# one of those packages' own dependencies, which dpkg resolves): check the direct ones.
for so in $(objdump -p "$build/patchbay" | awk '/NEEDED/ {print $2}'); do
  path=$(ldd "$build/patchbay" | awk -v so="$so" '$1 == so {print $3}')
  [ -n "$path" ] || fail "the CLI needs $so, which is not on this machine"
  pkg=$( (dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null) | head -1 | cut -d: -f1)
  [ -n "$pkg" ] || fail "no package owns $path ($so)"
  grep -q "\b$pkg\b" <<<"$depends" || fail "the CLI needs $so (package $pkg), which Depends does not name"
done

dpkg-deb -x "$deb" "$tmp/root"
pc=$(find "$tmp/root" -name patchbay.pc | head -1)
inc=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=includedir patchbay)
[ -f "$inc/patchbay/lab.hpp" ] || fail "pkg-config includedir $inc does not hold the headers"
"$tmp/root/usr/bin/patchbay" --version | grep -q "[0-9]" || fail "the packaged CLI does not run"
echo "check_deb: contents, Depends and pkg-config paths are right"
