// k-quant quantizers (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K): our own least-squares search.
//
// Each group of 16 or 32 values gets a scale (and a minimum for the asymmetric types) chosen
// by trying a range of candidate scales, fitting scale and offset by least squares to the
// rounded values, and refining by re-rounding. The group scales are then quantized to the
// block's 4/6/8-bit scale codes against fp16 super-block scales, trying the neighbouring
// codes of each group and keeping the one with the least squared error after rounding.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "engine/quant/blocks.h"
#include "engine/quant/quantize.h"
#include "engine/util/half.h"

namespace jetserve::quant {
namespace {

constexpr int kSearchSteps = 10;      // candidate scales on each side of the nominal one
constexpr float kSearchDelta = 0.1f;  // in units of quantization levels

int RoundClamp(float v, int lo, int hi) {
  const float r = std::nearbyint(v);
  if (!(r >= lo)) return lo;  // also catches NaN
  if (r > hi) return hi;
  return static_cast<int>(r);
}

// Fits x ~= a * q + b, q in [0, nmax], b <= 0. Returns a >= 0 and m = -b >= 0.
void FitAsymmetric(const float* x, int n, int nmax, float* scale, float* min_out) {
  float xmin = x[0];
  float xmax = x[0];
  for (int j = 1; j < n; ++j) {
    xmin = std::min(xmin, x[j]);
    xmax = std::max(xmax, x[j]);
  }
  if (xmin > 0) xmin = 0;
  if (xmax <= xmin) {
    *scale = 0;
    *min_out = -xmin;
    return;
  }
  double best_err = std::numeric_limits<double>::infinity();
  double best_a = (xmax - xmin) / nmax;
  double best_b = xmin;
  int q[32];
  auto evaluate = [&](double a, double b) {
    double err = 0;
    for (int j = 0; j < n; ++j) {
      const double diff = a * q[j] + b - x[j];
      err += diff * diff;
    }
    return err;
  };
  auto fit = [&](double* a, double* b) {
    double sq = 0, sqq = 0, sx = 0, sxq = 0;
    for (int j = 0; j < n; ++j) {
      sq += q[j];
      sqq += static_cast<double>(q[j]) * q[j];
      sx += x[j];
      sxq += static_cast<double>(x[j]) * q[j];
    }
    const double det = n * sqq - sq * sq;
    if (det > 0) {
      *a = (n * sxq - sq * sx) / det;
      *b = (sqq * sx - sq * sxq) / det;
    }
    if (*b > 0 || det <= 0) {
      *b = 0;
      *a = sqq > 0 ? sxq / sqq : 0;
    }
    if (*a < 0) *a = 0;
  };
  for (int k = -kSearchSteps; k <= kSearchSteps; ++k) {
    const float iscale = (static_cast<float>(nmax) + kSearchDelta * k) / (xmax - xmin);
    if (iscale <= 0) continue;
    for (int j = 0; j < n; ++j) q[j] = RoundClamp(iscale * (x[j] - xmin), 0, nmax);
    double a = best_a, b = best_b;
    fit(&a, &b);
    for (int iter = 0; iter < 2; ++iter) {
      const double err = evaluate(a, b);
      if (err < best_err) {
        best_err = err;
        best_a = a;
        best_b = b;
      }
      if (a <= 0) break;
      for (int j = 0; j < n; ++j) {
        q[j] = RoundClamp(static_cast<float>((x[j] - b) / a), 0, nmax);
      }
      fit(&a, &b);
    }
  }
  *scale = static_cast<float>(best_a);
  *min_out = static_cast<float>(-best_b);
}

// Fits x ~= s * q, q in [qmin, qmax] (s of either sign).
float FitSymmetric(const float* x, int n, int qmin, int qmax) {
  float vmax = 0;
  float amax = 0;
  for (int j = 0; j < n; ++j) {
    if (std::fabs(x[j]) > amax) {
      amax = std::fabs(x[j]);
      vmax = x[j];
    }
  }
  if (amax == 0) return 0;
  double best_err = std::numeric_limits<double>::infinity();
  double best_s = 0;
  int q[32];
  for (int sign = -1; sign <= 1; sign += 2) {
    const int top = sign < 0 ? -qmin : qmax;  // the level vmax maps to, in magnitude
    for (int k = -kSearchSteps; k <= kSearchSteps; ++k) {
      const float level = static_cast<float>(top) + kSearchDelta * k;
      if (level <= 0.5f) continue;
      double s = sign * vmax / level;
      for (int iter = 0; iter < 2; ++iter) {
        double sxq = 0, sqq = 0;
        for (int j = 0; j < n; ++j) {
          q[j] = RoundClamp(static_cast<float>(x[j] / s), qmin, qmax);
          sxq += static_cast<double>(x[j]) * q[j];
          sqq += static_cast<double>(q[j]) * q[j];
        }
        if (sqq <= 0) break;
        s = sxq / sqq;
        double err = 0;
        for (int j = 0; j < n; ++j) {
          const double diff = s * q[j] - x[j];
          err += diff * diff;
        }
        if (err < best_err) {
          best_err = err;
          best_s = s;
        }
        if (s == 0) break;
      }
    }
  }
  return static_cast<float>(best_s);
}

// Asymmetric super-block: per-group codes ls/lm in [0, code_max] against fp16 d/dmin, and the
// final q in [0, nmax]. x has groups * group_size values.
void QuantizeSuperAsym(const float* x, int groups, int group_size, int nmax, int code_max,
                       uint16_t* d16, uint16_t* dmin16, uint8_t* ls, uint8_t* lm, uint8_t* q) {
  float scales[16];
  float mins[16];
  float max_scale = 0;
  float max_min = 0;
  for (int g = 0; g < groups; ++g) {
    FitAsymmetric(x + g * group_size, group_size, nmax, &scales[g], &mins[g]);
    max_scale = std::max(max_scale, scales[g]);
    max_min = std::max(max_min, mins[g]);
  }
  *d16 = F32ToF16(max_scale / code_max);
  *dmin16 = F32ToF16(max_min / code_max);
  const float d = F16ToF32(*d16);
  const float dmin = F16ToF32(*dmin16);
  for (int g = 0; g < groups; ++g) {
    const float* xg = x + g * group_size;
    const int ls0 = d > 0 ? RoundClamp(scales[g] / d, 0, code_max) : 0;
    const int lm0 = dmin > 0 ? RoundClamp(mins[g] / dmin, 0, code_max) : 0;
    double best_err = std::numeric_limits<double>::infinity();
    for (int a = std::max(0, ls0 - 1); a <= std::min(code_max, ls0 + 1); ++a) {
      for (int b = std::max(0, lm0 - 1); b <= std::min(code_max, lm0 + 1); ++b) {
        const float sc = d * static_cast<float>(a);
        const float mn = dmin * static_cast<float>(b);
        double err = 0;
        uint8_t qg[32];
        for (int j = 0; j < group_size; ++j) {
          qg[j] = static_cast<uint8_t>(sc > 0 ? RoundClamp((xg[j] + mn) / sc, 0, nmax) : 0);
          const double diff = static_cast<double>(sc * static_cast<float>(qg[j]) - mn) - xg[j];
          err += diff * diff;
        }
        if (err < best_err) {
          best_err = err;
          ls[g] = static_cast<uint8_t>(a);
          lm[g] = static_cast<uint8_t>(b);
          std::memcpy(q + g * group_size, qg, group_size);
        }
      }
    }
  }
}

// Symmetric super-block of 16 groups of 16: signed codes in [-code_lim - 1, code_lim] against
// an fp16 d, values in [qmin, qmax].
void QuantizeSuperSym(const float* x, int qmin, int qmax, int code_lim, uint16_t* d16, int8_t* ls,
                      int8_t* q) {
  float scales[16];
  float max_abs = 0;
  for (int g = 0; g < 16; ++g) {
    scales[g] = FitSymmetric(x + g * 16, 16, qmin, qmax);
    max_abs = std::max(max_abs, std::fabs(scales[g]));
  }
  *d16 = F32ToF16(max_abs / code_lim);
  const float d = F16ToF32(*d16);
  for (int g = 0; g < 16; ++g) {
    const float* xg = x + g * 16;
    const int l0 = d > 0 ? RoundClamp(scales[g] / d, -code_lim - 1, code_lim) : 0;
    double best_err = std::numeric_limits<double>::infinity();
    for (int a = std::max(-code_lim - 1, l0 - 1); a <= std::min(code_lim, l0 + 1); ++a) {
      const float sc = d * static_cast<float>(a);
      double err = 0;
      int8_t qg[16];
      for (int j = 0; j < 16; ++j) {
        qg[j] = static_cast<int8_t>(sc != 0 ? RoundClamp(xg[j] / sc, qmin, qmax) : 0);
        const double diff = static_cast<double>(sc * static_cast<float>(qg[j])) - xg[j];
        err += diff * diff;
      }
      if (err < best_err) {
        best_err = err;
        ls[g] = static_cast<int8_t>(a);
        std::memcpy(q + g * 16, qg, 16);
      }
    }
  }
}

// 2-bit field of element e as Q2_K/Q3_K store it.
void Put2Bits(uint8_t* qs, int e, int v) {
  qs[(e / 128) * 32 + e % 32] |= static_cast<uint8_t>((v & 3) << (2 * ((e % 128) / 32)));
}

void PackScalesK4(const uint8_t ls[8], const uint8_t lm[8], uint8_t out[12]) {
  for (int j = 0; j < 4; ++j) {
    out[j] = static_cast<uint8_t>((ls[j] & 63) | ((ls[j + 4] >> 4) << 6));
    out[j + 4] = static_cast<uint8_t>((lm[j] & 63) | ((lm[j + 4] >> 4) << 6));
    out[j + 8] = static_cast<uint8_t>((ls[j + 4] & 0xf) | ((lm[j + 4] & 0xf) << 4));
  }
}

}  // namespace

void QuantizeRowQ2_K(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ2_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
    uint8_t ls[16], lm[16], q[kQKK];
    QuantizeSuperAsym(src, 16, 16, 3, 15, &b[i].d, &b[i].dmin, ls, lm, q);
    for (int g = 0; g < 16; ++g) b[i].scales[g] = static_cast<uint8_t>(ls[g] | (lm[g] << 4));
    std::memset(b[i].qs, 0, sizeof(b[i].qs));
    for (int e = 0; e < kQKK; ++e) Put2Bits(b[i].qs, e, q[e]);
  }
}

void QuantizeRowQ3_K(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ3_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
    int8_t ls[16], q[kQKK];
    QuantizeSuperSym(src, -4, 3, 31, &b[i].d, ls, q);
    std::memset(b[i].scales, 0, sizeof(b[i].scales));
    for (int g = 0; g < 16; ++g) {
      const int v = ls[g] + 32;
      if (g < 8) {
        b[i].scales[g] |= static_cast<uint8_t>(v & 0xf);
      } else {
        b[i].scales[g - 8] |= static_cast<uint8_t>((v & 0xf) << 4);
      }
      b[i].scales[8 + g % 4] |= static_cast<uint8_t>((v >> 4) << (2 * (g / 4)));
    }
    std::memset(b[i].qs, 0, sizeof(b[i].qs));
    std::memset(b[i].hmask, 0, sizeof(b[i].hmask));
    for (int e = 0; e < kQKK; ++e) {
      const int u = q[e] + 4;
      Put2Bits(b[i].qs, e, u & 3);
      b[i].hmask[e % 32] |= static_cast<uint8_t>((u >> 2) << (e / 32));
    }
  }
}

void QuantizeRowQ4_K(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
    uint8_t ls[8], lm[8], q[kQKK];
    QuantizeSuperAsym(src, 8, 32, 15, 63, &b[i].d, &b[i].dmin, ls, lm, q);
    PackScalesK4(ls, lm, b[i].scales);
    for (int g = 0; g < 8; g += 2) {
      for (int l = 0; l < 32; ++l) {
        b[i].qs[(g / 2) * 32 + l] =
            static_cast<uint8_t>(q[g * 32 + l] | (q[(g + 1) * 32 + l] << 4));
      }
    }
  }
}

void QuantizeRowQ5_K(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
    uint8_t ls[8], lm[8], q[kQKK];
    QuantizeSuperAsym(src, 8, 32, 31, 63, &b[i].d, &b[i].dmin, ls, lm, q);
    PackScalesK4(ls, lm, b[i].scales);
    std::memset(b[i].qh, 0, sizeof(b[i].qh));
    for (int g = 0; g < 8; g += 2) {
      for (int l = 0; l < 32; ++l) {
        const int lo = q[g * 32 + l];
        const int hi = q[(g + 1) * 32 + l];
        b[i].qs[(g / 2) * 32 + l] = static_cast<uint8_t>((lo & 0xf) | ((hi & 0xf) << 4));
        b[i].qh[l] |= static_cast<uint8_t>(((lo >> 4) << g) | ((hi >> 4) << (g + 1)));
      }
    }
  }
}

void QuantizeRowQ6_K(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ6_K*>(dst);
  for (int64_t i = 0; i < n / kQKK; ++i, src += kQKK) {
    int8_t q[kQKK];
    QuantizeSuperSym(src, -32, 31, 127, &b[i].d, b[i].scales, q);
    std::memset(b[i].ql, 0, sizeof(b[i].ql));
    std::memset(b[i].qh, 0, sizeof(b[i].qh));
    for (int e = 0; e < kQKK; ++e) {
      const int u = q[e] + 32;
      const int h = e / 128;
      const int r = e % 128;
      b[i].ql[h * 64 + r % 64] |= static_cast<uint8_t>((u & 0xf) << (4 * (r / 64)));
      b[i].qh[h * 32 + r % 32] |= static_cast<uint8_t>((u >> 4) << (2 * (r / 32)));
    }
  }
}

}  // namespace jetserve::quant
