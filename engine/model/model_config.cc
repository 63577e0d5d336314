#include "engine/model/model_config.h"

#include <cmath>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/model/status_macros.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::model {
namespace {

constexpr int64_t kMaxDim = int64_t{1} << 24;  // sanity bound for any size in metadata

struct RoleName {
  TensorRole role;
  const char* stem;
  const char* suffix;
};
// Indexed by TensorRole.
constexpr RoleName kRoleNames[kNumTensorRoles] = {
    {TensorRole::kTokenEmbd, "token_embd", "weight"},
    {TensorRole::kPosEmbd, "position_embd", "weight"},
    {TensorRole::kOutputNorm, "output_norm", "weight"},
    {TensorRole::kOutputNormB, "output_norm", "bias"},
    {TensorRole::kOutput, "output", "weight"},
    {TensorRole::kRopeFreqs, "rope_freqs", "weight"},
    {TensorRole::kAttnNorm, "attn_norm", "weight"},
    {TensorRole::kAttnNormB, "attn_norm", "bias"},
    {TensorRole::kQ, "attn_q", "weight"},
    {TensorRole::kQB, "attn_q", "bias"},
    {TensorRole::kK, "attn_k", "weight"},
    {TensorRole::kKB, "attn_k", "bias"},
    {TensorRole::kV, "attn_v", "weight"},
    {TensorRole::kVB, "attn_v", "bias"},
    {TensorRole::kQkv, "attn_qkv", "weight"},
    {TensorRole::kQkvB, "attn_qkv", "bias"},
    {TensorRole::kAttnOut, "attn_output", "weight"},
    {TensorRole::kAttnOutB, "attn_output", "bias"},
    {TensorRole::kQNorm, "attn_q_norm", "weight"},
    {TensorRole::kKNorm, "attn_k_norm", "weight"},
    {TensorRole::kPostAttnNorm, "post_attention_norm", "weight"},
    {TensorRole::kFfnNorm, "ffn_norm", "weight"},
    {TensorRole::kFfnNormB, "ffn_norm", "bias"},
    {TensorRole::kGate, "ffn_gate", "weight"},
    {TensorRole::kUp, "ffn_up", "weight"},
    {TensorRole::kUpB, "ffn_up", "bias"},
    {TensorRole::kDown, "ffn_down", "weight"},
    {TensorRole::kDownB, "ffn_down", "bias"},
    {TensorRole::kPostFfnNorm, "post_ffw_norm", "weight"},
};

}  // namespace

bool IsLayerRole(TensorRole role) {
  return static_cast<int>(role) >= static_cast<int>(TensorRole::kAttnNorm);
}

std::string TensorName(TensorRole role, int layer) {
  const RoleName& n = kRoleNames[static_cast<int>(role)];
  if (IsLayerRole(role)) return absl::StrCat("blk.", layer, ".", n.stem, ".", n.suffix);
  return absl::StrCat(n.stem, ".", n.suffix);
}

Presence ModelConfig::PresenceOf(TensorRole role) const {
  for (const TensorSpec& t : tensors) {
    if (t.role == role) return t.presence;
  }
  return Presence::kAbsent;
}

std::string MetadataReader::Key(std::string_view suffix) const {
  return absl::StrCat(arch_, ".", Sv(suffix));
}

absl::StatusOr<int64_t> MetadataReader::Int(std::string_view suffix) const {
  const std::string key = Key(suffix);
  absl::StatusOr<int64_t> v = file_.GetInt(key);
  if (!v.ok()) {
    if (absl::IsNotFound(v.status())) {
      return absl::InvalidArgumentError(absl::StrCat("missing metadata key '", key, "'"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("metadata key '", key, "': ", v.status().message()));
  }
  if (*v < 1 || *v > kMaxDim) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata key '", key, "' = ", *v, " is out of range [1, ", kMaxDim, "]"));
  }
  return *v;
}

absl::StatusOr<int64_t> MetadataReader::IntOr(std::string_view suffix, int64_t def,
                                              int64_t min) const {
  const std::string key = Key(suffix);
  if (!file_.Has(key)) return def;
  absl::StatusOr<int64_t> v = file_.GetInt(key);
  if (!v.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata key '", key, "': ", v.status().message()));
  }
  if (*v < min || *v > kMaxDim) {
    return absl::InvalidArgumentError(absl::StrCat("metadata key '", key, "' = ", *v,
                                                   " is out of range [", min, ", ", kMaxDim, "]"));
  }
  return *v;
}

absl::StatusOr<float> MetadataReader::Float(std::string_view suffix) const {
  const std::string key = Key(suffix);
  if (!file_.Has(key)) {
    return absl::InvalidArgumentError(absl::StrCat("missing metadata key '", key, "'"));
  }
  return FloatOr(suffix, 0.f);
}

absl::StatusOr<float> MetadataReader::FloatOr(std::string_view suffix, float def) const {
  const std::string key = Key(suffix);
  if (!file_.Has(key)) return def;
  absl::StatusOr<double> v = file_.GetFloat(key);
  if (!v.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata key '", key, "': ", v.status().message()));
  }
  if (!std::isfinite(*v)) {
    return absl::InvalidArgumentError(absl::StrCat("metadata key '", key, "' is not finite"));
  }
  return static_cast<float>(*v);
}

absl::Status ReadCommonConfig(const MetadataReader& md, ModelConfig* c) {
  JS_ASSIGN_OR_RETURN(c->n_ctx_train, md.Int("context_length"));
  JS_ASSIGN_OR_RETURN(c->n_embd, md.Int("embedding_length"));
  JS_ASSIGN_OR_RETURN(c->n_layer, md.Int("block_count"));
  JS_ASSIGN_OR_RETURN(c->n_ff, md.Int("feed_forward_length"));
  const std::string kv_key = md.Key("attention.head_count_kv");
  if (const GgufValue* v = md.file().Find(kv_key); v != nullptr && !v->is_integer()) {
    return absl::InvalidArgumentError(absl::StrCat("metadata key '", kv_key,
                                                   "' must be one integer (per-layer head counts "
                                                   "are not supported)"));
  }
  JS_ASSIGN_OR_RETURN(c->n_head, md.Int("attention.head_count"));
  JS_ASSIGN_OR_RETURN(c->n_head_kv, md.IntOr("attention.head_count_kv", c->n_head));
  if (c->n_embd % c->n_head != 0 && !md.file().Has(md.Key("attention.key_length"))) {
    return absl::InvalidArgumentError(
        absl::StrCat("embedding_length ", c->n_embd, " is not a multiple of attention.head_count ",
                     c->n_head, " and attention.key_length is absent"));
  }
  JS_ASSIGN_OR_RETURN(c->head_dim, md.IntOr("attention.key_length", c->n_embd / c->n_head));
  JS_ASSIGN_OR_RETURN(c->head_dim_v, md.IntOr("attention.value_length", c->head_dim));
  JS_ASSIGN_OR_RETURN(c->rope_dims, md.IntOr("rope.dimension_count", c->head_dim));
  JS_ASSIGN_OR_RETURN(c->norm_eps, md.FloatOr("attention.layer_norm_rms_epsilon", 1e-5f));
  JS_ASSIGN_OR_RETURN(c->rope_freq_base, md.FloatOr("rope.freq_base", 10000.f));

  // Linear RoPE scaling ("rope.scaling.type" = "linear", or the older "rope.scale_linear").
  float factor = 1.f;
  const std::string type_key = md.Key("rope.scaling.type");
  if (md.file().Has(type_key)) {
    absl::StatusOr<std::string_view> type = md.file().GetString(type_key);
    if (!type.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metadata key '", type_key, "': ", type.status().message()));
    }
    if (*type == "linear") {
      JS_ASSIGN_OR_RETURN(factor, md.FloatOr("rope.scaling.factor", 1.f));
    } else if (*type != "none") {
      return absl::UnimplementedError(
          absl::StrCat("RoPE scaling type '", Sv(*type), "' is not supported (", type_key, ")"));
    }
  } else {
    JS_ASSIGN_OR_RETURN(factor, md.FloatOr("rope.scale_linear", 1.f));
  }
  if (!(factor > 0.f) || factor > 1e6f) {
    return absl::InvalidArgumentError(
        absl::StrCat("RoPE scaling factor ", factor, " is out of range (0, 1e6]"));
  }
  c->rope_freq_scale = 1.f / factor;
  c->layer_is_swa.assign(static_cast<size_t>(c->n_layer), false);

  // Vocabulary size: the architecture key, else the tokenizer's token list; the weights
  // loader checks it against token_embd.
  const std::string vocab_key = md.Key("vocab_size");
  if (md.file().Has(vocab_key)) {
    JS_ASSIGN_OR_RETURN(c->n_vocab, md.Int("vocab_size"));
  } else if (const GgufValue* toks = md.file().Find("tokenizer.ggml.tokens"); toks != nullptr) {
    c->n_vocab = static_cast<int64_t>(toks->array_size());
  } else if (const GgufTensorInfo* t = md.file().FindTensor("token_embd.weight"); t != nullptr) {
    c->n_vocab = t->dim(1);
  }
  return absl::OkStatus();
}

absl::Status ValidateConfig(const ModelConfig& c) {
  if (c.n_vocab < 1 || c.n_vocab > kMaxDim) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocabulary size ", c.n_vocab, " is out of range"));
  }
  if (c.n_head % c.n_head_kv != 0) {
    return absl::InvalidArgumentError(absl::StrCat("attention.head_count ", c.n_head,
                                                   " is not a multiple of attention.head_count_kv ",
                                                   c.n_head_kv));
  }
  if (c.rope != RopeKind::kNone && (c.rope_dims > c.head_dim || c.rope_dims % 2 != 0)) {
    return absl::InvalidArgumentError(absl::StrCat("rope.dimension_count ", c.rope_dims,
                                                   " must be even and <= head size ", c.head_dim));
  }
  if (!(c.norm_eps >= 0.f) || !(c.rope_freq_base > 0.f)) {
    return absl::InvalidArgumentError("norm epsilon must be >= 0 and rope.freq_base > 0");
  }
  if (c.n_head * c.head_dim > kMaxDim || c.n_head * c.head_dim_v > kMaxDim) {
    return absl::InvalidArgumentError("attention size out of range");
  }
  return absl::OkStatus();
}

absl::StatusOr<ModelConfig> LoadModelConfig(const GgufFile& file) {
  absl::StatusOr<std::string_view> arch = file.GetString("general.architecture");
  if (!arch.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata key 'general.architecture': ", arch.status().message()));
  }
  MetadataReader md(file, *arch);
  ModelConfig c;
  c.arch_name = std::string(*arch);
  absl::Status s;
  if (*arch == "llama") {
    s = BuildLlamaConfig(md, &c);
  } else if (*arch == "qwen2") {
    s = BuildQwen2Config(md, &c);
  } else if (*arch == "qwen3") {
    s = BuildQwen3Config(md, &c);
  } else if (*arch == "gemma3") {
    s = BuildGemma3Config(md, &c);
  } else if (*arch == "phi3") {
    s = BuildPhi3Config(md, &c);
  } else if (*arch == "gpt2") {
    s = BuildGpt2Config(md, &c);
  } else {
    return absl::UnimplementedError(
        absl::StrCat("architecture '", Sv(*arch),
                     "' is not supported (supported: llama, qwen2, qwen3, gemma3, phi3, gpt2)"));
  }
  JS_RETURN_IF_ERROR(s);
  if (c.attn_scale == 0.f) c.attn_scale = 1.f / std::sqrt(static_cast<float>(c.head_dim));
  JS_RETURN_IF_ERROR(ValidateConfig(c));
  return c;
}

}  // namespace jetserve::model
