#!/usr/bin/env bash
# `jetserve bench` on a small random model: one line per concurrency, the first at x1.00,
# every stream's tokens counted (concurrency x n), exit 0; bad usage exits 2; --prefix
# reports the cached part of the shared prompt.
set -euo pipefail
bin="${JETSERVE_BINARY_DIR:?}/bin/jetserve"
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
"$bin" gen-model "$dir/m.gguf" --layers 2 --embd 64 --ff 128 --heads 4 --heads-kv 2 \
  --ctx 256 --vocab 300 --type q8_0 --seed 3 > /dev/null
out="$("$bin" bench -m "$dir/m.gguf" --concurrency 1,3 -n 5 --prompt-tokens 4 -t 1)"
echo "$out"
grep -q "^concurrency   1:      5 tokens .*(x1.00 vs concurrency 1, " <<< "$out"
grep -q "^concurrency   3:     15 tokens " <<< "$out"
# --prefix: the second request finds the shared prompt's 12 full blocks (192 tokens) cached.
out="$("$bin" bench -m "$dir/m.gguf" --prefix --prompt-tokens 200 -t 1)"
echo "$out"
grep -q "^  second request (192 tokens cached): " <<< "$out"
if "$bin" bench -m "$dir/m.gguf" --concurrency 0 > /dev/null 2>&1; then
  echo "--concurrency 0 was accepted" >&2
  exit 1
else
  [[ $? -eq 2 ]]
fi
echo PASS
