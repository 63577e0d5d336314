// The kernels compiled for x86-64 with AVX2 and FMA (chosen at run time by vec_dot.cc).
// Headers come first, outside the target region, so that their inline functions stay
// baseline code wherever the linker keeps an out-of-line copy.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <span>

#include "engine/quant/blocks.h"
#include "engine/quant/dequantize.h"
#include "engine/quant/quantize.h"
#include "engine/quant/vec_dot.h"
#include "engine/util/half.h"

#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define JS_VEC_DOT_NS x86_avx2
#include "engine/quant/vec_dot_kernels.h"
#pragma GCC pop_options
