// File-level quantization mixes: which tensor of a model gets which type, as llama.cpp's
// `llama-quantize` decides it for the same file type (Q4_K_M, Q6_K, Q8_0, ...).
//
//   ASSIGN_OR_RETURN(QuantMix mix, ParseQuantMix("Q4_K_M"));
//   QuantMixPlanner planner(mix, tensor_names);
//   for (each tensor in file order) GgmlType t = planner.TypeFor(name, dims);
//
// Rules followed (llama.cpp's llama_tensor_get_type, non-MoE models): only 2-D+ ".weight"
// tensors are quantized (norms, biases stay as they are); output.weight (or token_embd.weight
// when the model has no output.weight) gets Q6_K unless the mix is Q8_0 or float; Q4_K_M /
// Q5_K_M give Q6_K to attn_v.weight and ffn_down.weight of the layers where
// UseMoreBits(i, n) holds, and Q4_K_M gives Q5_K to attn_qkv.weight; Q4_K_S gives Q5_K to
// the first 4 attn_v and the first n/8 ffn_down. A k-quant whose row length is not a
// multiple of 256 falls back to Q5_0 / Q5_1 / Q8_0 / Q4_0 (llama.cpp uses IQ4_NL for Q2_K and
// Q3_K, which the engine does not implement).
#ifndef JETSERVE_ENGINE_QUANT_QUANTIZE_MIX_H_
#define JETSERVE_ENGINE_QUANT_QUANTIZE_MIX_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "engine/format/gguf_types.h"

namespace jetserve::quant {

struct QuantMix {
  std::string name;       // "Q4_K_M"
  uint32_t file_type;     // general.file_type (llama_ftype)
  GgmlType default_type;  // type of the ordinary weight matrices
};

// Accepts F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K_M (= Q3_K), Q4_K_S,
// Q4_K_M (= Q4_K), Q5_K_S, Q5_K_M (= Q5_K), Q6_K; case-insensitive.
absl::StatusOr<QuantMix> ParseQuantMix(std::string_view name);

// llama.cpp's use_more_bits: the first and last eighth of the layers and every third one
// between them.
bool UseMoreBits(int i_layer, int n_layers);

// Decides tensor types for one model. Stateful: call TypeFor once per tensor, in file order
// (the attn_v / ffn_down counters advance as in llama.cpp).
class QuantMixPlanner {
 public:
  QuantMixPlanner(QuantMix mix, absl::Span<const std::string_view> all_tensor_names);

  // The type for this tensor; `current` is its type in the source (kept for tensors that are
  // not quantized).
  GgmlType TypeFor(std::string_view name, absl::Span<const int64_t> dims, GgmlType current);

 private:
  QuantMix mix_;
  bool has_output_ = false;
  int n_attention_wv_ = 0;
  int n_ffn_down_ = 0;
  int i_attention_wv_ = 0;
  int i_ffn_down_ = 0;
};

}  // namespace jetserve::quant

#endif  // JETSERVE_ENGINE_QUANT_QUANTIZE_MIX_H_
