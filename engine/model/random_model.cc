#include "engine/model/random_model.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/format/gguf_writer.h"
#include "engine/model/status_macros.h"
#include "engine/quant/quantize.h"

namespace jetserve::model {
namespace {

// Model dimensions: the small test shape or TinyLlama-1.1B's (RandomDecoderSpec::large).
struct Shape {
  int64_t embd, heads, kv_heads, head_dim, ff, vocab, ctx, layers;
};
constexpr Shape kSmall = {256, 4, 2, 64, 512, 512, 256, 2};
constexpr Shape kLarge = {2048, 32, 4, 64, 5632, 32000, 2048, 22};

// llama.cpp's use_more_bits(): the layers Q4_K_M stores attn_v / ffn_down in Q6_K.
bool MoreBits(int64_t i, int64_t n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {  // SplitMix64
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [-1, 1), exactly representable (24-bit grid).
  float Sym() {
    return static_cast<float>(static_cast<int64_t>(Next() >> 40) - (1 << 23)) /
           static_cast<float>(1 << 23);
  }

 private:
  uint64_t state_;
};

class Builder {
 public:
  Builder(const RandomDecoderSpec& spec) : spec_(spec), rng_(spec.seed) {}

  // A matrix in the spec's type (or F32 when `f32`, or `type` when given).
  absl::Status Matrix(const std::string& name, int64_t cols, int64_t rows, float scale,
                      bool f32 = false, std::optional<GgmlType> type = std::nullopt) {
    std::vector<float> v(static_cast<size_t>(cols * rows));
    for (float& x : v) x = rng_.Sym() * scale;
    const GgmlType t = type.value_or(f32 ? GgmlType::kF32 : spec_.type);
    return Add(name, t, {cols, rows}, v, cols);
  }
  absl::Status Vector(const std::string& name, int64_t n, float center, float spread) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = center + rng_.Sym() * spread;
    return Add(name, GgmlType::kF32, {n}, v);
  }
  GgufWriter& writer() { return w_; }

 private:
  absl::Status Add(const std::string& name, GgmlType type, std::vector<int64_t> dims,
                   const std::vector<float>& v, int64_t n_per_row = 0) {
    if (type == GgmlType::kF32) {
      std::vector<uint8_t> bytes(v.size() * sizeof(float));
      std::memcpy(bytes.data(), v.data(), bytes.size());
      return w_.AddTensor(name, type, dims, std::move(bytes));
    }
    // Large matrices are quantized on all threads (same bytes: rows are independent).
    JS_ASSIGN_OR_RETURN(std::vector<uint8_t> q, n_per_row > 0 && v.size() >= (size_t{1} << 20)
                                                    ? quant::QuantizeMatrix(type, v, n_per_row, 0)
                                                    : quant::QuantizeFloats(type, v));
    return w_.AddTensor(name, type, dims, std::move(q));
  }

  const RandomDecoderSpec& spec_;
  Rng rng_;
  GgufWriter w_;
};

void SetVocab(GgufWriter& w, int64_t vocab) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "</s>"};
  std::vector<int32_t> types = {2, 3, 3};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof(buf), "<0x%02X>", b);
    tokens.emplace_back(buf);
    types.push_back(6);
  }
  // Control tokens some architectures look up by text when llama.cpp loads them (Phi-3).
  for (const char* t : {"<|end|>", "<|endoftext|>", "<|user|>", "<|assistant|>"}) {
    tokens.emplace_back(t);
    types.push_back(3);
  }
  while (static_cast<int64_t>(tokens.size()) < vocab) {
    tokens.push_back(absl::StrCat("\xe2\x96\x81t", tokens.size()));
    types.push_back(1);
  }
  std::vector<float> scores(tokens.size());
  for (size_t i = 0; i < scores.size(); ++i) scores[i] = -static_cast<float>(i);
  w.SetString("tokenizer.ggml.model", "llama");
  w.SetStringArray("tokenizer.ggml.tokens", tokens);
  w.SetFloat32Array("tokenizer.ggml.scores", scores);
  w.SetInt32Array("tokenizer.ggml.token_type", types);
  w.SetUint32("tokenizer.ggml.unknown_token_id", 0);
  w.SetUint32("tokenizer.ggml.bos_token_id", 1);
  w.SetUint32("tokenizer.ggml.eos_token_id", 2);
  w.SetBool("tokenizer.ggml.add_bos_token", false);
}

}  // namespace

std::vector<RandomDecoderSpec> RandomDecoderSpecs() {
  std::vector<RandomDecoderSpec> specs;
  for (const char* arch : {"llama", "qwen2", "qwen3", "gemma3", "phi3", "gpt2"}) {
    std::vector<GgmlType> types = {GgmlType::kF32,  GgmlType::kF16,  GgmlType::kQ8_0,
                                   GgmlType::kQ4_0, GgmlType::kQ4_K, GgmlType::kQ6_K};
    if (std::string(arch) == "llama") types.push_back(GgmlType::kQ4_1);
    for (GgmlType t : types) {
      const std::string_view tn = GgmlTypeName(t);
      std::string name = absl::StrCat(arch, "-", absl::string_view(tn.data(), tn.size()), ".gguf");
      uint64_t seed = 0xCBF29CE484222325ull;  // FNV-1a of the name: stable as the list grows
      for (const char ch : name) seed = (seed ^ static_cast<uint8_t>(ch)) * 0x100000001B3ull;
      specs.push_back({std::move(name), arch, t, seed});
    }
  }
  specs.push_back({"llama3rope-Q8_0.gguf", "llama", GgmlType::kQ8_0, 0x11a3a3, true});
  return specs;
}

std::vector<RandomDecoderSpec> BenchDecoderSpecs() {
  std::vector<RandomDecoderSpec> specs;
  for (GgmlType t :
       {GgmlType::kQ4_0, GgmlType::kQ4_1, GgmlType::kQ8_0, GgmlType::kQ4_K, GgmlType::kQ6_K}) {
    const std::string_view tn = GgmlTypeName(t);
    RandomDecoderSpec s;
    s.name = absl::StrCat("llama1b-", absl::string_view(tn.data(), tn.size()),
                          t == GgmlType::kQ4_K ? "_M" : "", ".gguf");
    s.arch = "llama";
    s.type = t;
    s.seed = 0x1b1b1b + static_cast<uint64_t>(t);
    s.large = true;
    s.q4_k_m_mix = t == GgmlType::kQ4_K;
    specs.push_back(std::move(s));
  }
  return specs;
}

absl::Status WriteRandomDecoder(const RandomDecoderSpec& spec, const std::string& path) {
  Builder b(spec);
  GgufWriter& w = b.writer();
  const std::string& a = spec.arch;
  const bool gemma = a == "gemma3", gpt2 = a == "gpt2", phi3 = a == "phi3";
  if (spec.large && a != "llama") {
    return absl::InvalidArgumentError("the large random shape is llama only");
  }
  const Shape& sh = spec.large ? kLarge : kSmall;
  const int64_t embd = sh.embd, heads = sh.heads, head_dim = sh.head_dim, ff = sh.ff;
  const int64_t vocab = sh.vocab, ctx = sh.ctx;
  const int64_t layers = gemma ? 6 : sh.layers;
  const int64_t kv_heads = gpt2 ? heads : sh.kv_heads;
  w.SetString("general.architecture", a);
  w.SetString("general.name", absl::StrCat("random ", spec.name));
  w.SetUint32(a + ".context_length",
              static_cast<uint32_t>(spec.context_length > 0 && !gpt2 ? spec.context_length : ctx));
  w.SetUint32(a + ".embedding_length", embd);
  w.SetUint32(a + ".block_count", static_cast<uint32_t>(layers));
  w.SetUint32(a + ".feed_forward_length", ff);
  w.SetUint32(a + ".attention.head_count", heads);
  w.SetUint32(a + ".attention.head_count_kv", static_cast<uint32_t>(kv_heads));
  w.SetUint32(a + ".vocab_size", vocab);
  if (gpt2) {
    w.SetFloat32(a + ".attention.layer_norm_epsilon", 1e-5f);
  } else {
    w.SetFloat32(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
    w.SetFloat32(a + ".rope.freq_base", gemma ? 1000000.f : 10000.f);
    w.SetUint32(a + ".rope.dimension_count", head_dim);
  }
  if (gemma || a == "qwen3") {
    w.SetUint32(a + ".attention.key_length", head_dim);
    w.SetUint32(a + ".attention.value_length", head_dim);
  }
  if (gemma) w.SetUint32(a + ".attention.sliding_window", 8);
  if (spec.llama3_rope) {
    w.SetFloat32(a + ".rope.freq_base", 500000.f);
    w.SetString(a + ".rope.scaling.type", "linear");
    w.SetFloat32(a + ".rope.scaling.factor", 2.f);
  }
  SetVocab(w, vocab);

  const float s_in = 1.f / std::sqrt(static_cast<float>(embd));
  const float s_ff = 1.f / std::sqrt(static_cast<float>(ff));
  const int64_t qd = heads * head_dim, kd = kv_heads * head_dim;
  JS_RETURN_IF_ERROR(b.Matrix("token_embd.weight", embd, vocab, gemma ? 0.1f : 0.5f));
  if (spec.llama3_rope) {
    JS_RETURN_IF_ERROR(b.Vector("rope_freqs.weight", head_dim / 2, 3.f, 2.f));
  }
  if (gpt2) {
    JS_RETURN_IF_ERROR(b.Matrix("position_embd.weight", embd, ctx, 0.2f, /*f32=*/true));
  }
  for (int64_t il = 0; il < layers; ++il) {
    const std::string p = absl::StrCat("blk.", il, ".");
    std::optional<GgmlType> more_bits;
    if (spec.q4_k_m_mix && MoreBits(il, layers)) more_bits = GgmlType::kQ6_K;
    JS_RETURN_IF_ERROR(b.Vector(p + "attn_norm.weight", embd, 1.f, 0.2f));
    if (gpt2) JS_RETURN_IF_ERROR(b.Vector(p + "attn_norm.bias", embd, 0.f, 0.1f));
    if (gpt2 || phi3) {
      JS_RETURN_IF_ERROR(b.Matrix(p + "attn_qkv.weight", embd, qd + 2 * kd, s_in));
      if (gpt2) JS_RETURN_IF_ERROR(b.Vector(p + "attn_qkv.bias", qd + 2 * kd, 0.f, 0.1f));
    } else {
      JS_RETURN_IF_ERROR(b.Matrix(p + "attn_q.weight", embd, qd, s_in));
      JS_RETURN_IF_ERROR(b.Matrix(p + "attn_k.weight", embd, kd, s_in));
      JS_RETURN_IF_ERROR(b.Matrix(p + "attn_v.weight", embd, kd, s_in, false, more_bits));
      if (a == "qwen2") {
        JS_RETURN_IF_ERROR(b.Vector(p + "attn_q.bias", qd, 0.f, 0.1f));
        JS_RETURN_IF_ERROR(b.Vector(p + "attn_k.bias", kd, 0.f, 0.1f));
        JS_RETURN_IF_ERROR(b.Vector(p + "attn_v.bias", kd, 0.f, 0.1f));
      }
    }
    if (gemma || a == "qwen3") {
      JS_RETURN_IF_ERROR(b.Vector(p + "attn_q_norm.weight", head_dim, 1.f, 0.2f));
      JS_RETURN_IF_ERROR(b.Vector(p + "attn_k_norm.weight", head_dim, 1.f, 0.2f));
    }
    JS_RETURN_IF_ERROR(b.Matrix(p + "attn_output.weight", qd, embd, s_in));
    if (gpt2) JS_RETURN_IF_ERROR(b.Vector(p + "attn_output.bias", embd, 0.f, 0.1f));
    if (gemma) JS_RETURN_IF_ERROR(b.Vector(p + "post_attention_norm.weight", embd, 1.f, 0.2f));
    JS_RETURN_IF_ERROR(b.Vector(p + "ffn_norm.weight", embd, 1.f, 0.2f));
    if (gpt2) JS_RETURN_IF_ERROR(b.Vector(p + "ffn_norm.bias", embd, 0.f, 0.1f));
    if (!gpt2 && !phi3) JS_RETURN_IF_ERROR(b.Matrix(p + "ffn_gate.weight", embd, ff, s_in));
    JS_RETURN_IF_ERROR(b.Matrix(p + "ffn_up.weight", embd, phi3 ? 2 * ff : ff, s_in));
    if (gpt2) JS_RETURN_IF_ERROR(b.Vector(p + "ffn_up.bias", ff, 0.f, 0.1f));
    JS_RETURN_IF_ERROR(b.Matrix(p + "ffn_down.weight", ff, embd, s_ff, false, more_bits));
    if (gpt2) JS_RETURN_IF_ERROR(b.Vector(p + "ffn_down.bias", embd, 0.f, 0.1f));
    if (gemma) JS_RETURN_IF_ERROR(b.Vector(p + "post_ffw_norm.weight", embd, 1.f, 0.2f));
  }
  JS_RETURN_IF_ERROR(b.Vector("output_norm.weight", embd, 1.f, 0.2f));
  if (gpt2) JS_RETURN_IF_ERROR(b.Vector("output_norm.bias", embd, 0.f, 0.1f));
  // Separate output matrix for some architectures, tied embeddings for the others.
  if (phi3 || a == "qwen2" || spec.large) {
    std::optional<GgmlType> out_type;
    if (spec.q4_k_m_mix) out_type = GgmlType::kQ6_K;
    JS_RETURN_IF_ERROR(
        b.Matrix("output.weight", embd, vocab, spec.large ? 0.05f : 0.5f, false, out_type));
  }
  return w.WriteFile(path);
}

}  // namespace jetserve::model
