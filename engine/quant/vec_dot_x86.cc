// The kernels compiled for x86-64 with AVX2, FMA and F16C (chosen at run time by
// vec_dot.cc). Headers come first, outside the target region, so that their inline functions
// stay baseline code wherever the linker keeps an out-of-line copy.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>

#include "engine/quant/blocks.h"
#include "engine/quant/dequantize.h"
#include "engine/quant/quantize.h"
#include "engine/quant/vec_dot.h"
#include "engine/util/half.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif
#define JS_VEC_DOT_NS x86_avx2
#define JS_VEC_DOT_AVX2 1
#include "engine/quant/vec_dot_kernels.h"
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
