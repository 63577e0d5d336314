#include "engine/model/ops.h"

#include <algorithm>
#include <cmath>

#include "absl/container/inlined_vector.h"
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

void RopeAngles(int64_t pos, const RopeParams& p, float* cos_sin) {
  const float theta_scale = std::pow(p.freq_base, -2.0f / static_cast<float>(p.dims));
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < p.dims / 2; ++i) {
    const float ff = p.freq_factors != nullptr ? p.freq_factors[i] : 1.f;
    const float angle = p.freq_scale * (theta / ff);
    cos_sin[2 * i] = std::cos(angle);
    cos_sin[2 * i + 1] = std::sin(angle);
    theta *= theta_scale;
  }
}

void RopeRotate(float* x, const float* cos_sin, const RopeParams& p) {
  const int64_t half = p.dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float c = cos_sin[2 * i];
    const float s = cos_sin[2 * i + 1];
    float* a = p.neox ? x + i : x + 2 * i;
    float* b = p.neox ? x + i + half : x + 2 * i + 1;
    const float x0 = *a;
    const float x1 = *b;
    *a = std::fma(x0, c, -(x1 * s));
    *b = std::fma(x0, s, x1 * c);
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
// up in a table of fp16 values, saturating outside [-10, 10]. The table (every fp16 input,
// 128 KB, made on first use) gives GeluExact's rounded value without a tanh per element.
float Gelu(float x) {
  if (x <= -10.f) return 0.f;
  if (x >= 10.f) return x;
  static const uint16_t* const table = [] {
    auto* t = new uint16_t[65536];
    for (uint32_t h = 0; h < 65536; ++h) {
      t[h] = F32ToF16(GeluExact(F16ToF32(static_cast<uint16_t>(h))));
    }
    return t;
  }();
  return F16ToF32(table[F32ToF16(x)]);
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

void SiluMul(float* x, const float* g, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = Silu(x[i]) * g[i];
}

namespace {

void AccumulateLanes(float* lanes, int64_t lane, const float* v, float s, int64_t dim) {
  float* l = lanes + lane * dim;
  for (int64_t i = 0; i < dim; ++i) l[i] = std::fma(v[i], s, l[i]);
}

void ReduceLaneRows(const float* lanes, int64_t dim, float* out) {
  for (int64_t i = 0; i < dim; ++i) {
    float v[64];
    for (int l = 0; l < 64; ++l) v[l] = lanes[l * dim + i];
    out[i] = ReduceLanes64(v);
  }
}

void AttendPortable(const AttendArgs& a);

const AttentionKernels kPortableAttention = {"portable",      DotF32Ggml,     AttentionSoftmax,
                                             AccumulateLanes, ReduceLaneRows, SiluMul,
                                             AttendPortable};

void AttendPortable(const AttendArgs& a) { AttendWith(kPortableAttention, a); }

}  // namespace

void AttendWith(const AttentionKernels& k, const AttendArgs& a) {
  int64_t n = 0;
  for (const KvRun& run : a.runs) {
    for (int64_t j = 0; j < run.n; ++j, ++n) {
      a.scores[n] = k.dot(run.k + j * a.k_stride, a.q, a.head_dim) * a.scale;
    }
  }
  k.softmax(a.scores, n, a.first);
  std::fill(a.lanes, a.lanes + 64 * a.dv, 0.f);
  int64_t i = 0;
  for (const KvRun& run : a.runs) {
    for (int64_t j = 0; j < run.n; ++j, ++i) {
      k.accumulate(a.lanes, (a.first + i) % 64, run.v + j * a.v_stride, a.scores[i], a.dv);
    }
  }
  k.reduce(a.lanes, a.dv, a.out);
}

#if defined(__x86_64__)
namespace x86_avx2 {
extern const AttentionKernels kAttention;
}
static bool HasAvx2Fma() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
#endif

const AttentionKernels& GetAttentionKernels() {
#if defined(__x86_64__)
  static const AttentionKernels& k = HasAvx2Fma() ? x86_avx2::kAttention : kPortableAttention;
  return k;
#else
  return kPortableAttention;
#endif
}

std::vector<const AttentionKernels*> SupportedAttentionKernels() {
  std::vector<const AttentionKernels*> v = {&kPortableAttention};
#if defined(__x86_64__)
  if (HasAvx2Fma()) v.push_back(&x86_avx2::kAttention);
#endif
  return v;
}

namespace {

// Where the packed kernels' activation tables start in the scratch: after the quantized rows,
// 64-byte aligned.
uint64_t TableOffset(uint64_t qrow, int64_t n) {
  return (qrow * static_cast<uint64_t>(n) + 63) / 64 * 64;
}

}  // namespace

uint64_t MatMulScratchBytes(const MatrixView& w, int64_t n) {
  const uint64_t qrow = quant::RowBytes(w.kernels->vec_dot_type, w.cols);
  if (w.packed == nullptr || !quant::PackedUsesTable(w.type)) {
    return qrow * static_cast<uint64_t>(n);
  }
  return TableOffset(qrow, n) +
         sizeof(quant::PackedActivation) * static_cast<uint64_t>(w.cols / quant::kQK * n);
}

namespace {

// Bytes of weight rows a prefill tile call takes (with the activation rows, within a Zen 4
// or Cortex-A78 core's L2).
constexpr uint64_t kMatMulBlockBytes = 128 * 1024;

// Converts n activation rows to the dot type (on the calling thread when that is cheaper
// than a hand-off).
// With a table (packed weights), each row's packed-kernel entries follow its quantization.
void QuantizeRows(const quant::TypeKernels& k, int64_t cols, const float* x, int64_t n, int64_t ldx,
                  uint8_t* scratch, quant::PackedActivation* table, ThreadPool* pool) {
  const uint64_t qrow = quant::RowBytes(k.vec_dot_type, cols);
  auto convert = [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) {
      uint8_t* row = scratch + static_cast<uint64_t>(t) * qrow;
      k.quantize_activation(x + t * ldx, row, cols);
      if (table != nullptr)
        quant::PreparePackedActivation(cols, row, table + t * (cols / quant::kQK));
    }
  };
  if (n * cols <= 4096) {
    convert(0, n, 0);
  } else {
    pool->ParallelFor(n, convert);
  }
}

}  // namespace

void MatMul(const MatrixView& w, const float* x, int64_t n, int64_t ldx, float* y, int64_t ldy,
            uint8_t* scratch, ThreadPool* pool) {
  const MatMulOutput out[1] = {{&w, y, ldy}};
  MatMuls(out, x, n, ldx, scratch, pool);
}

void MatMuls(absl::Span<const MatMulOutput> outs, const float* x, int64_t n, int64_t ldx,
             uint8_t* scratch, ThreadPool* pool) {
  if (outs.empty() || n <= 0) return;
  const quant::TypeKernels& k0 = *outs[0].w->kernels;
  const int64_t cols = outs[0].w->cols;
  int64_t total = 0;
  for (const MatMulOutput& o : outs) {
    if (o.w->kernels->vec_dot_type != k0.vec_dot_type || o.w->cols != cols) {
      for (const MatMulOutput& one : outs) MatMuls({&one, 1}, x, n, ldx, scratch, pool);
      return;
    }
    total += o.w->rows;
  }
  const uint64_t qrow = quant::RowBytes(k0.vec_dot_type, cols);
  int64_t packed = 0;
  for (const MatMulOutput& o : outs) packed += o.w->packed != nullptr ? 1 : 0;
  if (packed != 0 && packed != static_cast<int64_t>(outs.size())) {
    // Some packed (q and k in Q4_K, v in Q6_K): each kind in its own pass.
    absl::InlinedVector<MatMulOutput, 4> kinds[2];
    for (const MatMulOutput& o : outs) kinds[o.w->packed != nullptr ? 1 : 0].push_back(o);
    for (const auto& kind : kinds) MatMuls(kind, x, n, ldx, scratch, pool);
    return;
  }
  if (packed != 0) {
    auto* table = quant::PackedUsesTable(outs[0].w->type)
                      ? reinterpret_cast<quant::PackedActivation*>(scratch + TableOffset(qrow, n))
                      : nullptr;
    QuantizeRows(k0, cols, x, n, ldx, scratch, table, pool);
    // In groups of kPackRows weight rows; prefill takes the groups in blocks as below.
    pool->ParallelFor(total / quant::kPackRows, [&](int64_t begin, int64_t end, int) {
      int64_t base = 0;
      for (const MatMulOutput& o : outs) {
        const int64_t groups = o.w->rows / quant::kPackRows;
        const int64_t lo = std::max(begin, base), hi = std::min(end, base + groups);
        const int64_t block =
            n > 8 ? std::max<int64_t>(1, static_cast<int64_t>(kMatMulBlockBytes / o.w->group_bytes))
                  : hi - lo;
        for (int64_t g = lo; g < hi; g += block) {
          o.w->kernels->packed_tile(
              cols, o.w->packed + static_cast<uint64_t>(g - base) * o.w->group_bytes,
              std::min(block, hi - g), scratch, qrow, table, n, o.y + (g - base) * quant::kPackRows,
              o.ldy);
        }
        base += groups;
      }
    });
    return;
  }
  QuantizeRows(k0, cols, x, n, ldx, scratch, nullptr, pool);
  pool->ParallelFor(total, [&](int64_t begin, int64_t end, int) {
    int64_t base = 0;
    for (const MatMulOutput& o : outs) {
      const int64_t lo = std::max(begin, base), hi = std::min(end, base + o.w->rows);
      // Many activation rows (prefill): the tile passes over its weight rows once per group
      // of 4-8 activation rows, so it takes blocks of weight rows small enough to stay in
      // L2 meanwhile. One or a few rows (decode) read the weights once: one call.
      const int64_t block =
          n > 8 ? std::max<int64_t>(16, static_cast<int64_t>(kMatMulBlockBytes / o.w->row_bytes))
                : hi - lo;
      for (int64_t r = lo; r < hi; r += block) {
        const int64_t r_end = std::min(hi, r + block);
        o.w->kernels->vec_dot_tile(cols, o.w->Row(r - base), o.w->row_bytes, r_end - r, scratch,
                                   qrow, n, o.y + (r - base), o.ldy);
      }
      base += o.w->rows;
    }
  });
}

void GetRow(const MatrixView& w, int64_t r, float* out) {
  w.kernels->to_float(w.Row(r), out, w.cols);
}

}  // namespace jetserve::model
