#include "engine/tokenizer/vocab.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/util/string_view_compat.h"

namespace jetserve::tokenizer {

absl::StatusOr<PreTokenizerKind> PreTokenizerFromGgufName(std::string_view name) {
  using K = PreTokenizerKind;
  static constexpr std::pair<std::string_view, PreTokenizerKind> kNames[] = {
      {"default", K::kDefault},
      {"llama3", K::kLlama3},
      {"llama-v3", K::kLlama3},
      {"llama-bpe", K::kLlama3},
      {"falcon3", K::kLlama3},
      {"falcon-h1", K::kLlama3},
      {"pixtral", K::kLlama3},
      {"dbrx", K::kLlama3},
      {"smaug-bpe", K::kLlama3},
      {"deepseek-llm", K::kDeepseekLlm},
      {"deepseek-coder", K::kDeepseekCoder},
      {"deepseek-v3", K::kDeepseek3},
      {"falcon", K::kFalcon},
      {"mpt", K::kMpt},
      {"olmo", K::kMpt},
      {"starcoder", K::kStarcoder},
      {"refact", K::kStarcoder},
      {"command-r", K::kStarcoder},
      {"smollm", K::kStarcoder},
      {"codeshell", K::kStarcoder},
      {"exaone", K::kStarcoder},
      {"minerva-7b", K::kStarcoder},
      {"gpt-2", K::kGpt2},
      {"phi-2", K::kGpt2},
      {"jina-es", K::kGpt2},
      {"jina-de", K::kGpt2},
      {"gigachat", K::kGpt2},
      {"jina-v1-en", K::kGpt2},
      {"jina-v2-es", K::kGpt2},
      {"jina-v2-de", K::kGpt2},
      {"jina-v2-code", K::kGpt2},
      {"roberta-bpe", K::kGpt2},
      {"jais", K::kGpt2},
      {"trillion", K::kGpt2},
      {"qwen2", K::kQwen2},
      {"deepseek-r1-qwen", K::kQwen2},
      {"hunyuan", K::kQwen2},
      {"stablelm2", K::kStablelm2},
      {"poro-chat", K::kPoro},
      {"bloom", K::kPoro},
      {"gpt3-finnish", K::kPoro},
      {"chatglm-bpe", K::kChatGlm4},
      {"viking", K::kViking},
      {"tekken", K::kTekken},
  };
  for (const auto& [known, kind] : kNames) {
    if (name == known) return kind;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown pre-tokenizer '", Sv(name), "' (tokenizer.ggml.pre)"));
}

size_t HfPostProcessing::PairSpecials() const {
  size_t n = 0;
  for (const PairPiece& p : pair) n += p.sequence < 0 ? p.ids.size() : 0;
  return n;
}

bool HfPostProcessing::ApplyPair(const std::vector<TokenId>& a, const std::vector<TokenId>& b,
                                 std::vector<TokenId>* ids, std::vector<int32_t>* type_ids) const {
  if (pair.empty()) return false;
  ids->clear();
  type_ids->clear();
  for (const PairPiece& p : pair) {
    const std::vector<TokenId>& part = p.sequence == 0 ? a : p.sequence == 1 ? b : p.ids;
    ids->insert(ids->end(), part.begin(), part.end());
    type_ids->insert(type_ids->end(), part.size(), p.type_id);
  }
  return true;
}

}  // namespace jetserve::tokenizer
