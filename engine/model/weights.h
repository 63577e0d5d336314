// The decoder's weights: views into the mapped GGUF file (zero-copy; quantized matrices are
// used as stored by the fused dequantize-dot kernels) plus float copies of the small
// vectors (norm weights, biases). Every tensor the architecture's table names is checked
// for presence, shape and a type the kernels can compute with.
//
//   ASSIGN_OR_RETURN(ModelWeights w, BindWeights(file, config));
#ifndef JETSERVE_ENGINE_MODEL_WEIGHTS_H_
#define JETSERVE_ENGINE_MODEL_WEIGHTS_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/format/gguf_reader.h"
#include "engine/model/model_config.h"
#include "engine/quant/vec_dot.h"

namespace jetserve::model {

// A weight matrix of `rows` output rows of `cols` inputs, row r at data + r * row_bytes.
struct MatrixView {
  GgmlType type = GgmlType::kF32;
  int64_t cols = 0;
  int64_t rows = 0;
  const uint8_t* data = nullptr;
  uint64_t row_bytes = 0;
  const quant::TypeKernels* kernels = nullptr;
  // The rows packed for kernels->packed_tile (quant/packed.h), group g of kPackRows rows at
  // packed + g * group_bytes, or nullptr: the row-major kernels. MatMul uses the packed
  // rows when there are some; `data` stays for row lookups (GetRow).
  const uint8_t* packed = nullptr;
  uint64_t group_bytes = 0;

  bool present() const { return data != nullptr; }
  const uint8_t* Row(int64_t r) const { return data + static_cast<uint64_t>(r) * row_bytes; }
};

struct LayerWeights {
  std::vector<float> attn_norm, attn_norm_b;  // [n_embd]
  MatrixView q, k, v;                         // [n_head*hd | n_head_kv*hd | n_head_kv*hdv, n_embd]
  MatrixView qkv;                             // fused [q; k; v] rows
  std::vector<float> q_b, k_b, v_b, qkv_b;    // biases, empty when absent
  std::vector<float> q_norm, k_norm;          // [head_dim]
  MatrixView attn_out;                        // [n_embd, n_head*hdv]
  std::vector<float> attn_out_b;
  std::vector<float> post_attn_norm;        // [n_embd]
  std::vector<float> ffn_norm, ffn_norm_b;  // [n_embd]
  MatrixView gate, up, down;  // [n_ff, n_embd], [n_ff (x2 fused), n_embd], [n_embd, n_ff]
  std::vector<float> up_b, down_b;
  std::vector<float> post_ffn_norm;  // [n_embd]
};

struct ModelWeights {
  MatrixView token_embd;  // [n_vocab, n_embd]
  MatrixView pos_embd;    // [n_ctx_train, n_embd] (GPT-2)
  std::vector<float> output_norm, output_norm_b;
  MatrixView output;              // [n_vocab, n_embd]; token_embd when tied
  std::vector<float> rope_freqs;  // [rope_dims / 2] frequency divisors, empty when absent
  std::vector<LayerWeights> layers;
  // The packed copies the views' `packed` point into (move-only: moving keeps them valid).
  std::vector<std::unique_ptr<uint8_t[]>> packed_storage;
};

struct LoadOptions {
  // Pack the matrices whose type has a packed kernel in the CPU's kernel variant
  // (quant/packed.h; rows a multiple of kPackRows): faster, summed in the packed order.
  // Without, every product follows the row-major kernels' order, that of llama.cpp's CPU path
  // with weight repacking off (its logits to the rounding, on models that amplify rounding
  // differences too).
  bool pack_weights = true;
};

// Binds the file's tensors (and packs them as the options say).
absl::StatusOr<ModelWeights> BindWeights(const GgufFile& file, const ModelConfig& config,
                                         const LoadOptions& options = {});

}  // namespace jetserve::model

#endif  // JETSERVE_ENGINE_MODEL_WEIGHTS_H_
