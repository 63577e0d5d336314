#include "engine/encoder/graph_encoder.h"

#include <algorithm>
#include <climits>
#include <optional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/model/status_macros.h"

namespace jetserve::encoder {
namespace {

using TP = onnx::TensorProto;

absl::Status Invalid(const std::string& what) { return absl::InvalidArgumentError(what); }

bool IsIndexType(int32_t t) { return t == TP::INT64 || t == TP::INT32; }

OnnxValue IndexTensor(int32_t dtype, std::vector<int64_t> shape, const std::vector<int64_t>& v) {
  if (dtype == TP::INT64) return OnnxValue::Int64(std::move(shape), v);
  OnnxValue r;
  r.dtype = TP::INT32;
  r.shape = std::move(shape);
  r.storage.resize(v.size() * 4);
  for (size_t i = 0; i < v.size(); ++i) {
    const int32_t x = static_cast<int32_t>(v[i]);
    std::memcpy(r.storage.data() + 4 * i, &x, 4);
  }
  return r;
}

}  // namespace

absl::StatusOr<std::unique_ptr<GraphEncoder>> GraphEncoder::Create(const OnnxModel& model,
                                                                   EncoderConfig* config) {
  std::unique_ptr<GraphEncoder> g(new GraphEncoder());
  JS_ASSIGN_OR_RETURN(g->exec_, OnnxExecutor::Create(model));
  const OnnxExecutor& x = *g->exec_;
  for (size_t i = 0; i < x.inputs().size(); ++i) {
    const OnnxExecutor::ValueInfo& in = x.inputs()[i];
    int* slot = in.name == "input_ids"        ? &g->ids_
                : in.name == "attention_mask" ? &g->mask_
                : in.name == "token_type_ids" ? &g->types_
                : in.name == "position_ids"   ? &g->positions_
                                              : nullptr;
    if (slot == nullptr) {
      return Invalid(absl::StrCat("graph input '", in.name,
                                  "' is none of input_ids, attention_mask, token_type_ids, "
                                  "position_ids"));
    }
    if (!IsIndexType(in.dtype) && !(slot == &g->mask_ && in.dtype == TP::FLOAT)) {
      return Invalid(absl::StrCat("graph input '", in.name, "' has element type ",
                                  OnnxTypeName(in.dtype), ", expected INT64 or INT32"));
    }
    if (in.has_shape && in.dims.size() != 2) {
      return Invalid(absl::StrCat("graph input '", in.name, "' has rank ", in.dims.size(),
                                  ", expected [batch, sequence]"));
    }
    *slot = static_cast<int>(i);
  }
  if (g->ids_ < 0) return Invalid("the graph has no input named input_ids");
  for (size_t i = 0; i < x.outputs().size(); ++i) {
    const OnnxExecutor::ValueInfo& o = x.outputs()[i];
    if (o.name == "last_hidden_state") g->hidden_out_ = static_cast<int>(i);
    if (o.name == "logits") g->logits_out_ = static_cast<int>(i);
  }
  // Vocabulary, token types and positions from the tables the inputs index.
  const std::string& ids_name = x.inputs()[static_cast<size_t>(g->ids_)].name;
  for (const onnx::NodeProto& n : model.graph().node()) {
    if (n.op_type() != "Gather" || n.input_size() < 2) continue;
    const OnnxTensor* table = model.FindInitializer(n.input(0));
    if (table == nullptr || table->rank() != 2) continue;
    if (n.input(1) == ids_name) config->n_vocab = static_cast<int>(table->dims[0]);
    if (g->types_ >= 0 && n.input(1) == x.inputs()[static_cast<size_t>(g->types_)].name) {
      config->n_type = static_cast<int>(table->dims[0]);
    }
  }
  if (config->n_pos == 0) {
    for (const OnnxTensor& t : model.initializers()) {
      if (absl::StrContains(t.name, "position_embeddings") && t.rank() == 2) {
        config->n_pos = static_cast<int>(std::min<int64_t>(t.dims[0], INT_MAX / 2));
      }
    }
  }
  if (config->n_pos == 0) config->n_pos = config->position_offset + (1 << 20);  // no stated limit
  if (config->n_vocab == 0) config->n_vocab = INT_MAX;  // ids are checked by the graph's Gather
  g->config_ = *config;
  // Output roles by rank and the sizes, from the shapes inferred at load; a probe run (one
  // sequence of two tokens) only where inference left one of them unknown.
  std::vector<std::vector<int64_t>> shapes(x.outputs().size());
  std::vector<int32_t> dtypes(x.outputs().size());
  // Batch 1 and sequence 2 as the probe would feed them; the model's sizes are constants.
  const absl::StatusOr<std::vector<int64_t>> probe_symbols =
      x.BindSymbols(std::vector<std::vector<int64_t>>(x.inputs().size(), {1, 2}));
  bool known = probe_symbols.ok() && x.InferenceHolds(*probe_symbols);
  for (size_t i = 0; known && i < shapes.size(); ++i) {
    const OnnxShape& s = x.output_shape(static_cast<int>(i));
    dtypes[i] = x.outputs()[i].dtype;
    known = s.has_rank;
    for (size_t d = 0; known && d < s.dims.size(); ++d) {
      const std::optional<int64_t> v = s.dims[d].Eval(*probe_symbols);
      shapes[i].push_back(v.value_or(-1));
      known = v.has_value();
    }
  }
  if (!known) {
    const int32_t probe_ids[2] = {0, 0};
    const EncoderSequence probe{absl::MakeConstSpan(probe_ids, 2), {}};
    std::vector<OnnxValue> out;
    absl::Status s = g->Run(absl::MakeConstSpan(&probe, 1), nullptr, &out);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat("probe run: ", s.message()));
    for (size_t i = 0; i < out.size(); ++i) {
      shapes[i] = out[i].shape;
      dtypes[i] = out[i].dtype;
    }
  }
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (dtypes[i] != TP::FLOAT) continue;
    if (g->hidden_out_ < 0 && shapes[i].size() == 3 && g->logits_out_ != static_cast<int>(i)) {
      g->hidden_out_ = static_cast<int>(i);
    }
    if (g->logits_out_ < 0 && shapes[i].size() == 2 && g->hidden_out_ != static_cast<int>(i)) {
      g->logits_out_ = static_cast<int>(i);
    }
  }
  if (g->hidden_out_ >= 0) {
    const size_t o = static_cast<size_t>(g->hidden_out_);
    const std::vector<int64_t>& h = shapes[o];
    if (dtypes[o] != TP::FLOAT || h.size() != 3 || h[0] != 1 || h[1] != 2 || h[2] > INT_MAX) {
      return Invalid(absl::StrCat("output '", x.outputs()[o].name,
                                  "' is not [batch, sequence, hidden] floats"));
    }
    config->n_embd = static_cast<int>(h[2]);
  }
  if (g->logits_out_ >= 0) {
    const size_t o = static_cast<size_t>(g->logits_out_);
    const std::vector<int64_t>& l = shapes[o];
    if (dtypes[o] != TP::FLOAT || l.size() != 2 || l[0] != 1 || l[1] > INT_MAX) {
      return Invalid(
          absl::StrCat("output '", x.outputs()[o].name, "' is not [batch, labels] floats"));
    }
    g->num_labels_ = static_cast<int>(l[1]);
    config->head = HeadKind::kLinear;  // a head exists; its form is the graph's
  }
  if (g->hidden_out_ < 0 && g->logits_out_ < 0) {
    return Invalid(
        "the graph has neither a hidden-state output ([batch, sequence, hidden]) "
        "nor a logits output ([batch, labels])");
  }
  g->config_ = *config;
  return g;
}

absl::Status GraphEncoder::Run(absl::Span<const EncoderSequence> batch, ThreadPool* pool,
                               std::vector<OnnxValue>* outputs) const {
  const EncoderConfig& c = config_;
  size_t len = 0;
  for (size_t s = 0; s < batch.size(); ++s) {
    const EncoderSequence& seq = batch[s];
    if (seq.ids.empty()) return Invalid(absl::StrCat("sequence ", s, " has no tokens"));
    if (seq.ids.size() > static_cast<size_t>(c.max_tokens())) {
      return Invalid(absl::StrCat("sequence ", s, " has ", seq.ids.size(),
                                  " tokens, over the model's limit of ", c.max_tokens()));
    }
    if (!seq.type_ids.empty() && seq.type_ids.size() != seq.ids.size()) {
      return Invalid(absl::StrCat("sequence ", s, ": ", seq.type_ids.size(), " type ids for ",
                                  seq.ids.size(), " tokens"));
    }
    for (size_t i = 0; i < seq.ids.size(); ++i) {
      if (seq.ids[i] < 0 || seq.ids[i] >= c.n_vocab) {
        return Invalid(
            absl::StrCat("sequence ", s, ": token id ", seq.ids[i], " is outside the vocabulary"));
      }
      if (!seq.type_ids.empty() &&
          (seq.type_ids[i] < 0 || seq.type_ids[i] >= std::max(1, c.n_type))) {
        return Invalid(
            absl::StrCat("sequence ", s, ": token type ", seq.type_ids[i], " is out of range"));
      }
    }
    len = std::max(len, seq.ids.size());
  }
  const int64_t b = static_cast<int64_t>(batch.size()), t = static_cast<int64_t>(len);
  std::vector<int64_t> ids(static_cast<size_t>(b * t), 0), mask(ids.size(), 0),
      types(ids.size(), 0), pos(ids.size(), 0);
  for (int64_t s = 0; s < b; ++s) {
    const EncoderSequence& seq = batch[static_cast<size_t>(s)];
    for (size_t i = 0; i < seq.ids.size(); ++i) {
      const size_t at = static_cast<size_t>(s * t) + i;
      ids[at] = seq.ids[i];
      mask[at] = 1;
      if (!seq.type_ids.empty()) types[at] = seq.type_ids[i];
    }
    for (int64_t i = 0; i < t; ++i) pos[static_cast<size_t>(s * t + i)] = i + c.position_offset;
  }
  const std::vector<OnnxExecutor::ValueInfo>& info = exec_->inputs();
  std::vector<OnnxValue> in(info.size());
  auto feed = [&](int slot, const std::vector<int64_t>& v) {
    if (slot < 0) return;
    const int32_t dt = info[static_cast<size_t>(slot)].dtype;
    if (dt == TP::FLOAT) {
      std::vector<float> f(v.begin(), v.end());
      in[static_cast<size_t>(slot)] = OnnxValue::Float({b, t}, f);
    } else {
      in[static_cast<size_t>(slot)] = IndexTensor(dt, {b, t}, v);
    }
  };
  feed(ids_, ids);
  feed(mask_, mask);
  feed(types_, types);
  feed(positions_, pos);
  return exec_->Run(std::move(in), outputs, pool);
}

std::vector<std::vector<size_t>> GraphEncoder::Groups(
    absl::Span<const EncoderSequence> batch) const {
  // Sequences sorted by length and cut into runs of similar length, so padding stays small;
  // without an attention-mask input padding would change the result, so lengths must match.
  std::vector<size_t> order(batch.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return batch[a].ids.size() < batch[b].ids.size(); });
  std::vector<std::vector<size_t>> groups;
  size_t first_len = 0;
  for (size_t i : order) {
    const size_t len = batch[i].ids.size();
    const bool fits = !groups.empty() && groups.back().size() < 64 &&
                      (mask_ < 0 ? len == first_len : len <= first_len + first_len / 4 + 4);
    if (!fits) {
      groups.emplace_back();
      first_len = len;
    }
    groups.back().push_back(i);
  }
  return groups;
}

absl::Status GraphEncoder::Forward(absl::Span<const EncoderSequence> batch, ThreadPool* pool,
                                   EncoderWorkspace* ws) const {
  if (hidden_out_ < 0) {
    return absl::FailedPreconditionError("this ONNX graph outputs no hidden states");
  }
  const int64_t d = config_.n_embd;
  ws->row_start.assign(1, 0);
  for (const EncoderSequence& s : batch) {
    ws->row_start.push_back(ws->row_start.back() + static_cast<int64_t>(s.ids.size()));
  }
  if (ws->hidden.size() < static_cast<size_t>(ws->row_start.back() * d)) {
    ws->hidden.resize(static_cast<size_t>(ws->row_start.back() * d));
  }
  std::vector<EncoderSequence> part;
  std::vector<OnnxValue> out;
  for (const std::vector<size_t>& group : Groups(batch)) {
    part.clear();
    int64_t t = 0;
    for (size_t i : group) {
      part.push_back(batch[i]);
      t = std::max<int64_t>(t, static_cast<int64_t>(batch[i].ids.size()));
    }
    JS_RETURN_IF_ERROR(Run(part, pool, &out));
    const OnnxValue& h = out[static_cast<size_t>(hidden_out_)];
    if (h.dtype != TP::FLOAT || h.rank() != 3 || h.shape[0] != static_cast<int64_t>(part.size()) ||
        h.shape[1] != t || h.shape[2] != d) {
      return absl::InternalError("the graph's hidden-state output has an unexpected shape");
    }
    const float* src = h.data<float>();
    for (size_t k = 0; k < group.size(); ++k) {
      const size_t i = group[k];
      std::copy_n(src + static_cast<int64_t>(k) * t * d,
                  static_cast<int64_t>(batch[i].ids.size()) * d,
                  ws->hidden.data() + ws->row_start[i] * d);
    }
  }
  return absl::OkStatus();
}

absl::Status GraphEncoder::Classify(absl::Span<const EncoderSequence> batch, ThreadPool* pool,
                                    std::vector<float>* out) const {
  if (logits_out_ < 0) return absl::FailedPreconditionError("this ONNX graph outputs no logits");
  const size_t n = static_cast<size_t>(num_labels_);
  out->assign(batch.size() * n, 0.0f);
  std::vector<EncoderSequence> part;
  std::vector<OnnxValue> o;
  for (const std::vector<size_t>& group : Groups(batch)) {
    part.clear();
    for (size_t i : group) part.push_back(batch[i]);
    JS_RETURN_IF_ERROR(Run(part, pool, &o));
    const OnnxValue& l = o[static_cast<size_t>(logits_out_)];
    if (l.dtype != TP::FLOAT || l.rank() != 2 || l.shape[0] != static_cast<int64_t>(part.size()) ||
        l.shape[1] != num_labels_) {
      return absl::InternalError("the graph's logits output has an unexpected shape");
    }
    for (size_t k = 0; k < group.size(); ++k) {
      std::copy_n(l.data<float>() + k * n, n, out->data() + group[k] * n);
    }
  }
  return absl::OkStatus();
}

}  // namespace jetserve::encoder
