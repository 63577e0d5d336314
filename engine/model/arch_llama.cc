// llama: Llama 2/3, Mistral, TinyLlama, SmolLM2, DeepSeek-R1-Distill-Llama. RMSNorm,
// interleaved-pair RoPE (optional Llama 3 frequency factors), SiLU-gated FFN, GQA, output
// matrix optional (tied to the token embeddings).
#include "engine/model/model_config.h"
#include "engine/model/status_macros.h"

namespace jetserve::model {

absl::Status BuildLlamaConfig(const MetadataReader& md, ModelConfig* c) {
  c->arch = Arch::kLlama;
  JS_RETURN_IF_ERROR(ReadCommonConfig(md, c));
  c->norm = NormKind::kRms;
  c->rope = RopeKind::kNorm;
  c->ffn = FfnKind::kSiluGated;
  using R = TensorRole;
  using P = Presence;
  c->tensors = {
      {R::kTokenEmbd, P::kRequired}, {R::kOutputNorm, P::kRequired}, {R::kOutput, P::kOptional},
      {R::kRopeFreqs, P::kOptional}, {R::kAttnNorm, P::kRequired},   {R::kQ, P::kRequired},
      {R::kK, P::kRequired},         {R::kV, P::kRequired},          {R::kQB, P::kOptional},
      {R::kKB, P::kOptional},        {R::kVB, P::kOptional},         {R::kAttnOut, P::kRequired},
      {R::kFfnNorm, P::kRequired},   {R::kGate, P::kRequired},       {R::kUp, P::kRequired},
      {R::kDown, P::kRequired},
  };
  return absl::OkStatus();
}

}  // namespace jetserve::model
