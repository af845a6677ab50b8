#!/usr/bin/env bash
# Installs what patchbay needs on Debian 12, builds it (Release, into build/) and runs the demo.
# Idempotent: packages already present are not touched, and apt stays quiet then.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(
  g++ cmake ninja-build pkg-config
  libnftables-dev libasio-dev nlohmann-json3-dev libtomlplusplus-dev
  libcli11-dev libre2-dev libcurl4-openssl-dev libarchive-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  iproute2 iputils-ping util-linux nftables iperf3 socat openssl
  # xtables extensions: `nft list` renders the NAT controller's NFQUEUE rule (nft_compat) with them
  # and prints "XT target NFQUEUE not found" without; the nft tests check that listing.
  iptables
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

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build

echo
echo "setup: running the demo (build/examples/simple)"
build/examples/simple

echo
echo "setup: running the example sims (build/patchbay run examples/sims; reports in .patchbay-work/latest/)"
build/patchbay run examples/sims
