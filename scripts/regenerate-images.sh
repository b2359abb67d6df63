#!/usr/bin/env bash
# Regenerates the pictures in docs/images that README.md and docs/ embed, with the release build.
# Review them (open the SVGs and the PNG) and the diff like any other change.
set -euo pipefail
cd "$(dirname "$0")/.."
gpusim=.build/release/gpusim
[ -x "$gpusim" ] || swift build -c release
out=docs/images
$gpusim graph Kernels/flash_attention.kern --gpu seed-a100 -o $out/flash_attention.svg
$gpusim graph Kernels/attention_2d.kern --gpu seed-a100 -o $out/attention_2d.svg
$gpusim graph Kernels/models/gpt2_small.kern -o $out/gpt2_small_model.svg
$gpusim roofline Kernels/attention_2d.kern --N 4096 -o $out/roofline_attention_2d.svg
$gpusim infer Kernels/models/llama2_7b.kern --batch 1,8,32,64,128,256 --prompt 512 --generate 128 -o $out/serving_llama2_7b.svg > /dev/null
# The report as a browser shows it (headless Chromium, as Tests/browser/check_report.py renders it).
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -n "$browser" ]; then
    tmp=$(mktemp -d)
    $gpusim report Kernels/flash_attention.kern --gpu seed-a100 --N 2048 -o "$tmp/report.html"
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,2600 \
        --screenshot="$out/report.png" "file://$tmp/report.html" > /dev/null 2>&1
    $gpusim report Kernels/models/gpt2_small.kern -o "$tmp/model.html"
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,2000 \
        --screenshot="$out/report_gpt2_small.png" "file://$tmp/model.html" > /dev/null 2>&1
    rm -rf "$tmp"
else
    echo "no Chromium: docs/images/report.png left as it is" >&2
fi
