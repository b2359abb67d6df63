#!/usr/bin/env bash
# Installs the release build of gpusim and its kernel library under a prefix:
#   PREFIX/bin/gpusim and PREFIX/share/gpusim/Kernels (which gpusim finds beside itself).
# PREFIX: the first argument, else /usr/local when it is writable (root), else ~/.local.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then prefix="$1"
elif [ -w /usr/local/bin ]; then prefix=/usr/local
else prefix="$HOME/.local"
fi
[ -x .build/release/gpusim ] || swift build -c release --product gpusim
mkdir -p "$prefix/bin" "$prefix/share/gpusim"
# Through a temporary name, so a running gpusim is never overwritten in place.
cp .build/release/gpusim "$prefix/bin/.gpusim.tmp" && mv -f "$prefix/bin/.gpusim.tmp" "$prefix/bin/gpusim"
rm -rf "$prefix/share/gpusim/Kernels.tmp"
cp -R Kernels "$prefix/share/gpusim/Kernels.tmp"
rm -rf "$prefix/share/gpusim/Kernels" && mv "$prefix/share/gpusim/Kernels.tmp" "$prefix/share/gpusim/Kernels"
echo "installed $prefix/bin/gpusim and its kernel library $prefix/share/gpusim/Kernels"
case ":$PATH:" in
    *":$prefix/bin:"*) ;;
    *) echo "note: $prefix/bin is not on your PATH; add it: export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
