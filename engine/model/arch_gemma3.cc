// gemma3: Gemma 3 text models. Embeddings scaled by sqrt(n_embd); QK-norm; RMSNorm after
// the attention and the FFN as well as before (the GGUF norm weights already hold 1 + w);
// GELU-gated FFN; five sliding-window layers (RoPE base 10000, no scaling) for each global
// layer (the file's base and linear scaling); tied output.
#include <cmath>

#include "engine/model/model_config.h"
#include "engine/model/status_macros.h"

namespace jetserve::model {

absl::Status BuildGemma3Config(const MetadataReader& md, ModelConfig* c) {
  c->arch = Arch::kGemma3;
  JS_RETURN_IF_ERROR(ReadCommonConfig(md, c));
  c->norm = NormKind::kRms;
  c->rope = RopeKind::kNeox;
  c->scale_q = true;
  c->ffn = FfnKind::kGeluGated;
  c->qk_norm = true;
  c->post_norms = true;
  c->embed_scale = std::sqrt(static_cast<float>(c->n_embd));
  JS_ASSIGN_OR_RETURN(c->sliding_window, md.Int("attention.sliding_window"));
  c->rope_freq_base_swa = 10000.f;
  constexpr int kPattern = 6;  // as llama.cpp: layer il is global when il % 6 == 5
  for (int64_t il = 0; il < c->n_layer; ++il) {
    c->layer_is_swa[static_cast<size_t>(il)] = il % kPattern < kPattern - 1;
  }
  // Gemma 3 27B scales queries by 1/sqrt(n_embd / n_head), the others by 1/sqrt(head_dim).
  c->attn_scale = c->n_layer == 62 ? 1.f / std::sqrt(static_cast<float>(c->n_embd / c->n_head))
                                   : 1.f / std::sqrt(static_cast<float>(c->head_dim));
  using R = TensorRole;
  using P = Presence;
  c->tensors = {
      {R::kTokenEmbd, P::kRequired},
      {R::kOutputNorm, P::kRequired},
      {R::kOutput, P::kOptional},
      {R::kAttnNorm, P::kRequired},
      {R::kQ, P::kRequired},
      {R::kK, P::kRequired},
      {R::kV, P::kRequired},
      {R::kQNorm, P::kRequired},
      {R::kKNorm, P::kRequired},
      {R::kAttnOut, P::kRequired},
      {R::kPostAttnNorm, P::kRequired},
      {R::kFfnNorm, P::kRequired},
      {R::kGate, P::kRequired},
      {R::kUp, P::kRequired},
      {R::kDown, P::kRequired},
      {R::kPostFfnNorm, P::kRequired},
  };
  return absl::OkStatus();
}

}  // namespace jetserve::model
