#include "engine/model/ops.h"

#include <algorithm>
#include <cmath>

#include "engine/quant/quantize.h"
#include "engine/util/half.h"

namespace jetserve::model {

void RmsNorm(const float* x, const float* w, int64_t n, float eps, float* out) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * scale * (w != nullptr ? w[i] : 1.f);
}

void LayerNorm(const float* x, const float* w, const float* b, int64_t n, float eps, float* out) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const float mean = static_cast<float>(sum / static_cast<double>(n));
  double var = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float d = x[i] - mean;
    var += static_cast<double>(d * d);
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(var / static_cast<double>(n)) + eps);
  for (int64_t i = 0; i < n; ++i) {
    out[i] = (x[i] - mean) * scale * (w != nullptr ? w[i] : 1.f) + (b != nullptr ? b[i] : 0.f);
  }
}

void Rope(float* x, int64_t pos, const RopeParams& p) {
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.dims));
  float theta = static_cast<float>(pos);
  const int64_t half = p.dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float ff = p.freq_factors != nullptr ? p.freq_factors[i] : 1.f;
    const float angle = p.freq_scale * (theta / ff);
    const float c = std::cos(angle);
    const float s = std::sin(angle);
    float* a = p.neox ? x + i : x + 2 * i;
    float* b = p.neox ? x + i + half : x + 2 * i + 1;
    const float x0 = *a;
    const float x1 = *b;
    // ggml's rotation as its x86 build compiles it: the first product fused into the sum.
    *a = std::fma(x0, c, -(x1 * s));
    *b = std::fma(x0, s, x1 * c);
    theta *= theta_scale;
  }
}

float ExpGgml(float x) {
  const float r = 0x1.8p23f;
  const float z = std::fma(x, 0x1.715476p+0f, r);
  const float n = z - r;  // round(x / ln 2)
  if (std::isnan(n)) return n;
  if (std::fabs(n) > 192.f) return n <= 0.f ? 0.f : INFINITY;
  const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
  const float u = b * b;
  const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u,
                                    std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                           u, std::fma(0x1.ffffecp-1f, b, 1.0f));
  return std::ldexp(j, static_cast<int>(n));
}

float Silu(float x) { return x / (1.0f + ExpGgml(0.0f - x)); }

float GeluExact(float x) {
  constexpr float kA = 0.044715f;
  constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
  return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kA * x * x)));
}

// As ggml's CPU backend (GGML_GELU_FP16): the input rounded to fp16 and the result looked
// up in a table of fp16 values, saturating outside [-10, 10].
float Gelu(float x) {
  if (x <= -10.f) return 0.f;
  if (x >= 10.f) return x;
  return F16ToF32(F32ToF16(GeluExact(F16ToF32(F32ToF16(x)))));
}

void Softmax(float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

float ReduceLanes16(const float (&v)[16]) {
  float t8[8];
  for (int i = 0; i < 8; ++i) t8[i] = v[8 + i] + v[i];
  float t4[4];
  for (int i = 0; i < 4; ++i) t4[i] = t8[4 + i] + t8[i];
  return (t4[0] + t4[2]) + (t4[1] + t4[3]);
}

float ReduceLanes64(const float (&v)[64]) {
  float s[16];
  for (int l = 0; l < 16; ++l) s[l] = (v[l] + v[32 + l]) + (v[16 + l] + v[48 + l]);
  return ReduceLanes16(s);
}

float DotF32Ggml(const float* a, const float* b, int64_t n) {
  float lanes[64] = {};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (int j = 0; j < 64; ++j) lanes[j] = std::fma(a[i + j], b[i + j], lanes[j]);
  }
  double sum = ReduceLanes64(lanes);
  for (; i < n; ++i) sum += static_cast<double>(a[i] * b[i]);
  return static_cast<float>(sum);
}

void AttentionSoftmax(float* x, int64_t n, int64_t first) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0;
  for (int64_t chunk = first / 16; chunk * 16 < first + n; ++chunk) {
    float lanes[16] = {};
    const int64_t begin = std::max(first, chunk * 16);
    const int64_t end = std::min(first + n, chunk * 16 + 16);
    for (int64_t c = begin; c < end; ++c) {
      float& v = x[c - first];
      v = ExpGgml(v - mx);
      lanes[c % 16] = v;
    }
    sum += static_cast<double>(ReduceLanes16(lanes));
  }
  const auto inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

uint64_t MatMulScratchBytes(const MatrixView& w, int64_t n) {
  return quant::RowBytes(w.kernels->vec_dot_type, w.cols) * static_cast<uint64_t>(n);
}

void MatMul(const MatrixView& w, const float* x, int64_t n, int64_t ldx, float* y, int64_t ldy,
            uint8_t* scratch, ThreadPool* pool) {
  const quant::TypeKernels& k = *w.kernels;
  const uint64_t qrow = quant::RowBytes(k.vec_dot_type, w.cols);
  pool->ParallelFor(n, [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      k.quantize_activation(x + t * ldx, scratch + static_cast<uint64_t>(t) * qrow, w.cols);
    }
  });
  pool->ParallelFor(w.rows, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const uint8_t* row = w.Row(r);
      for (int64_t t = 0; t < n; ++t) {
        y[t * ldy + r] = k.vec_dot(w.cols, row, scratch + static_cast<uint64_t>(t) * qrow);
      }
    }
  });
}

void GetRow(const MatrixView& w, int64_t r, float* out) {
  w.kernels->to_float(w.Row(r), out, w.cols);
}

}  // namespace jetserve::model
