// Builds a Vocab from a HuggingFace tokenizer.json (the file beside an ONNX export):
// WordPiece with BertNormalizer/BertPreTokenizer, byte-level BPE (GPT-2, RoBERTa, and
// Split-regex + ByteLevel sequences), added tokens (special -> control, others ->
// user-defined, with lstrip/rstrip), the post-processor's special tokens, truncation and
// padding. Parts not supported are an Unimplemented error naming them; malformed JSON or
// fields (wrong types, bad ids, merges naming no tokens) an InvalidArgument — never a crash.
#ifndef JETSERVE_ENGINE_TOKENIZER_HF_JSON_LOADER_H_
#define JETSERVE_ENGINE_TOKENIZER_HF_JSON_LOADER_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/tokenizer/vocab.h"

namespace jetserve::tokenizer {

absl::StatusOr<Vocab> ParseHfTokenizerJson(std::string_view json_text);
absl::StatusOr<Vocab> LoadHfTokenizerJson(const std::string& path);

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_HF_JSON_LOADER_H_
