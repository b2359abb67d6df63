#!/usr/bin/env bash
# Fuzzes the lexer, parser, checker and interpreter with libFuzzer, seeded with every shipped
# kernel and the bad kernels of the diagnostics tests.
#   scripts/fuzz.sh [RUNS]            (default 1000000 executions)
# Crashers land in .build-fuzz/crashes/; each one found becomes a regression test in
# Tests/SimulatorTests/Diagnostics (a bad kernel with its expected diagnostic).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1000000}
out=.build-fuzz
rm -rf "$out/src"; mkdir -p "$out/src" "$out/corpus" "$out/crashes"
# One module: copy the library sources without their imports of each other.
for d in KernLang Numerics Simulator; do
    for f in Sources/$d/*.swift; do
        sed -E '/^import (KernLang|Numerics|Simulator)$/d' "$f" > "$out/src/${d}_$(basename "$f")"
    done
done
cp Tests/Fuzz/FuzzTarget.swift "$out/src/"
swiftc -O -parse-as-library -sanitize=fuzzer,address -module-name GpusimFuzz \
    -I Sources/COpenBLAS $(pkg-config --cflags-only-I openblas | sed 's/-I/-Xcc -I/g') \
    -L /usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas \
    "$out"/src/*.swift -o "$out/fuzz-kern"
cp Kernels/*.kern Kernels/stack/*.kern Kernels/paper/*.kern Tests/SimulatorTests/Diagnostics/*.kern "$out/corpus/" 2>/dev/null || true
"$out/fuzz-kern" "$out/corpus" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$out/crashes/" -print_final_stats=1
