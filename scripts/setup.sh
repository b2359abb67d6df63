#!/usr/bin/env bash
# Set-up on a fresh Debian machine with Swift: installs the system libraries gpusim links,
# builds the release binary, installs it with its kernel library (scripts/install.sh: on PATH
# in /usr/local as root, else ~/.local) and runs a shipped kernel. Safe to run again.
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
prefix=/usr/local
[ -w /usr/local/bin ] || prefix="$HOME/.local"
bash scripts/install.sh "$prefix"
# The main job, from the home folder: the installed gpusim finds its kernel library itself.
(cd "$HOME" && "$prefix/bin/gpusim" run flash --N 8192)
