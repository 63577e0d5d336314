#!/usr/bin/env bash
# Installs every Debian package that building and testing jetserve needs.
# Idempotent: packages already present are left alone. Used by the README, .ci/run and
# the Dockerfiles. Run as root (or with sudo available).
#
#   deploy/install-deps.sh            build + test dependencies (native)
#   deploy/install-deps.sh --runtime  only the shared libraries the binaries need
#   deploy/install-deps.sh --python   also the PyPI packages the test oracles use
set -euo pipefail

mode=dev
python=0
for arg in "$@"; do
  case "$arg" in
    --runtime) mode=runtime ;;
    --python) python=1 ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

build_pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev prometheus-cpp-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libonnx-dev libutf8proc-dev libpcre2-dev libhwy-dev libicu-dev
  prometheus            # promtool: checks the /metrics exposition in tests
  clang-format
  python3 python3-pip python3-venv
)
runtime_pkgs=(
  libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libprometheus-cpp-core1.0
  libprometheus-cpp-pull1.0 libutf8proc2 libpcre2-8-0 libhwy1 libonnx1 ca-certificates
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

if [ "$python" = 1 ]; then
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  python3 -m pip install -q -r "$here/../tests/requirements.txt"
fi
