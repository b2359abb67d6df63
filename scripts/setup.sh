#!/usr/bin/env bash
# Set-up on a fresh Debian machine with Swift: installs the system libraries gpusim links,
# builds the release binary and runs a shipped kernel. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v swift >/dev/null; then
    echo "setup: swift is not on PATH; install a Swift 6 toolchain first" >&2
    exit 1
fi

# System packages: libgraphviz (gpusim graph), OpenBLAS (numeric matmuls), pkg-config to find them.
need=()
for pkg in libgraphviz-dev libopenblas-dev pkg-config; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

swift build -c release --product gpusim
.build/release/gpusim run Kernels/flash_attention.kern --N 8192
