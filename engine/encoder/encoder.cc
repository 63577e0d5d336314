#include "engine/encoder/encoder.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/encoder/gemm.h"
#include "engine/encoder/graph_encoder.h"
#include "engine/model/ops.h"
#include "engine/quant/quantize.h"
#include "engine/quant/vec_dot.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::encoder {
namespace {

absl::Status CheckMatrix(const model::MatrixView& m, int64_t rows, int64_t cols,
                         std::string_view name, bool required = true) {
  if (!m.present()) {
    if (!required) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("encoder weight '", Sv(name), "' is missing"));
  }
  if (m.rows != rows || m.cols != cols || m.kernels == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("encoder weight '", Sv(name), "' is [", m.rows,
                                                   ", ", m.cols, "], expected [", rows, ", ", cols,
                                                   "]"));
  }
  return absl::OkStatus();
}

absl::Status CheckVector(const std::vector<float>& v, size_t n, std::string_view name,
                         bool required = true) {
  if (v.empty() && !required) return absl::OkStatus();
  if (v.size() != n) {
    return absl::InvalidArgumentError(
        absl::StrCat("encoder weight '", Sv(name), "' has ", v.size(), " elements, expected ", n));
  }
  return absl::OkStatus();
}

}  // namespace

model::MatrixView F32Matrix(const float* data, int64_t rows, int64_t cols) {
  model::MatrixView m;
  m.type = GgmlType::kF32;
  m.rows = rows;
  m.cols = cols;
  m.data = reinterpret_cast<const uint8_t*>(data);
  m.row_bytes = static_cast<uint64_t>(cols) * sizeof(float);
  m.kernels = quant::GetTypeKernels(GgmlType::kF32);
  return m;
}

absl::StatusOr<std::unique_ptr<Encoder>> Encoder::Create(EncoderConfig config,
                                                         EncoderWeights weights) {
  std::unique_ptr<Encoder> e(new Encoder(std::move(config), std::move(weights)));
  if (absl::Status s = e->Check(); !s.ok()) return s;
  return e;
}

std::unique_ptr<Encoder> Encoder::FromGraph(EncoderConfig config,
                                            std::shared_ptr<const GraphEncoder> graph) {
  std::unique_ptr<Encoder> e(new Encoder(std::move(config), EncoderWeights()));
  e->graph_ = std::move(graph);
  return e;
}

int Encoder::num_labels() const {
  if (graph_ != nullptr) return graph_->num_labels();
  return static_cast<int>(weights_.head_out.rows);
}

absl::Status Encoder::Check() const {
  const EncoderConfig& c = config_;
  if (c.n_layer <= 0 || c.n_embd <= 0 || c.n_head <= 0 || c.n_ff <= 0 || c.n_vocab <= 0 ||
      c.n_pos <= c.position_offset || c.n_embd % c.n_head != 0 || c.n_type < 0 ||
      c.position_offset < 0 || !(c.eps > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("encoder hyperparameters out of range: layers ", c.n_layer, ", embd ",
                     c.n_embd, ", heads ", c.n_head, ", ff ", c.n_ff, ", vocab ", c.n_vocab,
                     ", positions ", c.n_pos, " (offset ", c.position_offset, ")"));
  }
  const EncoderWeights& w = weights_;
  absl::Status s;
  auto all = [&](absl::Status st) {
    if (s.ok()) s = std::move(st);
  };
  all(CheckMatrix(w.tok_embd, c.n_vocab, c.n_embd, "token embeddings"));
  all(CheckMatrix(w.pos_embd, c.n_pos, c.n_embd, "position embeddings"));
  all(CheckMatrix(w.type_embd, c.n_type, c.n_embd, "token-type embeddings", c.n_type > 0));
  all(CheckVector(w.emb_ln_w, c.n_embd, "embedding norm weight"));
  all(CheckVector(w.emb_ln_b, c.n_embd, "embedding norm bias"));
  if (static_cast<int>(w.layers.size()) != c.n_layer) {
    return absl::InvalidArgumentError(
        absl::StrCat("encoder has ", w.layers.size(), " layers, config says ", c.n_layer));
  }
  for (int i = 0; i < c.n_layer && s.ok(); ++i) {
    const EncoderLayer& l = w.layers[i];
    const std::string p = absl::StrCat("layer ", i, " ");
    auto n = [&](const char* what) { return absl::StrCat(p, what); };
    all(CheckMatrix(l.q, c.n_embd, c.n_embd, n("query")));
    all(CheckMatrix(l.k, c.n_embd, c.n_embd, n("key")));
    all(CheckMatrix(l.v, c.n_embd, c.n_embd, n("value")));
    all(CheckMatrix(l.o, c.n_embd, c.n_embd, n("attention output")));
    all(CheckMatrix(l.up, c.n_ff, c.n_embd, n("intermediate")));
    all(CheckMatrix(l.down, c.n_embd, c.n_ff, n("output")));
    all(CheckVector(l.q_b, c.n_embd, n("query bias")));
    all(CheckVector(l.k_b, c.n_embd, n("key bias")));
    all(CheckVector(l.v_b, c.n_embd, n("value bias")));
    all(CheckVector(l.o_b, c.n_embd, n("attention output bias")));
    all(CheckVector(l.ln1_w, c.n_embd, n("attention norm weight")));
    all(CheckVector(l.ln1_b, c.n_embd, n("attention norm bias")));
    all(CheckVector(l.up_b, c.n_ff, n("intermediate bias")));
    all(CheckVector(l.down_b, c.n_embd, n("output bias")));
    all(CheckVector(l.ln2_w, c.n_embd, n("output norm weight")));
    all(CheckVector(l.ln2_b, c.n_embd, n("output norm bias")));
  }
  if (!s.ok()) return s;
  if (c.head != HeadKind::kNone) {
    if (!w.head_out.present()) {
      return absl::InvalidArgumentError("classification head has no output layer");
    }
    const int64_t labels = w.head_out.rows;
    all(CheckMatrix(w.head_out, labels, c.n_embd, "classifier"));
    all(CheckVector(w.head_out_b, labels, "classifier bias"));
    if (c.head != HeadKind::kLinear) {
      all(CheckMatrix(w.head_dense, c.n_embd, c.n_embd, "classifier dense"));
      all(CheckVector(w.head_dense_b, c.n_embd, "classifier dense bias"));
    }
    if (!c.labels.empty() && static_cast<int64_t>(c.labels.size()) != labels) {
      all(absl::InvalidArgumentError(
          absl::StrCat("config names ", c.labels.size(), " labels, the classifier has ", labels)));
    }
  }
  return s;
}

void Encoder::Linear(const model::MatrixView& w, const std::vector<float>& b, const float* x,
                     int64_t n, float* y, ThreadPool* pool, EncoderWorkspace* ws) const {
  if (w.type == GgmlType::kF32) {
    GemmF32(reinterpret_cast<const float*>(w.data), w.rows, w.cols, w.cols, x, n, w.cols, y, w.rows,
            b.empty() ? nullptr : b.data(), pool);
    return;
  } else {  // quantized / half weights: fused dequantize-dot kernels
    const uint64_t need = model::MatMulScratchBytes(w, n);
    if (ws->scratch.size() < need) ws->scratch.resize(need);
    model::MatMul(w, x, n, w.cols, y, w.rows, ws->scratch.data(), pool);
  }
  if (b.empty()) return;
  for (int64_t t = 0; t < n; ++t) {
    float* row = y + t * w.rows;
    for (int64_t r = 0; r < w.rows; ++r) row[r] += b[r];
  }
}

void Encoder::Attention(const EncoderWorkspace& ws, int64_t num_seqs, float* ctx, ThreadPool* pool,
                        std::vector<float>* scores) const {
  const int n_head = config_.n_head;
  const int hd = config_.head_dim();
  const int64_t d = config_.n_embd;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  int64_t max_len = 0;
  for (int64_t s = 0; s < num_seqs; ++s) {
    max_len = std::max(max_len, ws.row_start[s + 1] - ws.row_start[s]);
  }
  // Per thread: the scores of one (sequence, head) [len, len] and its values transposed
  // [hd, len]; both products run on the GEMM kernels, one job per (sequence, head).
  const int threads = std::max(1, pool->num_threads());
  const int64_t per_thread = max_len * max_len + hd * max_len;
  if (scores->size() < static_cast<size_t>(per_thread * threads)) {
    scores->resize(static_cast<size_t>(per_thread * threads));
  }
  pool->ParallelFor(num_seqs * n_head, [&](int64_t begin, int64_t end, int thread) {
    float* p = scores->data() + static_cast<int64_t>(thread) * per_thread;
    float* vt = p + max_len * max_len;
    for (int64_t job = begin; job < end; ++job) {
      const int64_t s = job / n_head;
      const int64_t h = job % n_head;
      const int64_t first = ws.row_start[s];
      const int64_t len = ws.row_start[s + 1] - first;
      const float* q = ws.q.data() + first * d + h * hd;
      const float* k = ws.k.data() + first * d + h * hd;
      const float* v = ws.v.data() + first * d + h * hd;
      GemmF32(k, len, hd, d, q, len, d, p, len, nullptr, nullptr);  // p[i][j] = q_i . k_j
      for (int64_t i = 0; i < len; ++i) ScaledSoftmaxInPlace(p + i * len, len, scale);
      for (int64_t j = 0; j < len; ++j) {
        for (int c = 0; c < hd; ++c) vt[c * len + j] = v[j * d + c];
      }
      GemmF32(vt, hd, len, len, p, len, len, ctx + first * d + h * hd, d, nullptr, nullptr);
    }
  });
}

absl::Status Encoder::Forward(absl::Span<const EncoderSequence> batch, ThreadPool* pool,
                              EncoderWorkspace* ws) const {
  if (graph_ != nullptr) return graph_->Forward(batch, pool, ws);
  const EncoderConfig& c = config_;
  const EncoderWeights& w = weights_;
  const int64_t d = c.n_embd;
  ws->row_start.assign(1, 0);
  for (size_t s = 0; s < batch.size(); ++s) {
    const EncoderSequence& seq = batch[s];
    if (seq.ids.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " has no tokens"));
    }
    if (seq.ids.size() > static_cast<size_t>(c.max_tokens())) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, " has ", seq.ids.size(),
                                                     " tokens, over the model's limit of ",
                                                     c.max_tokens()));
    }
    if (!seq.type_ids.empty() && seq.type_ids.size() != seq.ids.size()) {
      return absl::InvalidArgumentError(absl::StrCat("sequence ", s, ": ", seq.type_ids.size(),
                                                     " type ids for ", seq.ids.size(), " tokens"));
    }
    for (size_t i = 0; i < seq.ids.size(); ++i) {
      if (seq.ids[i] < 0 || seq.ids[i] >= c.n_vocab) {
        return absl::InvalidArgumentError(
            absl::StrCat("sequence ", s, ": token id ", seq.ids[i], " is outside the vocabulary"));
      }
      if (!seq.type_ids.empty() &&
          (seq.type_ids[i] < 0 || seq.type_ids[i] >= std::max(1, c.n_type))) {
        return absl::InvalidArgumentError(
            absl::StrCat("sequence ", s, ": token type ", seq.type_ids[i], " is out of range"));
      }
    }
    ws->row_start.push_back(ws->row_start.back() + static_cast<int64_t>(seq.ids.size()));
  }
  const int64_t rows = ws->row_start.back();
  const size_t act = static_cast<size_t>(rows * d);
  for (std::vector<float>* v : {&ws->hidden, &ws->q, &ws->k, &ws->v, &ws->ctx, &ws->tmp}) {
    if (v->size() < act) v->resize(act);
  }
  if (ws->ff.size() < static_cast<size_t>(rows * c.n_ff)) ws->ff.resize(rows * c.n_ff);

  // Embeddings: token + position (+ token type), then LayerNorm.
  std::vector<float>& x = ws->hidden;
  std::vector<float>& row = ws->tmp;  // one row of scratch per token, reused below
  for (size_t s = 0; s < batch.size(); ++s) {
    const EncoderSequence& seq = batch[s];
    for (size_t i = 0; i < seq.ids.size(); ++i) {
      float* out = x.data() + (ws->row_start[s] + static_cast<int64_t>(i)) * d;
      float* part = row.data();
      model::GetRow(w.tok_embd, seq.ids[i], out);
      model::GetRow(w.pos_embd, static_cast<int64_t>(i) + c.position_offset, part);
      for (int64_t e = 0; e < d; ++e) out[e] += part[e];
      if (c.n_type > 0) {
        model::GetRow(w.type_embd, seq.type_ids.empty() ? 0 : seq.type_ids[i], part);
        for (int64_t e = 0; e < d; ++e) out[e] += part[e];
      }
      model::LayerNorm(out, w.emb_ln_w.data(), w.emb_ln_b.data(), d, c.eps, out);
    }
  }

  for (const EncoderLayer& l : w.layers) {
    Linear(l.q, l.q_b, x.data(), rows, ws->q.data(), pool, ws);
    Linear(l.k, l.k_b, x.data(), rows, ws->k.data(), pool, ws);
    Linear(l.v, l.v_b, x.data(), rows, ws->v.data(), pool, ws);
    Attention(*ws, static_cast<int64_t>(batch.size()), ws->ctx.data(), pool, &ws->scores);
    Linear(l.o, l.o_b, ws->ctx.data(), rows, ws->tmp.data(), pool, ws);
    pool->ParallelFor(rows, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        AddLayerNormInPlace(x.data() + t * d, ws->tmp.data() + t * d, l.ln1_w.data(),
                            l.ln1_b.data(), d, c.eps);
      }
    });
    Linear(l.up, l.up_b, x.data(), rows, ws->ff.data(), pool, ws);
    pool->ParallelFor(rows, [&](int64_t begin, int64_t end, int) {
      GeluErfInPlace(ws->ff.data() + begin * c.n_ff, (end - begin) * c.n_ff);
    });
    Linear(l.down, l.down_b, ws->ff.data(), rows, ws->tmp.data(), pool, ws);
    pool->ParallelFor(rows, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        AddLayerNormInPlace(x.data() + t * d, ws->tmp.data() + t * d, l.ln2_w.data(),
                            l.ln2_b.data(), d, c.eps);
      }
    });
  }
  return absl::OkStatus();
}

void Encoder::Pool(Pooling pooling, const EncoderWorkspace& ws, std::vector<float>* out) const {
  const int64_t d = config_.n_embd;
  const int64_t num_seqs = static_cast<int64_t>(ws.row_start.size()) - 1;
  out->assign(static_cast<size_t>(num_seqs * d), 0.0f);
  for (int64_t s = 0; s < num_seqs; ++s) {
    const int64_t first = ws.row_start[s];
    const int64_t len = ws.row_start[s + 1] - first;
    float* o = out->data() + s * d;
    switch (pooling) {
      case Pooling::kCls:
        std::copy_n(ws.hidden.data() + first * d, d, o);
        break;
      case Pooling::kLast:
        std::copy_n(ws.hidden.data() + (first + len - 1) * d, d, o);
        break;
      case Pooling::kMean:
        for (int64_t t = 0; t < len; ++t) {
          const float* h = ws.hidden.data() + (first + t) * d;
          for (int64_t e = 0; e < d; ++e) o[e] += h[e];
        }
        for (int64_t e = 0; e < d; ++e) o[e] /= static_cast<float>(len);
        break;
    }
  }
}

absl::Status Encoder::Classify(absl::Span<const EncoderSequence> batch, ThreadPool* pool,
                               EncoderWorkspace* ws, std::vector<float>* out) const {
  if (graph_ != nullptr) return graph_->Classify(batch, pool, out);
  if (config_.head == HeadKind::kNone) {
    return absl::FailedPreconditionError("this model has no classification head");
  }
  if (absl::Status s = Forward(batch, pool, ws); !s.ok()) return s;
  const int64_t d = config_.n_embd;
  const int64_t n = static_cast<int64_t>(batch.size());
  std::vector<float> first;
  Pool(Pooling::kCls, *ws, &first);
  const float* x = first.data();
  std::vector<float> dense;
  if (config_.head != HeadKind::kLinear) {
    dense.resize(static_cast<size_t>(n * d));
    Linear(weights_.head_dense, weights_.head_dense_b, x, n, dense.data(), pool, ws);
    for (float& v : dense) {
      v = config_.head == HeadKind::kTanhDense ? std::tanh(v) : std::max(v, 0.0f);
    }
    x = dense.data();
  }
  out->resize(static_cast<size_t>(n * num_labels()));
  Linear(weights_.head_out, weights_.head_out_b, x, n, out->data(), pool, ws);
  return absl::OkStatus();
}

}  // namespace jetserve::encoder
