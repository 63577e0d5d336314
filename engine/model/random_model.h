// Random-weight decoder models of every supported architecture, written as GGUF files by a
// deterministic generator (SplitMix64 stream, our quantizers): the same name always gives
// the same bytes, so tests regenerate the files llama.cpp's reference outputs were made
// from (tests/oracles/decoder/make_refs.py) instead of committing model files.
//
//   for (const RandomDecoderSpec& s : RandomDecoderSpecs()) WriteRandomDecoder(s, dir + s.name);
#ifndef JETSERVE_ENGINE_MODEL_RANDOM_MODEL_H_
#define JETSERVE_ENGINE_MODEL_RANDOM_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/format/gguf_types.h"

namespace jetserve::model {

struct RandomDecoderSpec {
  std::string name;  // file name, "llama-Q4_K.gguf"
  std::string arch;  // general.architecture
  GgmlType type;     // type of the matrices (vectors stay F32)
  uint64_t seed;
  // Llama 3 style RoPE: frequency factors (rope_freqs.weight), base 500000, and linear
  // scaling by 2 on top.
  bool llama3_rope = false;
  // Training context written to the file (0: 256); RoPE models only (GPT-2's learned
  // positions stay 256).
  int64_t context_length = 0;
  // TinyLlama-1.1B's shape instead of the small one (llama only): n_embd 2048, 22 layers,
  // 32 heads (4 KV heads), n_ff 5632, vocab 32000, separate output matrix. For benchmarks.
  bool large = false;
  // llama.cpp's Q4_K_M mix (with type Q4_K): attn_v and ffn_down in Q6_K on the layers
  // llama.cpp gives more bits (first and last eighth, every third between), output Q6_K.
  bool q4_k_m_mix = false;
};

// The set the reference files cover: every architecture in F32, F16, Q8_0, Q4_0, Q4_K and
// Q6_K, llama in Q4_1 as well (SmolLM2's type), and "llama3rope-Q8_0.gguf" (llama3_rope).
std::vector<RandomDecoderSpec> RandomDecoderSpecs();

// Benchmark files (tests/bench/compare.py): the 1.1B shape in Q4_0, Q4_1, Q8_0, Q4_K_M and
// Q6_K, named "llama1b-TYPE.gguf" (0.6-1.2 GB each; not used by tests).
std::vector<RandomDecoderSpec> BenchDecoderSpecs();

// Small real-shaped models: n_embd 256, 4 heads (2 KV heads), n_ff 512, vocab 512 (a
// byte-level SentencePiece-style vocabulary so llama.cpp loads it), 2 layers (Gemma 3: 6,
// with sliding window 8 so both layer kinds are exercised); spec.large: see above.
absl::Status WriteRandomDecoder(const RandomDecoderSpec& spec, const std::string& path);

}  // namespace jetserve::model

#endif  // JETSERVE_ENGINE_MODEL_RANDOM_MODEL_H_
