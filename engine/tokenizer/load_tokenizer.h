// Opens the tokenizer of a model path: a GGUF file (tokenizer.ggml.* metadata), a
// HuggingFace tokenizer.json file, or a folder holding tokenizer.json (an ONNX export).
#ifndef JETSERVE_ENGINE_TOKENIZER_LOAD_TOKENIZER_H_
#define JETSERVE_ENGINE_TOKENIZER_LOAD_TOKENIZER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/tokenizer/tokenizer.h"

namespace jetserve::tokenizer {

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path);

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_LOAD_TOKENIZER_H_
