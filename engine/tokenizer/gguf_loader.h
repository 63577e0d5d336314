// Builds a Vocab from a GGUF file's tokenizer.ggml.* metadata (the keys llama.cpp's
// converters write): model kind, pre-tokenizer family, tokens, scores, token types,
// merges, special token ids and the add-BOS/EOS/space-prefix flags, with llama.cpp's
// defaults where a key is absent. Every missing key, wrong type or out-of-range id is an
// InvalidArgument naming the key.
#ifndef JETSERVE_ENGINE_TOKENIZER_GGUF_LOADER_H_
#define JETSERVE_ENGINE_TOKENIZER_GGUF_LOADER_H_

#include <string>

#include "absl/status/statusor.h"
#include "engine/format/gguf_reader.h"
#include "engine/tokenizer/vocab.h"

namespace jetserve::tokenizer {

absl::StatusOr<Vocab> VocabFromGguf(const GgufFile& file);
absl::StatusOr<Vocab> LoadGgufVocab(const std::string& path);

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_GGUF_LOADER_H_
