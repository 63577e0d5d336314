// Decoder architectures as data: one plain config struct (hyperparameters plus the few
// switches that tell the architectures apart) and a tensor-name table, filled per
// architecture from GGUF metadata by one short file each (arch_llama.cc, arch_gemma3.cc...).
//
//   ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(gguf_file));
//
// Missing or inconsistent metadata gives InvalidArgument naming the key; an architecture
// the engine does not know gives Unimplemented.
#ifndef JETSERVE_ENGINE_MODEL_MODEL_CONFIG_H_
#define JETSERVE_ENGINE_MODEL_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/format/gguf_reader.h"

namespace jetserve::model {

enum class Arch { kLlama, kQwen2, kQwen3, kGemma3, kPhi3, kGpt2 };
enum class NormKind { kRms, kLayer };  // RMSNorm(x)*w, or LayerNorm(x)*w+b
// Which pairs RoPE rotates: kNorm (x[2i], x[2i+1]) as llama.cpp's LLAMA_ROPE_TYPE_NORM,
// kNeox (x[i], x[i+d/2]). kNone: learned absolute positions (GPT-2).
enum class RopeKind { kNone, kNorm, kNeox };
enum class FfnKind {
  kSiluGated,       // down(silu(gate x) * up x)
  kGeluGated,       // down(gelu(gate x) * up x)                   (Gemma)
  kSiluGatedFused,  // up x = [gate | up] in one matrix             (Phi-3)
  kGelu,            // down(gelu(up x + b)) + b                      (GPT-2)
};

// Every tensor a decoder layer stack can have. Names follow GGUF: "blk.%d.attn_q.weight".
enum class TensorRole {
  // Global.
  kTokenEmbd,
  kPosEmbd,
  kOutputNorm,
  kOutputNormB,
  kOutput,
  kRopeFreqs,
  // Per layer.
  kAttnNorm,
  kAttnNormB,
  kQ,
  kQB,
  kK,
  kKB,
  kV,
  kVB,
  kQkv,
  kQkvB,
  kAttnOut,
  kAttnOutB,
  kQNorm,
  kKNorm,
  kPostAttnNorm,
  kFfnNorm,
  kFfnNormB,
  kGate,
  kUp,
  kUpB,
  kDown,
  kDownB,
  kPostFfnNorm,
};
inline constexpr int kNumTensorRoles = static_cast<int>(TensorRole::kPostFfnNorm) + 1;
bool IsLayerRole(TensorRole role);
// GGUF name stem: "token_embd", "attn_q" (the caller adds "blk.N." and ".weight"/".bias").
std::string TensorName(TensorRole role, int layer);

enum class Presence { kAbsent, kOptional, kRequired };

// One row of an architecture's tensor table.
struct TensorSpec {
  TensorRole role;
  Presence presence;
};

struct ModelConfig {
  Arch arch = Arch::kLlama;
  std::string arch_name;  // general.architecture

  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;  // {arch}.context_length
  int64_t n_embd = 0;       // {arch}.embedding_length
  int64_t n_layer = 0;      // {arch}.block_count
  int64_t n_head = 0;       // {arch}.attention.head_count
  int64_t n_head_kv = 0;    // {arch}.attention.head_count_kv (default n_head)
  int64_t head_dim = 0;     // {arch}.attention.key_length (default n_embd / n_head)
  int64_t head_dim_v = 0;   // {arch}.attention.value_length (default head_dim)
  int64_t n_ff = 0;         // {arch}.feed_forward_length

  NormKind norm = NormKind::kRms;
  float norm_eps = 1e-5f;

  RopeKind rope = RopeKind::kNorm;
  int64_t rope_dims = 0;  // {arch}.rope.dimension_count (default head_dim)
  float rope_freq_base = 10000.f;
  float rope_freq_scale = 1.f;   // 1 / {arch}.rope.scaling.factor (linear scaling)
  float rope_freq_base_swa = 0;  // sliding-window layers' base (Gemma 3), 0: same

  // Sliding-window attention: a query at position p sees keys at positions > p - window.
  int64_t sliding_window = 0;      // 0: none
  std::vector<bool> layer_is_swa;  // n_layer entries

  FfnKind ffn = FfnKind::kSiluGated;
  bool qk_norm = false;           // RMSNorm of each head of q and k (Qwen3, Gemma 3)
  bool post_norms = false;        // RMSNorm of the attention and FFN outputs (Gemma 3)
  float embed_scale = 1.f;        // token embeddings multiplied by this (Gemma: sqrt(n_embd))
  float attn_scale = 0;           // multiplies q·k (default 1/sqrt(head_dim))
  bool scale_q = false;           // apply attn_scale to q before the dot (as llama.cpp does for
                                  // Gemma 3 and Phi-3) instead of to q·k
  float final_logit_softcap = 0;  // 0: none

  std::vector<TensorSpec> tensors;  // the architecture's table

  Presence PresenceOf(TensorRole role) const;
};

// Reads general.architecture and dispatches to the architecture's builder.
absl::StatusOr<ModelConfig> LoadModelConfig(const GgufFile& file);

// Reading {arch}.* keys with precise errors; shared by the architecture files.
class MetadataReader {
 public:
  MetadataReader(const GgufFile& file, std::string_view arch) : file_(file), arch_(arch) {}
  std::string Key(std::string_view suffix) const;
  // Required positive integer.
  absl::StatusOr<int64_t> Int(std::string_view suffix) const;
  // Optional integer (default when absent), must be >= min.
  absl::StatusOr<int64_t> IntOr(std::string_view suffix, int64_t def, int64_t min = 1) const;
  absl::StatusOr<float> Float(std::string_view suffix) const;
  absl::StatusOr<float> FloatOr(std::string_view suffix, float def) const;
  const GgufFile& file() const { return file_; }

 private:
  const GgufFile& file_;
  std::string arch_;
};

// The common part: sizes, head layout, RMS epsilon, RoPE base and linear scaling. Each
// architecture file calls it, then sets its own switches and table.
absl::Status ReadCommonConfig(const MetadataReader& md, ModelConfig* config);
// Checks the derived invariants (divisibility, ranges) after an architecture is built.
absl::Status ValidateConfig(const ModelConfig& config);

// Per-architecture builders (one file each).
absl::Status BuildLlamaConfig(const MetadataReader& md, ModelConfig* config);
absl::Status BuildQwen2Config(const MetadataReader& md, ModelConfig* config);
absl::Status BuildQwen3Config(const MetadataReader& md, ModelConfig* config);
absl::Status BuildGemma3Config(const MetadataReader& md, ModelConfig* config);
absl::Status BuildPhi3Config(const MetadataReader& md, ModelConfig* config);
absl::Status BuildGpt2Config(const MetadataReader& md, ModelConfig* config);

}  // namespace jetserve::model

#endif  // JETSERVE_ENGINE_MODEL_MODEL_CONFIG_H_
