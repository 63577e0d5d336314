// Library side of the model commands (`jetserve quantize`, `jetserve gen-model`, and a dump
// used by tests): each takes an option struct and returns a Status, so the `jetserve` CLI and
// the standalone `jetserve-model-tool` share them.
//
//   RETURN_IF_ERROR(QuantizeModel({.input = "f32.gguf", .output = "q4.gguf", .type = "Q4_K_M"}));
#ifndef JETSERVE_ENGINE_TOOLS_MODEL_TOOLS_H_
#define JETSERVE_ENGINE_TOOLS_MODEL_TOOLS_H_

#include <cstdint>
#include <ostream>
#include <string>

#include "absl/status/status.h"

namespace jetserve::tools {

struct QuantizeOptions {
  std::string input;
  std::string output;
  // A file-level mix or type: Q4_K_M, Q6_K, Q8_0, Q4_0, F16, ... (see quant/quantize_mix.h).
  std::string type;
  int threads = 0;  // quantization threads; <= 0: the hardware's thread count
};

// Re-encodes every tensor of `input` with the type the mix gives it (dequantizing the source
// first when it is quantized) and copies all metadata, setting general.file_type and
// general.quantization_version.
absl::Status QuantizeModel(const QuantizeOptions& options);

struct GenModelOptions {
  std::string output;
  std::string arch = "llama";  // llama (also fits mistral/qwen2-style tensor names)
  int n_layer = 2;
  int n_embd = 256;
  int n_ff = 512;
  int n_head = 4;
  int n_head_kv = 0;  // 0: same as n_head
  int n_ctx = 2048;
  int n_vocab = 1000;        // used when vocab_from is empty
  std::string vocab_from;    // a GGUF whose tokenizer.* metadata (and vocab size) is copied
  std::string type = "F32";  // tensor type or mix for the 2-D weights
  uint64_t seed = 42;
  bool tie_embeddings = false;  // no output.weight (the output reuses token_embd.weight)
  float rope_freq_base = 10000.0f;
  float rms_eps = 1e-5f;
  int threads = 0;  // quantization threads; <= 0: the hardware's thread count
};

// Writes a model of the given architecture and shape with seeded N(0, 0.02) weights (norm
// weights 1), in the requested type or mix.
absl::Status GenerateModel(const GenModelOptions& options);

// Canonical text dump of a GGUF file (version, alignment, every key/value, every tensor's name,
// type, dims, offset and FNV-1a-64 of its bytes), matched line for line by
// tests/oracles/gguf/gguf_dump.py using the gguf package's reader.
absl::Status DumpModel(const std::string& path, std::ostream& out);

}  // namespace jetserve::tools

#endif  // JETSERVE_ENGINE_TOOLS_MODEL_TOOLS_H_
