// The kernels compiled for x86-64 with AVX-512 (F, BW, VL) and VNNI on top of AVX2, FMA and
// F16C (chosen at run time by vec_dot.cc): the same 256-bit steps as vec_dot_x86.cc, with
// the integer dot products as one vpdpbusd and 32 vector registers for more rows at a time;
// the legacy tiles of four or more activation rows hold two rows per 512-bit vector.
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
#pragma clang attribute push(                                                      \
    __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"))), \
    apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")
#endif
#if defined(__GNUC__) && !defined(__clang__)
// GCC 12's 512-bit insert/cast/convert intrinsics pass a self-initialised "undefined" vector,
// which -Wmaybe-uninitialized (or -Wuninitialized, depending on inlining) reports once inlined
// (GCC bug 105593, fixed in GCC 13).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#define JS_VEC_DOT_NS x86_avx512
#define JS_VEC_DOT_AVX2 1
#define JS_VEC_DOT_VNNI 1
#include "engine/quant/vec_dot_kernels.h"
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
