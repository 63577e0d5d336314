// The baseline build of the kernels, and the runtime choice between it and the x86 builds
// (vec_dot_x86.cc: AVX2+FMA+F16C; vec_dot_x86_avx512.cc: the same with AVX-512 VNNI). All
// compute the same bits: the variant only changes how fast the same steps run.
#include "engine/quant/vec_dot.h"

#include <span>
#include <vector>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#define JS_VEC_DOT_NS baseline
#include "engine/quant/vec_dot_kernels.h"
#undef JS_VEC_DOT_NS

namespace jetserve::quant {

#if defined(__x86_64__)
namespace x86_avx2 {
std::span<const TypeKernels> KernelTable();
}
namespace x86_avx512 {
std::span<const TypeKernels> KernelTable();
}
#endif

namespace {

const TypeKernels* Find(std::span<const TypeKernels> table, GgmlType type) {
  for (const TypeKernels& k : table) {
    if (k.type == type) return &k;
  }
  return nullptr;
}

#if defined(__x86_64__)
// F16C from CPUID leaf 1 (ECX bit 29): clang 14's __builtin_cpu_supports has no "f16c".
bool HasF16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}
bool HasAvx2() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && HasF16c();
}
bool HasAvx512Vnni() {
  return HasAvx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}
const TypeKernels* GetAvx2(GgmlType type) { return Find(x86_avx2::KernelTable(), type); }
const TypeKernels* GetAvx512(GgmlType type) { return Find(x86_avx512::KernelTable(), type); }
#endif

std::span<const TypeKernels> ActiveTable() {
#if defined(__x86_64__)
  if (HasAvx512Vnni()) return x86_avx512::KernelTable();
  if (HasAvx2()) return x86_avx2::KernelTable();
#endif
  return baseline::KernelTable();
}

}  // namespace

const TypeKernels* GetTypeKernels(GgmlType type) {
  static const std::span<const TypeKernels> table = ActiveTable();
  return Find(table, type);
}

const TypeKernels* GetBaselineTypeKernels(GgmlType type) {
  return Find(baseline::KernelTable(), type);
}

std::span<const KernelVariant> SupportedKernelVariants() {
  static const std::vector<KernelVariant>* variants = [] {
    auto* v = new std::vector<KernelVariant>{{"baseline", GetBaselineTypeKernels}};
#if defined(__x86_64__)
    if (HasAvx2()) v->push_back({"x86-avx2", GetAvx2});
    if (HasAvx512Vnni()) v->push_back({"x86-avx512vnni", GetAvx512});
#endif
    return v;
  }();
  return *variants;
}

}  // namespace jetserve::quant
