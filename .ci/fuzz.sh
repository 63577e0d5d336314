#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang, ASan + UBSan and JETSERVE_FUZZ, and
# fuzzes each for FUZZ_SECONDS (20) seconds: the engine's parsers (GGUF, tokenizers, ONNX,
# chat templates, JSON schemas, generation options) and the gateway's config loader and
# request decoding + limits. Ninja builds only what the targets link: the engine's parser
# libraries, and for the gateway targets gateway/config.cc + request_limits.cc,
# rpc/checked_request and the generated proto code (not the gateway's server code), so the
# service build being configured costs a few seconds, not a service build.
# A crash fails the job; its reproducer is left in build-fuzz/fuzz/<target>/ (add it to
# tests/fuzz/regressions/<target>/ with the fix).
#
#   .ci/fuzz.sh                                     # all targets, FUZZ_SECONDS each
#   FUZZ_SECONDS=600 FUZZ_TARGETS="gateway_config" .ci/fuzz.sh
# FUZZ_SECONDS=0 skips the job; so does a machine without clang++.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
fuzz_seconds="${FUZZ_SECONDS:-20}"
if [ "$fuzz_seconds" = 0 ] || ! command -v clang++ >/dev/null; then
  echo "fuzzing skipped (FUZZ_SECONDS=0 or no clang++)"
  exit 0
fi
read -r -a targets <<< "${FUZZ_TARGETS:-gguf tokenizer_json tokenize onnx chat_template json_schema request gateway_config gateway_request}"
start=$SECONDS
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DJETSERVE_SERVICE=ON \
  -DJETSERVE_CUDA=OFF -DJETSERVE_BENCHMARKS=OFF -DJETSERVE_WERROR=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DJETSERVE_SANITIZE=address,undefined -DJETSERVE_FUZZ=ON
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]/#/fuzz_}"
echo "fuzz.sh: configure + build ${#targets[@]} targets: $((SECONDS - start)) s"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
failed=()
for target in "${targets[@]}"; do
  work="build-fuzz/fuzz/$target"
  rm -rf "$work" && mkdir -p "$work/corpus"
  inputs=("$work/corpus" "tests/fuzz/corpus/$target")
  if [ -d "tests/fuzz/regressions/$target" ]; then inputs+=("tests/fuzz/regressions/$target"); fi
  # New inputs go to the scratch corpus (first folder); the committed seeds stay as they are.
  if ! "build-fuzz/tests/fuzz/fuzz_$target" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$work/" "${inputs[@]}" \
      >"$work/log" 2>&1; then
    failed+=("$target")
    tail -n 60 "$work/log"
    echo "fuzz_$target FAILED; reproducer: $(ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* \
      "$work"/oom-* 2>/dev/null | tr '\n' ' ')"
  fi
  echo "fuzz_$target: $(grep -E '^#[0-9]+.*DONE' "$work/log" | tail -n 1)"
done
echo "fuzz.sh: ${#targets[@]} targets, $((SECONDS - start)) s in all"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzzers that failed: ${failed[*]}" >&2
  exit 1
fi
