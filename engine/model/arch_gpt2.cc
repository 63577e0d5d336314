// gpt2: GPT-2 and its tiny test variants. LayerNorm with bias, learned absolute position
// embeddings, fused qkv with bias, GELU FFN with biases, output optional (tied).
#include "engine/model/model_config.h"
#include "engine/model/status_macros.h"

namespace jetserve::model {

absl::Status BuildGpt2Config(const MetadataReader& md, ModelConfig* c) {
  c->arch = Arch::kGpt2;
  JS_RETURN_IF_ERROR(ReadCommonConfig(md, c));
  JS_ASSIGN_OR_RETURN(c->norm_eps, md.Float("attention.layer_norm_epsilon"));
  c->norm = NormKind::kLayer;
  c->rope = RopeKind::kNone;
  c->ffn = FfnKind::kGelu;
  using R = TensorRole;
  using P = Presence;
  c->tensors = {
      {R::kTokenEmbd, P::kRequired},   {R::kPosEmbd, P::kRequired},  {R::kOutputNorm, P::kRequired},
      {R::kOutputNormB, P::kRequired}, {R::kOutput, P::kOptional},   {R::kAttnNorm, P::kRequired},
      {R::kAttnNormB, P::kRequired},   {R::kQkv, P::kRequired},      {R::kQkvB, P::kRequired},
      {R::kAttnOut, P::kRequired},     {R::kAttnOutB, P::kRequired}, {R::kFfnNorm, P::kRequired},
      {R::kFfnNormB, P::kRequired},    {R::kUp, P::kRequired},       {R::kUpB, P::kRequired},
      {R::kDown, P::kRequired},        {R::kDownB, P::kRequired},
  };
  return absl::OkStatus();
}

}  // namespace jetserve::model
