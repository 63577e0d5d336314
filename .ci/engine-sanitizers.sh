#!/usr/bin/env bash
# Builds the engine alone (no service) with ASan + UBSan and runs its tests: model files
# and tokenizer input are untrusted, so their parsers must be clean under the sanitizers.
# The libFuzzer targets are built and fuzzed by .ci/fuzz.sh (tests/run.sh runs it next).
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
