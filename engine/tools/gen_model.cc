// GenerateModel: a randomly initialised model of a real architecture's tensor layout.
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "engine/format/gguf_reader.h"
#include "engine/format/gguf_writer.h"
#include "engine/quant/quantize.h"
#include "engine/quant/quantize_mix.h"
#include "engine/tools/model_tools.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::tools {
namespace {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> dims;  // ne[0] first
  bool is_norm;
};

std::vector<TensorSpec> LlamaTensors(const GenModelOptions& o, int64_t n_vocab) {
  const int64_t head_dim = o.n_embd / o.n_head;
  const int64_t n_embd_kv = head_dim * o.n_head_kv;
  std::vector<TensorSpec> t;
  t.push_back({"token_embd.weight", {o.n_embd, n_vocab}, false});
  for (int i = 0; i < o.n_layer; ++i) {
    const std::string p = absl::StrCat("blk.", i, ".");
    t.push_back({p + "attn_norm.weight", {o.n_embd}, true});
    t.push_back({p + "attn_q.weight", {o.n_embd, o.n_embd}, false});
    t.push_back({p + "attn_k.weight", {o.n_embd, n_embd_kv}, false});
    t.push_back({p + "attn_v.weight", {o.n_embd, n_embd_kv}, false});
    t.push_back({p + "attn_output.weight", {o.n_embd, o.n_embd}, false});
    t.push_back({p + "ffn_norm.weight", {o.n_embd}, true});
    t.push_back({p + "ffn_gate.weight", {o.n_embd, o.n_ff}, false});
    t.push_back({p + "ffn_down.weight", {o.n_ff, o.n_embd}, false});
    t.push_back({p + "ffn_up.weight", {o.n_embd, o.n_ff}, false});
  }
  t.push_back({"output_norm.weight", {o.n_embd}, true});
  if (!o.tie_embeddings) t.push_back({"output.weight", {o.n_embd, n_vocab}, false});
  return t;
}

absl::Status Invalid(absl::string_view what) { return absl::InvalidArgumentError(what); }

}  // namespace

absl::Status GenerateModel(const GenModelOptions& options) {
  GenModelOptions o = options;
  if (o.n_head_kv == 0) o.n_head_kv = o.n_head;
  if (o.arch != "llama") {
    return Invalid(absl::StrCat("gen-model: architecture '", o.arch, "' is not supported (llama)"));
  }
  if (o.n_layer < 1 || o.n_embd < 1 || o.n_ff < 1 || o.n_head < 1 || o.n_head_kv < 1 ||
      o.n_embd % o.n_head != 0 || o.n_head % o.n_head_kv != 0 || o.n_ctx < 1) {
    return Invalid(absl::StrCat("gen-model: inconsistent shape (n_layer ", o.n_layer, ", n_embd ",
                                o.n_embd, ", n_ff ", o.n_ff, ", n_head ", o.n_head, ", n_head_kv ",
                                o.n_head_kv, ")"));
  }
  absl::StatusOr<quant::QuantMix> mix = quant::ParseQuantMix(o.type);
  if (!mix.ok()) return mix.status();

  GgufWriter w;
  w.SetString("general.architecture", o.arch);
  w.SetString("general.name", absl::StrCat("jetserve random ", o.arch, " seed ", o.seed));
  w.SetUint32("general.quantization_version", 2);
  w.SetUint32("general.file_type", mix->file_type);
  w.SetUint32("llama.context_length", static_cast<uint32_t>(o.n_ctx));
  w.SetUint32("llama.embedding_length", static_cast<uint32_t>(o.n_embd));
  w.SetUint32("llama.block_count", static_cast<uint32_t>(o.n_layer));
  w.SetUint32("llama.feed_forward_length", static_cast<uint32_t>(o.n_ff));
  w.SetUint32("llama.attention.head_count", static_cast<uint32_t>(o.n_head));
  w.SetUint32("llama.attention.head_count_kv", static_cast<uint32_t>(o.n_head_kv));
  w.SetUint32("llama.rope.dimension_count", static_cast<uint32_t>(o.n_embd / o.n_head));
  w.SetFloat32("llama.rope.freq_base", o.rope_freq_base);
  w.SetFloat32("llama.attention.layer_norm_rms_epsilon", o.rms_eps);

  int64_t n_vocab = o.n_vocab;
  std::unique_ptr<GgufFile> vocab;  // kept alive: its values are copied on Set
  if (!o.vocab_from.empty()) {
    absl::StatusOr<std::unique_ptr<GgufFile>> v = GgufFile::Open(o.vocab_from);
    if (!v.ok()) return v.status();
    vocab = std::move(*v);
    absl::StatusOr<absl::Span<const std::string_view>> tokens =
        vocab->GetStringArray("tokenizer.ggml.tokens");
    if (!tokens.ok()) return tokens.status();
    n_vocab = static_cast<int64_t>(tokens->size());
    for (const GgufKeyValue& kv : vocab->metadata()) {
      if (absl::StartsWith(Sv(kv.key), "tokenizer.")) w.SetValue(kv.key, kv.value);
    }
  } else {
    // A minimal byte-free vocabulary so the file is complete: "<unk>", "<s>", "</s>", then
    // "t3", "t4", ...
    std::vector<std::string> tokens(static_cast<size_t>(n_vocab));
    std::vector<float> scores(tokens.size());
    std::vector<int32_t> types(tokens.size(), 1);
    for (int64_t i = 0; i < n_vocab; ++i) {
      tokens[i] = i == 0 ? "<unk>" : i == 1 ? "<s>" : i == 2 ? "</s>" : absl::StrCat("t", i);
      scores[i] = -static_cast<float>(i);
    }
    if (n_vocab > 0) types[0] = 2;
    for (int i = 1; i < 3 && i < n_vocab; ++i) types[i] = 3;
    w.SetString("tokenizer.ggml.model", "llama");
    w.SetStringArray("tokenizer.ggml.tokens", tokens);
    w.SetFloat32Array("tokenizer.ggml.scores", scores);
    w.SetInt32Array("tokenizer.ggml.token_type", types);
    w.SetUint32("tokenizer.ggml.bos_token_id", 1);
    w.SetUint32("tokenizer.ggml.eos_token_id", 2);
  }
  if (n_vocab < 1) return Invalid("gen-model: vocabulary is empty");
  w.SetUint32("llama.vocab_size", static_cast<uint32_t>(n_vocab));

  const std::vector<TensorSpec> specs = LlamaTensors(o, n_vocab);
  std::vector<std::string_view> names;
  for (const TensorSpec& s : specs) names.push_back(s.name);
  quant::QuantMixPlanner planner(*mix, names);
  std::mt19937_64 rng(o.seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  for (const TensorSpec& s : specs) {
    int64_t n = 1;
    for (int64_t d : s.dims) n *= d;
    std::vector<float> values(static_cast<size_t>(n));
    for (float& v : values) v = s.is_norm ? 1.0f : normal(rng);
    const GgmlType type = planner.TypeFor(s.name, s.dims, GgmlType::kF32);
    absl::StatusOr<std::vector<uint8_t>> bytes =
        quant::QuantizeMatrix(type, values, s.dims[0], o.threads);
    if (!bytes.ok()) {
      return absl::Status(bytes.status().code(),
                          absl::StrCat("tensor '", s.name, "': ", bytes.status().message()));
    }
    absl::Status st = w.AddTensor(s.name, type, s.dims, std::move(*bytes));
    if (!st.ok()) return st;
  }
  return w.WriteFile(o.output);
}

}  // namespace jetserve::tools
