// ONNX graph → native encoder: recognition by parameter names and graph edges (see
// encoder_loader.h), constant folding of weight-only subgraphs, weight mapping.
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/encoder/encoder_loader.h"
#include "engine/encoder/graph_encoder.h"
#include "engine/encoder/hf_config.h"
#include "engine/model/status_macros.h"
#include "engine/util/checked_math.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::encoder {
namespace {

// Largest constant the loader folds (256 Mi floats: well above any encoder weight).
constexpr int64_t kMaxFoldElements = int64_t{1} << 28;

// A folded constant: float elements, row-major.
struct Const {
  std::vector<int64_t> dims;
  std::vector<float> data;
  const OnnxTensor* source = nullptr;  // set when it is a plain FLOAT initializer (zero-copy)
};

class GraphMapper {
 public:
  explicit GraphMapper(const OnnxModel& m) : m_(m) {}

  // The value `name` as a constant: an initializer, a Constant node, or Cast / Mul / Div /
  // DequantizeLinear / Transpose / Identity of constants.
  absl::StatusOr<Const> Fold(const std::string& name, int depth = 0) const {
    if (depth > 8) return Err(name, "is computed by too deep a chain of nodes");
    if (const OnnxTensor* t = m_.FindInitializer(name)) return FromTensor(*t);
    const int p = m_.Producer(name);
    if (p < 0) return Err(name, "is not a constant");
    const onnx::NodeProto& n = m_.graph().node(p);
    const std::string& op = n.op_type();
    if (op == "Constant") {
      for (const onnx::AttributeProto& a : n.attribute()) {
        if (a.name() == "value" && a.has_t()) {
          // Resolved through a scratch model-less path: only inline data is accepted here.
          OnnxTensor t;
          t.name = name;
          t.data_type = a.t().data_type();
          int64_t count = 1;
          for (int64_t d : a.t().dims()) {
            if (d < 0 || !CheckedMulSigned(count, d, &count) || count > kMaxFoldElements) {
              return Err(name, "has a bad or too large shape");
            }
            t.dims.push_back(d);
          }
          t.num_elements = count;
          const int es = OnnxElementSize(t.data_type);
          if (!a.t().has_raw_data() || es == 0 ||
              a.t().raw_data().size() != static_cast<size_t>(count) * es) {
            return Err(name, "is a Constant without matching raw data");
          }
          t.bytes = {reinterpret_cast<const uint8_t*>(a.t().raw_data().data()),
                     a.t().raw_data().size()};
          JS_ASSIGN_OR_RETURN(Const c, FromTensor(t));
          c.source = nullptr;
          return c;
        }
      }
      return Err(name, "is a Constant without a tensor value");
    }
    if ((op == "Cast" || op == "Identity") && n.input_size() >= 1) {
      JS_ASSIGN_OR_RETURN(Const c, Fold(n.input(0), depth + 1));
      c.source = op == "Identity" ? c.source : nullptr;
      return c;
    }
    if ((op == "Mul" || op == "Div") && n.input_size() == 2) {
      JS_ASSIGN_OR_RETURN(Const a, Fold(n.input(0), depth + 1));
      JS_ASSIGN_OR_RETURN(Const b, Fold(n.input(1), depth + 1));
      return Broadcast(a, b, op == "Div", name);
    }
    if (op == "DequantizeLinear" && n.input_size() >= 2) {
      JS_ASSIGN_OR_RETURN(Const x, Fold(n.input(0), depth + 1));
      JS_ASSIGN_OR_RETURN(Const s, Fold(n.input(1), depth + 1));
      if (n.input_size() >= 3 && !n.input(2).empty()) {
        JS_ASSIGN_OR_RETURN(Const z, Fold(n.input(2), depth + 1));
        for (float& v : z.data) v = -v;
        JS_ASSIGN_OR_RETURN(x, Broadcast(x, z, false, name, /*add=*/true));
      }
      if (s.data.size() != 1) {
        return Err(name, "is a per-axis DequantizeLinear, which the encoder cannot fold");
      }
      return Broadcast(x, s, false, name);
    }
    if (op == "Transpose" && n.input_size() == 1) {
      JS_ASSIGN_OR_RETURN(Const x, Fold(n.input(0), depth + 1));
      if (x.dims.size() != 2) return Err(name, "transposes a tensor that is not 2-D");
      Const t;
      t.dims = {x.dims[1], x.dims[0]};
      t.data.resize(x.data.size());
      for (int64_t r = 0; r < x.dims[0]; ++r) {
        for (int64_t c = 0; c < x.dims[1]; ++c)
          t.data[c * x.dims[0] + r] = x.data[r * x.dims[1] + c];
      }
      return t;
    }
    return Err(name, absl::StrCat("is computed by ", m_.NodeLabel(p),
                                  ", which the encoder cannot fold into a weight"));
  }

  // The Linear layer whose bias is `bias`: weight as [out, in] rows, and the bias.
  absl::Status Linear(const std::string& bias, std::deque<std::vector<float>>* owned,
                      model::MatrixView* w, std::vector<float>* b) const {
    JS_ASSIGN_OR_RETURN(Const bc, Fold(bias));
    *b = std::move(bc.data);
    for (int user : m_.Consumers(bias)) {
      const onnx::NodeProto& n = m_.graph().node(user);
      if (n.op_type() == "Gemm" && n.input_size() == 3 && n.input(2) == bias) {
        bool trans_b = false;
        for (const onnx::AttributeProto& a : n.attribute()) {
          if (a.name() == "transB") trans_b = a.i() != 0;
          if ((a.name() == "alpha" || a.name() == "beta") && a.f() != 1.0f) {
            return Err(bias, "is used by a Gemm with alpha/beta other than 1");
          }
        }
        JS_ASSIGN_OR_RETURN(Const wc, Fold(n.input(1)));
        return Store(std::move(wc), /*out_in=*/trans_b, b->size(), bias, owned, w);
      }
      if (n.op_type() != "Add" || n.input_size() != 2) continue;
      const std::string& other = n.input(0) == bias ? n.input(1) : n.input(0);
      const int p = m_.Producer(other);
      if (p < 0 || m_.graph().node(p).op_type() != "MatMul") continue;
      const onnx::NodeProto& mm = m_.graph().node(p);
      absl::StatusOr<Const> wc = Fold(mm.input(1));
      if (!wc.ok()) wc = Fold(mm.input(0));
      if (!wc.ok()) return wc.status();
      return Store(std::move(*wc), /*out_in=*/false, b->size(), bias, owned, w);
    }
    return Err(bias, "is not added to the output of a MatMul or Gemm");
  }

  // The LayerNormalization epsilon of the node reading `weight`, if there is one.
  std::optional<float> NormEps(const std::string& weight) const {
    for (int user : m_.Consumers(weight)) {
      const onnx::NodeProto& n = m_.graph().node(user);
      if (n.op_type() != "LayerNormalization") continue;
      for (const onnx::AttributeProto& a : n.attribute()) {
        if (a.name() == "epsilon") return a.f();
      }
      return 1e-5f;
    }
    return std::nullopt;
  }

  // Whether `name` is an initializer or a node output.
  bool Has(const std::string& name) const {
    return m_.FindInitializer(name) != nullptr || m_.Producer(name) >= 0;
  }

  // Integer constants of rank <= 1 anywhere in the graph (reshape targets and the like).
  std::vector<std::vector<int64_t>> SmallInts() const {
    std::vector<std::vector<int64_t>> out;
    for (const OnnxTensor& t : m_.initializers()) {
      if (t.rank() > 1 || t.num_elements > 8) continue;
      absl::StatusOr<std::vector<int64_t>> v = ToInts(t);
      if (v.ok()) out.push_back(std::move(*v));
    }
    for (const onnx::NodeProto& n : m_.graph().node()) {
      if (n.op_type() != "Constant" || n.output_size() != 1) continue;
      // Integer Constants only: a float one (e.g. an attention mask's -FLT_MAX) has no
      // int64 value, and converting it would be undefined.
      bool integer = false;
      for (const onnx::AttributeProto& a : n.attribute()) {
        if (a.name() != "value" || !a.has_t()) continue;
        const int32_t dt = a.t().data_type();
        integer = dt == onnx::TensorProto::INT64 || dt == onnx::TensorProto::INT32 ||
                  dt == onnx::TensorProto::INT16 || dt == onnx::TensorProto::INT8 ||
                  dt == onnx::TensorProto::UINT8 || dt == onnx::TensorProto::UINT16;
      }
      if (!integer) continue;
      absl::StatusOr<Const> c = Fold(n.output(0));
      if (!c.ok() || c->dims.size() > 1 || c->data.size() > 8) continue;
      std::vector<int64_t> v;
      for (const float x : c->data) {
        if (!(std::fabs(x) < 9.0e15f)) break;  // held exactly in a double; int64 surely
        v.push_back(static_cast<int64_t>(x));
      }
      if (v.size() == c->data.size()) out.push_back(std::move(v));
    }
    return out;
  }

  // Names of all initializers and node outputs ending in `suffix`.
  std::vector<std::string> EndingIn(std::string_view suffix) const {
    std::vector<std::string> out;
    for (const OnnxTensor& t : m_.initializers()) {
      if (absl::EndsWith(t.name, Sv(suffix))) out.push_back(t.name);
    }
    for (const onnx::NodeProto& n : m_.graph().node()) {
      for (const std::string& o : n.output()) {
        if (absl::EndsWith(o, Sv(suffix))) out.push_back(o);
      }
    }
    return out;
  }

  // A matrix stored as the model has it ([rows, cols], e.g. embedding tables), in place
  // when it is an aligned FLOAT initializer.
  absl::Status Table(const std::string& name, std::deque<std::vector<float>>* owned,
                     model::MatrixView* out) const {
    JS_ASSIGN_OR_RETURN(Const c, Fold(name));
    if (c.dims.size() != 2) return Err(name, "is not a matrix");
    if (c.source != nullptr && c.source->data_type == onnx::TensorProto::FLOAT &&
        reinterpret_cast<uintptr_t>(c.source->bytes.data()) % alignof(float) == 0) {
      *out =
          F32Matrix(reinterpret_cast<const float*>(c.source->bytes.data()), c.dims[0], c.dims[1]);
      return absl::OkStatus();
    }
    owned->push_back(std::move(c.data));
    *out = F32Matrix(owned->back().data(), c.dims[0], c.dims[1]);
    return absl::OkStatus();
  }

  absl::Status Vec(const std::string& name, std::vector<float>* out) const {
    JS_ASSIGN_OR_RETURN(Const c, Fold(name));
    *out = std::move(c.data);
    return absl::OkStatus();
  }

 private:
  static absl::Status Err(std::string_view name, std::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("ONNX encoder: '", Sv(name), "' ", Sv(what)));
  }

  absl::StatusOr<Const> FromTensor(const OnnxTensor& t) const {
    Const c;
    c.dims = t.dims;
    if (t.data_type == onnx::TensorProto::FLOAT || t.data_type == onnx::TensorProto::FLOAT16 ||
        t.data_type == onnx::TensorProto::BFLOAT16 || t.data_type == onnx::TensorProto::DOUBLE) {
      JS_ASSIGN_OR_RETURN(c.data, ToFloats(t));
      if (t.data_type == onnx::TensorProto::FLOAT) c.source = &t;
      return c;
    }
    JS_ASSIGN_OR_RETURN(std::vector<int64_t> ints, ToInts(t));
    c.data.assign(ints.begin(), ints.end());
    return c;
  }

  // Elementwise a*b (or a/b, a+b) with numpy broadcasting over ranks <= 4.
  static absl::StatusOr<Const> Broadcast(const Const& a, const Const& b, bool divide,
                                         std::string_view name, bool add = false) {
    const size_t rank = std::max(a.dims.size(), b.dims.size());
    if (rank > 4) return Err(name, "broadcasts tensors of rank over 4");
    std::vector<int64_t> ad(rank, 1), bd(rank, 1), od(rank, 1);
    std::copy(a.dims.begin(), a.dims.end(), ad.begin() + (rank - a.dims.size()));
    std::copy(b.dims.begin(), b.dims.end(), bd.begin() + (rank - b.dims.size()));
    int64_t count = 1;
    for (size_t i = 0; i < rank; ++i) {
      if (ad[i] != bd[i] && ad[i] != 1 && bd[i] != 1) return Err(name, "has incompatible shapes");
      od[i] = std::max(ad[i], bd[i]);
      if (!CheckedMulSigned(count, od[i], &count) || count > kMaxFoldElements) {
        return Err(name, "folds into a tensor that is too large");
      }
    }
    Const out;
    out.dims = od;
    out.data.resize(static_cast<size_t>(count));
    std::vector<int64_t> idx(rank, 0);
    for (int64_t flat = 0; flat < count; ++flat) {
      int64_t ai = 0, bi = 0;
      for (size_t i = 0; i < rank; ++i) {
        ai = ai * ad[i] + (ad[i] == 1 ? 0 : idx[i]);
        bi = bi * bd[i] + (bd[i] == 1 ? 0 : idx[i]);
      }
      const float x = a.data[ai], y = b.data[bi];
      out.data[flat] = add ? x + y : divide ? x / y : x * y;
      for (size_t i = rank; i-- > 0;) {
        if (++idx[i] < od[i]) break;
        idx[i] = 0;
      }
    }
    return out;
  }

  // Stores a weight as [out, in] rows: ONNX MatMul weights are [in, out] (out_in false).
  static absl::Status Store(Const c, bool out_in, size_t n_out, std::string_view bias,
                            std::deque<std::vector<float>>* owned, model::MatrixView* w) {
    if (c.dims.size() != 2) return Err(bias, "belongs to a weight that is not a matrix");
    const int64_t rows = out_in ? c.dims[0] : c.dims[1];
    const int64_t cols = out_in ? c.dims[1] : c.dims[0];
    if (rows != static_cast<int64_t>(n_out)) {
      return Err(bias, absl::StrCat("has ", n_out, " elements, its weight has ", rows, " outputs"));
    }
    if (out_in) {
      owned->push_back(std::move(c.data));
    } else {
      std::vector<float> t(c.data.size());
      for (int64_t k = 0; k < cols; ++k) {
        for (int64_t n = 0; n < rows; ++n) t[n * cols + k] = c.data[k * rows + n];
      }
      owned->push_back(std::move(t));
    }
    *w = F32Matrix(owned->back().data(), rows, cols);
    return absl::OkStatus();
  }

  const OnnxModel& m_;
};

struct Names {
  Family family;
  std::string layer;  // printf-like: layer prefix with {} for the index
  std::string q, k, v, o, ln1, up, down, ln2;
};

const Names kBertNames = {Family::kBert,
                          "encoder.layer.{}.",
                          "attention.self.query.bias",
                          "attention.self.key.bias",
                          "attention.self.value.bias",
                          "attention.output.dense.bias",
                          "attention.output.LayerNorm.",
                          "intermediate.dense.bias",
                          "output.dense.bias",
                          "output.LayerNorm."};
const Names kDistilNames = {Family::kDistilBert,    "transformer.layer.{}.",
                            "attention.q_lin.bias", "attention.k_lin.bias",
                            "attention.v_lin.bias", "attention.out_lin.bias",
                            "sa_layer_norm.",       "ffn.lin1.bias",
                            "ffn.lin2.bias",        "output_layer_norm."};

std::string LayerPrefix(const std::string& prefix, const Names& n, int i) {
  std::string l = n.layer;
  l.replace(l.find("{}"), 2, std::to_string(i));
  return prefix + l;
}

// Heads from the attention's reshape targets: a shape constant [.., .., heads, head_dim] or
// [.., .., -1, head_dim], else separate scalars head_dim and heads (torch's Concat of
// Unsqueezes), else a lone head_dim. 0 when nothing fits.
int InferHeads(const std::vector<std::vector<int64_t>>& ints, int n_embd) {
  for (const std::vector<int64_t>& v : ints) {
    if (v.size() != 4 || v[3] <= 1 || n_embd % v[3] != 0) continue;
    if (v[2] > 1 && v[2] * v[3] == n_embd) return static_cast<int>(v[2]);
    if (v[2] == -1 && v[3] < n_embd) return static_cast<int>(n_embd / v[3]);
  }
  auto has = [&](int64_t x) {
    for (const std::vector<int64_t>& v : ints) {
      if (v.size() == 1 && v[0] == x) return true;
    }
    return false;
  };
  static constexpr int kHeadDims[] = {64, 32, 128, 80, 96, 16};
  for (int hd : kHeadDims) {
    if (hd < n_embd && n_embd % hd == 0 && has(hd) && has(n_embd / hd)) return n_embd / hd;
  }
  for (int hd : kHeadDims) {
    if (hd < n_embd && n_embd % hd == 0 && has(hd)) return n_embd / hd;
  }
  return 0;
}

// The native encoder from a recognized graph; InvalidArgument when it is not recognized.
absl::Status LoadNative(const std::string& file, const HfConfig& hf,
                        const EncoderLoadOptions& options, EncoderModel* result) {
  const GraphMapper g(*result->onnx);
  auto fail = [&](std::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": not recognized as a BERT-family encoder: ", Sv(what)));
  };

  // The embedding table fixes the parameter-name prefix ("bert.", "model.0.auto_model.", …).
  std::vector<std::string> word = g.EndingIn("embeddings.word_embeddings.weight");
  if (word.size() != 1) {
    return fail(absl::StrCat(word.size(), " tensors named *embeddings.word_embeddings.weight"));
  }
  const std::string prefix =
      word[0].substr(0, word[0].size() - std::string("embeddings.word_embeddings.weight").size());
  const Names* names = nullptr;
  for (const Names* n : {&kBertNames, &kDistilNames}) {
    if (g.Has(LayerPrefix(prefix, *n, 0) + n->q)) names = n;
  }
  if (names == nullptr) return fail(absl::StrCat("no layer 0 under '", prefix, "'"));

  EncoderConfig c;
  EncoderWeights w;
  c.family = names->family;
  if (hf.model_type == "roberta" || hf.model_type == "xlm-roberta" ||
      hf.model_type == "camembert" || absl::StrContains(prefix, "roberta")) {
    c.family = Family::kRoberta;
    c.position_offset = hf.pad_token_id.value_or(1) + 1;
  }
  const std::string emb = prefix + "embeddings.";
  JS_RETURN_IF_ERROR(g.Table(word[0], &w.owned, &w.tok_embd));
  JS_RETURN_IF_ERROR(
      g.Table(absl::StrCat(emb, "position_embeddings.weight"), &w.owned, &w.pos_embd));
  if (g.Has(absl::StrCat(emb, "token_type_embeddings.weight"))) {
    JS_RETURN_IF_ERROR(
        g.Table(absl::StrCat(emb, "token_type_embeddings.weight"), &w.owned, &w.type_embd));
    c.n_type = static_cast<int>(w.type_embd.rows);
  }
  JS_RETURN_IF_ERROR(g.Vec(absl::StrCat(emb, "LayerNorm.weight"), &w.emb_ln_w));
  JS_RETURN_IF_ERROR(g.Vec(absl::StrCat(emb, "LayerNorm.bias"), &w.emb_ln_b));
  c.eps =
      hf.layer_norm_eps.value_or(g.NormEps(absl::StrCat(emb, "LayerNorm.weight")).value_or(1e-12f));
  c.n_vocab = static_cast<int>(w.tok_embd.rows);
  c.n_embd = static_cast<int>(w.tok_embd.cols);
  c.n_pos = static_cast<int>(w.pos_embd.rows);

  for (int i = 0;; ++i) {
    const std::string lp = LayerPrefix(prefix, *names, i);
    if (!g.Has(lp + names->q)) break;
    if (i >= 1000) return fail("more than 1000 layers");
    EncoderLayer l;
    JS_RETURN_IF_ERROR(g.Linear(lp + names->q, &w.owned, &l.q, &l.q_b));
    JS_RETURN_IF_ERROR(g.Linear(lp + names->k, &w.owned, &l.k, &l.k_b));
    JS_RETURN_IF_ERROR(g.Linear(lp + names->v, &w.owned, &l.v, &l.v_b));
    JS_RETURN_IF_ERROR(g.Linear(lp + names->o, &w.owned, &l.o, &l.o_b));
    JS_RETURN_IF_ERROR(g.Vec(lp + absl::StrCat(names->ln1, "weight"), &l.ln1_w));
    JS_RETURN_IF_ERROR(g.Vec(lp + absl::StrCat(names->ln1, "bias"), &l.ln1_b));
    JS_RETURN_IF_ERROR(g.Linear(lp + names->up, &w.owned, &l.up, &l.up_b));
    JS_RETURN_IF_ERROR(g.Linear(lp + names->down, &w.owned, &l.down, &l.down_b));
    JS_RETURN_IF_ERROR(g.Vec(lp + absl::StrCat(names->ln2, "weight"), &l.ln2_w));
    JS_RETURN_IF_ERROR(g.Vec(lp + absl::StrCat(names->ln2, "bias"), &l.ln2_b));
    c.n_ff = static_cast<int>(l.up.rows);
    w.layers.push_back(std::move(l));
  }
  c.n_layer = static_cast<int>(w.layers.size());

  // Heads: config.json, the caller, or the head size among the graph's reshape constants.
  c.n_head = options.n_head > 0 ? options.n_head : hf.n_head.value_or(0);
  if (c.n_head == 0) c.n_head = InferHeads(g.SmallInts(), c.n_embd);
  if (c.n_head == 0) return fail("cannot tell the number of attention heads; add config.json");

  // Classification heads.
  auto find = [&](const std::string& suffix) -> std::string {
    std::vector<std::string> v;
    for (const std::string& name : g.EndingIn(suffix)) {
      if (name.size() == suffix.size() || name[name.size() - suffix.size() - 1] == '.') {
        v.push_back(name);
      }
    }
    return v.size() == 1 ? v[0] : std::string();
  };
  const std::string out_proj = find("classifier.out_proj.bias");
  const std::string classifier = find("classifier.bias");
  if (!out_proj.empty()) {  // RoBERTa
    c.head = HeadKind::kTanhDense;
    JS_RETURN_IF_ERROR(
        g.Linear(find("classifier.dense.bias"), &w.owned, &w.head_dense, &w.head_dense_b));
    JS_RETURN_IF_ERROR(g.Linear(out_proj, &w.owned, &w.head_out, &w.head_out_b));
  } else if (!classifier.empty()) {
    c.head = HeadKind::kLinear;
    if (const std::string pre = find("pre_classifier.bias"); !pre.empty()) {
      c.head = HeadKind::kReluDense;
      JS_RETURN_IF_ERROR(g.Linear(pre, &w.owned, &w.head_dense, &w.head_dense_b));
    } else if (const std::string pooler = find("pooler.dense.bias"); !pooler.empty()) {
      c.head = HeadKind::kTanhDense;
      JS_RETURN_IF_ERROR(g.Linear(pooler, &w.owned, &w.head_dense, &w.head_dense_b));
    }
    JS_RETURN_IF_ERROR(g.Linear(classifier, &w.owned, &w.head_out, &w.head_out_b));
  }
  c.labels = hf.labels;
  c.multi_label = hf.multi_label;
  c.pooling = hf.pooling.value_or(Pooling::kMean);
  c.normalize = hf.normalize.value_or(true);
  JS_ASSIGN_OR_RETURN(result->encoder, Encoder::Create(std::move(c), std::move(w)));
  return absl::OkStatus();
}

// The generic executor on the graph, with config.json's labels, pooling and limits.
absl::Status LoadGraph(const HfConfig& hf, EncoderModel* result) {
  EncoderConfig c;
  c.family = hf.model_type == "distilbert" ? Family::kDistilBert : Family::kBert;
  if (hf.model_type == "roberta" || hf.model_type == "xlm-roberta" ||
      hf.model_type == "camembert") {
    c.family = Family::kRoberta;
    c.position_offset = hf.pad_token_id.value_or(1) + 1;
  }
  c.n_pos = hf.max_position_embeddings.value_or(0);
  c.n_head = hf.n_head.value_or(0);
  c.labels = hf.labels;
  c.multi_label = hf.multi_label;
  c.pooling = hf.pooling.value_or(Pooling::kMean);
  c.normalize = hf.normalize.value_or(true);
  JS_ASSIGN_OR_RETURN(std::unique_ptr<GraphEncoder> g, GraphEncoder::Create(*result->onnx, &c));
  if (c.n_pos <= c.position_offset) {
    return absl::InvalidArgumentError(absl::StrCat("max_position_embeddings ", c.n_pos,
                                                   " leaves no room after the position offset ",
                                                   c.position_offset));
  }
  if (!c.labels.empty() && static_cast<int>(c.labels.size()) != g->num_labels()) {
    c.labels.clear();  // config.json disagrees with the graph: numbered labels
  }
  result->encoder = Encoder::FromGraph(std::move(c), std::move(g));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<EncoderModel>> LoadOnnxEncoder(const std::string& path,
                                                              const EncoderLoadOptions& options) {
  auto result = std::make_unique<EncoderModel>();
  std::string file = path;
  struct stat st;
  if (stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) file = path + "/model.onnx";
  result->dir = std::filesystem::path(file).parent_path().string();
  if (result->dir.empty()) result->dir = ".";
  JS_ASSIGN_OR_RETURN(result->onnx, OnnxModel::Load(file, options.onnx));
  JS_ASSIGN_OR_RETURN(HfConfig hf, ReadHfConfig(result->dir));
  absl::Status native = absl::OkStatus();
  if (options.onnx_path != OnnxPath::kExecutor) {
    native = LoadNative(file, hf, options, result.get());
    if (native.ok()) return result;
    if (options.onnx_path == OnnxPath::kNative ||
        native.code() != absl::StatusCode::kInvalidArgument) {
      return native;
    }
  }
  absl::Status graph = LoadGraph(hf, result.get());
  if (graph.ok()) return result;
  if (options.onnx_path == OnnxPath::kExecutor) {
    return absl::Status(graph.code(), absl::StrCat(file, ": ", graph.message()));
  }
  return absl::Status(
      graph.code(), absl::StrCat(native.message(),
                                 "; the generic ONNX executor refused it too: ", graph.message()));
}

}  // namespace jetserve::encoder
