# CUDA is optional: JETSERVE_CUDA=AUTO turns it on when a toolkit (nvcc) is found.
# The runtime is linked statically and libcuda (the driver) is never linked directly:
# cudart loads it at run time, so the same binaries start on machines without a GPU and
# report "no CUDA device" instead of failing to load. Supports CUDA 12.2+ (JetPack 6) and 13.
set(JETSERVE_HAVE_CUDA OFF)
if(NOT JETSERVE_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      # 87: Jetson Orin (JetPack 6). 90: Hopper (H100/H200).
      set(CMAKE_CUDA_ARCHITECTURES 87 90)
    endif()
    set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(JETSERVE_HAVE_CUDA ON)
    message(STATUS "jetserve: CUDA ${CUDAToolkit_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}")
  elseif(JETSERVE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "JETSERVE_CUDA=ON but no CUDA compiler was found")
  else()
    message(STATUS "jetserve: no CUDA toolkit found; building CPU only")
  endif()
endif()
