#include "engine/model/random_model.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/format/gguf_writer.h"
#include "engine/model/status_macros.h"
#include "engine/quant/quantize.h"

namespace jetserve::model {
namespace {

constexpr int64_t kEmbd = 256, kHeads = 4, kKvHeads = 2, kHeadDim = 64, kFf = 512;
constexpr int64_t kVocab = 512, kCtx = 256;

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

  // A matrix in the spec's type (or F32 when `f32`).
  absl::Status Matrix(const std::string& name, int64_t cols, int64_t rows, float scale,
                      bool f32 = false) {
    std::vector<float> v(static_cast<size_t>(cols * rows));
    for (float& x : v) x = rng_.Sym() * scale;
    return Add(name, f32 ? GgmlType::kF32 : spec_.type, {cols, rows}, v);
  }
  absl::Status Vector(const std::string& name, int64_t n, float center, float spread) {
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = center + rng_.Sym() * spread;
    return Add(name, GgmlType::kF32, {n}, v);
  }
  GgufWriter& writer() { return w_; }

 private:
  absl::Status Add(const std::string& name, GgmlType type, std::vector<int64_t> dims,
                   const std::vector<float>& v) {
    if (type == GgmlType::kF32) {
      std::vector<uint8_t> bytes(v.size() * sizeof(float));
      std::memcpy(bytes.data(), v.data(), bytes.size());
      return w_.AddTensor(name, type, dims, std::move(bytes));
    }
    JS_ASSIGN_OR_RETURN(std::vector<uint8_t> q, quant::QuantizeFloats(type, v));
    return w_.AddTensor(name, type, dims, std::move(q));
  }

  const RandomDecoderSpec& spec_;
  Rng rng_;
  GgufWriter w_;
};

void SetVocab(GgufWriter& w) {
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
  while (static_cast<int64_t>(tokens.size()) < kVocab) {
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

absl::Status WriteRandomDecoder(const RandomDecoderSpec& spec, const std::string& path) {
  Builder b(spec);
  GgufWriter& w = b.writer();
  const std::string& a = spec.arch;
  const bool gemma = a == "gemma3", gpt2 = a == "gpt2", phi3 = a == "phi3";
  const int64_t layers = gemma ? 6 : 2;
  const int64_t kv_heads = gpt2 ? kHeads : kKvHeads;
  w.SetString("general.architecture", a);
  w.SetString("general.name", absl::StrCat("random ", spec.name));
  w.SetUint32(a + ".context_length",
              static_cast<uint32_t>(spec.context_length > 0 && !gpt2 ? spec.context_length : kCtx));
  w.SetUint32(a + ".embedding_length", kEmbd);
  w.SetUint32(a + ".block_count", static_cast<uint32_t>(layers));
  w.SetUint32(a + ".feed_forward_length", kFf);
  w.SetUint32(a + ".attention.head_count", kHeads);
  w.SetUint32(a + ".attention.head_count_kv", static_cast<uint32_t>(kv_heads));
  w.SetUint32(a + ".vocab_size", kVocab);
  if (gpt2) {
    w.SetFloat32(a + ".attention.layer_norm_epsilon", 1e-5f);
  } else {
    w.SetFloat32(a + ".attention.layer_norm_rms_epsilon", 1e-6f);
    w.SetFloat32(a + ".rope.freq_base", gemma ? 1000000.f : 10000.f);
    w.SetUint32(a + ".rope.dimension_count", kHeadDim);
  }
  if (gemma || a == "qwen3") {
    w.SetUint32(a + ".attention.key_length", kHeadDim);
    w.SetUint32(a + ".attention.value_length", kHeadDim);
  }
  if (gemma) w.SetUint32(a + ".attention.sliding_window", 8);
  if (spec.llama3_rope) {
    w.SetFloat32(a + ".rope.freq_base", 500000.f);
    w.SetString(a + ".rope.scaling.type", "linear");
    w.SetFloat32(a + ".rope.scaling.factor", 2.f);
  }
  SetVocab(w);

  const float s_in = 1.f / std::sqrt(static_cast<float>(kEmbd));
  const float s_ff = 1.f / std::sqrt(static_cast<float>(kFf));
  const int64_t qd = kHeads * kHeadDim, kd = kv_heads * kHeadDim;
  JS_RETURN_IF_ERROR(b.Matrix("token_embd.weight", kEmbd, kVocab, gemma ? 0.1f : 0.5f));
  if (spec.llama3_rope) {
    JS_RETURN_IF_ERROR(b.Vector("rope_freqs.weight", kHeadDim / 2, 3.f, 2.f));
  }
  if (gpt2) {
    JS_RETURN_IF_ERROR(b.Matrix("position_embd.weight", kEmbd, kCtx, 0.2f, /*f32=*/true));
  }
  for (int64_t il = 0; il < layers; ++il) {
    const std::string p = absl::StrCat("blk.", il, ".");
    JS_RETURN_IF_ERROR(b.Vector(p + "attn_norm.weight", kEmbd, 1.f, 0.2f));
    if (gpt2) JS_RETURN_IF_ERROR(b.Vector(p + "attn_norm.bias", kEmbd, 0.f, 0.1f));
    if (gpt2 || phi3) {
      JS_RETURN_IF_ERROR(b.Matrix(p + "attn_qkv.weight", kEmbd, qd + 2 * kd, s_in));
      if (gpt2) JS_RETURN_IF_ERROR(b.Vector(p + "attn_qkv.bias", qd + 2 * kd, 0.f, 0.1f));
    } else {
      JS_RETURN_IF_ERROR(b.Matrix(p + "attn_q.weight", kEmbd, qd, s_in));
      JS_RETURN_IF_ERROR(b.Matrix(p + "attn_k.weight", kEmbd, kd, s_in));
      JS_RETURN_IF_ERROR(b.Matrix(p + "attn_v.weight", kEmbd, kd, s_in));
      if (a == "qwen2") {
        JS_RETURN_IF_ERROR(b.Vector(p + "attn_q.bias", qd, 0.f, 0.1f));
        JS_RETURN_IF_ERROR(b.Vector(p + "attn_k.bias", kd, 0.f, 0.1f));
        JS_RETURN_IF_ERROR(b.Vector(p + "attn_v.bias", kd, 0.f, 0.1f));
      }
    }
    if (gemma || a == "qwen3") {
      JS_RETURN_IF_ERROR(b.Vector(p + "attn_q_norm.weight", kHeadDim, 1.f, 0.2f));
      JS_RETURN_IF_ERROR(b.Vector(p + "attn_k_norm.weight", kHeadDim, 1.f, 0.2f));
    }
    JS_RETURN_IF_ERROR(b.Matrix(p + "attn_output.weight", qd, kEmbd, s_in));
    if (gpt2) JS_RETURN_IF_ERROR(b.Vector(p + "attn_output.bias", kEmbd, 0.f, 0.1f));
    if (gemma) JS_RETURN_IF_ERROR(b.Vector(p + "post_attention_norm.weight", kEmbd, 1.f, 0.2f));
    JS_RETURN_IF_ERROR(b.Vector(p + "ffn_norm.weight", kEmbd, 1.f, 0.2f));
    if (gpt2) JS_RETURN_IF_ERROR(b.Vector(p + "ffn_norm.bias", kEmbd, 0.f, 0.1f));
    if (!gpt2 && !phi3) JS_RETURN_IF_ERROR(b.Matrix(p + "ffn_gate.weight", kEmbd, kFf, s_in));
    JS_RETURN_IF_ERROR(b.Matrix(p + "ffn_up.weight", kEmbd, phi3 ? 2 * kFf : kFf, s_in));
    if (gpt2) JS_RETURN_IF_ERROR(b.Vector(p + "ffn_up.bias", kFf, 0.f, 0.1f));
    JS_RETURN_IF_ERROR(b.Matrix(p + "ffn_down.weight", kFf, kEmbd, s_ff));
    if (gpt2) JS_RETURN_IF_ERROR(b.Vector(p + "ffn_down.bias", kEmbd, 0.f, 0.1f));
    if (gemma) JS_RETURN_IF_ERROR(b.Vector(p + "post_ffw_norm.weight", kEmbd, 1.f, 0.2f));
  }
  JS_RETURN_IF_ERROR(b.Vector("output_norm.weight", kEmbd, 1.f, 0.2f));
  if (gpt2) JS_RETURN_IF_ERROR(b.Vector("output_norm.bias", kEmbd, 0.f, 0.1f));
  // Separate output matrix for some architectures, tied embeddings for the others.
  if (phi3 || a == "qwen2") JS_RETURN_IF_ERROR(b.Matrix("output.weight", kEmbd, kVocab, 0.5f));
  return w.WriteFile(path);
}

}  // namespace jetserve::model
