#!/usr/bin/env bash
# Installs every Debian package that building and testing jetserve needs.
# Idempotent: packages already present are left alone. Used by the README, .ci/run and
# the Dockerfiles. Run as root (or with sudo available).
#
#   deploy/install-deps.sh            build + test dependencies (native)
#   deploy/install-deps.sh --runtime  only the shared libraries the binaries need
#   deploy/install-deps.sh --python   also the PyPI packages the tests use (and kubectl)
#   deploy/install-deps.sh --arm64    also the aarch64 cross toolchain, qemu-user-static and
#                                     the engine's :arm64 -dev packages (.ci/engine-aarch64.sh)
set -euo pipefail

mode=dev
python=0
arm64=0
for arg in "$@"; do
  case "$arg" in
    --runtime) mode=runtime ;;
    --python) python=1 ;;
    --arm64) arm64=1 ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

build_pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler grpc-proto
  libabsl-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libonnx-dev libonnx-testdata libutf8proc-dev libpcre2-dev libhwy-dev libicu-dev nlohmann-json3-dev
  libcpp-httplib-dev    # the gateway's Ollama/OpenAI HTTP API (with nlohmann-json3-dev)
  libcurl4-openssl-dev libssl-dev   # jetserve pull: downloads and SHA-256
  openssl               # gateway_security_test makes its certificates
  prometheus            # promtool: checks the /metrics exposition in tests
  clang-format
  clang libclang-rt-14-dev   # the libFuzzer job (.ci/fuzz.sh)
  python3 python3-pip python3-venv
)
runtime_pkgs=(
  libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libprometheus-cpp-core1.0
  libprometheus-cpp-pull1.0 libutf8proc2 libpcre2-8-0 libhwy1 libonnx1 ca-certificates
  libcurl4 libssl3 libcpp-httplib0.11
)

if [ "$mode" = runtime ]; then pkgs=("${runtime_pkgs[@]}"); else pkgs=("${build_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps.sh: all ${#pkgs[@]} packages present"
fi

# Test tools beside the PyPI packages: kubectl renders the Kubernetes manifests
# (`kubectl kustomize`, tests/deploy); any kubectl already installed will do, else Debian's.
if [ "$python" = 1 ] && ! command -v kubectl >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends kubernetes-client
fi

if [ "$arm64" = 1 ]; then
  # Cross-building the engine for aarch64 (Jetson) and running its tests under qemu.
  arm64_pkgs=(
    crossbuild-essential-arm64 qemu-user-static binfmt-support
    libabsl-dev:arm64 libgtest-dev:arm64 libgmock-dev:arm64 libhwy-dev:arm64
    libutf8proc-dev:arm64 libpcre2-dev:arm64 libicu-dev:arm64
    libprotobuf-dev:arm64
    # gateway + worker (.ci/service-aarch64.sh)
    libgrpc++-dev:arm64 libcurl4-openssl-dev:arm64 libssl-dev:arm64 libcpp-httplib-dev:arm64
  )
  # libonnx-dev:arm64 is not co-installable with the amd64 one on Debian 12 (libonnxifi ships
  # /usr/lib/libonnxifi.so); .ci/engine-aarch64.sh unpacks it into a private sysroot instead.
  arm64_missing=()
  for p in "${arm64_pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
      arm64_missing+=("$p")
    fi
  done
  if [ "${#arm64_missing[@]}" -gt 0 ]; then
    echo "install-deps.sh: installing ${arm64_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! dpkg --print-foreign-architectures | grep -qx arm64; then
      "${sudo_cmd[@]}" dpkg --add-architecture arm64
    fi
    "${sudo_cmd[@]}" apt-get update -qq
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${arm64_missing[@]}"
  else
    echo "install-deps.sh: all ${#arm64_pkgs[@]} arm64 packages present"
  fi
fi

if [ "$python" = 1 ]; then
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  python3 -m pip install -q -r "$here/../tests/requirements.txt"
fi
