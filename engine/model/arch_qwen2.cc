// qwen2: Qwen2, Qwen2.5, DeepSeek-R1-Distill-Qwen. Llama's layer with biases on q, k and v
// and half-split (NeoX) RoPE.
#include "engine/model/model_config.h"
#include "engine/model/status_macros.h"

namespace jetserve::model {

absl::Status BuildQwen2Config(const MetadataReader& md, ModelConfig* c) {
  c->arch = Arch::kQwen2;
  JS_RETURN_IF_ERROR(ReadCommonConfig(md, c));
  c->norm = NormKind::kRms;
  c->rope = RopeKind::kNeox;
  c->ffn = FfnKind::kSiluGated;
  using R = TensorRole;
  using P = Presence;
  c->tensors = {
      {R::kTokenEmbd, P::kRequired}, {R::kOutputNorm, P::kRequired}, {R::kOutput, P::kOptional},
      {R::kAttnNorm, P::kRequired},  {R::kQ, P::kRequired},          {R::kK, P::kRequired},
      {R::kV, P::kRequired},         {R::kQB, P::kRequired},         {R::kKB, P::kRequired},
      {R::kVB, P::kRequired},        {R::kAttnOut, P::kRequired},    {R::kFfnNorm, P::kRequired},
      {R::kGate, P::kRequired},      {R::kUp, P::kRequired},         {R::kDown, P::kRequired},
  };
  return absl::OkStatus();
}

}  // namespace jetserve::model
