#!/usr/bin/env bash
# Rewrites the golden traces in Traces/ (each seed attention kernel at its defaults on seed-a100).
# Run it only after checking that a change in the simulator's output is intended; the tests
# in Tests/SimulatorTests/TraceTests.swift compare against these files.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product gpusim >/dev/null
for k in standard_attention attention_1d attention_2d flash_attention; do
    .build/release/gpusim run "Kernels/$k.kern" --gpu seed-a100 --trace "Traces/$k.jsonl" --json >/dev/null
    echo "Traces/$k.jsonl: $(wc -l < "Traces/$k.jsonl") lines"
done
