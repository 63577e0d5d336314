// phi3: Phi-3 / Phi-3.5 mini. Fused qkv matrix (or separate q/k/v), NeoX RoPE, the FFN's
// up matrix holding [gate | up]. Like llama.cpp, the metadata's sliding window is not
// applied. LongRoPE (rope_factors_long/short) is not supported.
#include "absl/status/status.h"
#include "engine/model/model_config.h"
#include "engine/model/status_macros.h"

namespace jetserve::model {

absl::Status BuildPhi3Config(const MetadataReader& md, ModelConfig* c) {
  c->arch = Arch::kPhi3;
  JS_RETURN_IF_ERROR(ReadCommonConfig(md, c));
  if (md.file().FindTensor("rope_factors_long.weight") != nullptr) {
    return absl::UnimplementedError(
        "phi3 LongRoPE (tensor rope_factors_long.weight) is not supported");
  }
  c->norm = NormKind::kRms;
  c->rope = RopeKind::kNeox;
  c->scale_q = true;
  c->ffn = FfnKind::kSiluGatedFused;
  using R = TensorRole;
  using P = Presence;
  c->tensors = {
      {R::kTokenEmbd, P::kRequired}, {R::kOutputNorm, P::kRequired}, {R::kOutput, P::kRequired},
      {R::kAttnNorm, P::kRequired},  {R::kQkv, P::kOptional},        {R::kQ, P::kOptional},
      {R::kK, P::kOptional},         {R::kV, P::kOptional},          {R::kAttnOut, P::kRequired},
      {R::kFfnNorm, P::kRequired},   {R::kUp, P::kRequired},         {R::kDown, P::kRequired},
  };
  return absl::OkStatus();
}

}  // namespace jetserve::model
