// qwen3: Qwen3 dense models. Qwen2's layer without q/k/v biases, with RMSNorm of each
// query and key head before RoPE (QK-norm); head size from attention.key_length.
#include "engine/model/model_config.h"
#include "engine/model/status_macros.h"

namespace jetserve::model {

absl::Status BuildQwen3Config(const MetadataReader& md, ModelConfig* c) {
  c->arch = Arch::kQwen3;
  JS_RETURN_IF_ERROR(ReadCommonConfig(md, c));
  c->norm = NormKind::kRms;
  c->rope = RopeKind::kNeox;
  c->ffn = FfnKind::kSiluGated;
  c->qk_norm = true;
  using R = TensorRole;
  using P = Presence;
  c->tensors = {
      {R::kTokenEmbd, P::kRequired}, {R::kOutputNorm, P::kRequired}, {R::kOutput, P::kOptional},
      {R::kAttnNorm, P::kRequired},  {R::kQ, P::kRequired},          {R::kK, P::kRequired},
      {R::kV, P::kRequired},         {R::kQNorm, P::kRequired},      {R::kKNorm, P::kRequired},
      {R::kAttnOut, P::kRequired},   {R::kFfnNorm, P::kRequired},    {R::kGate, P::kRequired},
      {R::kUp, P::kRequired},        {R::kDown, P::kRequired},
  };
  return absl::OkStatus();
}

}  // namespace jetserve::model
