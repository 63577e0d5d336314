#include "engine/model/weights.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/model/status_macros.h"
#include "engine/quant/dequantize.h"
#include "engine/quant/packed.h"
#include "engine/quant/quantize.h"
#include "engine/quant/vec_dot.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::model {
namespace {

// Expected shape of a role's tensor as (cols, rows); rows == 0 marks a vector of `cols`.
struct Shape {
  int64_t cols;
  int64_t rows;
};

Shape ExpectedShape(TensorRole role, const ModelConfig& c) {
  const int64_t q_rows = c.n_head * c.head_dim;
  const int64_t k_rows = c.n_head_kv * c.head_dim;
  const int64_t v_rows = c.n_head_kv * c.head_dim_v;
  const int64_t ff_rows = c.ffn == FfnKind::kSiluGatedFused ? 2 * c.n_ff : c.n_ff;
  switch (role) {
    case TensorRole::kTokenEmbd:
    case TensorRole::kOutput:
      return {c.n_embd, c.n_vocab};
    case TensorRole::kPosEmbd:
      return {c.n_embd, c.n_ctx_train};
    case TensorRole::kRopeFreqs:
      return {c.rope_dims / 2, 0};
    case TensorRole::kQ:
      return {c.n_embd, q_rows};
    case TensorRole::kQB:
      return {q_rows, 0};
    case TensorRole::kK:
      return {c.n_embd, k_rows};
    case TensorRole::kKB:
      return {k_rows, 0};
    case TensorRole::kV:
      return {c.n_embd, v_rows};
    case TensorRole::kVB:
      return {v_rows, 0};
    case TensorRole::kQkv:
      return {c.n_embd, q_rows + k_rows + v_rows};
    case TensorRole::kQkvB:
      return {q_rows + k_rows + v_rows, 0};
    case TensorRole::kAttnOut:
      return {c.n_head * c.head_dim_v, c.n_embd};
    case TensorRole::kQNorm:
    case TensorRole::kKNorm:
      return {c.head_dim, 0};
    case TensorRole::kGate:
      return {c.n_embd, c.n_ff};
    case TensorRole::kUp:
      return {c.n_embd, ff_rows};
    case TensorRole::kUpB:
      return {ff_rows, 0};
    case TensorRole::kDown:
      return {c.n_ff, c.n_embd};
    case TensorRole::kAttnOutB:
    case TensorRole::kDownB:
    case TensorRole::kOutputNorm:
    case TensorRole::kOutputNormB:
    case TensorRole::kAttnNorm:
    case TensorRole::kAttnNormB:
    case TensorRole::kPostAttnNorm:
    case TensorRole::kFfnNorm:
    case TensorRole::kFfnNormB:
    case TensorRole::kPostFfnNorm:
      return {c.n_embd, 0};
  }
  return {0, 0};
}

std::string DimsString(const GgufTensorInfo& t) { return absl::StrJoin(t.dims, ", "); }

class Binder {
 public:
  Binder(const GgufFile& file, const ModelConfig& config) : file_(file), config_(config) {}

  // Finds the tensor of a role; nullptr (and OK) when absent and allowed to be.
  absl::StatusOr<const GgufTensorInfo*> Find(TensorRole role, int layer) const {
    const Presence presence = config_.PresenceOf(role);
    if (presence == Presence::kAbsent) return nullptr;
    const std::string name = TensorName(role, layer);
    const GgufTensorInfo* t = file_.FindTensor(name);
    if (t == nullptr) {
      if (presence == Presence::kRequired) {
        return absl::InvalidArgumentError(absl::StrCat(
            "missing tensor '", name, "' required by architecture ", config_.arch_name));
      }
      return nullptr;
    }
    const Shape want = ExpectedShape(role, config_);
    const bool is_vector = want.rows == 0;
    bool ok = is_vector ? t->dims.size() == 1 && t->dims[0] == want.cols
                        : t->dims.size() >= 2 && t->dims[0] == want.cols && t->dims[1] == want.rows;
    for (size_t i = 2; ok && !is_vector && i < t->dims.size(); ++i) ok = t->dims[i] == 1;
    if (!ok) {
      return absl::InvalidArgumentError(
          is_vector ? absl::StrCat("tensor '", name, "' has shape [", DimsString(*t),
                                   "], expected [", want.cols, "]")
                    : absl::StrCat("tensor '", name, "' has shape [", DimsString(*t),
                                   "], expected [", want.cols, ", ", want.rows, "]"));
    }
    return t;
  }

  absl::Status Matrix(TensorRole role, int layer, MatrixView* out) const {
    JS_ASSIGN_OR_RETURN(const GgufTensorInfo* t, Find(role, layer));
    if (t == nullptr) return absl::OkStatus();
    const quant::TypeKernels* k = quant::GetTypeKernels(t->type);
    if (k == nullptr || k->vec_dot == nullptr || k->to_float == nullptr) {
      return absl::UnimplementedError(absl::StrCat("tensor '", TensorName(role, layer),
                                                   "' has type ", Sv(GgmlTypeName(t->type)),
                                                   ", which the engine cannot compute with"));
    }
    out->type = t->type;
    out->cols = t->dims[0];
    out->rows = t->dims[1];
    out->row_bytes = quant::RowBytes(t->type, out->cols);
    if (out->row_bytes == 0 || out->row_bytes * static_cast<uint64_t>(out->rows) > t->data.size()) {
      return absl::InvalidArgumentError(absl::StrCat("tensor '", TensorName(role, layer),
                                                     "': data size does not match its shape"));
    }
    if (quant::RowBytes(k->vec_dot_type, out->cols) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", TensorName(role, layer), "': row length ", out->cols,
                       " is not a multiple of its activation type's block size"));
    }
    out->data = t->data.data();
    out->kernels = k;
    return absl::OkStatus();
  }

  absl::Status Vector(TensorRole role, int layer, std::vector<float>* out) const {
    JS_ASSIGN_OR_RETURN(const GgufTensorInfo* t, Find(role, layer));
    if (t == nullptr) return absl::OkStatus();
    absl::StatusOr<std::vector<float>> v = quant::DequantizeBytes(t->type, t->data, t->dims[0]);
    if (!v.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("tensor '", TensorName(role, layer), "': ", v.status().message()));
    }
    *out = std::move(*v);
    return absl::OkStatus();
  }

 private:
  const GgufFile& file_;
  const ModelConfig& config_;
};

// Packs a matrix for its type's packed kernel where the CPU's variant has one, and releases
// the file pages the packing read (row lookups of a tied embedding fault theirs back in).
void Pack(const GgufFile& file, MatrixView* m, std::vector<std::unique_ptr<uint8_t[]>>* storage) {
  if (!m->present() || m->kernels->packed_tile == nullptr || m->rows % quant::kPackRows != 0) {
    return;
  }
  const uint64_t group_bytes = quant::PackedGroupBytes(m->type, m->cols);
  if (group_bytes == 0) return;
  auto packed = std::make_unique_for_overwrite<uint8_t[]>(
      group_bytes * static_cast<uint64_t>(m->rows / quant::kPackRows));
  quant::PackRows(m->type, m->cols, m->data, m->row_bytes, m->rows, packed.get());
  m->packed = packed.get();
  m->group_bytes = group_bytes;
  storage->push_back(std::move(packed));
  file.ReleasePages({m->data, m->row_bytes * static_cast<uint64_t>(m->rows)});
}

}  // namespace

absl::StatusOr<ModelWeights> BindWeights(const GgufFile& file, const ModelConfig& c,
                                         const LoadOptions& options) {
  Binder b(file, c);
  ModelWeights w;
  using R = TensorRole;
  JS_RETURN_IF_ERROR(b.Matrix(R::kTokenEmbd, 0, &w.token_embd));
  JS_RETURN_IF_ERROR(b.Matrix(R::kPosEmbd, 0, &w.pos_embd));
  JS_RETURN_IF_ERROR(b.Vector(R::kOutputNorm, 0, &w.output_norm));
  JS_RETURN_IF_ERROR(b.Vector(R::kOutputNormB, 0, &w.output_norm_b));
  JS_RETURN_IF_ERROR(b.Matrix(R::kOutput, 0, &w.output));
  if (!w.output.present()) w.output = w.token_embd;  // tied embeddings
  JS_RETURN_IF_ERROR(b.Vector(R::kRopeFreqs, 0, &w.rope_freqs));
  w.layers.resize(static_cast<size_t>(c.n_layer));
  for (int il = 0; il < c.n_layer; ++il) {
    LayerWeights& l = w.layers[static_cast<size_t>(il)];
    JS_RETURN_IF_ERROR(b.Vector(R::kAttnNorm, il, &l.attn_norm));
    JS_RETURN_IF_ERROR(b.Vector(R::kAttnNormB, il, &l.attn_norm_b));
    JS_RETURN_IF_ERROR(b.Matrix(R::kQkv, il, &l.qkv));
    JS_RETURN_IF_ERROR(b.Vector(R::kQkvB, il, &l.qkv_b));
    if (!l.qkv.present()) {
      JS_RETURN_IF_ERROR(b.Matrix(R::kQ, il, &l.q));
      JS_RETURN_IF_ERROR(b.Matrix(R::kK, il, &l.k));
      JS_RETURN_IF_ERROR(b.Matrix(R::kV, il, &l.v));
      if (!l.q.present() || !l.k.present() || !l.v.present()) {
        return absl::InvalidArgumentError(absl::StrCat("layer ", il, " has neither 'blk.", il,
                                                       ".attn_qkv.weight' nor all of attn_q, "
                                                       "attn_k and attn_v"));
      }
      JS_RETURN_IF_ERROR(b.Vector(R::kQB, il, &l.q_b));
      JS_RETURN_IF_ERROR(b.Vector(R::kKB, il, &l.k_b));
      JS_RETURN_IF_ERROR(b.Vector(R::kVB, il, &l.v_b));
    }
    JS_RETURN_IF_ERROR(b.Vector(R::kQNorm, il, &l.q_norm));
    JS_RETURN_IF_ERROR(b.Vector(R::kKNorm, il, &l.k_norm));
    JS_RETURN_IF_ERROR(b.Matrix(R::kAttnOut, il, &l.attn_out));
    JS_RETURN_IF_ERROR(b.Vector(R::kAttnOutB, il, &l.attn_out_b));
    JS_RETURN_IF_ERROR(b.Vector(R::kPostAttnNorm, il, &l.post_attn_norm));
    JS_RETURN_IF_ERROR(b.Vector(R::kFfnNorm, il, &l.ffn_norm));
    JS_RETURN_IF_ERROR(b.Vector(R::kFfnNormB, il, &l.ffn_norm_b));
    JS_RETURN_IF_ERROR(b.Matrix(R::kGate, il, &l.gate));
    JS_RETURN_IF_ERROR(b.Matrix(R::kUp, il, &l.up));
    JS_RETURN_IF_ERROR(b.Vector(R::kUpB, il, &l.up_b));
    JS_RETURN_IF_ERROR(b.Matrix(R::kDown, il, &l.down));
    JS_RETURN_IF_ERROR(b.Vector(R::kDownB, il, &l.down_b));
    JS_RETURN_IF_ERROR(b.Vector(R::kPostFfnNorm, il, &l.post_ffn_norm));
  }
  if (!options.pack_weights) return w;
  Pack(file, &w.output, &w.packed_storage);
  for (LayerWeights& l : w.layers) {
    for (MatrixView* m : {&l.q, &l.k, &l.v, &l.qkv, &l.attn_out, &l.gate, &l.up, &l.down}) {
      Pack(file, m, &w.packed_storage);
    }
  }
  return w;
}

}  // namespace jetserve::model
