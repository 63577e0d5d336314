// The baseline build of the kernels, and the runtime choice between it and the x86 AVX2+FMA
// build (vec_dot_x86.cc). Both compute the same bits: the variant only changes how fast
// std::fma and the integer loops run.
#include "engine/quant/vec_dot.h"

#include <span>

#define JS_VEC_DOT_NS baseline
#include "engine/quant/vec_dot_kernels.h"
#undef JS_VEC_DOT_NS

namespace jetserve::quant {

#if defined(__x86_64__)
namespace x86_avx2 {
std::span<const TypeKernels> KernelTable();
}
#endif

namespace {

std::span<const TypeKernels> ActiveTable() {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return x86_avx2::KernelTable();
  }
#endif
  return baseline::KernelTable();
}

}  // namespace

const TypeKernels* GetTypeKernels(GgmlType type) {
  static const std::span<const TypeKernels> table = ActiveTable();
  for (const TypeKernels& k : table) {
    if (k.type == type) return &k;
  }
  return nullptr;
}

const TypeKernels* GetBaselineTypeKernels(GgmlType type) {
  for (const TypeKernels& k : baseline::KernelTable()) {
    if (k.type == type) return &k;
  }
  return nullptr;
}

}  // namespace jetserve::quant
