// GGUF `bert` files (llama.cpp's convert_hf_to_gguf.py) → native encoder. Matrices are used in
// place from the mapping in any type the quant kernels compute with; vectors are dequantized.
#include <sys/stat.h>

#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/encoder/encoder_loader.h"
#include "engine/model/status_macros.h"
#include "engine/quant/dequantize.h"
#include "engine/quant/quantize.h"
#include "engine/quant/vec_dot.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::encoder {
namespace {

class GgufMapper {
 public:
  explicit GgufMapper(const GgufFile& f) : f_(f) {}

  absl::Status Matrix(const std::string& name, model::MatrixView* out, bool required = true) const {
    const GgufTensorInfo* t = f_.FindTensor(name);
    if (t == nullptr) {
      if (!required) return absl::OkStatus();
      return absl::InvalidArgumentError(
          absl::StrCat("GGUF encoder: tensor '", name, "' is missing"));
    }
    const quant::TypeKernels* k = quant::GetTypeKernels(t->type);
    if (k == nullptr || k->vec_dot == nullptr || k->to_float == nullptr) {
      return absl::UnimplementedError(absl::StrCat("GGUF encoder: tensor '", name, "' has type ",
                                                   Sv(GgmlTypeName(t->type)),
                                                   ", which the engine cannot compute with"));
    }
    if (t->dims.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("GGUF encoder: tensor '", name, "' is not 2-D"));
    }
    out->type = t->type;
    out->cols = t->dims[0];
    out->rows = t->dims[1];
    out->row_bytes = quant::RowBytes(t->type, out->cols);
    if (out->row_bytes == 0 || quant::RowBytes(k->vec_dot_type, out->cols) == 0 ||
        out->row_bytes * static_cast<uint64_t>(out->rows) > t->data.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("GGUF encoder: tensor '", name, "': data size does not match its shape"));
    }
    out->data = t->data.data();
    out->kernels = k;
    return absl::OkStatus();
  }

  absl::Status Vector(const std::string& name, std::vector<float>* out) const {
    const GgufTensorInfo* t = f_.FindTensor(name);
    if (t == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("GGUF encoder: tensor '", name, "' is missing"));
    }
    absl::StatusOr<std::vector<float>> v =
        quant::DequantizeBytes(t->type, t->data, t->num_elements);
    if (!v.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("GGUF encoder: tensor '", name, "': ", v.status().message()));
    }
    *out = std::move(*v);
    return absl::OkStatus();
  }

  bool Has(const std::string& name) const { return f_.FindTensor(name) != nullptr; }

 private:
  const GgufFile& f_;
};

absl::StatusOr<int> IntKey(const GgufFile& f, const std::string& key) {
  absl::StatusOr<int64_t> v = f.GetInt(key);
  if (!v.ok())
    return absl::InvalidArgumentError(absl::StrCat("GGUF encoder: ", v.status().message()));
  if (*v <= 0 || *v > (int64_t{1} << 30)) {
    return absl::InvalidArgumentError(
        absl::StrCat("GGUF encoder: '", key, "' = ", *v, " is out of range"));
  }
  return static_cast<int>(*v);
}

}  // namespace

absl::StatusOr<std::unique_ptr<EncoderModel>> LoadGgufEncoder(const std::string& path,
                                                              const EncoderLoadOptions& options) {
  auto result = std::make_unique<EncoderModel>();
  result->dir = std::filesystem::path(path).parent_path().string();
  if (result->dir.empty()) result->dir = ".";
  JS_ASSIGN_OR_RETURN(result->gguf, GgufFile::Open(path));
  const GgufFile& f = *result->gguf;
  JS_ASSIGN_OR_RETURN(std::string_view arch, f.GetString("general.architecture"));
  if (arch != "bert") {
    return absl::InvalidArgumentError(absl::StrCat(path, ": architecture '", Sv(arch),
                                                   "' is not an encoder this engine runs (bert)"));
  }
  EncoderConfig c;
  EncoderWeights w;
  c.family = Family::kBert;
  JS_ASSIGN_OR_RETURN(c.n_layer, IntKey(f, "bert.block_count"));
  JS_ASSIGN_OR_RETURN(c.n_head, IntKey(f, "bert.attention.head_count"));
  if (options.n_head > 0) c.n_head = options.n_head;
  if (absl::StatusOr<double> eps = f.GetFloat("bert.attention.layer_norm_epsilon"); eps.ok()) {
    c.eps = static_cast<float>(*eps);
  }
  if (absl::StatusOr<int64_t> pt = f.GetInt("bert.pooling_type"); pt.ok()) {
    // llama.cpp's enum llama_pooling_type: 1 mean, 2 cls, 3 last.
    if (*pt == 2) c.pooling = Pooling::kCls;
    if (*pt == 3) c.pooling = Pooling::kLast;
  }
  const GgufMapper g(f);
  JS_RETURN_IF_ERROR(g.Matrix("token_embd.weight", &w.tok_embd));
  JS_RETURN_IF_ERROR(g.Matrix("position_embd.weight", &w.pos_embd));
  JS_RETURN_IF_ERROR(g.Matrix("token_types.weight", &w.type_embd, /*required=*/false));
  JS_RETURN_IF_ERROR(g.Vector("token_embd_norm.weight", &w.emb_ln_w));
  JS_RETURN_IF_ERROR(g.Vector("token_embd_norm.bias", &w.emb_ln_b));
  c.n_vocab = static_cast<int>(w.tok_embd.rows);
  c.n_embd = static_cast<int>(w.tok_embd.cols);
  c.n_pos = static_cast<int>(w.pos_embd.rows);
  c.n_type = w.type_embd.present() ? static_cast<int>(w.type_embd.rows) : 0;
  for (int i = 0; i < c.n_layer; ++i) {
    const std::string p = absl::StrCat("blk.", i, ".");
    auto n = [&](const char* what) { return absl::StrCat(p, what); };
    EncoderLayer l;
    JS_RETURN_IF_ERROR(g.Matrix(n("attn_q.weight"), &l.q));
    JS_RETURN_IF_ERROR(g.Matrix(n("attn_k.weight"), &l.k));
    JS_RETURN_IF_ERROR(g.Matrix(n("attn_v.weight"), &l.v));
    JS_RETURN_IF_ERROR(g.Matrix(n("attn_output.weight"), &l.o));
    JS_RETURN_IF_ERROR(g.Matrix(n("ffn_up.weight"), &l.up));
    JS_RETURN_IF_ERROR(g.Matrix(n("ffn_down.weight"), &l.down));
    JS_RETURN_IF_ERROR(g.Vector(n("attn_q.bias"), &l.q_b));
    JS_RETURN_IF_ERROR(g.Vector(n("attn_k.bias"), &l.k_b));
    JS_RETURN_IF_ERROR(g.Vector(n("attn_v.bias"), &l.v_b));
    JS_RETURN_IF_ERROR(g.Vector(n("attn_output.bias"), &l.o_b));
    JS_RETURN_IF_ERROR(g.Vector(n("attn_output_norm.weight"), &l.ln1_w));
    JS_RETURN_IF_ERROR(g.Vector(n("attn_output_norm.bias"), &l.ln1_b));
    JS_RETURN_IF_ERROR(g.Vector(n("ffn_up.bias"), &l.up_b));
    JS_RETURN_IF_ERROR(g.Vector(n("ffn_down.bias"), &l.down_b));
    JS_RETURN_IF_ERROR(g.Vector(n("layer_output_norm.weight"), &l.ln2_w));
    JS_RETURN_IF_ERROR(g.Vector(n("layer_output_norm.bias"), &l.ln2_b));
    c.n_ff = static_cast<int>(l.up.rows);
    w.layers.push_back(std::move(l));
  }
  // Classification head (llama.cpp: cls = pooler dense, cls.output = classifier).
  if (g.Has("cls.output.weight")) {
    c.head = HeadKind::kTanhDense;
    JS_RETURN_IF_ERROR(g.Matrix("cls.weight", &w.head_dense));
    JS_RETURN_IF_ERROR(g.Vector("cls.bias", &w.head_dense_b));
    JS_RETURN_IF_ERROR(g.Matrix("cls.output.weight", &w.head_out));
    JS_RETURN_IF_ERROR(g.Vector("cls.output.bias", &w.head_out_b));
  } else if (g.Has("cls.weight")) {
    c.head = HeadKind::kLinear;
    JS_RETURN_IF_ERROR(g.Matrix("cls.weight", &w.head_out));
    JS_RETURN_IF_ERROR(g.Vector("cls.bias", &w.head_out_b));
  }
  if (absl::StatusOr<absl::Span<const std::string_view>> labels =
          f.GetStringArray("bert.classifier.output_labels");
      labels.ok()) {
    for (std::string_view l : *labels) c.labels.emplace_back(l);
  }
  JS_ASSIGN_OR_RETURN(result->encoder, Encoder::Create(std::move(c), std::move(w)));
  return result;
}

absl::StatusOr<std::unique_ptr<EncoderModel>> LoadEncoder(const std::string& path,
                                                          const EncoderLoadOptions& options) {
  if (path.size() >= 5 && path.compare(path.size() - 5, 5, ".gguf") == 0) {
    return LoadGgufEncoder(path, options);
  }
  return LoadOnnxEncoder(path, options);
}

}  // namespace jetserve::encoder
