#!/usr/bin/env bash
# Cross-builds the engine (no service, no CUDA) for aarch64 — Jetson's CPU — and runs its
# tests under qemu-user-static, so every ARM code path is exercised on every change.
# Installs what it needs (crossbuild-essential-arm64, qemu-user-static, :arm64 -dev packages).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash deploy/install-deps.sh --arm64

# Debian 12's libonnx packages cannot be installed for two architectures at once (libonnxifi
# ships /usr/lib/libonnxifi.so), so the arm64 ONNX libraries go into a private sysroot.
sysroot="$PWD/build-aarch64-sysroot"
onnx_dir="$sysroot/usr/lib/aarch64-linux-gnu/cmake/ONNX"
if [ ! -f "$onnx_dir/ONNXConfig.cmake" ]; then
  rm -rf "$sysroot" && mkdir -p "$sysroot/debs"
  (cd "$sysroot/debs" && apt-get download libonnx-dev:arm64 libonnx1:arm64 libonnxifi:arm64)
  for deb in "$sysroot"/debs/*.deb; do dpkg -x "$deb" "$sysroot"; done
fi

cmake -S . -B build-aarch64 -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DONNX_DIR="$onnx_dir" -DJETSERVE_AARCH64_EXTRA_LIBS="$sysroot/usr/lib/aarch64-linux-gnu" \
  -DJETSERVE_SERVICE=OFF -DJETSERVE_CUDA=OFF -DJETSERVE_BENCHMARKS=OFF -DJETSERVE_WERROR=ON
cmake --build build-aarch64 -j "$(nproc)"
readelf -h build-aarch64/engine/format/gguf_reader_test | grep -q AArch64 \
  || { echo "engine-aarch64.sh: test binaries are not aarch64" >&2; exit 1; }
QEMU_LD_PREFIX=/ \
  ctest --test-dir build-aarch64 --output-on-failure -j "$(nproc)" -L engine
