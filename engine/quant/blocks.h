// GGUF/ggml block layouts of the quantized tensor types, byte for byte as stored in files.
//
// Each struct is one block; a row of n elements of type T is n / kBlockSize blocks laid end to
// end. Scales are stored as IEEE half (uint16_t bits) except Q8_K's float. The element order
// inside each block is described beside the struct (it is what dequantize.cc implements).
#ifndef JETSERVE_ENGINE_QUANT_BLOCKS_H_
#define JETSERVE_ENGINE_QUANT_BLOCKS_H_

#include <cstdint>

namespace jetserve::quant {

inline constexpr int kQK = 32;    // elements per block of the legacy types
inline constexpr int kQKK = 256;  // elements per super-block of the k-quants

// x[j] = (q[j] - 8) * d; q[j] = qs[j] & 15 for j < 16, qs[j - 16] >> 4 otherwise.
struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[kQK / 2];
};
// x[j] = q[j] * d + m, nibbles as Q4_0.
struct BlockQ4_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qs[kQK / 2];
};
// 5-bit: low nibbles as Q4_0, bit 4 of element j is bit j of qh (little-endian uint32).
// x[j] = (q[j] - 16) * d.
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
// x[j] = q[j] * d + m.
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[kQK / 2];
};
// x[j] = qs[j] * d.
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[kQK];
};
// Activation type for the Q4_1/Q5_1 dot products: x = qs * d, and s = d * sum(qs) with d
// before its rounding to fp16 (as ggml's block_q8_1; gguf-py's 40-byte size is stale).
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[kQK];
};
// 16 groups of 16: scales[g] low nibble scale, high nibble min; 2-bit q of element e in
// qs[(e / 128) * 32 + e % 32] at bit 2 * ((e % 128) / 32). x = d*sc*q - dmin*m.
struct BlockQ2_K {
  uint8_t scales[kQKK / 16];
  uint8_t qs[kQKK / 4];
  uint16_t d;
  uint16_t dmin;
};
// 16 groups of 16 with 6-bit signed scales (packed in 12 bytes); 2 low bits as Q2_K, high bit
// of element e is bit e / 32 of hmask[e % 32] (set means +0, clear means -4).
struct BlockQ3_K {
  uint8_t hmask[kQKK / 8];
  uint8_t qs[kQKK / 4];
  uint8_t scales[12];
  uint16_t d;
};
// 8 groups of 32 with 6-bit scales and mins (packed in 12 bytes); element e of group g is
// nibble g % 2 of qs[(g / 2) * 32 + e % 32]. x = d*sc*q - dmin*m.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qs[kQKK / 2];
};
// As Q4_K plus bit 4 of element e of group g in bit g of qh[e % 32].
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];
  uint8_t qh[kQKK / 8];
  uint8_t qs[kQKK / 2];
};
// 16 groups of 16 with int8 scales; 6-bit q - 32. For element e: h = e / 128, r = e % 128:
// low 4 bits nibble r / 64 of ql[h * 64 + r % 64], high 2 bits at bit 2 * (r / 32) of
// qh[h * 32 + r % 32]. x = d * scales[e / 16] * (q - 32).
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];
  uint8_t qh[kQKK / 4];
  int8_t scales[kQKK / 16];
  uint16_t d;
};
// Activation type for the k-quant dot products: x = qs * d; bsums[g] = sum of qs in group g
// of 16.
struct BlockQ8_K {
  float d;
  int8_t qs[kQKK];
  int16_t bsums[kQKK / 16];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// Unpacks the 6-bit scale and min of group j (0..7) of a Q4_K / Q5_K block.
inline void GetScaleMinK4(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Unpacks the 16 signed 6-bit scales of a Q3_K block (already minus 32).
inline void UnpackScalesQ3K(const uint8_t* s, int8_t out[16]) {
  for (int i = 0; i < 16; ++i) {
    const int low = (i < 8 ? s[i] : s[i - 8] >> 4) & 0xf;
    const int high = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    out[i] = static_cast<int8_t>((low | (high << 4)) - 32);
  }
}

}  // namespace jetserve::quant

#endif  // JETSERVE_ENGINE_QUANT_BLOCKS_H_
