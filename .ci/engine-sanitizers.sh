#!/usr/bin/env bash
# Builds the engine alone (no service) with ASan + UBSan and runs its tests: model files
# and tokenizer input are untrusted, so their parsers must be clean under the sanitizers.
# Then (when clang is installed) builds the libFuzzer targets of tests/fuzz with clang,
# ASan + UBSan and JETSERVE_FUZZ (only the parser libraries they link, not the whole engine)
# and fuzzes each for FUZZ_SECONDS (20) seconds. A crash fails the job; its reproducer is
# left in build-fuzz/fuzz/<target>/ (add it to tests/fuzz/regressions/<target>/ with the
# fix). FUZZ_SECONDS=0 skips the fuzzing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# gcc's "undefined" leaves out float-cast-overflow (a float out of an integer type's range,
# NaN included, converted to it); quantizers fed non-finite weights or activations hit it.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DJETSERVE_SERVICE=OFF \
  -DJETSERVE_CUDA=OFF -DJETSERVE_BENCHMARKS=OFF -DJETSERVE_WERROR=ON \
  -DJETSERVE_SANITIZE=address,undefined,float-cast-overflow
cmake --build build-asan -j "$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -L engine

fuzz_seconds="${FUZZ_SECONDS:-20}"
if [ "$fuzz_seconds" = 0 ] || ! command -v clang++ >/dev/null; then
  echo "fuzzing skipped (FUZZ_SECONDS=0 or no clang++)"
  exit 0
fi
targets=(gguf tokenizer_json tokenize onnx chat_template json_schema request)
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DJETSERVE_SERVICE=OFF \
  -DJETSERVE_CUDA=OFF -DJETSERVE_BENCHMARKS=OFF -DJETSERVE_WERROR=ON \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DJETSERVE_SANITIZE=address,undefined -DJETSERVE_FUZZ=ON
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]/#/fuzz_}"
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
if [ "${#failed[@]}" -ne 0 ]; then
  echo "fuzzers that failed: ${failed[*]}" >&2
  exit 1
fi
