#include "engine/model/decoder.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/model/ops.h"
#include "engine/model/status_macros.h"

namespace jetserve::model {
namespace {

int64_t QDim(const ModelConfig& c) { return c.n_head * c.head_dim; }
int64_t KDim(const ModelConfig& c) { return c.n_head_kv * c.head_dim; }
int64_t VDim(const ModelConfig& c) { return c.n_head_kv * c.head_dim_v; }
int64_t FfDim(const ModelConfig& c) {
  return c.ffn == FfnKind::kSiluGatedFused ? 2 * c.n_ff : c.n_ff;
}
const float* OrNull(const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); }

void AddBias(const std::vector<float>& b, float* y, int64_t n, int64_t ld) {
  if (b.empty()) return;
  for (int64_t t = 0; t < n; ++t) {
    for (size_t i = 0; i < b.size(); ++i) y[t * ld + static_cast<int64_t>(i)] += b[i];
  }
}

}  // namespace

RunState::RunState(const Decoder& d, const RunStateOptions& options) : options_(options) {
  const ModelConfig& c = d.config();
  const ModelWeights& w = d.weights();
  const auto rows = static_cast<size_t>(std::max<int64_t>(1, options_.max_rows));
  options_.max_rows = static_cast<int64_t>(rows);
  x_.resize(rows * c.n_embd);
  h_.resize(rows * c.n_embd);
  q_.resize(rows * (QDim(c) + KDim(c) + VDim(c)));  // fused qkv output fits too
  k_.resize(rows * KDim(c));
  v_.resize(rows * VDim(c));
  att_.resize(rows * c.n_head * c.head_dim_v);
  ff_a_.resize(rows * FfDim(c));
  ff_b_.resize(rows * FfDim(c));
  scores_.resize(static_cast<size_t>(std::max(1, options_.threads)) *
                 static_cast<size_t>(std::max<int64_t>(1, options_.n_ctx)));
  att_lanes_.resize(static_cast<size_t>(std::max(1, options_.threads)) * 64 *
                    static_cast<size_t>(c.head_dim_v));
  // One run per KV block of the default size (longer lists grow once and keep their room).
  att_runs_.resize(static_cast<size_t>(std::max(1, options_.threads)));
  for (std::vector<KvRun>& r : att_runs_) {
    r.reserve(static_cast<size_t>(std::max<int64_t>(1, options_.n_ctx) / 16 + 2));
  }
  att_rows_.resize(scores_.size());
  uint64_t scratch = MatMulScratchBytes(w.output, options_.max_rows);
  auto fit = [&](const MatrixView& m) {
    if (m.present()) scratch = std::max(scratch, MatMulScratchBytes(m, options_.max_rows));
  };
  for (const LayerWeights& l : w.layers) {
    for (const MatrixView* m : {&l.q, &l.k, &l.v, &l.qkv, &l.attn_out, &l.gate, &l.up, &l.down}) {
      fit(*m);
    }
  }
  scratch_.resize(scratch);
  logit_rows_.reserve(rows);
  rope_cs_.resize(static_cast<size_t>(std::max<int64_t>(2, c.rope_dims)));
}

absl::StatusOr<std::unique_ptr<Decoder>> Decoder::Open(const std::string& path,
                                                       const LoadOptions& options) {
  JS_ASSIGN_OR_RETURN(std::unique_ptr<GgufFile> file, GgufFile::Open(path));
  absl::StatusOr<std::unique_ptr<Decoder>> d = FromFile(std::move(file), options);
  if (!d.ok())
    return absl::Status(d.status().code(), absl::StrCat(path, ": ", d.status().message()));
  return d;
}

absl::StatusOr<std::unique_ptr<Decoder>> Decoder::FromFile(std::unique_ptr<GgufFile> file,
                                                           const LoadOptions& options) {
  std::unique_ptr<Decoder> d(new Decoder());
  JS_ASSIGN_OR_RETURN(d->config_, LoadModelConfig(*file));
  JS_ASSIGN_OR_RETURN(d->weights_, BindWeights(*file, d->config_, options));
  d->file_ = std::move(file);
  const ModelConfig& c = d->config_;
  for (int64_t il = 0; il < c.n_layer; ++il) {
    const bool swa = c.layer_is_swa[static_cast<size_t>(il)];
    if (swa && c.rope_freq_base_swa > 0) {
      d->rope_.push_back({c.rope_freq_base_swa, 1.f});
    } else {
      d->rope_.push_back({c.rope_freq_base, c.rope_freq_scale});
    }
  }
  return d;
}

absl::Status Decoder::Eval(absl::Span<const int32_t> tokens, bool all_logits, KvCache* cache,
                           RunState* state, ThreadPool* pool, float* logits) const {
  return EvalRows(tokens, all_logits, cache, state, pool, logits, /*hidden=*/false);
}

absl::Status Decoder::EvalHidden(absl::Span<const int32_t> tokens, KvCache* cache, RunState* state,
                                 ThreadPool* pool, float* hidden) const {
  return EvalRows(tokens, /*all_rows=*/true, cache, state, pool, hidden, /*hidden=*/true);
}

absl::Status Decoder::EvalRows(absl::Span<const int32_t> tokens, bool all_logits, KvCache* cache,
                               RunState* state, ThreadPool* pool, float* logits,
                               bool hidden) const {
  if (tokens.empty()) return absl::InvalidArgumentError("no tokens to evaluate");
  // Checked up front so that a failing call leaves the cache unchanged.
  const int64_t end = cache->size() + static_cast<int64_t>(tokens.size());
  const int64_t n_ctx = std::min(cache->n_ctx(), state->options().n_ctx);
  if (end > n_ctx) {
    return absl::OutOfRangeError(absl::StrCat(cache->size(), " + ", tokens.size(),
                                              " tokens exceed the context (", n_ctx, " tokens)"));
  }
  if (!cache->Reserve(end)) {
    return absl::ResourceExhaustedError(absl::StrCat("no free KV blocks for ", end, " positions"));
  }
  for (const int32_t t : tokens) {
    if (t < 0 || t >= config_.n_vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", t, " is out of range [0, ", config_.n_vocab, ")"));
    }
  }
  // Rows are built per chunk so that Eval allocates nothing.
  const int64_t chunk = state->options().max_rows;
  ForwardRow rows_buf[64];
  KvCache* caches[1] = {cache};
  const int64_t step = std::min<int64_t>(chunk, 64);
  int64_t done = 0;
  while (done < static_cast<int64_t>(tokens.size())) {
    const int64_t n = std::min<int64_t>(step, static_cast<int64_t>(tokens.size()) - done);
    for (int64_t i = 0; i < n; ++i) {
      const bool last = done + i + 1 == static_cast<int64_t>(tokens.size());
      rows_buf[i] = {0, tokens[static_cast<size_t>(done + i)], cache->size() + i,
                     all_logits || last};
    }
    const int64_t width = hidden ? config_.n_embd : config_.n_vocab;
    float* out = logits == nullptr ? nullptr : all_logits ? logits + done * width : logits;
    JS_RETURN_IF_ERROR(ForwardRows(absl::MakeConstSpan(rows_buf, static_cast<size_t>(n)),
                                   absl::MakeConstSpan(caches, 1), state, pool, out, hidden));
    done += n;
  }
  return absl::OkStatus();
}

absl::Status Decoder::Forward(absl::Span<const ForwardRow> rows, absl::Span<KvCache* const> caches,
                              RunState* state, ThreadPool* pool, float* logits) const {
  return ForwardRows(rows, caches, state, pool, logits, /*hidden=*/false);
}

absl::Status Decoder::ForwardRows(absl::Span<const ForwardRow> rows,
                                  absl::Span<KvCache* const> caches, RunState* state,
                                  ThreadPool* pool, float* logits, bool hidden) const {
  const ModelConfig& c = config_;
  if (pool->num_threads() > std::max(1, state->options_.threads)) {
    return absl::InvalidArgumentError("RunState was sized for fewer threads than the pool has");
  }
  // Validate everything before touching any cache: token ids, sequence indices, positions
  // (each sequence's rows continue its cache in order), cache shapes and capacity.
  for (size_t i = 0; i < rows.size(); ++i) {
    const ForwardRow& r = rows[i];
    if (r.token < 0 || r.token >= c.n_vocab) {
      return absl::InvalidArgumentError(
          absl::StrCat("token id ", r.token, " is out of range [0, ", c.n_vocab, ")"));
    }
    if (r.seq < 0 || static_cast<size_t>(r.seq) >= caches.size() || caches[r.seq] == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("row ", i, ": no cache for sequence ", r.seq));
    }
    const KvCache& kv = *caches[r.seq];
    if (kv.n_layer_ != c.n_layer || kv.k_dim_ != KDim(c) || kv.v_dim_ != VDim(c)) {
      return absl::InvalidArgumentError("KV cache was made for another model");
    }
    int64_t expected = kv.size_;
    for (size_t j = 0; j < i; ++j) expected += rows[j].seq == r.seq ? 1 : 0;
    if (r.pos != expected) {
      return absl::InvalidArgumentError(absl::StrCat("row ", i, ": position ", r.pos,
                                                     " does not continue sequence ", r.seq,
                                                     " (next position ", expected, ")"));
    }
    if (r.pos >= kv.capacity() && r.pos < kv.n_ctx_ && r.pos < state->options_.n_ctx) {
      return absl::FailedPreconditionError(absl::StrCat("row ", i, ": position ", r.pos,
                                                        " is beyond the reserved KV blocks (",
                                                        kv.capacity(), " positions)"));
    }
    if (r.pos >= kv.n_ctx_ || r.pos >= state->options_.n_ctx) {
      return absl::OutOfRangeError(absl::StrCat("position ", r.pos, " exceeds the context (",
                                                std::min(kv.n_ctx_, state->options_.n_ctx),
                                                " tokens)"));
    }
    if (c.rope == RopeKind::kNone && r.pos >= c.n_ctx_train) {
      return absl::OutOfRangeError(absl::StrCat(
          "position ", r.pos, " exceeds the model's learned positions (", c.n_ctx_train, ")"));
    }
  }
  const auto chunk = static_cast<size_t>(state->options_.max_rows);
  for (size_t begin = 0; begin < rows.size(); begin += chunk) {
    const size_t n = std::min(chunk, rows.size() - begin);
    const absl::Span<const ForwardRow> part = rows.subspan(begin, n);
    ForwardChunk(part, caches, state, pool, logits, hidden);
    if (logits != nullptr) {
      for (const ForwardRow& r : part) logits += r.logits ? (hidden ? c.n_embd : c.n_vocab) : 0;
    }
  }
  return absl::OkStatus();
}

// The layer stack for one chunk of rows, top to bottom.
void Decoder::ForwardChunk(absl::Span<const ForwardRow> rows, absl::Span<KvCache* const> caches,
                           RunState* s, ThreadPool* pool, float* logits, bool hidden) const {
  const ModelConfig& c = config_;
  const ModelWeights& w = weights_;
  const auto n = static_cast<int64_t>(rows.size());
  const int64_t d = c.n_embd;
  float* x = s->x_.data();  // residual stream [n][d]
  float* h = s->h_.data();  // normalized input of a sublayer [n][d]
  uint8_t* scratch = s->scratch_.data();

  // Embeddings (scaled for Gemma; plus learned positions for GPT-2).
  for (int64_t t = 0; t < n; ++t) {
    float* xt = x + t * d;
    GetRow(w.token_embd, rows[t].token, xt);
    if (c.embed_scale != 1.f) {
      for (int64_t i = 0; i < d; ++i) xt[i] *= c.embed_scale;
    }
    if (w.pos_embd.present()) {
      GetRow(w.pos_embd, rows[t].pos, h);
      for (int64_t i = 0; i < d; ++i) xt[i] += h[i];
    }
  }

  auto norm = [&](const float* in, const std::vector<float>& wt, const std::vector<float>& b,
                  float* out) {
    for (int64_t t = 0; t < n; ++t) {
      if (c.norm == NormKind::kRms) {
        RmsNorm(in + t * d, OrNull(wt), d, c.norm_eps, out + t * d);
      } else {
        LayerNorm(in + t * d, OrNull(wt), OrNull(b), d, c.norm_eps, out + t * d);
      }
    }
  };

  const int64_t qd = QDim(c), kd = KDim(c), vd = VDim(c), ffd = FfDim(c);
  for (int64_t il = 0; il < c.n_layer; ++il) {
    const LayerWeights& l = w.layers[static_cast<size_t>(il)];

    // Attention: q, k, v projections (fused or separate), biases.
    norm(x, l.attn_norm, l.attn_norm_b, h);
    float* q = s->q_.data();
    float* k = s->k_.data();
    float* v = s->v_.data();
    if (l.qkv.present()) {
      const int64_t ld = qd + kd + vd;
      MatMul(l.qkv, h, n, d, q, ld, scratch, pool);
      AddBias(l.qkv_b, q, n, ld);
      // Split [q | k | v] rows; q keeps stride qd after compaction in place (forward order).
      for (int64_t t = 0; t < n; ++t) {
        std::memcpy(k + t * kd, q + t * ld + qd, static_cast<size_t>(kd) * sizeof(float));
        std::memcpy(v + t * vd, q + t * ld + qd + kd, static_cast<size_t>(vd) * sizeof(float));
        std::memmove(q + t * qd, q + t * ld, static_cast<size_t>(qd) * sizeof(float));
      }
    } else {
      const MatMulOutput qkv[] = {{&l.q, q, qd}, {&l.k, k, kd}, {&l.v, v, vd}};
      MatMuls(qkv, h, n, d, scratch, pool);
      AddBias(l.q_b, q, n, qd);
      AddBias(l.k_b, k, n, kd);
      AddBias(l.v_b, v, n, vd);
    }
    // QK-norm, RoPE, then keys and values into each row's cache.
    const RopeParams rope{c.rope_dims, rope_[static_cast<size_t>(il)].base,
                          rope_[static_cast<size_t>(il)].scale, OrNull(w.rope_freqs),
                          c.rope == RopeKind::kNeox};
    float* cs = s->rope_cs_.data();  // the row's angles, shared by its heads
    for (int64_t t = 0; t < n; ++t) {
      if (c.rope != RopeKind::kNone) RopeAngles(rows[t].pos, rope, cs);
      for (int64_t hh = 0; hh < c.n_head; ++hh) {
        float* qh = q + t * qd + hh * c.head_dim;
        if (c.qk_norm) RmsNorm(qh, l.q_norm.data(), c.head_dim, c.norm_eps, qh);
        if (c.rope != RopeKind::kNone) RopeRotate(qh, cs, rope);
        if (c.scale_q) {
          for (int64_t i = 0; i < c.head_dim; ++i) qh[i] *= c.attn_scale;
        }
      }
      for (int64_t hh = 0; hh < c.n_head_kv; ++hh) {
        float* kh = k + t * kd + hh * c.head_dim;
        if (c.qk_norm) RmsNorm(kh, l.k_norm.data(), c.head_dim, c.norm_eps, kh);
        if (c.rope != RopeKind::kNone) RopeRotate(kh, cs, rope);
      }
      KvCache& kv = *caches[rows[t].seq];
      std::memcpy(kv.K(il, rows[t].pos), k + t * kd, static_cast<size_t>(kd) * sizeof(float));
      std::memcpy(kv.V(il, rows[t].pos), v + t * vd, static_cast<size_t>(vd) * sizeof(float));
    }
    Attention(il, rows, caches, s, pool);
    float* o = h;  // attention output projection [n][d]
    MatMul(l.attn_out, s->att_.data(), n, c.n_head * c.head_dim_v, o, d, scratch, pool);
    AddBias(l.attn_out_b, o, n, d);
    if (c.post_norms) {
      for (int64_t t = 0; t < n; ++t) {
        RmsNorm(o + t * d, l.post_attn_norm.data(), d, c.norm_eps, o + t * d);
      }
    }
    for (int64_t i = 0; i < n * d; ++i) x[i] += o[i];

    // Feed-forward.
    norm(x, l.ffn_norm, l.ffn_norm_b, h);
    float* a = s->ff_a_.data();
    float* b = s->ff_b_.data();
    int64_t act_ld = c.n_ff;
    switch (c.ffn) {
      case FfnKind::kSiluGated:
      case FfnKind::kGeluGated: {
        const MatMulOutput gate_up[] = {{&l.gate, a, c.n_ff}, {&l.up, b, c.n_ff}};
        MatMuls(gate_up, h, n, d, scratch, pool);
        // Element-wise, so split by rows over the pool (on one thread, Gelu was about 9% of
        // a Gemma 3 prefill's time); row by row, so that a row's values do not depend on the
        // rows beside it (the SIMD kernels treat a tail shorter than a vector apart).
        const bool silu = c.ffn == FfnKind::kSiluGated;
        const int64_t ff = c.n_ff;
        const auto activate = [&](int64_t begin, int64_t end, int) {
          for (int64_t t = begin; t < end; ++t) {
            float* ar = a + t * ff;
            const float* br = b + t * ff;
            if (silu) {
              GetAttentionKernels().silu_mul(ar, br, ff);
            } else {
              for (int64_t i = 0; i < ff; ++i) ar[i] = Gelu(ar[i]) * br[i];
            }
          }
        };
        pool->ParallelFor(n, activate);  // one row runs on the caller
        break;
      }
      case FfnKind::kSiluGatedFused: {
        MatMul(l.up, h, n, d, b, ffd, scratch, pool);
        for (int64_t t = 0; t < n; ++t) {
          const float* gu = b + t * ffd;
          std::memcpy(a + t * c.n_ff, gu, static_cast<size_t>(c.n_ff) * sizeof(float));
          GetAttentionKernels().silu_mul(a + t * c.n_ff, gu + c.n_ff, c.n_ff);
        }
        break;
      }
      case FfnKind::kGelu: {
        MatMul(l.up, h, n, d, a, c.n_ff, scratch, pool);
        AddBias(l.up_b, a, n, c.n_ff);
        const int64_t ff = c.n_ff;
        const auto activate = [&](int64_t begin, int64_t end, int) {
          for (int64_t i = begin * ff; i < end * ff; ++i) a[i] = Gelu(a[i]);
        };
        pool->ParallelFor(n, activate);  // one row runs on the caller
        break;
      }
    }
    MatMul(l.down, a, n, act_ld, h, d, scratch, pool);
    AddBias(l.down_b, h, n, d);
    if (c.post_norms) {
      for (int64_t t = 0; t < n; ++t) {
        RmsNorm(h + t * d, l.post_ffn_norm.data(), d, c.norm_eps, h + t * d);
      }
    }
    for (int64_t i = 0; i < n * d; ++i) x[i] += h[i];
  }

  // Final norm and output projection, for the rows whose logits are wanted (with `hidden`,
  // the normed rows themselves).
  if (logits == nullptr) return;
  float* normed = hidden ? logits : h;
  int64_t m = 0;
  for (int64_t t = 0; t < n; ++t) {
    if (!rows[t].logits) continue;
    if (c.norm == NormKind::kRms) {
      RmsNorm(x + t * d, w.output_norm.data(), d, c.norm_eps, normed + m * d);
    } else {
      LayerNorm(x + t * d, w.output_norm.data(), OrNull(w.output_norm_b), d, c.norm_eps,
                normed + m * d);
    }
    ++m;
  }
  if (hidden) return;
  MatMul(w.output, h, m, d, logits, c.n_vocab, scratch, pool);
  if (c.final_logit_softcap > 0) {
    const float cap = c.final_logit_softcap;
    for (int64_t i = 0; i < m * c.n_vocab; ++i) logits[i] = cap * std::tanh(logits[i] / cap);
  }
}

// Causal (optionally sliding-window) attention of each row over its own sequence's cache:
// one (row, head) pair per work item, scores over positions in increasing order.
void Decoder::Attention(int64_t il, absl::Span<const ForwardRow> rows,
                        absl::Span<KvCache* const> caches, RunState* s, ThreadPool* pool) const {
  const ModelConfig& c = config_;
  const auto n = static_cast<int64_t>(rows.size());
  const int64_t qd = QDim(c);
  const int64_t group = c.n_head / c.n_head_kv;
  const int64_t window =
      c.sliding_window > 0 && c.layer_is_swa[static_cast<size_t>(il)] ? c.sliding_window : 0;
  const int64_t n_ctx = s->options_.n_ctx;
  const AttentionKernels& ak = GetAttentionKernels();
  const int64_t dv = c.head_dim_v;
  pool->ParallelFor(n * c.n_head, [&](int64_t begin, int64_t end, int thread) {
    std::vector<KvRun>& runs = s->att_runs_[static_cast<size_t>(thread)];
    AttendArgs args = {.head_dim = c.head_dim,
                       .scale = c.scale_q ? 1.f : c.attn_scale,
                       .dv = dv,
                       .scores = s->scores_.data() + static_cast<int64_t>(thread) * n_ctx,
                       .lanes = s->att_lanes_.data() + static_cast<int64_t>(thread) * 64 * dv,
                       .value_rows = s->att_rows_.data() + static_cast<int64_t>(thread) * n_ctx};
    int64_t runs_for = -1;  // the (row, KV head) `runs` hold
    for (int64_t item = begin; item < end; ++item) {
      const int64_t t = item / c.n_head;
      const int64_t hh = item % c.n_head;
      const int64_t kvh = hh / group;
      const KvCache& kv = *caches[rows[t].seq];
      const int64_t pos = rows[t].pos;
      const int64_t lo = window > 0 ? std::max<int64_t>(0, pos - window + 1) : 0;
      // The cells lo..pos, one run per KV block (rows of a block are k_dim / v_dim apart),
      // built once for the heads of a group that follow each other.
      if (t * c.n_head_kv + kvh != runs_for) {
        runs_for = t * c.n_head_kv + kvh;
        runs.clear();
        for (int64_t p = lo; p <= pos;) {
          const int64_t end_p = std::min(pos + 1, (p / kv.bt_ + 1) * kv.bt_);
          runs.push_back({kv.K(il, p) + kvh * c.head_dim, kv.V(il, p) + kvh * dv, end_p - p});
          p = end_p;
        }
      }
      args.q = s->q_.data() + t * qd + hh * c.head_dim;
      args.runs = runs;
      args.k_stride = kv.k_dim_;
      args.v_stride = kv.v_dim_;
      args.first = lo;
      args.out = s->att_.data() + t * c.n_head * dv + hh * dv;
      ak.attend(args);
    }
  });
  // Sequences' caches now hold the chunk's rows (full blocks get their hashes).
  for (const ForwardRow& r : rows) caches[r.seq]->Commit(r.pos, r.token);
}

}  // namespace jetserve::model
