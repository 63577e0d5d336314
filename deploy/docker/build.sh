#!/usr/bin/env bash
# The build step of every jetserve image, and of CI's arm64 cross-build of the gateway and
# worker (.ci/service-aarch64.sh): one CMake invocation (Release, no tests or benchmarks)
# that builds the named executables and installs them into PREFIX/bin. Warnings are not
# errors here: GCC 12 at -O3 reports false -Warray-bounds inside libstdc++ (e.g. for
# engine/tokenizer/wordpiece.cc); CI's native build (-O2) keeps them errors.
#
#   deploy/docker/build.sh BUILD_DIR PREFIX TARGET... [-- EXTRA_CMAKE_ARGS...]
#   deploy/docker/build.sh /build /opt/jetserve jetserve-gateway jetserve -- -DJETSERVE_CUDA=OFF
set -euo pipefail
if [ "$#" -lt 3 ]; then
  echo "usage: build.sh BUILD_DIR PREFIX TARGET... [-- EXTRA_CMAKE_ARGS...]" >&2
  exit 2
fi
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build_dir="$1"
prefix="$2"
shift 2
targets=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do targets+=("$1"); shift; done
if [ "$#" -gt 0 ]; then shift; fi

cmake -S "$src" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DJETSERVE_TESTS=OFF -DJETSERVE_BENCHMARKS=OFF -DJETSERVE_WERROR=OFF "$@"
cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]}"
mkdir -p "$prefix/bin"
for t in "${targets[@]}"; do install -m 0755 "$build_dir/bin/$t" "$prefix/bin/$t"; done
