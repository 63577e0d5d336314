#!/usr/bin/env bash
# Cross-builds the gateway, the worker (CPU only) and the CLI for aarch64 with the images'
# own build step (deploy/docker/build.sh: Release), then starts each
# under qemu (--help) to show the binaries load their arm64 libraries. No tests run here:
# the engine's tests run under qemu in .ci/engine-aarch64.sh.
#
# Debian 12's gRPC, protobuf, curl and OpenSSL :arm64 -dev packages install beside the
# amd64 ones (deploy/install-deps.sh --arm64). Three cannot: libonnx-dev (libonnxifi ships
# /usr/lib/libonnxifi.so) and prometheus-cpp-dev with civetweb (the civetweb binary is not
# multi-arch; its CMake files name the binary); their arm64 packages are unpacked into a
# private sysroot instead.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash deploy/install-deps.sh --arm64

sysroot="$PWD/build-aarch64-service-sysroot"
libdir="$sysroot/usr/lib/aarch64-linux-gnu"
debs=(libonnx-dev:arm64 libonnx1:arm64 libonnxifi:arm64
      prometheus-cpp-dev:arm64 libprometheus-cpp-core1.0:arm64 libprometheus-cpp-pull1.0:arm64
      libprometheus-cpp-push1.0:arm64 libcivetweb-dev:arm64 libcivetweb1:arm64 civetweb:arm64)
if [ ! -f "$sysroot/.complete" ] || [ "$(cat "$sysroot/.complete")" != "${debs[*]}" ]; then
  rm -rf "$sysroot" && mkdir -p "$sysroot/debs"
  (cd "$sysroot/debs" && apt-get download "${debs[@]}")
  for deb in "$sysroot"/debs/*.deb; do dpkg -x "$deb" "$sysroot"; done
  echo "${debs[*]}" > "$sysroot/.complete"
fi

start=$(date +%s)
deploy/docker/build.sh "$PWD/build-aarch64-service" "$PWD/build-aarch64-service/install" \
  jetserve-gateway jetserve-worker jetserve -- \
  -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/toolchains/aarch64-linux-gnu.cmake" \
  -DJETSERVE_CUDA=OFF \
  -DONNX_DIR="$libdir/cmake/ONNX" \
  -Dprometheus-cpp_DIR="$libdir/cmake/prometheus-cpp" -Dcivetweb_DIR="$libdir/cmake/civetweb" \
  -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$libdir" \
  -DJETSERVE_AARCH64_EXTRA_LIBS="$libdir"
echo "service-aarch64.sh: cross-build took $(( $(date +%s) - start )) s"

for exe in jetserve-gateway jetserve-worker jetserve; do
  bin="build-aarch64-service/install/bin/$exe"
  readelf -h "$bin" | grep -q AArch64 || { echo "service-aarch64.sh: $exe is not aarch64" >&2; exit 1; }
  out="$(QEMU_LD_PREFIX=/ LD_LIBRARY_PATH="$libdir" timeout 120 qemu-aarch64-static -L / "$bin" --help 2>&1 || true)"
  # Each prints its usage, which names it; a missing arm64 library would print
  # "error while loading shared libraries" instead.
  if ! echo "$out" | grep -q "$exe " || echo "$out" | grep -q "error while loading"; then
    echo "service-aarch64.sh: $exe --help under qemu printed no usage:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "service-aarch64.sh: $exe (aarch64) starts under qemu"
done
