#!/usr/bin/env bash
# Installs what patchbay needs on Debian 12, builds it (Release, into build/) and runs the demo.
# Idempotent: packages already present are not touched, and apt stays quiet then.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  g++ cmake ninja-build pkg-config
  libnftables-dev libnftnl-dev libmnl-dev libasio-dev nlohmann-json3-dev libtomlplusplus-dev
  libnetfilter-queue-dev
  # capture filters (pcap-filter syntax compiled to BPF); tshark reads captures back in the tests
  libpcap0.8-dev tshark
  # bench/netfilter_libs.cpp measures our conntrack requests against it
  libnetfilter-conntrack-dev
  libcli11-dev libre2-dev libcurl4-openssl-dev libarchive-dev libssl-dev
  libcpp-httplib-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 iputils-ping util-linux nftables iperf3 socat openssl
  # xtables extensions: `nft list` renders the NAT controller's NFQUEUE rule (nft_compat) with them
  # and prints "XT target NFQUEUE not found" without; the nft tests check that listing.
  iptables
  # The devtools UI's browser tests (tests/ui): Debian's chromium driven by playwright-core; the
  # page's topology measures its labels in DejaVu Sans.
  chromium fonts-dejavu-core
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The devtools UI (ui/): npm packages pinned by ui/package-lock.json, installed again only when the
# lockfile changed. The C++ build builds the page into build/ui/ (ui/page.cmake) and embeds it.
if ! command -v npm >/dev/null; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing nodejs and npm"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
if ! node -e 'process.exit(+process.versions.node.split(".")[0] < 20 ? 1 : 0)'; then
  echo "setup: warning: node $(node --version) is older than 20; the UI builds, but its browser tests" \
    "(playwright-core) need node >= 20" >&2
fi
if [ ! -f ui/node_modules/.patchbay-npm-ci ] || [ ui/package-lock.json -nt ui/node_modules/.patchbay-npm-ci ]; then
  echo "setup: npm ci in ui/"
  # No install scripts: esbuild's postinstall only re-checks its platform binary, which works
  # without it (verified), and no other package needs one.
  (cd ui && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
  touch ui/node_modules/.patchbay-npm-ci
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build

echo
echo "setup: running the demo (build/examples/simple)"
build/examples/simple

echo
echo "setup: running the example sims (build/patchbay run examples/sims; reports in .patchbay-work/latest/)"
build/patchbay run examples/sims
