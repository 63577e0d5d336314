#!/usr/bin/env bash
# Builds the engine alone (no service) with ASan + UBSan and runs its tests: model files
# and tokenizer input are untrusted, so their parsers must be clean under the sanitizers.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DJETSERVE_SERVICE=OFF \
  -DJETSERVE_CUDA=OFF -DJETSERVE_BENCHMARKS=OFF -DJETSERVE_WERROR=ON \
  -DJETSERVE_SANITIZE=address,undefined
cmake --build build-asan -j "$(nproc)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)" -L engine
