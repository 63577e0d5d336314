# Cross-compiling for aarch64 Linux (Jetson's Cortex-A78AE) from x86-64 Debian with
# crossbuild-essential-arm64 and the :arm64 -dev packages (deploy/install-deps.sh --arm64).
# Tests run under qemu-user-static through CMAKE_CROSSCOMPILING_EMULATOR.
#
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)

set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)

# Debian multiarch: arm64 libraries and CMake packages live under /usr/lib/aarch64-linux-gnu,
# headers are shared in /usr/include. Search there for libraries and packages, but use host
# programs (protoc, python).
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH /usr/lib/aarch64-linux-gnu /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(CMAKE_PREFIX_PATH /usr/lib/aarch64-linux-gnu/cmake)
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig)

# Run against the multiarch arm64 runtime (/lib/aarch64-linux-gnu: libc6:arm64, libstdc++6:arm64,
# pulled in by the :arm64 -dev packages), not the cross toolchain's /usr/aarch64-linux-gnu copy:
# mixing that older glibc with the multiarch libstdc++ makes qemu 7.2 hang in the first
# pthread_create.
find_program(JETSERVE_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(JETSERVE_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${JETSERVE_QEMU_AARCH64};-L;/")
  # Extra arm64 libraries unpacked outside the system (ONNX, see .ci/engine-aarch64.sh).
  if(JETSERVE_AARCH64_EXTRA_LIBS)
    list(APPEND CMAKE_CROSSCOMPILING_EMULATOR -E "LD_LIBRARY_PATH=${JETSERVE_AARCH64_EXTRA_LIBS}")
  endif()
endif()
