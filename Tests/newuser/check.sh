#!/usr/bin/env bash
# A new user's first commands: gpusim installed under a fresh prefix, run from an empty
# folder with nothing but that prefix's bin (and the system's) on PATH. CI runs it after
# the unit tests; it needs the release build (scripts/setup.sh makes it).
set -uo pipefail
cd "$(dirname "$0")/../.."
prefix="$(mktemp -d)"
work="$(mktemp -d)"
trap 'rm -rf "$prefix" "$work"' EXIT
bash scripts/install.sh "$prefix" >/dev/null
cd "$work"
export PATH="$prefix/bin:/usr/bin:/bin"
unset GPUSIM_KERNEL_PATH
passed=0; failed=0
check() {   # check DESCRIPTION EXPECTED-OUTPUT-SUBSTRING COMMAND...
    local what="$1" want="$2"; shift 2
    local out
    if out="$("$@" 2>&1)" && grep -qF -- "$want" <<<"$out"; then
        passed=$((passed + 1)); echo "ok   $what"
    else
        failed=$((failed + 1)); echo "FAIL $what: $*"; echo "$out" | head -20
    fi
}
check "gpusim is the installed one" "$prefix/bin/gpusim" command -v gpusim
check "run flash.kern by name" "flash_attention on a100-80gb" gpusim run flash.kern --N 8192
check "run flash, parameters first" "Bc=139 Br=139 N=8192" gpusim run --N 8192 flash
check "list shows the installed library" "Kernels in $prefix/share/gpusim/Kernels" gpusim list
check "graph flash" "" gpusim graph flash -o f.svg
check "the graph was written" "<svg" cat f.svg
check "diff flash tiled_2d" "HBM traffic: flash_attention is" gpusim diff flash tiled_2d --N 4096
check "validate" "FlashAttention paper, Figure 2" gpusim validate
check "a trace written here graphs from elsewhere" "" gpusim run flash --trace t.jsonl
mkdir -p elsewhere
check "graph of that trace from another folder" "" bash -c 'cd elsewhere && gpusim graph ../t.jsonl -o g.svg'
cp "$prefix/share/gpusim/Kernels/stack/rmsnorm.kern" mine.kern
check "a trace of one's own kernel" "" gpusim run mine.kern --trace mine.jsonl
check "graphs from another folder (the kernel beside the trace)" "" bash -c 'cd elsewhere && gpusim graph ../mine.jsonl -o m.svg'
check "an unknown name lists the closest" "did you mean 'flash'" bash -c 'gpusim run flsh; test $? -eq 1'
check "serve a model by name" "time per output token" gpusim infer models/llama2_7b --prompt 64 --generate 4
check "import a Hugging Face config and serve it" "time to first token" bash -c 'printf "%s" "{\"model_type\": \"mistral\", \"architectures\": [\"MistralForCausalLM\"], \"hidden_size\": 4096, \"intermediate_size\": 14336, \"num_attention_heads\": 32, \"num_hidden_layers\": 32, \"num_key_value_heads\": 8, \"max_position_embeddings\": 32768, \"sliding_window\": 4096, \"vocab_size\": 32000, \"torch_dtype\": \"bfloat16\"}" > elsewhere/config.json && gpusim import hf elsewhere/config.json -o elsewhere/mistral.kern > /dev/null && gpusim infer elsewhere/mistral.kern --gpu h100-sxm --batch 8 --prompt 64 --generate 4'
check "nothing left behind but the outputs" "elsewhere f.svg mine.jsonl mine.kern t.jsonl" bash -c 'echo $(ls -A)'
echo "newuser: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
