// Unigram language-model tokenization (HF tokenizers' Unigram, SentencePiece unigram):
// the segmentation of a word into vocabulary pieces with the highest total score, found
// by a forward best-path pass over character positions. Characters no piece covers become
// the unknown token (consecutive ones fused), or <0xXX> byte tokens with byte fallback.
#ifndef JETSERVE_ENGINE_TOKENIZER_UNIGRAM_H_
#define JETSERVE_ENGINE_TOKENIZER_UNIGRAM_H_

#include <string_view>
#include <vector>

#include "engine/tokenizer/token_index.h"
#include "engine/tokenizer/vocab.h"

namespace jetserve::tokenizer {

class UnigramModel {
 public:
  struct Scratch {
    struct Best {
      double score;
      int start;  // -1: not reached
      TokenId id;
    };
    std::vector<Best> best;
  };

  // `scores` has one entry per token and outlives the model.
  UnigramModel(const std::vector<float>* scores, TokenId unk, bool byte_fallback);

  void EncodeWord(std::string_view word, const TokenIndex& index, Scratch* scratch,
                  std::vector<TokenId>* out) const;

 private:
  void EmitUnknown(std::string_view text, const TokenIndex& index, std::vector<TokenId>* out) const;

  const std::vector<float>* scores_;
  TokenId unk_;
  bool byte_fallback_;
  double unk_score_;
};

}  // namespace jetserve::tokenizer

#endif  // JETSERVE_ENGINE_TOKENIZER_UNIGRAM_H_
